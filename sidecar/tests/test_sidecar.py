"""The sidecar against the real bundled model server (real all-MiniLM-L6-v2 and SmolLM2 models)."""

from __future__ import annotations

import json
import math

import httpx

from conftest import EMBED, GEN, start_modelserver, start_sidecar
from lakehouse_testing import free_port


def cos(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b)) / (math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b)))


def test_health_lists_models(client: httpx.Client) -> None:
    h = client.get("/health").json()
    assert h["status"] == "ok", h
    assert h["ollama"]["reachable"] is True
    assert EMBED in h["ollama"]["models"] and GEN in h["ollama"]["models"]
    assert h["rerank_method"] == "embedding"


def test_related_sentences_score_higher(client: httpx.Client) -> None:
    texts = ["The cat sits on the mat.", "A kitten is resting on a rug.", "Quarterly revenue grew by ten percent.",
             "How do I bake sourdough bread?", "A recipe for baking a loaf of bread."]
    r = client.post("/embed", json={"texts": texts})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["model"] == EMBED and body["dim"] == 384 and body["count"] == 5
    v = body["embeddings"]
    assert cos(v[0], v[1]) > 0.5 > cos(v[0], v[2]) + 0.3
    assert cos(v[3], v[4]) > cos(v[3], v[0]) + 0.3
    assert cos(v[3], v[4]) > cos(v[3], v[2]) + 0.3


def test_batch_of_100(client: httpx.Client) -> None:
    texts = [f"Row {i}: a sensor in building {i % 7} reported {i * 3} degrees." for i in range(100)]
    body = client.post("/embed", json={"texts": texts}).json()
    assert body["count"] == 100 and len(body["embeddings"]) == 100
    for vec in body["embeddings"]:
        assert len(vec) == 384 and all(math.isfinite(x) for x in vec)
        assert abs(math.sqrt(sum(x * x for x in vec)) - 1.0) < 1e-3
    # Order is kept through batching and length sorting: embedding one text alone gives the same vector.
    alone = client.post("/embed", json={"texts": [texts[42]]}).json()["embeddings"][0]
    assert cos(alone, body["embeddings"][42]) > 0.9999


def test_rerank_orders_by_relevance(client: httpx.Client) -> None:
    docs = ["The stock market closed higher on Friday.", "Parquet is a columnar file format for analytics.",
            "Bananas are rich in potassium.", "DuckDB reads Parquet files quickly with SQL."]
    r = client.post("/rerank", json={"query": "Which file format stores columns for analytical queries?",
                                     "documents": docs, "top_n": 3})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["method"] == "embedding" and body["model"] == EMBED
    assert [x["index"] for x in body["results"]][0] == 1
    assert len(body["results"]) == 3
    scores = [x["score"] for x in body["results"]]
    assert scores == sorted(scores, reverse=True)
    assert body["results"][0]["document"] == docs[1]


def test_generate_real_model(client: httpx.Client) -> None:
    r = client.post("/generate", json={"prompt": "List three colors.", "options": {"temperature": 0, "num_predict": 16}})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["model"] == GEN and body["done"] is True and body["eval_count"] > 0
    assert len(body["response"].strip()) > 0


def test_generate_stream_is_ndjson(client: httpx.Client) -> None:
    with client.stream("POST", "/generate", json={"prompt": "Count from one to five.", "stream": True,
                                                  "system": "You are terse.",
                                                  "options": {"temperature": 0, "num_predict": 12}}) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("application/x-ndjson")
        lines = [json.loads(line) for line in r.iter_lines() if line.strip()]
    assert len(lines) >= 3
    assert all(not x["done"] for x in lines[:-1]) and lines[-1]["done"] is True
    assert "".join(x["response"] for x in lines).strip()


