"""The AI sidecar: a stateless passthrough to an Ollama HTTP API (a real Ollama, or the bundled model
server in modelserver/). The C++ side (aibridge) is its only caller; no model name is written in C++.

Environment:
  OLLAMA_HOST            where the Ollama API answers (default http://127.0.0.1:11434)
  EMBED_MODEL            default embedding model (default nomic-embed-text; the bundled server's is
                         all-minilm:l6-v2-int8)
  GEN_MODEL              default generative model (none by default: /generate answers 503)
  SIDECAR_DEFAULTS       "bundled": EMBED_MODEL and GEN_MODEL default to the bundled model server's
                         models (all-minilm:l6-v2-int8, smollm2:135m-instruct-q4_1)
  RERANK_MODEL           generative model that scores documents for /rerank; when unset, /rerank
                         ranks by embedding cosine similarity (the response says which)
  SIDECAR_TIMEOUT_S      timeout of one call to Ollama, seconds (default 120)
  SIDECAR_MAX_TEXTS      texts per /embed request (default 2048)
  SIDECAR_MAX_TEXT_CHARS characters per text (default 32768)
  SIDECAR_MAX_TOTAL_BYTES bytes of text per request (default 8 MiB)
  SIDECAR_BATCH          texts per call to Ollama's /api/embed (default 64)
  SIDECAR_EMBED_CONCURRENCY calls to /api/embed in flight for one request (default 2: overlaps
                         JSON work with model work; measured no better or worse than 1 under load)
  SIDECAR_MAX_DOCUMENTS  documents per /rerank request (default 1000)

Run: .venv/bin/python -m uvicorn app:app --app-dir sidecar --host 127.0.0.1 --port 8090
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import re
import struct
from contextlib import asynccontextmanager
from typing import Any, AsyncIterator, Literal

import httpx
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, Field

import otel

VERSION = "0.1.0"


def _env_int(name: str, default: int) -> int:
    return int(os.environ.get(name) or default)


class Settings:
    def __init__(self) -> None:
        host = os.environ.get("OLLAMA_HOST") or "http://127.0.0.1:11434"
        if "://" not in host:  # Ollama accepts "127.0.0.1:11434"
            host = "http://" + host
        self.ollama = host.rstrip("/")
        # SIDECAR_DEFAULTS=bundled (set by the supervisor when it starts modelserver/) makes the bundled
        # server's models the defaults; otherwise the defaults suit a real Ollama.
        bundled = os.environ.get("SIDECAR_DEFAULTS") == "bundled"
        self.embed_model = os.environ.get("EMBED_MODEL") or ("all-minilm:l6-v2-int8" if bundled else "nomic-embed-text")
        self.gen_model = os.environ.get("GEN_MODEL") or ("smollm2:135m-instruct-q4_1" if bundled else "")
        self.rerank_model = os.environ.get("RERANK_MODEL") or ""
        self.timeout_s = float(os.environ.get("SIDECAR_TIMEOUT_S") or 120)
        self.max_texts = _env_int("SIDECAR_MAX_TEXTS", 2048)
        self.max_text_chars = _env_int("SIDECAR_MAX_TEXT_CHARS", 32768)
        self.max_total_bytes = _env_int("SIDECAR_MAX_TOTAL_BYTES", 8 << 20)
        self.batch = max(1, _env_int("SIDECAR_BATCH", 64))
        self.embed_concurrency = max(1, _env_int("SIDECAR_EMBED_CONCURRENCY", 2))
        self.max_documents = _env_int("SIDECAR_MAX_DOCUMENTS", 1000)


class SidecarError(Exception):
    """Ends a request with {"error": {"code", "message", "component"}} and the given status."""

    def __init__(self, status: int, code: str, message: str, component: str = "sidecar"):
        super().__init__(message)
        self.status, self.code, self.message, self.component = status, code, message, component


# --- request bodies ---------------------------------------------------------------------------------

class EmbedRequest(BaseModel):
    texts: list[str]
    model: str | None = None
    #: "json" (default) or "f32": the vectors as raw little-endian float32, row after row, with the
    #: model, dim and count in the X-Embed-Model / X-Embed-Dim / X-Embed-Count headers (for aibridge).
    format: Literal["json", "f32"] = "json"


class GenerateRequest(BaseModel):
    prompt: str
    model: str | None = None
    system: str | None = None
    options: dict[str, Any] | None = None
    stream: bool = False


class RerankRequest(BaseModel):
    query: str
    documents: list[str]
    top_n: int | None = Field(default=None, ge=1)
    model: str | None = None


# --- the Ollama client ------------------------------------------------------------------------------

class Ollama:
    def __init__(self, settings: Settings):
        self.s = settings
        self.client = httpx.AsyncClient(base_url=settings.ollama, timeout=httpx.Timeout(settings.timeout_s),
                                        limits=httpx.Limits(max_connections=16, max_keepalive_connections=16))

    def _down(self, exc: Exception) -> SidecarError:
        return SidecarError(
            503, "unavailable",
            f"the model server (Ollama API) at {self.s.ollama} is not reachable ({type(exc).__name__}): "
            "start Ollama (`ollama serve`) or the bundled model server (`lakehouse serve` starts it; by hand: "
            "`.venv/bin/python modelserver/server.py --port 11434`), or point OLLAMA_HOST at a running one",
            component="model server")

    def _timeout(self) -> SidecarError:
        return SidecarError(504, "timeout",
                            f"the model server at {self.s.ollama} did not answer within {self.s.timeout_s:g} s "
                            "(SIDECAR_TIMEOUT_S): send smaller batches or raise the timeout",
                            component="model server")

    async def _models(self) -> list[str]:
        try:
            r = await self.client.get("/api/tags", timeout=5)
            return [m.get("name", "") for m in r.json().get("models", [])]
        except (httpx.HTTPError, ValueError):
            return []

    async def check(self, r: httpx.Response, model: str, explicit: bool, env: str) -> None:
        """Raises a SidecarError for a non-2xx answer from Ollama."""
        if r.status_code < 300:
            return
        try:
            message = r.json().get("error", r.text)
        except ValueError:
            message = r.text
        if r.status_code == 404:
            available = ", ".join(await self._models()) or "none"
            hint = (f"`ollama pull {model}` on a real Ollama, or set {env} to one of the models the server has "
                    f"({available})")
            if explicit:
                raise SidecarError(404, "not_found", f"model \"{model}\" is not available at {self.s.ollama}: {hint}",
                                   component="model server")
            raise SidecarError(503, "unavailable",
                               f"the configured model {env}=\"{model}\" is not available at {self.s.ollama}: {hint}",
                               component="model server")
        if 400 <= r.status_code < 500:
            raise SidecarError(400, "invalid_argument", f"the model server refused the request: {message}",
                               component="model server")
        raise SidecarError(502, "unavailable", f"the model server failed ({r.status_code}): {message}",
                           component="model server")

    async def post(self, path: str, body: dict[str, Any], model: str, explicit: bool, env: str) -> Any:
        try:
            r = await self.client.post(path, json=body, headers=otel.headers())
        except httpx.TimeoutException:
            raise self._timeout() from None
        except httpx.TransportError as exc:
            raise self._down(exc) from None
        await self.check(r, model, explicit, env)
        return r.json()

    async def embed(self, texts: list[str], model: str, explicit: bool) -> list[list[float]]:
        """Embeds in batches of SIDECAR_BATCH, SIDECAR_EMBED_CONCURRENCY calls in flight at a time."""
        chunks = [texts[i:i + self.s.batch] for i in range(0, len(texts), self.s.batch)]
        gate = asyncio.Semaphore(self.s.embed_concurrency)

        async def one(chunk: list[str]) -> list[list[float]]:
            async with gate:
                out = await self.post("/api/embed", {"model": model, "input": chunk}, model, explicit, "EMBED_MODEL")
            vectors = out.get("embeddings")
            if not isinstance(vectors, list) or len(vectors) != len(chunk):
                raise SidecarError(502, "unavailable",
                                   f"the model server returned {len(vectors or [])} embeddings for {len(chunk)} texts",
                                   component="model server")
            return vectors

        results = await asyncio.gather(*(one(c) for c in chunks))
        return [v for part in results for v in part]


# --- the app ----------------------------------------------------------------------------------------

def create_app(settings: Settings | None = None) -> FastAPI:
    s = settings or Settings()
    state: dict[str, Ollama] = {}

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state["ollama"] = Ollama(s)
        yield
        await state["ollama"].client.aclose()

    app = FastAPI(title="lakehouse AI sidecar", version=VERSION, lifespan=lifespan, docs_url=None, redoc_url=None)
    otel.instrument(app, "lakehouse-sidecar")

    @app.exception_handler(SidecarError)
    async def on_error(request: Request, exc: SidecarError) -> JSONResponse:
        return JSONResponse({"error": {"code": exc.code, "message": exc.message, "component": exc.component}},
                            status_code=exc.status)

    @app.exception_handler(RequestValidationError)
    async def on_invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = "; ".join(f"{'.'.join(str(p) for p in e.get('loc', [])[1:]) or 'body'}: {e.get('msg')}"
                             for e in exc.errors())
        return JSONResponse({"error": {"code": "invalid_argument", "message": f"invalid request body: {problems}",
                                       "component": "sidecar"}}, status_code=400)

    def check_texts(texts: list[str], what: str, limit: int) -> None:
        if not texts:
            raise SidecarError(400, "invalid_argument", f"{what} is empty: send at least one text")
        if len(texts) > limit:
            raise SidecarError(413, "payload_too_large",
                               f"{len(texts)} {what} in one request, at most {limit}: split them into smaller batches")
        total = 0
        for i, t in enumerate(texts):
            if len(t) > s.max_text_chars:
                raise SidecarError(413, "payload_too_large",
                                   f"{what}[{i}] has {len(t)} characters, at most {s.max_text_chars}: "
                                   "split long texts into chunks")
            total += len(t.encode())
        if total > s.max_total_bytes:
            raise SidecarError(413, "payload_too_large",
                               f"{total} bytes of text in one request, at most {s.max_total_bytes}: send smaller batches")

    async def embed_texts(texts: list[str], model: str | None) -> tuple[str, list[list[float]]]:
        name = model or s.embed_model
        vectors = await state["ollama"].embed(texts, name, explicit=model is not None)
        dims = {len(v) for v in vectors}
        if len(dims) != 1:
            raise SidecarError(502, "unavailable", f"the model server returned vectors of mixed sizes {sorted(dims)}",
                               component="model server")
        return name, vectors

    @app.get("/health")
    async def health() -> dict[str, Any]:
        ollama = state["ollama"]
        out: dict[str, Any] = {"service": "sidecar", "version": VERSION,
                               "ollama": {"url": s.ollama, "reachable": False},
                               "embed_model": s.embed_model, "gen_model": s.gen_model or None,
                               "rerank_model": s.rerank_model or None,
                               "rerank_method": "llm" if s.rerank_model else "embedding"}
        try:
            v = await ollama.client.get("/api/version", timeout=2)
            t = await ollama.client.get("/api/tags", timeout=2)
            models = [m.get("name", "") for m in t.json().get("models", [])]
            out["ollama"].update(reachable=True, version=v.json().get("version"), models=models)
        except (httpx.HTTPError, ValueError) as exc:
            out["status"] = "down"
            out["message"] = ollama._down(exc).message
            return out

        def present(name: str) -> bool:
            return name in models or (":" not in name and f"{name}:latest" in models)

        missing = [f"{env}={name}" for env, name in
                   (("EMBED_MODEL", s.embed_model), ("GEN_MODEL", s.gen_model), ("RERANK_MODEL", s.rerank_model))
                   if name and not present(name)]
        out["status"] = "degraded" if missing else "ok"
        if missing:
            out["message"] = f"configured models missing at {s.ollama}: {', '.join(missing)}"
        return out

    @app.post("/embed")
    async def embed(req: EmbedRequest) -> Response:
        check_texts(req.texts, "texts", s.max_texts)
        name, vectors = await embed_texts(req.texts, req.model)
        if req.format == "f32":
            dim = len(vectors[0])
            flat = [x for v in vectors for x in v]
            return Response(struct.pack(f"<{len(flat)}f", *flat), media_type="application/octet-stream",
                            headers={"X-Embed-Model": name, "X-Embed-Dim": str(dim),
                                     "X-Embed-Count": str(len(vectors))})
        body = {"model": name, "dim": len(vectors[0]), "count": len(vectors), "embeddings": vectors}
        return Response(json.dumps(body, separators=(",", ":")), media_type="application/json")

    def gen_model(requested: str | None) -> str:
        name = requested or s.gen_model
        if not name:
            raise SidecarError(503, "unavailable",
                               "no generative model is configured: set GEN_MODEL (the bundled model server serves "
                               "smollm2:135m-instruct-q4_1; a real Ollama serves what `ollama pull` fetched) "
                               "or pass \"model\" in the request", component="sidecar")
        return name

    @app.post("/generate")
    async def generate(req: GenerateRequest) -> Response:
        if len(req.prompt) > s.max_text_chars:
            raise SidecarError(413, "payload_too_large",
                               f"the prompt has {len(req.prompt)} characters, at most {s.max_text_chars}")
        name = gen_model(req.model)
        body: dict[str, Any] = {"model": name, "prompt": req.prompt, "stream": req.stream}
        if req.system:
            body["system"] = req.system
        if req.options:
            body["options"] = req.options
        ollama = state["ollama"]
        if not req.stream:
            out = await ollama.post("/api/generate", body, name, req.model is not None, "GEN_MODEL")
            keep = ("model", "response", "done", "done_reason", "eval_count", "prompt_eval_count", "total_duration")
            return JSONResponse({k: out[k] for k in keep if k in out})
        try:
            upstream = await ollama.client.send(ollama.client.build_request("POST", "/api/generate", json=body,
                                                                          headers=otel.headers()),
                                                stream=True)
        except httpx.TimeoutException:
            raise ollama._timeout() from None
        except httpx.TransportError as exc:
            raise ollama._down(exc) from None
        if upstream.status_code >= 300:
            await upstream.aread()
            await upstream.aclose()
            await ollama.check(upstream, name, req.model is not None, "GEN_MODEL")

        async def lines() -> AsyncIterator[bytes]:
            try:
                async for line in upstream.aiter_lines():
                    if line.strip():
                        yield (line + "\n").encode()
            except httpx.HTTPError as exc:  # the stream broke: say so in-band, as Ollama does
                yield (json.dumps({"error": f"the model server stream failed: {exc}"}) + "\n").encode()
            finally:
                await upstream.aclose()

        return StreamingResponse(lines(), media_type="application/x-ndjson")

    @app.post("/rerank")
    async def rerank(req: RerankRequest) -> dict[str, Any]:
        check_texts(req.documents, "documents", s.max_documents)
        if not req.query.strip():
            raise SidecarError(400, "invalid_argument", "query is empty")
        rerank_model = req.model or s.rerank_model
        if rerank_model:
            method, model, scores = "llm", rerank_model, await llm_scores(req.query, req.documents, rerank_model,
                                                                         explicit=req.model is not None)
        else:
            model, vectors = await embed_texts([req.query] + req.documents, None)
            q = vectors[0]
            method, scores = "embedding", [cosine(q, d) for d in vectors[1:]]
        order = sorted(range(len(scores)), key=lambda i: scores[i], reverse=True)
        if req.top_n:
            order = order[:req.top_n]
        return {"method": method, "model": model,
                "results": [{"index": i, "document": req.documents[i], "score": scores[i]} for i in order]}

    async def llm_scores(query: str, documents: list[str], model: str, explicit: bool) -> list[float]:
        """Asks the generative model for a 0-10 relevance grade per document (temperature 0)."""
        gate = asyncio.Semaphore(2)

        async def one(doc: str) -> float:
            prompt = (f"Query: {query}\nDocument: {doc}\n"
                      "On a scale from 0 (unrelated) to 10 (answers the query), how relevant is the document "
                      "to the query? Reply with the number only.")
            async with gate:
                out = await state["ollama"].post(
                    "/api/generate", {"model": model, "prompt": prompt, "stream": False,
                                      "options": {"temperature": 0, "num_predict": 4}},
                    model, explicit, "RERANK_MODEL")
            match = re.search(r"\d+(\.\d+)?", out.get("response", ""))
            return min(float(match.group()), 10.0) / 10.0 if match else 0.0

        return list(await asyncio.gather(*(one(d) for d in documents)))

    return app


def cosine(a: list[float], b: list[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b))
    na = math.sqrt(sum(x * x for x in a))
    nb = math.sqrt(sum(y * y for y in b))
    return dot / (na * nb) if na and nb else 0.0


app = create_app()
