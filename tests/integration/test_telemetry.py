"""Traces and metrics of the real binary (docs/adr/0016-telemetry.md).

Traces: a real OTLP/HTTP receiver (otlp_receiver.py, protobuf decoded with `opentelemetry-proto`)
gets the spans; one upload and one query each make one trace crossing gateway -> catalogd ->
queryd -> storaged with intact parent links, an embed continues into the sidecar and the bundled
model server, and every log line of a request carries its trace_id/span_id.
Metrics: Debian's real Prometheus 2.42 scrapes GET /metrics, and a series is read back through its
HTTP query API.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import urllib.parse
import urllib.request

import pytest

from lakehouse_testing import BACKENDS, Server, free_port, s3_args
from otlp_receiver import OtlpReceiver

CSV = b"id,name,amount\n1,a,10\n2,b,20\n3,c,30\n"
CLIENT_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
CLIENT_SPAN = "00f067aa0ba902b7"


def otel_env(rx):
    return {"OTEL_EXPORTER_OTLP_ENDPOINT": rx.endpoint, "OTEL_TRACES_SAMPLER": "always_on",
            "OTEL_BSP_SCHEDULE_DELAY": "200"}


def backend_args(backend):
    return s3_args("telemetry") if backend == "s3" else []


def trace_of(spans, trace_id):
    return [s for s in spans if s["trace_id"] == trace_id]


def check_links(trace, root_parent=""):
    """Every span's parent is a span of the same trace, except the one root (parent root_parent)."""
    ids = {s["span_id"] for s in trace}
    roots = [s for s in trace if s["parent_span_id"] not in ids]
    assert len(roots) == 1, [(s["name"], s["parent_span_id"]) for s in roots]
    assert roots[0]["parent_span_id"] == root_parent
    return roots[0]


def ancestors(trace, span):
    by_id = {s["span_id"]: s for s in trace}
    out = []
    while span["parent_span_id"] in by_id:
        span = by_id[span["parent_span_id"]]
        out.append(span["name"])
    return out


def named(trace, name):
    found = [s for s in trace if s["name"] == name]
    assert found, f"no span {name} in {sorted(s['name'] for s in trace)}"
    return found[0]


@pytest.mark.parametrize("backend", BACKENDS)
def test_upload_and_query_each_make_one_connected_trace(tmp_path, backend):
    with OtlpReceiver() as rx:
        s = Server(tmp_path, *backend_args(backend), env=otel_env(rx))
        try:
            # Upload, continuing the client's W3C trace.
            status, headers, body = s.request(
                "POST", "/api/v1/datasets/sales?format=csv", body=CSV,
                headers={"traceparent": f"00-{CLIENT_TRACE}-{CLIENT_SPAN}-01", "Content-Type": "text/csv"})
            assert status == 201, body
            upload_id = headers["X-Request-Id"]
            want = {"catalogd.commit", "storaged.put", "storaged.put_if_absent", "ingest.store"}
            spans = rx.wait_for(lambda sp: want <= {x["name"] for x in trace_of(sp, CLIENT_TRACE)})
            upload = trace_of(spans, CLIENT_TRACE)
            root = check_links(upload, root_parent=CLIENT_SPAN)
            assert root["name"] == "POST /api/v1/datasets/{name}" and root["service"] == "lakehouse"
            assert root["attributes"]["http.response.status_code"] == 201
            commit_put = [x for x in upload if x["name"] == "storaged.put_if_absent"
                          and "_catalog/" in x["attributes"]["object.key"]][0]
            assert ancestors(upload, commit_put)[:3] == ["catalogd.commit", "ingest.commit", "ingest.upload"]
            data_put = named(upload, "storaged.put")
            assert data_put["attributes"]["storage.backend"] == backend
            assert data_put["attributes"]["storage.bytes"] > 0
            assert data_put["attributes"]["storage.status"] == "ok"
            assert ancestors(upload, data_put)[:2] == ["ingest.store", "ingest.upload"]
            for phase in ("ingest.spool", "ingest.convert"):
                named(upload, phase)

            # A query without a traceparent starts its own trace at the gateway.
            status, headers, body = s.request("POST", "/api/v1/query", body=json.dumps(
                {"sql": "SELECT sum(amount) AS total FROM sales"}).encode(),
                headers={"Content-Type": "application/json"})
            assert status == 200, body
            query_roots = lambda sp: [x for x in sp if x["name"] == "POST /api/v1/query"]  # noqa: E731
            spans = rx.wait_for(lambda sp: any(
                "queryd.execute" in {y["name"] for y in trace_of(sp, r["trace_id"])} for r in query_roots(sp)))
            qroot = query_roots(spans)[0]
            assert qroot["trace_id"] != CLIENT_TRACE
            query = trace_of(spans, qroot["trace_id"])
            assert check_links(query, root_parent="") is not None
            execute = named(query, "queryd.execute")
            assert execute["attributes"]["db.response.returned_rows"] == 1
            assert execute["attributes"]["query.dataset_versions"] == "sales@1"
            assert execute["attributes"]["query.bytes_scanned"] > 0
            resolve = named(query, "queryd.resolve")
            assert "queryd.execute" in ancestors(query, resolve)
            head = named(query, "catalogd.head")
            assert "queryd.execute" in ancestors(query, head)
            storage = [x for x in query if x["name"].startswith("storaged.")]
            assert storage, sorted(x["name"] for x in query)
            for x in storage:
                assert "queryd.execute" in ancestors(query, x), (x["name"], ancestors(query, x))

            # Every log line of a request carries its trace and span ids.
            lines = [x for x in s.log_lines() if x.get("request_id") == upload_id]
            assert lines and all(x.get("trace_id") == CLIENT_TRACE for x in lines), lines
            assert {x["span_id"] for x in lines} <= {x["span_id"] for x in upload}
        finally:
            s.stop()


def test_invalid_traceparent_starts_a_new_trace_and_tracing_off_sends_nothing(tmp_path):
    with OtlpReceiver() as rx:
        s = Server(tmp_path, env=otel_env(rx))
        try:
            status, _, _ = s.request("GET", "/api/v1/datasets", headers={"traceparent": "00-" + "0" * 32 + "-" + "1" * 16
                                                                         + "-01"})
            assert status == 200
            spans = rx.wait_for(lambda sp: any(x["name"] == "GET /api/v1/datasets" for x in sp))
            root = [x for x in spans if x["name"] == "GET /api/v1/datasets"][0]
            assert root["parent_span_id"] == "" and root["trace_id"] != "0" * 32
        finally:
            s.stop()
    # Off: OTEL_SDK_DISABLED=true with an endpoint, and no endpoint at all. Nothing is exported and
    # log lines carry no ids.
    for name, env in (("disabled", {"OTEL_SDK_DISABLED": "true"}), ("no-endpoint", {"OTEL_EXPORTER_OTLP_ENDPOINT": ""})):
        with OtlpReceiver() as rx:
            (tmp_path / name).mkdir()
            s = Server(tmp_path / name, env={**otel_env(rx), **env})
            try:
                s.request("GET", "/api/v1/datasets", headers={"traceparent": f"00-{CLIENT_TRACE}-{CLIENT_SPAN}-01"})
                time.sleep(0.6)  # three batch delays
                assert not any("trace_id" in x for x in s.log_lines())
            finally:
                s.stop()
            assert rx.requests == 0, name


def test_parentbased_always_off_traces_only_requests_with_a_sampled_parent(tmp_path):
    """The gateway skips the SDK for requests its sampler can only drop; a client's sampled
    traceparent is still followed."""
    with OtlpReceiver() as rx:
        s = Server(tmp_path, env={**otel_env(rx), "OTEL_TRACES_SAMPLER": "parentbased_always_off"})
        try:
            assert s.request("GET", "/api/v1/datasets")[0] == 200
            assert s.request("GET", "/health", headers={"traceparent": f"00-{CLIENT_TRACE}-{CLIENT_SPAN}-01"})[0] == 200
            rx.wait_for(lambda sp: any(x["name"] == "GET /health" for x in sp))
            time.sleep(0.6)  # three batch delays: an unsampled span would have arrived too
            spans = rx.snapshot()
            assert [x["name"] for x in spans] == ["GET /health"], [x["name"] for x in spans]
            assert spans[0]["trace_id"] == CLIENT_TRACE and spans[0]["parent_span_id"] == CLIENT_SPAN
        finally:
            s.stop()


def test_a_full_export_queue_drops_spans_with_a_few_rate_limited_log_lines(tmp_path):
    """OpenTelemetry's own warnings (here: 'queue is full - dropping span', once per dropped span)
    reach the JSON log at most once per 10 s per source line with a count, never one stderr line
    each (ADR 0016: that write per span cost /health a fifth of its throughput)."""
    with OtlpReceiver() as rx:
        env = {**otel_env(rx), "OTEL_BSP_MAX_QUEUE_SIZE": "4", "OTEL_BSP_MAX_EXPORT_BATCH_SIZE": "2",
               "OTEL_BSP_SCHEDULE_DELAY": "5000"}
        s = Server(tmp_path, env=env)
        try:
            for _ in range(200):
                assert s.request("GET", "/health")[0] == 200
            assert s.request("GET", "/api/v1/datasets")[0] == 200  # still served, still traced
        finally:
            s.stop()
    raw = s.log_path.read_text()
    assert "[Warning] File:" not in raw  # the SDK's default handler is replaced
    drops = [x for x in s.log_lines() if x.get("msg") == "opentelemetry" and "dropping span" in x.get("message", "")]
    assert 1 <= len(drops) <= 2, drops
    assert all(x["level"] == "warn" for x in drops)


def test_embed_trace_continues_into_the_sidecar_and_model_server(tmp_path):
    with OtlpReceiver() as rx:
        root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        s = Server(tmp_path, "--ai-home", root, env=otel_env(rx), ai=True)
        try:
            deadline = time.time() + 90
            while time.time() < deadline:  # the sidecar and model server start under the supervisor
                status, _, body = s.request("POST", "/api/v1/ai/embed", body=json.dumps(
                    {"texts": ["a red apple"]}).encode(), headers={"traceparent": f"00-{CLIENT_TRACE}-{CLIENT_SPAN}-01",
                                                                   "Content-Type": "application/json"})
                if status == 200:
                    break
                time.sleep(1)
            assert status == 200, body
            services = {"lakehouse", "lakehouse-sidecar", "lakehouse-modelserver"}

            def complete(sp):  # every service there, and every parent (spans of one trace arrive in batches)
                t = trace_of(sp, CLIENT_TRACE)
                ids = {x["span_id"] for x in t} | {CLIENT_SPAN}
                return services <= {x["service"] for x in t} and all(x["parent_span_id"] in ids for x in t)

            spans = rx.wait_for(complete, timeout=20)
            embed = trace_of(spans, CLIENT_TRACE)
            assert services <= {x["service"] for x in embed}, [(x["service"], x["name"]) for x in embed]
            calls = {x["span_id"] for x in embed if x["name"] == "aibridge.call"}
            sidecar = [x for x in embed if x["service"] == "lakehouse-sidecar"]
            model = [x for x in embed if x["service"] == "lakehouse-modelserver"]
            assert calls and sidecar and model
            # The sidecar's server span is a child of aibridge's call, the model server's of a sidecar
            # span (FastAPI adds its own spans below each server span).
            server = 2  # SPAN_KIND_SERVER
            assert all(x["parent_span_id"] in calls for x in sidecar if x["kind"] == server), sidecar
            assert all(x["parent_span_id"] in {y["span_id"] for y in sidecar} for x in model if x["kind"] == server)
            assert {x["name"] for x in sidecar if x["kind"] == server} == {"POST /embed"}
            # Every span of the successful call hangs off the client's span (failed startup tries too).
            ids = {x["span_id"] for x in embed} | {CLIENT_SPAN}
            assert all(x["parent_span_id"] in ids for x in embed)
        finally:
            s.stop()


PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"


def prom_query(port, expr):
    url = f"http://127.0.0.1:{port}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    with urllib.request.urlopen(url, timeout=5) as r:
        return json.loads(r.read())["data"]["result"]


def test_prometheus_scrapes_metrics(tmp_path):
    s = Server(tmp_path)
    prom = None
    try:
        assert s.request("POST", "/api/v1/datasets/sales?format=csv", body=CSV,
                         headers={"Content-Type": "text/csv"})[0] == 201
        assert s.request("POST", "/api/v1/query", body=b'{"sql": "SELECT * FROM sales"}',
                         headers={"Content-Type": "application/json"})[0] == 200
        # A request is counted right after its response is written: the client may scrape first.
        deadline = time.time() + 10
        while True:
            status, headers, text = s.request("GET", "/metrics")
            assert status == 200 and headers["Content-Type"].startswith("text/plain; version=0.0.4")
            text = text.decode()
            if ('route="/api/v1/query"' in text and 'route="/api/v1/datasets/{name}"' in text) or time.time() > deadline:
                break
            time.sleep(0.1)
        for family in ("lakehouse_http_requests_total", "lakehouse_http_request_duration_seconds_bucket",
                       "lakehouse_queries_total", "lakehouse_query_rows_total", "lakehouse_query_bytes_scanned_total",
                       "lakehouse_queries_active", "lakehouse_catalog_commits_total",
                       "lakehouse_object_store_operations_total", "lakehouse_object_store_bytes_total",
                       "process_resident_memory_bytes"):
            assert family in text, family
        assert 'lakehouse_query_rows_total 3' in text
        assert 'route="/api/v1/datasets/{name}"' in text and 'route="/api/v1/datasets/sales"' not in text

        prom_port = free_port()
        config = tmp_path / "prometheus.yml"
        config.write_text(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
            f"scrape_configs:\n  - job_name: lakehouse\n    static_configs:\n      - targets: ['127.0.0.1:{s.port}']\n")
        log = open(tmp_path / "prometheus.log", "wb")
        prom = subprocess.Popen([PROMETHEUS, f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                                 f"--web.listen-address=127.0.0.1:{prom_port}", "--log.level=warn"],
                                stdout=log, stderr=subprocess.STDOUT)
        expr = 'lakehouse_http_requests_total{route="/api/v1/query",method="POST",status="200"}'
        result = []
        deadline = time.time() + 45  # start-up plus a few 1 s scrapes; usually under 5 s
        while time.time() < deadline and not result:
            time.sleep(1)
            try:
                result = prom_query(prom_port, expr)
            except OSError:
                pass
        assert result, (tmp_path / "prometheus.log").read_text()[-2000:]
        assert float(result[0]["value"][1]) >= 1
        assert prom_query(prom_port, 'up{job="lakehouse"}')[0]["value"][1] == "1"
    finally:
        if prom is not None:
            prom.terminate()
            prom.wait(timeout=20)
        s.stop()