def test_oversized_and_empty_input(client: httpx.Client) -> None:
    r = client.post("/embed", json={"texts": ["x"] * 3000})
    assert r.status_code == 413 and "at most 2048" in r.json()["error"]["message"]
    r = client.post("/embed", json={"texts": ["y" * 40000]})
    assert r.status_code == 413 and "characters" in r.json()["error"]["message"]
    r = client.post("/embed", json={"texts": []})
    assert r.status_code == 400 and "empty" in r.json()["error"]["message"]
    r = client.post("/embed", json={"text": "missing field"})
    assert r.status_code == 400 and "texts" in r.json()["error"]["message"]


def test_unknown_model(client: httpx.Client) -> None:
    r = client.post("/embed", json={"texts": ["a"], "model": "no-such-model"})
    assert r.status_code == 404
    msg = r.json()["error"]["message"]
    assert "no-such-model" in msg and EMBED in msg  # names what the server does have


def test_errors_with_misconfigured_and_down_model_server(tmp_logs, modelserver: str) -> None:
    # Default model missing (a real Ollama default name on the bundled server) -> 503 naming EMBED_MODEL.
    proc, url = start_sidecar(tmp_logs, modelserver, EMBED_MODEL="nomic-embed-text", GEN_MODEL="")
    try:
        r = httpx.post(url + "/embed", json={"texts": ["a"]}, timeout=30)
        assert r.status_code == 503 and "EMBED_MODEL" in r.json()["error"]["message"]
        r = httpx.post(url + "/generate", json={"prompt": "hi"}, timeout=30)
        assert r.status_code == 503 and "GEN_MODEL" in r.json()["error"]["message"]
        assert httpx.get(url + "/health").json()["status"] == "degraded"
    finally:
        proc.stop()
    # Nothing listens at OLLAMA_HOST -> 503 saying what to start.
    proc, url = start_sidecar(tmp_logs, f"127.0.0.1:{free_port()}")
    try:
        r = httpx.post(url + "/embed", json={"texts": ["a"]}, timeout=30)
        assert r.status_code == 503
        err = r.json()["error"]
        assert err["component"] == "model server" and "OLLAMA_HOST" in err["message"]
        assert httpx.get(url + "/health").json()["status"] == "down"
    finally:
        proc.stop()


def test_timeout(tmp_logs, modelserver: str) -> None:
    proc, url = start_sidecar(tmp_logs, modelserver, SIDECAR_TIMEOUT_S="0.001")
    try:
        texts = [f"a long enough sentence number {i} to keep the model busy for a while" for i in range(256)]
        r = httpx.post(url + "/embed", json={"texts": texts}, timeout=60)
        assert r.status_code == 504 and "SIDECAR_TIMEOUT_S" in r.json()["error"]["message"]
    finally:
        proc.stop()


