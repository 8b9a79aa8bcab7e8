"""Search quality benchmark (run by bench/search_quality.sh): nDCG@10 and recall@10 of the text,
vector, hybrid and hybrid+rerank modes of POST /api/v1/search over the quality set, per split
(dev: the questions looked at while tuning; held-out: the others) and over all, with the ratio of
hybrid to each single mode. Then, when LLM_QUESTIONS > 0, hybrid+rerank again on a second server
whose sidecar reranks with the bundled generative model (RERANK_MODEL), over the first
LLM_QUESTIONS questions of each split (the tiny model grades every candidate: slow)."""
import os
import sys
import tempfile
import pathlib
import time

import quality

SPLITS = ("dev", "heldout", "all")


def table(title, answers, questions):
    print(f"\n{title}")
    print(f"{'mode':<16}" + "".join(f"{s + ' nDCG@10':>16}{s + ' R@10':>14}" for s in SPLITS))
    scores = {s: quality.score(answers, quality.load_questions(s) if s != "all" else questions) for s in SPLITS}
    for mode in answers:
        cells = ""
        for s in SPLITS:
            m = scores[s].get(mode)
            cells += f"{m['ndcg']:>16.3f}{m['recall']:>14.3f}" if m else f"{'-':>16}{'-':>14}"
        print(f"{mode:<16}{cells}")
    return scores


def main():
    llm_questions = int(os.environ.get("LLM_QUESTIONS", "0"))
    questions = quality.load_questions()
    docs = quality.load_docs()
    counts = {s: len(quality.load_questions(s)) for s in ("dev", "heldout")}
    print(f"quality set: {len(docs)} documents, {len(questions)} questions "
          f"({counts['dev']} dev, {counts['heldout']} held-out), k = {quality.K}")
    with tempfile.TemporaryDirectory(prefix="search-quality-") as tmp:
        server = quality.start_server(pathlib.Path(tmp) / "a")
        try:
            seconds = quality.load_and_embed(server, docs)
            print(f"embedded {len(docs)} documents in {seconds:.1f} s")
            started = time.time()
            answers = quality.run(server, questions)
            elapsed = time.time() - started
        finally:
            server.stop()
        first = next(iter(answers["hybrid+rerank"].values()))[1]
        print(f"{len(questions) * len(quality.MODES)} searches in {elapsed:.1f} s; index {first.get('index')}; "
              f"reranker: {first.get('rerank_method')} ({first.get('stages')})")
        scores = table("nDCG@10 / recall@10 per mode", answers, questions)
        print("\nhybrid vs each single mode (nDCG@10 ratio; >1 = hybrid better)")
        for s in SPLITS:
            h = scores[s]["hybrid"]["ndcg"]
            print(f"  {s:<8} hybrid/text {h / scores[s]['text']['ndcg']:.3f}   "
                  f"hybrid/vector {h / scores[s]['vector']['ndcg']:.3f}")
        for s in SPLITS:
            h = scores[s]["hybrid"]["ndcg"]
            ok = h > scores[s]["text"]["ndcg"] and h > scores[s]["vector"]["ndcg"]
            print(f"RESULT hybrid_beats_both_{s}={'yes' if ok else 'no'}")
        if llm_questions <= 0:
            return
        subset = quality.load_questions("dev")[:llm_questions] + quality.load_questions("heldout")[:llm_questions]
        model = os.environ.get("RERANK_MODEL", "smollm2:135m-instruct-q4_1")
        server = quality.start_server(pathlib.Path(tmp) / "b", env={"RERANK_MODEL": model})
        try:
            quality.load_and_embed(server, docs)
            started = time.time()
            llm = quality.run(server, subset, (("hybrid", {"mode": "hybrid"}),
                                               ("hybrid+rerank llm", {"mode": "hybrid", "rerank": True})))
            elapsed = time.time() - started
        finally:
            server.stop()
        first = next(iter(llm["hybrid+rerank llm"].values()))[1]
        same = {m: {q: a for q, a in answers[m].items() if q in llm["hybrid"]} for m in answers}
        print(f"\nrerank by the generative model {model} (reranker: {first.get('rerank_method')}), "
              f"{len(subset)} questions, {elapsed:.0f} s")
        table("same questions, every mode", {**same, "hybrid+rerank llm": llm["hybrid+rerank llm"]}, subset)


if __name__ == "__main__":
    sys.exit(main())
