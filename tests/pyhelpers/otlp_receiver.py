"""A real OTLP/HTTP trace receiver for tests: POST /v1/traces with an
ExportTraceServiceRequest (protobuf, decoded with the `opentelemetry-proto` package), kept in memory.

    with OtlpReceiver() as rx:          # rx.endpoint -> OTEL_EXPORTER_OTLP_ENDPOINT
        ...
        spans = rx.wait_for(lambda spans: ..., timeout=10)
"""
from __future__ import annotations

import gzip
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (ExportTraceServiceRequest,
                                                                      ExportTraceServiceResponse)


class Span(dict):
    """One received span: name, service, trace_id, span_id, parent_span_id (hex), attributes, status."""


def _value(v):
    kind = v.WhichOneof("value")
    return getattr(v, kind) if kind else None


class OtlpReceiver:
    def __init__(self, decode: bool = True):
        """decode=False (benchmarks) keeps no spans, only counts them (span_count) and the bodies, so
        the receiver's own CPU (it shares the machine) stays small."""
        self.spans: list[Span] = []
        self.requests = 0
        self.bytes = 0
        self.span_count = 0
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                if self.path != "/v1/traces" or "protobuf" not in self.headers.get("Content-Type", ""):
                    self.send_response(415 if self.path == "/v1/traces" else 404)
                    self.end_headers()
                    return
                if decode:
                    request = ExportTraceServiceRequest()
                    request.ParseFromString(body)
                    receiver._add(request)
                else:
                    request = ExportTraceServiceRequest()
                    request.ParseFromString(body)
                    count = sum(len(ss.spans) for rs in request.resource_spans for ss in rs.scope_spans)
                    with receiver._lock:
                        receiver.requests += 1
                        receiver.bytes += len(body)
                        receiver.span_count += count
                out = ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.endpoint = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def _add(self, request: ExportTraceServiceRequest) -> None:
        out = []
        for rs in request.resource_spans:
            resource = {a.key: _value(a.value) for a in rs.resource.attributes}
            for ss in rs.scope_spans:
                for s in ss.spans:
                    out.append(Span(name=s.name, service=resource.get("service.name"), trace_id=s.trace_id.hex(),
                                    span_id=s.span_id.hex(), parent_span_id=s.parent_span_id.hex(),
                                    attributes={a.key: _value(a.value) for a in s.attributes},
                                    status=s.status.code, kind=s.kind))
        with self._lock:
            self.requests += 1
            self.span_count += len(out)
            self.spans.extend(out)

    def snapshot(self) -> list[Span]:
        with self._lock:
            return list(self.spans)

    def wait_for(self, predicate, timeout=15.0):
        """Polls until predicate(spans) is truthy; returns the spans (the last snapshot on timeout)."""
        deadline = time.time() + timeout
        while True:
            spans = self.snapshot()
            if predicate(spans) or time.time() > deadline:
                return spans
            time.sleep(0.1)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._server.shutdown()
        self._server.server_close()
