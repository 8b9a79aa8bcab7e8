"""The multi-process deployment (issue 9, docs/deploy.md): `lakehouse up` runs one process per
service on loopback (storaged, catalogd, ingest, two queryd replicas, the gateway), restarts one that
dies, and stops them together; each process serves its own /metrics; a service that is down gives the
HTTP client a 503 naming it, nothing acknowledged is lost, and the deployment recovers by itself; one
HTTP request makes one trace whose spans come from several processes."""
import json
import os
import signal
import threading
import time
import urllib.error
import urllib.request

import pytest

from lakehouse_testing import BACKENDS, DEPLOY_SERVICES, Server, s3_args
from otlp_receiver import OtlpReceiver

SERVICES = {*DEPLOY_SERVICES, "queryd-1", "queryd-2", "gateway"}


def backend_args(backend):
    return s3_args("deploy") if backend == "s3" else []


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def post_json(s, path, obj, timeout=30):
    return s.request("POST", path, json.dumps(obj).encode(), {"Content-Type": "application/json"}, timeout=timeout)


def message(body):
    try:
        return json.loads(body)["error"]["message"]
    except (ValueError, KeyError, TypeError):
        return body.decode(errors="replace")[:300]


def count(s):
    status, _, body = post_json(s, "/api/v1/query", {"sql": "SELECT count(*) AS n FROM events"})
    assert status == 200, body
    return int(json.loads(body)["rows"][0][0])


def scrape(address):
    with urllib.request.urlopen(f"http://{address}/metrics", timeout=5) as r:
        return r.read().decode()


def metric_sum(text, family):
    total = 0.0
    for line in text.splitlines():
        if line.startswith(family + " ") or line.startswith(family + "{"):
            total += float(line.rsplit(" ", 1)[1])
    return total


