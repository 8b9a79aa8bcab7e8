"""Traces of the Python processes (docs/adr/0016-telemetry.md): the sidecar and the bundled model
server continue the gateway's trace. Off (nothing imported, nothing exported) unless
OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is set, as in the C++ server.

instrument(app, "lakehouse-sidecar") adds a middleware that opens a server span per request, a child
of the caller's W3C `traceparent`; headers() gives the `traceparent` of the current span for an
outgoing call. The sampler and batch delay come from the standard OTEL_* variables.
"""
from __future__ import annotations

import os
from typing import Any

_enabled = False


def enabled() -> bool:
    return _enabled


def instrument(app: Any, service_name: str) -> None:
    global _enabled
    if not (os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")):
        return
    if os.environ.get("OTEL_SDK_DISABLED", "").lower() == "true":
        return
    from opentelemetry import propagate, trace
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    # The provider flushes its batch at interpreter exit (shutdown_on_exit, the default).
    provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    tracer = trace.get_tracer("lakehouse")
    _enabled = True

    @app.middleware("http")
    async def trace_request(request: Any, call_next: Any) -> Any:
        parent = propagate.extract(dict(request.headers))
        name = f"{request.method} {request.url.path}"
        with tracer.start_as_current_span(name, context=parent, kind=trace.SpanKind.SERVER) as span:
            span.set_attribute("http.request.method", request.method)
            span.set_attribute("url.path", request.url.path)
            response = await call_next(request)
            span.set_attribute("http.response.status_code", response.status_code)
            if response.status_code >= 500:
                span.set_status(trace.Status(trace.StatusCode.ERROR))
            return response


def headers() -> dict[str, str]:
    """The `traceparent` (and `tracestate`) of the current span, for an outgoing HTTP call."""
    if not _enabled:
        return {}
    from opentelemetry import propagate

    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier
