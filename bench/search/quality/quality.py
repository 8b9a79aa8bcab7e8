"""The search quality set (docs.jsonl, questions.jsonl; see README.md) run through a real Lakehouse
server: upload the documents as a dataset, embed them with the bundled model, ask every question
through POST /api/v1/search in each mode, and score the answers (nDCG@10, recall@10).
Used by bench/search_quality.sh (all questions, all modes) and search/tests/test_search_quality.py
(the CI regression test). Stdlib only, plus tests/pyhelpers/lakehouse_testing (the test server)."""
import json
import math
import pathlib
import time

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parents[2]
DATASET = "pydocs"
K = 10

#: (label, request fields) of each mode scored; "hybrid rrf" is hybrid with `"fusion": "rrf"`
#: (reciprocal rank fusion, the other fusion offered); "hybrid+rerank" reranks hybrid's candidates.
MODES = (("text", {"mode": "text"}), ("vector", {"mode": "vector"}), ("hybrid", {"mode": "hybrid"}),
         ("hybrid rrf", {"mode": "hybrid", "fusion": "rrf"}),
         ("hybrid+rerank", {"mode": "hybrid", "rerank": True}))


def load_docs():
    return [json.loads(line) for line in (HERE / "docs.jsonl").read_text().splitlines() if line.strip()]


def load_questions(split=None):
    qs = [json.loads(line) for line in (HERE / "questions.jsonl").read_text().splitlines() if line.strip()]
    return [q for q in qs if split in (None, "all", q["split"])]


def ndcg(ranked, relevant, k=K):
    """nDCG@k with the judged grades as gains (2 = answers it, 1 = related), log2 discount (trec_eval's)."""
    dcg = sum(relevant.get(doc, 0) / math.log2(i + 2) for i, doc in enumerate(ranked[:k]))
    ideal = sorted(relevant.values(), reverse=True)[:k]
    idcg = sum(g / math.log2(i + 2) for i, g in enumerate(ideal))
    return dcg / idcg if idcg else 0.0


def recall(ranked, relevant, k=K):
    """Share of the judged documents (any grade) among the first k."""
    return len(set(ranked[:k]) & set(relevant)) / len(relevant) if relevant else 0.0


def start_server(tmp_path, env=None):
    """A `lakehouse serve` with AI on (bundled models, the fts/vss extensions of the checkout),
    answering once the model can embed. The caller stops it (Server.stop)."""
    from lakehouse_testing import Server  # tests/pyhelpers, on the path from pytest.ini or PYTHONPATH
    tmp_path.mkdir(parents=True, exist_ok=True)
    # A loaded 2-core machine can take more than the default minute per embedding batch of 256 texts
    # (or per generative rerank of 40 candidates): allow ten.
    server = Server(tmp_path, "--ai-home", str(ROOT), "--ai-timeout-ms", "600000", ai=True, env=env)
    try:
        deadline = time.time() + 180
        while True:
            status, _, body = server.request("POST", "/api/v1/ai/embed", json.dumps({"texts": ["ready?"]}).encode(),
                                             {"Content-Type": "application/json"})
            if status == 200:
                return server
            if time.time() > deadline:
                raise RuntimeError(f"the AI sidecar did not come up: {status} {body[:300]!r}")
            time.sleep(1)
    except BaseException:
        server.stop()
        raise


def post(server, path, body, timeout=600):
    status, _, data = server.request("POST", path, json.dumps(body).encode(), {"Content-Type": "application/json"},
                                     timeout=timeout)
    out = json.loads(data) if data else None
    if status >= 300:
        raise RuntimeError(f"POST {path} -> {status}: {out}")
    return out


def load_and_embed(server, docs):
    """Uploads the documents (NDJSON: id, text) and embeds their text column (keyed by id), waiting."""
    body = "".join(json.dumps({"id": d["id"], "text": d["text"]}) + "\n" for d in docs).encode()
    status, _, data = server.request("POST", f"/api/v1/datasets/{DATASET}?format=ndjson", body,
                                     {"Content-Type": "application/x-ndjson"}, timeout=120)
    if status != 201:
        raise RuntimeError(f"upload -> {status}: {data[:500]!r}")
    started = time.time()
    job = post(server, f"/api/v1/datasets/{DATASET}/embeddings", {"column": "text", "key": "id", "wait": True})
    if job.get("state") != "succeeded":
        raise RuntimeError(f"embedding job: {job}")
    return time.time() - started


def ask(server, question, fields):
    """The ids of the first K results of one search, and the response (minus its results)."""
    out = post(server, "/api/v1/search", {"dataset": DATASET, "query": question, "k": K, **fields})
    ids = [r["key"] for r in out["results"]]  # the embedding job's key column is the document id
    out.pop("results")
    return ids, out


def run(server, questions, modes=MODES):
    """{mode: {question id: (ranked ids, response)}} for every question in every mode."""
    answers = {}
    for label, fields in modes:
        answers[label] = {q["id"]: ask(server, q["question"], fields) for q in questions}
    return answers


def score(answers, questions):
    """{mode: {"ndcg": mean nDCG@10, "recall": mean recall@10, "n": questions}} over `questions`."""
    out = {}
    for mode, per_q in answers.items():
        qs = [q for q in questions if q["id"] in per_q]
        if not qs:
            continue
        out[mode] = {"ndcg": sum(ndcg(per_q[q["id"]][0], q["relevant"]) for q in qs) / len(qs),
                     "recall": sum(recall(per_q[q["id"]][0], q["relevant"]) for q in qs) / len(qs),
                     "n": len(qs)}
    return out


def ci_subset(every=7):
    """The documents of the CI regression test: every judged one and every `every`-th of the others
    (a lean set: embedding is most of the test's time)."""
    judged = set()
    for q in load_questions():
        judged |= set(q["relevant"])
    others = 0
    out = []
    for d in load_docs():
        if d["id"] in judged:
            out.append(d)
        else:
            if others % every == 0:
                out.append(d)
            others += 1
    return out
