"""Tracing (and auth) overhead in one run, robust on a shared, loaded machine.

Servers (same binary, same data, all started here; BENCH_CONFIGS picks a subset):
  off         --auth off, tracing off (no endpoint)
  trace       --auth off, tracing on: OTEL_TRACES_SAMPLER=always_on (BENCH_SAMPLER), every span
              exported over OTLP/HTTP to a real receiver of its own (tests/pyhelpers/otlp_receiver.py,
              which parses each body and counts the spans)
  auth+trace  auth on (requests carry the admin key) and tracing as above: the issue's "on"
  NAME@base   any of the above run by the binary BASE_BIN (bench/telemetry.sh LAKEHOUSE_BASE_BIN=...): an
              earlier build measured in the same run, e.g. BENCH_CONFIGS=off,auth+trace,auth+trace@base

The figure is the server's CPU time (user + system time of the whole process, every thread, the
exporter's included, read from its CPU-time clock) per request, for a fixed number of requests, in ROUNDS rounds that
alternate the servers (the order rotates every round), medians. Other engineers' builds inflate wall
time and req/s (the wrk figure is printed too, secondary), not the CPU a request costs. The ratio
off/on of CPU per request is the throughput ratio of a CPU-bound server: the issue's targets are
>= 0.85 on /health (<= 15% overhead) and >= 0.95 on queries.

"On" must really export: after each /health round the bench waits until the receiver has counted
at least as many spans as wrk counted responses (else the round is reported as dropping spans and
the run fails), and the server's CPU is read only then, so the export's own CPU is in the figure.
Any OpenTelemetry warning in the server's log (a full queue drops spans) fails the run too.

The baseline queries (bench/query/queries.tsv without the TPC-H ones) run first, on the fresh
servers, in RUNS rounds per server (order rotating) of BLOCK runs in a row each; CPU per run = the
block's CPU / BLOCK; medians. (Run after the /health rounds, whose 300k spans per traced server
leave its heap in another state, the traced servers' queries measured 1.14-1.15x in one run: ADR 0016.)

Knobs: BASE_BIN (see NAME@base), REQUESTS (/health requests per round, default 20000), ROUNDS (default 15), RUNS (query
rounds per server, default 5), BLOCK (default 20; BENCH_QUERIES=0 skips the queries), ROWS (events
rows, default 300000), BENCH_SAMPLER (default always_on).
Bounded: every wrk run has a time cap; every wait has a timeout.
"""
from __future__ import annotations

import json
import os
import random
import re
import signal
import statistics
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

from lakehouse_testing import free_port  # tests/pyhelpers, on PYTHONPATH from bench/telemetry.sh
from otlp_receiver import OtlpReceiver

ROOT = Path(__file__).resolve().parents[2]

LH = os.environ.get("LAKEHOUSE_BIN", str(ROOT / "build" / "app" / "lakehouse"))
BASE_BIN = os.environ.get("BASE_BIN", "")
REQUESTS = int(os.environ.get("REQUESTS", "20000"))
ROUNDS = int(os.environ.get("ROUNDS", "15"))
RUNS = int(os.environ.get("RUNS", "5"))
BLOCK = int(os.environ.get("BLOCK", "20"))
ROWS = int(os.environ.get("ROWS", "300000"))
SAMPLER = os.environ.get("BENCH_SAMPLER", "always_on")
CONFIGS = os.environ.get("BENCH_CONFIGS", "off,trace,auth+trace").split(",")
THREADS, CONNECTIONS = 2, 32

# wrk stops each thread after its share of REQUESTS responses (wrk 4.1's wrk.thread:stop()) and
# appends a line to WRK_DONE; wrk's main thread only sleeps out -d, so the bench interrupts it
# (SIGINT: wrk prints its summary) once every thread is done.
WRK_SCRIPT = """
local limit = tonumber(os.getenv("WRK_REQUESTS_PER_THREAD"))
local count = 0
function response(status, headers, body)
  count = count + 1
  if count == limit then
    local f = io.open(os.getenv("WRK_DONE"), "a")
    f:write("done\\n")
    f:close()
    wrk.thread:stop()
  end
end
"""


