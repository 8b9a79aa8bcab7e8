"""Issue 15's result-path figures in one invocation, each a ratio against raw DuckDB (Python, in
process, same version, 2 threads) run alternately in the same invocation (bench/wire.sh):

  stream       10M rows x 4 columns as Arrow over loopback HTTP (curl to /dev/null): GB/s, and the
               ratio to raw DuckDB streaming the same rows into Arrow record batches
  select_*     the 1M-row select of bench/peers as Arrow, JSON, CSV (keep-alive HTTP client that
               reads the whole body into one bytes object): ratio to raw DuckDB producing an Arrow
               table; and "arrow>table": the Arrow stream read by pyarrow straight from the
               response into a Table (what raw DuckDB produces), without the 44 MB body copy;
               `client ms` is this (client) process's CPU per request
  count        `SELECT count(*)` (answered from Parquet metadata) over keep-alive HTTP: the
               difference to raw DuckDB in ms (target <= 0.5 ms), median of many requests

Several lakehouse binaries may run side by side (--lakehouse LABEL PATH, repeated): each gets its
own server on the same data, requests alternate between all engines.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent / "peers"))
import peers  # noqa: E402  (start_lakehouse, Http, Server, THREADS, MEMORY_LIMIT)

SELECT = peers.QUERIES["select_1m"]
STREAM = "SELECT id, amount, qty, ts FROM events"
COUNT = "SELECT count(*) AS n FROM events"


def duckdb_engine(data: Path):
    import duckdb

    warnings.filterwarnings("ignore", category=DeprecationWarning)  # fetch_*: the 1.4 names, still in 1.5

    con = duckdb.connect(config={"threads": peers.THREADS, "memory_limit": peers.MEMORY_LIMIT})
    con.execute(f"CREATE VIEW events AS SELECT * FROM read_parquet('{data / 'events.parquet'}')")

    def stream():
        reader = con.execute(STREAM).fetch_record_batch(64 * 1024)
        n = 0
        for batch in reader:
            n += batch.nbytes
        return n

    return {
        "stream": stream,
        "select": lambda: con.execute(SELECT).fetch_arrow_table().nbytes,
        "count": lambda: con.execute(COUNT).fetchall(),
    }


def lakehouse_engine(port: int):
    client = peers.Http(port)

    def post(sql, fmt, read=None):
        """The result's size: the body's bytes, or what `read` returns of the response as it arrives."""
        body = json.dumps({"sql": sql, "format": fmt, "timeout_ms": 600000}).encode()
        status, data = client.post("/api/v1/query", body, {"Content-Type": "application/json"}, read)
        if status != 200:
            raise RuntimeError(f"lakehouse HTTP {status}: {data[:300]!r}")
        return len(data) if read is None else data

    def table_nbytes(resp):
        """The Arrow stream read by pyarrow as it arrives (no whole-body bytes object first)."""
        import pyarrow as pa

        return pa.ipc.open_stream(resp).read_all().nbytes

    def stream():
        body = json.dumps({"sql": STREAM, "format": "arrow", "timeout_ms": 600000})
        out = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code} %{size_download}", "-H",
                              "Content-Type: application/json", "-d", body, f"http://127.0.0.1:{port}/api/v1/query"],
                             capture_output=True, text=True, check=True).stdout.split()
        if out[0] != "200":
            raise RuntimeError(f"lakehouse stream: HTTP {out[0]}")
        return int(out[1])

    return {
        "stream": stream,
        "select_arrow": lambda: post(SELECT, "arrow"),
        "select_arrow>table": lambda: post(SELECT, "arrow", table_nbytes),
        "select_json": lambda: post(SELECT, "json"),
        "select_csv": lambda: post(SELECT, "csv"),
        "count": lambda: post(COUNT, "json"),
    }


CPU_PIDS: dict = {}  # engine label -> server pid (raw DuckDB: this process)


def cpu_ms(pid) -> float:
    """utime + stime of a process in ms (this process when pid is None)."""
    if pid is None:
        return time.process_time() * 1000
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * 1000 / os.sysconf("SC_CLK_TCK")


def timed(fn, pid=None):
    """-> wall ms, result, server cpu ms (raw DuckDB: this process's), this (client) process's cpu ms"""
    c, own = cpu_ms(pid), time.process_time()
    t = time.perf_counter()
    n = fn()
    return (time.perf_counter() - t) * 1000, n, cpu_ms(pid) - c, (time.process_time() - own) * 1000


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--work", type=Path, required=True)
    ap.add_argument("--lakehouse", nargs=2, action="append", metavar=("LABEL", "PATH"), required=True)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--count-requests", type=int, default=300)
    ap.add_argument("--figures", default="stream,select,count")
    ap.add_argument("--perf", type=Path, help="record each lakehouse server's CPU profile per figure "
                    "(perf record -e cpu-clock -g) into DIR/<label>-<figure>.data")
    args = ap.parse_args()
    figures = args.figures.split(",")

    servers, engines = [], {}
    try:
        for label, path in args.lakehouse:
            srv, port = peers.start_lakehouse(Path(path), args.data, args.work, label)
            servers.append(srv)
            engines[label] = lakehouse_engine(port)
            CPU_PIDS[label] = srv.proc.pid
        duck = duckdb_engine(args.data)
        labels = list(engines)
        print(f"load average {os.getloadavg()[0]:.1f} {os.getloadavg()[1]:.1f}; {os.cpu_count()} cores; "
              f"{args.runs} runs, median; ratios against raw DuckDB in this run")

        class Profiles:
            """perf record on every lakehouse server while one figure runs (--perf DIR)."""

            def __init__(self, figure):
                self.figure, self.procs = figure, []

            def __enter__(self):
                if args.perf:
                    args.perf.mkdir(parents=True, exist_ok=True)
                    for label in labels:
                        out = args.perf / f"{label}-{self.figure}.data"
                        self.procs.append(subprocess.Popen(
                            ["perf", "record", "-q", "-e", "cpu-clock", "-F", "999", "-g", "-p",
                             str(CPU_PIDS[label]), "-o", str(out)], stdout=subprocess.DEVNULL))
                    time.sleep(0.5)  # attached before the first request
                return self

            def __exit__(self, *exc):
                for p in self.procs:
                    p.send_signal(2)
                for p in self.procs:
                    p.wait(timeout=60)

        def alternate(fns: dict, runs: int):
            """fns: name -> callable; returns name -> (ms list, bytes, server cpu list, client cpu list)."""
            out = {k: ([], 0, [], []) for k in fns}
            for k, fn in fns.items():  # warm-up
                fn()
            for _ in range(runs):
                for k, fn in fns.items():
                    ms, n, c, own = timed(fn, CPU_PIDS.get(k.split()[0]))
                    out[k][0].append(ms)
                    out[k][2].append(c)
                    out[k][3].append(own)
                    out[k] = (out[k][0], n, out[k][2], out[k][3])
            return out

        if "stream" in figures:
            with Profiles("stream"):
                res = alternate({"duckdb": duck["stream"], **{l: engines[l]["stream"] for l in labels}}, args.runs)
            base = statistics.median(res["duckdb"][0])
            base_cpu = statistics.median(res["duckdb"][2])
            print(f"\nstream {STREAM!r} (Arrow); cpu: the server's (raw DuckDB: its process's)")
            print(f"  {'engine':<16} {'MB':>7} {'median ms':>10} {'GB/s':>6} {'x duckdb':>9} {'cpu ms':>7} "
                  f"{'cpu x':>6}  runs (ms)")
            for k, (ms, n, cpu, _) in res.items():
                m, c = statistics.median(ms), statistics.median(cpu)
                nbytes = n if k != "duckdb" else res[labels[0]][1]
                print(f"  {k:<16} {nbytes / 1e6:7.1f} {m:10.0f} {nbytes / m / 1e6:6.2f} {m / base:8.2f}x {c:7.0f} "
                      f"{c / base_cpu:5.2f}x  {' '.join(f'{x:.0f}' for x in ms)}")
        if "select" in figures:
            fns = {"duckdb arrow": duck["select"]}
            for l in labels:
                for fmt in ("arrow", "arrow>table", "json", "csv"):
                    fns[f"{l} {fmt}"] = engines[l][f"select_{fmt}"]
            with Profiles("select"):
                res = alternate(fns, args.runs)
            base = statistics.median(res["duckdb arrow"][0])
            base_cpu = statistics.median(res["duckdb arrow"][2])
            print(f"\nselect_1m {SELECT!r}")
            print(f"  {'engine':<22} {'MB':>6} {'median ms':>10} {'x duckdb':>9} {'cpu ms':>7} {'cpu x':>6} "
                  f"{'client ms':>9}  runs (ms)")
            for k, (ms, n, cpu, own) in res.items():
                m, c = statistics.median(ms), statistics.median(cpu)
                client = "" if k.startswith("duckdb") else f"{statistics.median(own):.0f}"
                print(f"  {k:<22} {n / 1e6:6.1f} {m:10.1f} {m / base:8.2f}x {c:7.0f} {c / base_cpu:5.2f}x {client:>9}  "
                      f"{' '.join(f'{x:.0f}' for x in ms)}")
        if "count" in figures:
            fns = {"duckdb": duck["count"], **{l: engines[l]["count"] for l in labels}}
            times = {k: [] for k in fns}
            cpu = {k: 0.0 for k in fns}
            for k, fn in fns.items():
                for _ in range(20):
                    fn()
            rounds = 10
            with Profiles("count"):
                for _ in range(rounds):
                    for k, fn in fns.items():
                        c = cpu_ms(CPU_PIDS.get(k))
                        for _ in range(args.count_requests // rounds):
                            times[k].append(timed(fn)[0])
                        cpu[k] += cpu_ms(CPU_PIDS.get(k)) - c
            base = statistics.median(times["duckdb"])
            print(f"\ncount {COUNT!r}: {args.count_requests} requests each (keep-alive), in {rounds} alternating rounds")
            base_cpu = cpu["duckdb"] / len(times["duckdb"])
            print(f"  {'engine':<16} {'median ms':>10} {'p90 ms':>8} {'- duckdb ms':>12} {'cpu ms/req':>11} "
                  f"{'- duckdb':>9}   (cpu: the server's; raw DuckDB: its process's, with the loop)")
            for k, ms in times.items():
                m = statistics.median(ms)
                p90 = statistics.quantiles(ms, n=10)[-1]
                c = cpu[k] / len(ms)
                print(f"  {k:<16} {m:10.3f} {p90:8.3f} {m - base:12.3f} {c:11.3f} {c - base_cpu:9.3f}")
    finally:
        for srv in servers:
            srv.stop()


if __name__ == "__main__":
    main()