def test_modelserver_speaks_ollama(modelserver: str) -> None:
    tags = httpx.get(modelserver + "/api/tags").json()["models"]
    assert {m["name"] for m in tags} >= {EMBED, GEN}
    r = httpx.post(modelserver + "/api/embeddings", json={"model": EMBED, "prompt": "hello"})
    assert len(r.json()["embedding"]) == 384
    r = httpx.post(modelserver + "/api/generate", json={"model": "llama3", "prompt": "hi"})
    assert r.status_code == 404 and r.json()["error"] == 'model "llama3" not found, try pulling it first'
    r = httpx.post(modelserver + "/api/generate", json={"model": EMBED, "prompt": "hi"})
    assert r.status_code == 400
    # Request errors in Ollama's shape: {"error": "..."} with the status.
    r = httpx.post(modelserver + "/api/embed", content=b"{not json", headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and r.json()["error"].startswith("invalid JSON body"), r.text
    r = httpx.post(modelserver + "/api/chat", json=["a list"])
    assert r.status_code == 400 and r.json()["error"] == "the body must be a JSON object", r.text
    r = httpx.post(modelserver + "/api/embed", json={"model": "llama3", "input": "hi"})
    assert r.status_code == 404 and r.json()["error"] == 'model "llama3" not found, try pulling it first'
    r = httpx.post(modelserver + "/api/embeddings", json={"model": GEN, "prompt": "hi"})
    assert r.status_code == 400 and "does not support embeddings" in r.json()["error"], r.text


def test_modelserver_without_generation(tmp_logs) -> None:
    proc, url = start_modelserver(tmp_logs, MODELSERVER_NO_GENERATE="1")
    try:
        assert [m["name"] for m in httpx.get(url + "/api/tags").json()["models"]] == [EMBED]
        r = httpx.post(url + "/api/generate", json={"model": GEN, "prompt": "hi"})
        assert r.status_code == 404 and "not found" in r.json()["error"]
    finally:
        proc.stop()


def test_embed_f32_matches_json(client: httpx.Client) -> None:
    import struct
    texts = ["columnar storage", "a walk in the park", "object storage is the source of truth"]
    js = client.post("/embed", json={"texts": texts}).json()
    r = client.post("/embed", json={"texts": texts, "format": "f32"})
    assert r.status_code == 200 and r.headers["content-type"] == "application/octet-stream"
    assert r.headers["x-embed-model"] == EMBED and r.headers["x-embed-dim"] == "384"
    assert r.headers["x-embed-count"] == "3" and len(r.content) == 3 * 384 * 4
    flat = struct.unpack(f"<{3 * 384}f", r.content)
    assert all(abs(a - b) < 1e-6 for a, b in zip(flat, [x for v in js["embeddings"] for x in v]))


def test_bundled_defaults(tmp_logs, modelserver: str) -> None:
    proc, url = start_sidecar(tmp_logs, modelserver, EMBED_MODEL="", GEN_MODEL="", SIDECAR_DEFAULTS="bundled")
    try:
        h = httpx.get(url + "/health").json()
        assert h["status"] == "ok" and h["embed_model"] == EMBED and h["gen_model"] == GEN
    finally:
        proc.stop()


def test_rerank_with_generative_model(tmp_logs, modelserver: str) -> None:
    proc, url = start_sidecar(tmp_logs, modelserver, RERANK_MODEL=GEN)
    try:
        assert httpx.get(url + "/health").json()["rerank_method"] == "llm"
        docs = ["Paris is the capital of France.", "Bananas are yellow.", "The capital city of France is Paris."]
        r = httpx.post(url + "/rerank", json={"query": "What is the capital of France?", "documents": docs}, timeout=120)
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["method"] == "llm" and body["model"] == GEN
        assert sorted(x["index"] for x in body["results"]) == [0, 1, 2]
        assert all(0.0 <= x["score"] <= 1.0 for x in body["results"])
        # A named model that does not exist is the caller's error.
        r = httpx.post(url + "/rerank", json={"query": "q", "documents": ["a"], "model": "nope"}, timeout=60)
        assert r.status_code == 404
    finally:
        proc.stop()


def test_prompt_longer_than_context_is_400(client: httpx.Client) -> None:
    for stream in (False, True):
        r = client.post("/generate", json={"prompt": "word " * 3000, "stream": stream, "options": {"num_predict": 4}})
        assert r.status_code == 400, r.text
        assert "context size" in r.json()["error"]["message"]


def test_modelserver_show_and_chat(modelserver: str) -> None:
    r = httpx.post(modelserver + "/api/show", json={"model": EMBED})
    assert r.status_code == 200 and r.json()["capabilities"] == ["embedding"]
    assert httpx.post(modelserver + "/api/show", json={"model": "nope"}).status_code == 404
    r = httpx.post(modelserver + "/api/chat", json={"model": GEN, "stream": False, "options": {"num_predict": 5},
                                                   "messages": [{"role": "user", "content": "Hello!"}]}, timeout=60)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["done"] is True and body["message"]["role"] == "assistant" and body["message"]["content"]