class Server:
    def __init__(self, tmp: Path, name: str, auth: bool, trace: bool):
        self.name, self.auth = name, auth
        self.rx = OtlpReceiver(decode=False).__enter__() if trace else None
        env = {"OTEL_EXPORTER_OTLP_ENDPOINT": ""}
        if self.rx:
            env = {"OTEL_EXPORTER_OTLP_ENDPOINT": self.rx.endpoint, "OTEL_TRACES_SAMPLER": SAMPLER,
                   "OTEL_BSP_SCHEDULE_DELAY": "500"}
        self.port = free_port()
        self.log_path = tmp / f"{name}.log"
        binary = LH
        if name.endswith("@base"):
            if not BASE_BIN:
                raise SystemExit(f"{name}: set LAKEHOUSE_BASE_BIN (bench/telemetry.sh) to the baseline binary")
            binary = BASE_BIN
        args = [binary, "serve", "--listen", f"127.0.0.1:{self.port}", "--data-dir", str(tmp / name), "--ai", "false"]
        if not auth:
            args += ["--auth", "off"]
        self.proc = subprocess.Popen(args, stdout=open(self.log_path, "wb"), stderr=subprocess.STDOUT,
                                     env={**os.environ, **env})
        for _ in range(400):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{self.port}/health", timeout=1).read()
                break
            except OSError:
                time.sleep(0.05)
        else:
            raise RuntimeError(f"{name} did not start; see {self.log_path}")
        self.headers = {}
        if auth:
            key = (tmp / name / "admin.key").read_text().strip()
            self.headers = {"Authorization": f"Bearer {key}"}

    def cpu_s(self) -> float:
        """CPU time of the server process (every thread, user + system), in seconds, to the
        nanosecond: the process's CPU-time clock (MAKE_PROCESS_CPUCLOCK(pid, CPUCLOCK_SCHED), what
        clock_getcpuclockid(3) returns), not /proc/<pid>/stat's 10 ms ticks."""
        return time.clock_gettime((~self.proc.pid << 3) | 2)

    def spans(self) -> int:
        return self.rx.span_count if self.rx else 0

    def wait_spans(self, at_least: int, timeout: float = 15.0) -> int:
        deadline = time.time() + timeout
        while self.rx and self.rx.span_count < at_least and time.time() < deadline:
            time.sleep(0.05)
        return self.spans()

    def post(self, path: str, body: bytes, ctype: str) -> bytes:
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", data=body, method="POST",
                                     headers={"Content-Type": ctype, **self.headers})
        with urllib.request.urlopen(req, timeout=600) as r:
            return r.read()

    def otel_warnings(self) -> list[str]:
        return [line for line in self.log_path.read_text(errors="replace").splitlines() if '"opentelemetry"' in line]

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)
        if self.rx:
            self.rx.__exit__(None, None, None)


