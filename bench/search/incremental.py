"""Incremental embedding vs a full re-embed, through the real server and the bundled embedding model.

Starts `lakehouse serve --ai true` (tests/pyhelpers' Server: 127.0.0.1, a fresh data folder, the
supervised sidecar + bundled model server), uploads a dataset of ROWS short texts, embeds it
(POST /api/v1/datasets/docs/embeddings, wait=true), appends APPEND_PERCENT % more rows, then runs
 1. the same embeddings job again: incremental, it embeds only the appended rows and appends their
    vectors to the vectors dataset (search/src/search_service.cpp, RowsAlreadyEmbedded);
 2. a full re-embed of the same rows: the job into a new target (`docs_text_full`), which has no
    vectors yet, so every row is embedded.
Prints each job's wall time, CPU time of the server's process tree (the server, the sidecar and the
model server), rows embedded, and the ratio incremental / full. Bounded: fixed row counts, every
request has a timeout, the server is stopped at the end (also on failure).
Environment: ROWS (default 10000), APPEND_PERCENT (1), LAKEHOUSE_BIN (build/app/lakehouse).
"""
from __future__ import annotations

import json
import os
import pathlib
import tempfile
import time

from lakehouse_testing import Server  # tests/pyhelpers, on PYTHONPATH from bench/search_incremental.sh

ROOT = pathlib.Path(__file__).resolve().parents[2]
ROWS = int(os.environ.get("ROWS", "10000"))
APPEND_PERCENT = float(os.environ.get("APPEND_PERCENT", "1"))

SUBJECTS = ["The analyst", "A small team", "Our customer", "The database", "A sensor", "The new intern",
            "The warehouse", "A delivery truck", "The support desk", "A nightly batch job", "The mobile app"]
VERBS = ["reported", "measured", "ordered", "rejected", "stored", "summarised", "shipped", "flagged", "archived"]
OBJECTS = ["quarterly revenue figures", "temperature readings from the roof", "three crates of fresh oranges",
           "a corrupted parquet file", "the monthly churn dashboard", "a late invoice for cloud storage",
           "a spike in login failures", "the list of overdue library books", "a recipe for sourdough bread"]


def sentence(i: int) -> str:
    return (f"{SUBJECTS[i % len(SUBJECTS)]} {VERBS[(i // 11) % len(VERBS)]} "
            f"{OBJECTS[(i // 99) % len(OBJECTS)]} on day {i % 365} of week {i // 365}.")


def ndjson(start: int, count: int) -> bytes:
    return "".join(json.dumps({"id": i, "text": sentence(i)}) + "\n" for i in range(start, start + count)).encode()


def tree_cpu_seconds(pid: int) -> float:
    """utime + stime of `pid` and every process below it (the AI children), in seconds."""
    parents: dict[int, int] = {}
    times: dict[int, float] = {}
    tick = os.sysconf("SC_CLK_TCK")
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(entry)] = int(fields[1])
        times[int(entry)] = (int(fields[11]) + int(fields[12])) / tick
    total, todo = 0.0, [pid]
    while todo:
        p = todo.pop()
        total += times.get(p, 0.0)
        todo.extend(c for c, pp in parents.items() if pp == p)
    return total


def main() -> int:
    append = max(1, round(ROWS * APPEND_PERCENT / 100))
    load = os.getloadavg()
    print(f"incremental embedding bench: {ROWS} rows + {append} appended ({APPEND_PERCENT:g} %), "
          f"{os.cpu_count()} cores, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}", flush=True)
    with tempfile.TemporaryDirectory(prefix="lakehouse-incremental-bench-") as tmp:
        server = Server(pathlib.Path(tmp), "--ai-home", str(ROOT), ai=True)
        try:
            deadline = time.time() + 120  # the supervisor starts the sidecar and the model server
            while True:
                status, _, body = server.request("POST", "/api/v1/ai/embed", json.dumps({"texts": ["warm up"]}).encode(),
                                                 {"Content-Type": "application/json"}, timeout=60)
                if status == 200:
                    break
                if time.time() > deadline:
                    raise RuntimeError(f"the embedding model did not come up: {status} {body[:300]!r}")
                time.sleep(1)

            def upload(path: str, body: bytes, method: str = "POST") -> None:
                status, _, out = server.request(method, path, body, {"Content-Type": "application/x-ndjson"},
                                                timeout=300)
                if status not in (200, 201):
                    raise RuntimeError(f"{path}: {status} {out[:300]!r}")

            def embed(target: str | None) -> dict:
                body = {"column": "text", "key": "id", "wait": True}
                if target:
                    body["target"] = target
                cpu0, t0 = tree_cpu_seconds(server.proc.pid), time.monotonic()
                status, _, out = server.request("POST", "/api/v1/datasets/docs/embeddings", json.dumps(body).encode(),
                                                {"Content-Type": "application/json"}, timeout=1800)
                wall, cpu = time.monotonic() - t0, tree_cpu_seconds(server.proc.pid) - cpu0
                if status != 200:
                    raise RuntimeError(f"embeddings job: {status} {out[:300]!r}")
                job = json.loads(out)
                if job.get("state") != "succeeded":
                    raise RuntimeError(f"embeddings job did not succeed: {job}")
                job["bench_wall_s"], job["bench_cpu_s"] = wall, cpu
                return job

            def rows_of(dataset: str) -> int:
                status, _, out = server.request("POST", "/api/v1/query", json.dumps(
                    {"sql": f"SELECT count(*) AS n FROM {dataset}"}).encode(), {"Content-Type": "application/json"})
                if status != 200:
                    raise RuntimeError(f"count {dataset}: {status} {out[:300]!r}")
                return int(json.loads(out)["rows"][0][0])

            upload("/api/v1/datasets/docs", ndjson(0, ROWS))
            first = embed(None)
            print(f"first embed of {ROWS} rows: {first['bench_wall_s']:.1f} s "
                  f"({first['rows_done']} rows embedded)", flush=True)
            upload("/api/v1/datasets/docs/append", ndjson(ROWS, append))
            inc = embed(None)
            full = embed("docs_text_full")
            if not inc.get("incremental") or inc["rows_done"] != append or inc.get("rows_already_embedded") != ROWS:
                raise RuntimeError(f"the second job was not incremental over the {append} new rows: {inc}")
            if full.get("incremental") or full["rows_done"] != ROWS + append:
                raise RuntimeError(f"the full re-embed did not embed every row: {full}")
            counts = (rows_of("docs_text_emb"), rows_of("docs_text_full"))
            if counts != (ROWS + append, ROWS + append):
                raise RuntimeError(f"vectors datasets hold {counts} rows, expected {ROWS + append} each")
            for name, job in (("incremental (1 % append)", inc), (f"full re-embed ({ROWS + append} rows)", full)):
                print(f"{name:30}: {job['bench_wall_s']:7.2f} s wall, {job['bench_cpu_s']:7.2f} s CPU (server + AI "
                      f"children), {job['rows_done']} rows embedded, {job['rows_done'] / job['bench_wall_s']:.0f} "
                      f"rows/s, phases {job['phases']}")
            print(f"ratio incremental / full re-embed: wall {inc['bench_wall_s'] / full['bench_wall_s']:.3f}, "
                  f"CPU {inc['bench_cpu_s'] / full['bench_cpu_s']:.3f} (full takes "
                  f"{full['bench_wall_s'] / inc['bench_wall_s']:.0f}x the time); rows embedded "
                  f"{inc['rows_done']} vs {full['rows_done']}; both vectors datasets hold {counts[0]} rows")
        finally:
            server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