def wait_pid_change(s, name, old_pid, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        pid = s.pids().get(name)
        if pid and pid != old_pid and alive(pid):
            return pid
        time.sleep(0.1)
    raise AssertionError(f"{name} was not restarted within {timeout} s")


def test_up_runs_one_process_per_service_and_stops_them_together(tmp_path):
    s = Server(tmp_path, deployment="multi")
    try:
        pids = s.pids()
        assert set(pids) == SERVICES, pids
        assert len(set(pids.values())) == len(SERVICES) and s.proc.pid not in pids.values()
        assert all(alive(p) for p in pids.values())
        _, health = s.json("GET", "/health")
        for name in [*DEPLOY_SERVICES, "queryd"]:
            assert health["services"][name]["status"] == "ok" and health["services"][name]["remote"], health

        status, _, body = s.request("POST", "/api/v1/datasets/events?format=csv", b"id,v\n1,10\n2,20\n",
                                    {"Content-Type": "text/csv"})
        assert status == 201, body
        for _ in range(4):  # round-robin: both replicas answer, each with the newest version
            assert count(s) == 2

        # Every process serves its own metrics (docs/deploy.md: one Prometheus target per process).
        texts = {name: scrape(addr) for name, addr in s.metrics.items() if isinstance(addr, str)}
        replicas = [scrape(addr) for addr in s.metrics["queryd"]]
        for text in [*texts.values(), *replicas]:
            assert "process_resident_memory_bytes" in text
        assert sum(metric_sum(t, "lakehouse_queries_total") for t in replicas) >= 4
        assert all(metric_sum(t, "lakehouse_queries_total") >= 1 for t in replicas), "both replicas served queries"
        assert metric_sum(texts["catalogd"], "lakehouse_catalog_commits_total") >= 1
        assert metric_sum(texts["storaged"], "lakehouse_object_store_operations_total") >= 1
        assert metric_sum(texts["catalogd"], "lakehouse_queries_total") == 0, "catalogd runs no queries"
    finally:
        rc = s.stop()
    assert rc == 0
    deadline = time.time() + 10
    while time.time() < deadline and any(alive(p) for p in pids.values()):
        time.sleep(0.1)
    assert not any(alive(p) for p in pids.values()), "every process stops with `lakehouse up`"


class Load:
    """Bounded appends and queries from two threads until stop() (or 3000 requests / 240 s)."""

    def __init__(self, s):
        self.s = s
        self.acked = 0      # rows of acknowledged appends
        self.attempted = 0  # rows of every append sent
        self.errors = []
        self.ok_queries = 0
        self.stopping = threading.Event()
        self.threads = [threading.Thread(target=self.appends), threading.Thread(target=self.queries)]
        self.started = time.time()
        for t in self.threads:
            t.start()

    def running(self, i):
        return not self.stopping.is_set() and i < 1500 and time.time() - self.started < 240

    def appends(self):
        i = 0
        while self.running(i):
            i += 1
            self.attempted += 3
            try:
                status, _, body = self.s.request("POST", "/api/v1/datasets/events/append?format=csv",
                                                 b"id,v\n%d,1\n%d,2\n%d,3\n" % (i, i, i),
                                                 {"Content-Type": "text/csv"}, timeout=60)
            except OSError as e:  # the gateway itself is down
                self.errors.append(("append", 0, str(e)))
                time.sleep(0.05)
                continue
            if status == 200:
                self.acked += 3
            else:
                self.errors.append(("append", status, message(body)))
                time.sleep(0.05)

    def queries(self):
        i = 0
        while self.running(i):
            i += 1
            try:
                status, _, body = post_json(self.s, "/api/v1/query", {"sql": "SELECT count(*) FROM events"}, 60)
            except OSError as e:
                self.errors.append(("query", 0, str(e)))
                time.sleep(0.05)
                continue
            if status == 200:
                self.ok_queries += 1
            else:
                self.errors.append(("query", status, message(body)))
                time.sleep(0.05)

    def stop(self):
        self.stopping.set()
        for t in self.threads:
            t.join(timeout=120)


def probe_503(s, name, probes, timeout):
    """Sends `probes` until one answers 503 naming `name`; returns that message."""
    deadline = time.time() + timeout
    seen = []
    while time.time() < deadline:
        for probe in probes:
            status, _, body = probe()
            if status == 503 and name in message(body):
                return message(body)
            seen.append((status, message(body)[:120]))
        time.sleep(0.05)
    raise AssertionError(f"no 503 naming {name} while it was down; saw {seen[-6:]}")


def recovered(s, probes, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            if all(probe()[0] in (200, 201) for probe in probes):
                return
        except OSError:  # the gateway is not listening again yet
            pass
        time.sleep(0.1)
    raise AssertionError("the deployment did not recover")


@pytest.mark.parametrize("backend", BACKENDS)
def test_kill_9_each_service_under_load(tmp_path, backend):
    # Restarts wait 2.5 s, so a killed service is seen down before the supervisor brings it back.
    s = Server(tmp_path, *backend_args(backend), deployment="multi", restart_backoff_ms=2500)
    load = None
    try:
        status, _, body = s.request("POST", "/api/v1/datasets/events?format=csv", b"id,v\n0,0\n",
                                    {"Content-Type": "text/csv"})
        assert status == 201, body
        query = lambda: post_json(s, "/api/v1/query", {"sql": "SELECT count(*) FROM events"})  # noqa: E731
        listing = lambda: s.request("GET", "/api/v1/datasets")  # noqa: E731
        append = lambda: s.request("POST", "/api/v1/datasets/events/append?format=csv", b"id,v\n-1,0\n",  # noqa: E731
                                   {"Content-Type": "text/csv"})
        probes_by_service = {"storaged": [append, query], "catalogd": [listing], "ingest": [append],
                             "queryd": [query]}
        load = Load(s)
        time.sleep(1)
        for name in DEPLOY_SERVICES:
            pid = s.pids()[name]
            os.kill(pid, signal.SIGKILL)
            msg = probe_503(s, name, probes_by_service[name], timeout=10)
            assert "unavailable" in msg, msg
            wait_pid_change(s, name, pid)
            recovered(s, [query, listing])

        # One queryd replica down: the other answers (health-aware round-robin); both down: 503.
        pid = s.pids()["queryd-1"]
        os.kill(pid, signal.SIGKILL)
        time.sleep(1.5)  # the gateway's health check sees it gone
        for _ in range(6):
            status, _, body = query()
            assert status == 200, message(body)
        wait_pid_change(s, "queryd-1", pid)
        pids = [s.pids()["queryd-1"], s.pids()["queryd-2"]]
        for p in pids:
            os.kill(p, signal.SIGKILL)
        probe_503(s, "queryd", [query], timeout=10)
        wait_pid_change(s, "queryd-1", pids[0])
        wait_pid_change(s, "queryd-2", pids[1])
        recovered(s, [query])

        # The gateway itself: connections are refused until the supervisor restarts it.
        pid = s.pids()["gateway"]
        os.kill(pid, signal.SIGKILL)
        with pytest.raises(OSError):
            urllib.request.urlopen(s.base + "/health", timeout=2)
        wait_pid_change(s, "gateway", pid)
        recovered(s, [query, listing])
        time.sleep(1)
        load.stop()

        # Nothing acknowledged is lost: every acked append is in the count (probe appends that
        # went through count too; an append whose answer was lost may be in it as well).
        assert load.acked > 0 and load.ok_queries > 0
        n = count(s)
        assert n >= 1 + load.acked, (n, load.acked)
        assert n <= 1 + load.attempted + 200, (n, load.attempted)  # + the probes' one-row appends
        services_named = {name for name in ("storaged", "catalogd", "ingest", "queryd")
                          if any(e[1] == 503 and name in e[2] for e in load.errors)}
        assert services_named, load.errors[:20]
        statuses = {e[1] for e in load.errors}
        assert statuses <= {0, 503}, [e for e in load.errors if e[1] not in (0, 503)][:10]
    finally:
        if load is not None:
            load.stop()
        s.stop()


def test_one_request_makes_one_trace_across_processes(tmp_path):
    with OtlpReceiver() as rx:
        env = {"OTEL_EXPORTER_OTLP_ENDPOINT": rx.endpoint, "OTEL_TRACES_SAMPLER": "always_on",
               "OTEL_BSP_SCHEDULE_DELAY": "200"}
        s = Server(tmp_path, env=env, deployment="multi")
        try:
            status, _, body = s.request("POST", "/api/v1/datasets/sales?format=csv", b"id,amount\n1,10\n2,20\n",
                                        {"Content-Type": "text/csv"})
            assert status == 201, body
            status, headers, body = post_json(s, "/api/v1/query", {"sql": "SELECT sum(amount) AS t FROM sales"})
            assert status == 200, body

            def query_trace(spans):
                roots = [x for x in spans if x["name"] == "POST /api/v1/query"]
                for r in roots:
                    trace = [x for x in spans if x["trace_id"] == r["trace_id"]]
                    if {"lakehouse-gateway", "lakehouse-queryd", "lakehouse-catalogd"} <= {x["service"] for x in trace}:
                        return trace
                return None
            trace = query_trace(rx.wait_for(lambda sp: query_trace(sp) is not None, timeout=20))
            assert trace, sorted({(x["service"], x["name"]) for x in rx.snapshot()})
            ids = {x["span_id"] for x in trace}
            roots = [x for x in trace if x["parent_span_id"] not in ids]
            assert len(roots) == 1 and roots[0]["service"] == "lakehouse-gateway", [
                (x["name"], x["service"]) for x in roots]
            execute = [x for x in trace if x["name"] == "queryd.execute"]
            assert execute and execute[0]["service"] == "lakehouse-queryd"
            by_id = {x["span_id"]: x for x in trace}
            # catalogd's spans hang below queryd's: the context crossed two gRPC hops.
            catalog = [x for x in trace if x["service"] == "lakehouse-catalogd"]
            chain = []
            span = catalog[0]
            while span["parent_span_id"] in by_id:
                span = by_id[span["parent_span_id"]]
                chain.append(span["service"])
            assert "lakehouse-queryd" in chain and chain[-1] == "lakehouse-gateway", chain
        finally:
            s.stop()


SLOW_SQL = "SELECT count(*) AS n FROM range(1500000000) t WHERE t.range % 7 = 3"


def in_background(fn):
    out = {}
    t = threading.Thread(target=lambda: out.setdefault("result", fn()))
    t.start()
    return t, out


def test_sigterm_drains_calls_in_flight(tmp_path):
    s = Server(tmp_path, deployment="multi")
    try:
        # SIGTERM to both queryd replicas while a query runs in one of them: it finishes (the
        # process drains its gRPC calls), then the supervisor starts them again.
        old = [s.pids()["queryd-1"], s.pids()["queryd-2"]]
        t, out = in_background(lambda: post_json(s, "/api/v1/query", {"sql": SLOW_SQL}, timeout=120))
        time.sleep(1.0)
        for p in old:
            os.kill(p, signal.SIGTERM)
        t.join(timeout=120)
        status, _, body = out["result"]
        assert status == 200, message(body)
        assert json.loads(body)["rows"][0][0] > 0
        wait_pid_change(s, "queryd-1", old[0])
        wait_pid_change(s, "queryd-2", old[1])
        drained = [x for x in s.log_lines() if x.get("msg") == "shutdown complete" and x.get("role") == "queryd"]
        assert len(drained) == 2, "both replicas stopped cleanly"

        # SIGTERM to `lakehouse up` while a query runs: the gateway drains it before anything stops.
        pids = s.pids()
        t, out = in_background(lambda: post_json(s, "/api/v1/query", {"sql": SLOW_SQL}, timeout=120))
        time.sleep(1.0)
    finally:
        rc = s.stop()
    t.join(timeout=120)
    status, _, body = out["result"]
    assert status == 200, message(body)
    assert rc == 0
    assert not any(alive(p) for p in pids.values())


def test_ai_and_search_as_processes(tmp_path):
    """aibridge (with its sidecar and model server) and search in their own processes: an embedding
    and a semantic search through the gateway, and a 503 naming aibridge while it is killed."""
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    s = Server(tmp_path, "--ai-home", root, ai=True, deployment="multi", restart_backoff_ms=2500)
    try:
        assert {"aibridge", "search"} <= set(s.pids()), s.pids()
        embed = lambda: post_json(s, "/api/v1/ai/embed", {"texts": ["a red apple"]}, timeout=60)  # noqa: E731
        deadline = time.time() + 120
        while time.time() < deadline:  # the sidecar and model server start under aibridge's supervisor
            status, _, body = embed()
            if status == 200:
                break
            time.sleep(1)
        assert status == 200, message(body)
        assert json.loads(body)["dim"] == 384

        notes = b"id,body\n1,The recipe needs flour and yeast\n2,Stock markets fell sharply\n3,Cats sleep all day\n"
        assert s.request("POST", "/api/v1/datasets/notes?format=csv", notes, {"Content-Type": "text/csv"})[0] == 201
        status, _, body = post_json(s, "/api/v1/datasets/notes/embeddings", {"column": "body", "key": "id",
                                                                                 "wait": True}, timeout=120)
        assert status in (200, 201), message(body)
        status, _, body = post_json(s, "/api/v1/search", {"dataset": "notes", "column": "body",
                                                          "query": "baking bread", "k": 1}, timeout=60)
        assert status == 200, message(body)
        assert json.loads(body)["results"][0]["key"] == 1

        pid = s.pids()["aibridge"]
        os.kill(pid, signal.SIGKILL)
        probe_503(s, "aibridge", [embed], timeout=10)
        wait_pid_change(s, "aibridge", pid)
        deadline = time.time() + 120
        while time.time() < deadline and embed()[0] != 200:
            time.sleep(1)
        assert embed()[0] == 200, "embeddings work again after aibridge's restart"
    finally:
        s.stop()