def wrk(server: Server, script: Path, requests: int, cap_s: int = 60) -> tuple[int, float]:
    """(responses, req/s) of wrk stopping after `requests` responses (or cap_s seconds)."""
    done = script.with_suffix(".done")
    done.write_text("")
    env = {**os.environ, "WRK_REQUESTS_PER_THREAD": str(max(1, requests // THREADS)), "WRK_DONE": str(done)}
    proc = subprocess.Popen(["wrk", f"-t{THREADS}", f"-c{CONNECTIONS}", f"-d{cap_s}s", "-s", str(script),
                             f"http://127.0.0.1:{server.port}/health"], stdout=subprocess.PIPE, text=True, env=env)
    while proc.poll() is None and done.read_text().count("done") < THREADS:
        time.sleep(0.01)
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
    out = proc.communicate(timeout=30)[0]
    n = int(re.search(r"(\d+) requests in", out).group(1))
    return n, float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))


def health_round(server: Server, script: Path) -> dict:
    spans0 = server.spans()
    cpu0 = server.cpu_s()
    n, rps = wrk(server, script, REQUESTS)
    received = server.wait_spans(spans0 + n) - spans0 if server.rx else None
    cpu = server.cpu_s() - cpu0
    return {"n": n, "rps": rps, "us": cpu * 1e6 / n, "spans": received}


def load() -> str:
    return "/".join(f"{x:.1f}" for x in os.getloadavg())


def main() -> None:
    rng = random.Random(7)
    lines = ["id,category,amount,price,qty,ts,flag,user_name"]
    for i in range(ROWS):
        lines.append(f"{i},c{rng.randrange(1000)},{rng.random() * 1000:.3f},{rng.random() * 100:.2f},"
                     f"{rng.randrange(100)},2026-01-01 00:00:{i % 60:02d},{i % 2 == 0},user{i % 5000}")
    csv = ("\n".join(lines) + "\n").encode()
    queries = []
    for line in (ROOT / "bench" / "query" / "queries.tsv").read_text().splitlines():
        if line and not line.startswith("#") and "\t" in line:
            name, sql = line.split("\t", 1)
            if "lineitem" not in sql and "orders" not in sql and os.environ.get("BENCH_QUERIES", "1") != "0":
                queries.append((name, sql))
    flags = {"off": (False, False), "trace": (False, True), "auth+trace": (True, True)}
    failures = []
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        script = tmp / "stop.lua"
        script.write_text(WRK_SCRIPT)
        servers: list[Server] = []
        try:
            for name in CONFIGS:
                servers.append(Server(tmp, name, *flags[name.removesuffix("@base")]))
            for s in servers:
                s.post("/api/v1/datasets/events?format=csv", csv, "text/csv")
            base = servers[0]
            print(f"server CPU per request, {' / '.join(s.name for s in servers)}; tracing = {SAMPLER}, "
                  f"OTLP/HTTP to a local receiver; {ROWS} rows; {os.cpu_count()} cores, shared machine; "
                  f"load average at start {load()}")

            # ---- the baseline queries first (fresh servers), then /health ----
            print(f"\nbaseline queries (bench/query/queries.tsv over events): {RUNS} rounds per server (order "
                  f"rotating) of {BLOCK} runs in a row, after a warm-up; per run: wall ms and server CPU ms "
                  f"(the block's CPU / {BLOCK}: one request's CPU window is too short on a loaded machine); "
                  f"medians of the rounds, (ratio to {base.name}):")
            header = " ".join(f"{s.name + ' ms':>14} {s.name + ' CPU ms':>15}" for s in servers)
            print(f"{'query':<12} {header}")
            ratios: dict[str, dict[str, list[float]]] = {s.name: {"wall": [], "cpu": []} for s in servers}
            spans_before = {s.name: s.spans() for s in servers}
            for qname, sql in queries:
                body = json.dumps({"sql": sql, "format": "arrow"}).encode()
                wall: dict[str, list[float]] = {s.name: [] for s in servers}
                cpu: dict[str, list[float]] = {s.name: [] for s in servers}
                for run in range(RUNS + 1):  # round 0 warms up
                    order = servers[run % len(servers):] + servers[:run % len(servers)]
                    for s in order:
                        c0, t0 = s.cpu_s(), time.perf_counter()
                        for _ in range(BLOCK if run else 1):
                            s.post("/api/v1/query", body, "application/json")
                        t1, c1 = time.perf_counter(), s.cpu_s()
                        if run:
                            wall[s.name].append((t1 - t0) * 1000 / BLOCK)
                            cpu[s.name].append((c1 - c0) * 1000 / BLOCK)
                cols = []
                for s in servers:
                    w, c = statistics.median(wall[s.name]), statistics.median(cpu[s.name])
                    wb, cb = statistics.median(wall[base.name]), statistics.median(cpu[base.name])
                    ratios[s.name]["wall"].append(w / wb)
                    ratios[s.name]["cpu"].append(c / cb if cb > 0 else 1.0)
                    cols.append(f"{w:8.1f} ({w / wb:4.2f}) {c:9.2f} ({c / cb if cb > 0 else 1.0:4.2f})")
                print(f"{qname:<12} " + " ".join(cols))

            def geo(xs: list[float]) -> float:
                return statistics.geometric_mean(xs) if xs else float("nan")

            for s in servers[1:] if queries else []:
                print(f"queries, {s.name} vs {base.name}: geometric mean time ratio {geo(ratios[s.name]['wall']):.3f}, "
                      f"CPU ratio {geo(ratios[s.name]['cpu']):.3f} (target <= 1.05)")
            for s in servers if queries else []:
                if s.rx:
                    n = len(queries) * (RUNS * BLOCK + 1)
                    got = s.wait_spans(spans_before[s.name] + n, timeout=10) - spans_before[s.name]
                    print(f"{s.name}: {got} spans exported for {n} queries")
                    if got < n:
                        failures.append(f"{s.name}: fewer query spans than queries exported ({got} < {n})")

            # ---- GET /health: ROUNDS rounds of REQUESTS requests per server, order rotating ----
            for s in servers:  # warm-up (connections, allocator, first export)
                wrk(s, script, REQUESTS // 4)
                s.wait_spans(1, timeout=5)
            results: dict[str, list[dict]] = {s.name: [] for s in servers}
            for r in range(ROUNDS):
                order = servers[r % len(servers):] + servers[:r % len(servers)]
                for s in order:
                    results[s.name].append(health_round(s, script))
            print("off/this: ratio of the medians; paired: median of the rounds' own off/this ratios (the headline: "
                  ">= 0.85 is <= 15% overhead). req/s is wall-clock and load-dependent.")
            print(f"\nGET /health, wrk -t{THREADS} -c{CONNECTIONS}, {REQUESTS} requests x {ROUNDS} rounds per server "
                  f"(medians):")
            print(f"{'server':<16} {'CPU us/req':>10} {'off/this':>9} {'paired':>7} {'req/s':>9} {'this/off':>9}  "
                  f"{'spans/requests':>15}  per-round CPU us/req")
            med = {k: statistics.median(x["us"] for x in v) for k, v in results.items()}
            # Paired: each round's off/this ratio (the two ran seconds apart, under the same load), median.
            paired = {k: statistics.median(results[base.name][r]["us"] / v[r]["us"] for r in range(ROUNDS))
                      for k, v in results.items()}
            rps = {k: statistics.median(x["rps"] for x in v) for k, v in results.items()}
            for s in servers:
                rounds = results[s.name]
                exported = "-"
                if s.rx:
                    exported = f"{sum(x['spans'] for x in rounds) / sum(x['n'] for x in rounds):.3f}"
                    if any(x["spans"] < x["n"] for x in rounds):
                        failures.append(f"{s.name}: a /health round exported fewer spans than requests "
                                        f"({[(x['spans'], x['n']) for x in rounds]})")
                print(f"{s.name:<16} {med[s.name]:10.1f} {med[base.name] / med[s.name]:9.3f} {paired[s.name]:7.3f} "
                      f"{rps[s.name]:9.0f} "
                      f"{rps[s.name] / rps[base.name]:9.3f}  {exported:>15}  "
                      + " ".join(f"{x['us']:.1f}" for x in rounds))

            print(f"\nload average at end {load()}")
            for s in servers:
                if warnings := s.otel_warnings():
                    failures.append(f"{s.name}: OpenTelemetry warnings in the log: {warnings[:3]}")
                if s.rx:
                    print(f"{s.name}: receiver got {s.rx.span_count} spans in {s.rx.requests} OTLP requests "
                          f"({s.rx.bytes / 1e6:.1f} MB)")
        finally:
            for s in servers:
                s.stop()
    for f in failures:
        print(f"FAILED: {f}")
    if failures:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
