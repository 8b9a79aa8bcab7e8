"""Tracing overhead in one run: the same binary with tracing on (OTEL_TRACES_SAMPLER=always_on,
exporting every span to a real OTLP/HTTP receiver, tests/pyhelpers/otlp_receiver.py, which here
accepts the protobuf bodies without decoding them: it shares the 2 cores) and off (no
endpoint), side by side on the same data. Prints /health req/s (wrk) and the baseline queries of
bench/query/queries.tsv (over an `events` dataset made here) as on/off ratios.
BENCH_SAMPLER (default always_on) sets the "on" server's OTEL_TRACES_SAMPLER, e.g. always_off
(instrumentation without export) or traceidratio with OTEL_TRACES_SAMPLER_ARG.
Bounded: wrk runs DURATION seconds per server; each query runs RUNS times per server.
"""
from __future__ import annotations

import json
import os
import random
import re
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

from lakehouse_testing import free_port  # tests/pyhelpers, on PYTHONPATH from bench/telemetry.sh
from otlp_receiver import OtlpReceiver

ROOT = Path(__file__).resolve().parents[2]

LH = os.environ.get("LAKEHOUSE_BIN", str(ROOT / "build" / "app" / "lakehouse"))
DURATION = int(os.environ.get("DURATION", "5"))
RUNS = int(os.environ.get("RUNS", "7"))
ROWS = int(os.environ.get("ROWS", "1000000"))


def start(tmp: Path, name: str, env: dict) -> tuple[subprocess.Popen, int]:
    port = free_port()
    log = open(tmp / f"{name}.log", "wb")
    proc = subprocess.Popen([LH, "serve", "--listen", f"127.0.0.1:{port}", "--data-dir", str(tmp / name),
                             "--ai", "false", "--auth", "off"], stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **env})
    for _ in range(200):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1).read()
            return proc, port
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{name} did not start")


def post(port: int, path: str, body: bytes, ctype: str) -> bytes:
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=body, method="POST",
                                 headers={"Content-Type": ctype})
    with urllib.request.urlopen(req, timeout=300) as r:
        return r.read()


def cpu_s(pid: int) -> float:
    """utime + stime of a process, in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wrk(port: int, pid: int) -> tuple[float, float]:
    """(requests/s, the server's CPU microseconds per request): CPU per request is the figure
    that survives a loaded machine (other engineers' builds inflate wall time, not CPU)."""
    subprocess.run(["wrk", "-t2", "-c32", "-d1s", f"http://127.0.0.1:{port}/health"], capture_output=True)
    before = cpu_s(pid)
    out = subprocess.run(["wrk", "-t2", "-c32", f"-d{DURATION}s", f"http://127.0.0.1:{port}/health"],
                         capture_output=True, text=True).stdout
    cpu = cpu_s(pid) - before
    requests = int(re.search(r"(\d+) requests in", out).group(1))
    return float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)), cpu * 1e6 / max(1, requests)


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
            if "lineitem" not in sql and "orders" not in sql:
                queries.append((name, sql))
    with tempfile.TemporaryDirectory() as d, OtlpReceiver(decode=False) as rx:
        tmp = Path(d)
        on_env = {"OTEL_EXPORTER_OTLP_ENDPOINT": rx.endpoint, "OTEL_TRACES_SAMPLER": os.environ.get("BENCH_SAMPLER", "always_on"),
                  "OTEL_BSP_SCHEDULE_DELAY": "500"}
        servers = {"off": start(tmp, "off", {"OTEL_EXPORTER_OTLP_ENDPOINT": ""}), "on": start(tmp, "on", on_env)}
        try:
            for _, port in servers.values():
                post(port, "/api/v1/datasets/events?format=csv", csv, "text/csv")
            print(f"tracing on (always_on, OTLP/HTTP to a local receiver) vs off; {ROWS} rows; "
                  f"{os.cpu_count()} cores, shared machine")
            first = {k: wrk(port, proc.pid) for k, (proc, port) in servers.items()}
            second = {k: wrk(port, proc.pid) for k, (proc, port) in reversed(list(servers.items()))}
            best = {k: max(first[k][0], second[k][0]) for k in first}
            cpu = {k: min(first[k][1], second[k][1]) for k in first}
            print(f"GET /health req/s (wrk -c32 -d{DURATION}s, best of 2): off {best['off']:.0f}  on {best['on']:.0f}  "
                  f"ratio on/off {best['on'] / best['off']:.3f}")
            print(f"GET /health server CPU per request (least of 2): off {cpu['off']:.1f} us  on {cpu['on']:.1f} us  "
                  f"ratio off/on {cpu['off'] / cpu['on']:.3f} (the throughput ratio on a CPU-bound server)")
            print(f"{'query':<12} {'off ms':>9} {'on ms':>9} {'on/off':>7}   (best of {RUNS}, alternating)")
            ratios = []
            for name, sql in queries:
                body = json.dumps({"sql": sql, "format": "arrow"}).encode()
                times = {"off": [], "on": []}
                for _ in range(RUNS + 1):  # the first round warms up
                    for k, (_, port) in servers.items():
                        t = time.perf_counter()
                        post(port, "/api/v1/query", body, "application/json")
                        times[k].append(time.perf_counter() - t)
                off, on = min(times["off"][1:]) * 1000, min(times["on"][1:]) * 1000
                ratios.append(on / off)
                print(f"{name:<12} {off:9.2f} {on:9.2f} {on / off:7.3f}")
            geo = 1.0
            for r in ratios:
                geo *= r
            print(f"queries: geometric mean ratio on/off {geo ** (1 / len(ratios)):.3f}")
            time.sleep(1.0)
            print(f"OTLP export requests received: {rx.requests} ({rx.bytes / 1e6:.1f} MB of protobuf)")
        finally:
            for proc, _ in servers.values():
                proc.terminate()
                proc.wait(timeout=20)


if __name__ == "__main__":
    main()
