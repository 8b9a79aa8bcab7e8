"""Side-by-side benchmark: Lakehouse (HTTP, Arrow and JSON) against raw DuckDB and its peers.

Run through bench/peers/run.sh (it makes the venv this needs). Sub-commands:
  peers.py gen DATA_DIR [--scale S]         events.parquet (10M rows) + lineitem.parquet (TPC-H SF1, 6M rows);
                                            --scale 0.1: 1M + 0.6M rows, for iterating (not for figures)
  peers.py run --data DIR --out DIR ...     the benchmark (see --help)
  peers.py worker ENGINE DATA_DIR ...       one engine, driven over stdin/stdout by `run`

Every engine runs in its own process (or server), all with 2 threads. The driver runs the queries in
rounds: each round runs every query on every engine, engines alternating, so a disturbance on the
shared machine hits every engine alike. A round's first pass is a warm-up (results checked, not
timed). Timed = from sending the query until the whole result is a client-side Arrow table (in-process
engines, Lakehouse Arrow, ROAPI Arrow) or the whole JSON body has arrived (Lakehouse JSON: bytes only,
parsing JSON in Python would measure Python).
"""

from __future__ import annotations

import argparse
import datetime as dt
import decimal
import http.client
import json
import math
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
import zlib
from pathlib import Path

THREADS = 2
MEMORY_LIMIT = "4GB"

# name -> SQL run unchanged on every engine (a dialect every peer parses; no INTERVAL arithmetic).
QUERIES = {
    "count": "SELECT count(*) AS n FROM events",
    "filtered_count": "SELECT count(*) AS n FROM events WHERE category = 'c7' AND qty > 50",
    "groupby_1000": (
        "SELECT category, count(*) AS n, sum(amount) AS s, min(ts) AS first_ts, max(ts) AS last_ts "
        "FROM events GROUP BY category ORDER BY category"
    ),
    "groupby_200": (
        "SELECT qty, flag, count(*) AS n, avg(amount) AS a, sum(qty) AS q "
        "FROM events GROUP BY qty, flag ORDER BY qty, flag"
    ),
    "top10": "SELECT id, amount, category FROM events ORDER BY amount DESC, id LIMIT 10",
    "tpch_q1": (
        "SELECT l_returnflag, l_linestatus, sum(l_quantity) AS sum_qty, sum(l_extendedprice) AS sum_base_price, "
        "sum(l_extendedprice * (1 - l_discount)) AS sum_disc_price, "
        "sum(l_extendedprice * (1 - l_discount) * (1 + l_tax)) AS sum_charge, avg(l_quantity) AS avg_qty, "
        "avg(l_extendedprice) AS avg_price, avg(l_discount) AS avg_disc, count(*) AS count_order "
        "FROM lineitem WHERE l_shipdate <= DATE '1998-09-02' "
        "GROUP BY l_returnflag, l_linestatus ORDER BY l_returnflag, l_linestatus"
    ),
    "tpch_q6": (
        "SELECT sum(l_extendedprice * l_discount) AS revenue FROM lineitem "
        "WHERE l_shipdate >= DATE '1994-01-01' AND l_shipdate < DATE '1995-01-01' "
        "AND l_discount >= 0.05 AND l_discount <= 0.07 AND l_quantity < 24"
    ),
    "select_1m": "SELECT id, category, amount, price, qty FROM events WHERE id < 1000000",
}
TABLES = ("events", "lineitem")

#: The events table's definition, shared with bench/query/query_bench.cpp.
EVENTS_SELECT = Path(__file__).resolve().parents[1] / "data" / "events.sql"
EVENTS_SQL = "COPY ({select}) TO '{path}' (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 1000000)"


def log(*args):
    print("[peers]", *args, file=sys.stderr, flush=True)


def vm_hwm_mb(pid) -> float:
    """Peak resident set (VmHWM) of a process, MB."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


# ---------------------------------------------------------------- data


def generate(data_dir: Path, scale: float = 1.0):
    import duckdb

    data_dir.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(config={"threads": THREADS, "memory_limit": MEMORY_LIMIT})
    events = data_dir / "events.parquet"
    if not events.exists():
        rows = int(10_000_000 * scale)
        log(f"generating events.parquet ({rows} rows)")
        select = EVENTS_SELECT.read_text()
        assert "range(10000000)" in select, "bench/data/events.sql changed its row count"
        select = select.replace("range(10000000)", f"range({rows})")
        con.execute(EVENTS_SQL.format(select=select, path=str(events) + ".tmp"))
        os.replace(str(events) + ".tmp", events)
    lineitem = data_dir / "lineitem.parquet"
    if not lineitem.exists():
        # The tpch extension from its wheel in the venv, at the duckdb version: duckdb-ext-tpch (1.4,
        # duckdb_ext/extensions/v1.4.4/linux_amd64/) or duckdb-extension-tpch (1.5,
        # duckdb_extension_tpch/extensions/v1.5.5/).
        import sysconfig

        site = Path(sysconfig.get_paths()["purelib"])
        ext = next(site.glob(f"duckdb_ext*/extensions/v{duckdb.__version__}/**/tpch.duckdb_extension"))
        log(f"generating lineitem.parquet (TPC-H SF{scale:g}) with {ext}")
        con.execute(f"LOAD '{ext}'")
        con.execute(f"CALL dbgen(sf = {scale:g})")
        con.execute(
            f"COPY lineitem TO '{lineitem}.tmp' (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 1000000)"
        )
        os.replace(str(lineitem) + ".tmp", lineitem)
    con.close()


# ---------------------------------------------------------------- result normalisation


def norm(v):
    """One comparable form per value, whatever the engine's type (decimal, float, JSON string...)."""
    if v is None:
        return None
    if isinstance(v, bool):
        return v
    if isinstance(v, str):
        if re.fullmatch(r"-?\d+(\.\d+)?", v):
            v = float(v)
        else:
            return v
    if isinstance(v, (int, float, decimal.Decimal)):
        f = float(v)
        if f.is_integer() and abs(f) < 2**53:
            return int(f)
        return f
    if isinstance(v, dt.datetime):
        return v.replace(tzinfo=None).isoformat()
    if isinstance(v, dt.date):
        return v.isoformat()
    return str(v)


def sort_key(row):
    return tuple(("" if x is None else (f"{x:.6g}" if isinstance(x, float) else str(x))) for x in row)


def canonical(rows: list, large: bool):
    """Small results: the sorted rows. Large ones: row count + an order-free checksum per column."""
    rows = [tuple(norm(v) for v in r) for r in rows]
    if not large:
        return sorted(rows, key=sort_key)
    ncol = len(rows[0]) if rows else 0
    sums = [0] * ncol
    for r in rows:
        for i, x in enumerate(r):
            text = f"{x:.9g}" if isinstance(x, float) else repr(x)
            sums[i] = (sums[i] + zlib.crc32(text.encode())) % (1 << 61)
    return {"rows": len(rows), "column_checksums": sums}


def same(a, b) -> bool:
    """Equal rows; numbers to 9 significant digits or 6 decimal places (DataFusion's AVG of a DECIMAL
    is a DECIMAL(19,6), the others' a DOUBLE)."""
    if isinstance(a, dict) or isinstance(b, dict):
        return a == b
    if len(a) != len(b):
        return False
    for ra, rb in zip(a, b):
        if len(ra) != len(rb):
            return False
        for x, y in zip(ra, rb):
            if isinstance(x, float) or isinstance(y, float):
                if x is None or y is None or not math.isclose(float(x), float(y), rel_tol=1e-9, abs_tol=1e-6):
                    return False
            elif x != y:
                return False
    return True


def arrow_rows(table) -> list:
    cols = [c.to_pylist() for c in table.columns]
    return list(zip(*cols)) if cols else []


# ---------------------------------------------------------------- workers (one engine each)


class Http:
    """A keep-alive HTTP/1.1 client; returns (status, body), the body as `read` makes it of the response
    (default: its bytes)."""

    def __init__(self, port):
        self.port = port
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)

    def post(self, path, body: bytes, headers, read=None):
        # A server may close a keep-alive connection that idled while the other engines ran: one
        # reconnect (the queries are read-only, so a retry is safe).
        for attempt in (0, 1):
            try:
                self.conn.request("POST", path, body=body, headers=headers)
                resp = self.conn.getresponse()
                if resp.status != 200 or read is None:
                    return resp.status, resp.read()
                out = read(resp)
                resp.read()  # the rest (the end of a chunked body): the connection is reused
                return resp.status, out
            except (ConnectionError, http.client.RemoteDisconnected, http.client.CannotSendRequest):
                self.conn.close()
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=600)
                if attempt:
                    raise


def make_engine(name: str, data: Path, port: int | None):
    """Returns run(sql) -> (result object, rows list thunk)."""
    files = {t: str(data / f"{t}.parquet") for t in TABLES}
    if name == "duckdb":  # also the other DuckDB version's worker (another venv's python runs this)
        import duckdb

        con = duckdb.connect(config={"threads": THREADS, "memory_limit": MEMORY_LIMIT})
        for t, f in files.items():
            con.execute(f"CREATE VIEW {t} AS SELECT * FROM read_parquet('{f}')")
        def run_duckdb(sql):
            result = con.execute(sql)  # to_arrow_table() since 1.5 (fetch_arrow_table() deprecated)
            return result.to_arrow_table() if hasattr(result, "to_arrow_table") else result.fetch_arrow_table()

        return run_duckdb
    if name == "datafusion":
        import datafusion

        ctx = datafusion.SessionContext(datafusion.SessionConfig().with_target_partitions(THREADS))
        for t, f in files.items():
            ctx.register_parquet(t, f)
        return lambda sql: ctx.sql(sql).to_arrow_table()
    if name == "polars":
        import polars as pl  # POLARS_MAX_THREADS is set by the driver

        ctx = pl.SQLContext({t: pl.scan_parquet(f) for t, f in files.items()})
        return lambda sql: ctx.execute(sql).collect().to_arrow()
    import pyarrow as pa

    client = Http(port)
    # An Arrow stream is read as it arrives into a Table (what the in-process engines return), not
    # first into one bytes object: that copy cost the client 46-63 ms of a 44 MB result (ADR 0012).
    def read_arrow(resp):
        return pa.ipc.open_stream(resp).read_all()

    if name in ("lakehouse_arrow", "lakehouse_json"):
        fmt = "arrow" if name == "lakehouse_arrow" else "json"

        def run(sql):
            body = json.dumps({"sql": sql, "format": fmt, "timeout_ms": 600000}).encode()
            status, data = client.post("/api/v1/query", body, {"Content-Type": "application/json"},
                                       read_arrow if fmt == "arrow" else None)
            if status != 200:
                raise RuntimeError(f"lakehouse HTTP {status}: {data[:300]!r}")
            return data

        return run
    if name.startswith("roapi"):

        def run(sql):
            status, data = client.post(
                "/api/sql", sql.encode(), {"Accept": "application/vnd.apache.arrow.stream"}, read_arrow
            )
            if status != 200:
                raise RuntimeError(f"roapi HTTP {status}: {data[:300]!r}")
            return data

        return run
    raise SystemExit(f"unknown engine {name}")


def result_rows(result) -> list:
    if isinstance(result, bytes):
        return json.loads(result)["rows"]
    return arrow_rows(result)


def worker(name: str, data: Path, port: int | None):
    run = make_engine(name, data, port)
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        req = json.loads(line)
        try:
            start = time.perf_counter()
            result = run(req["sql"])
            ms = (time.perf_counter() - start) * 1000
            out = {"ms": ms}
            if req.get("check"):
                rows = result_rows(result)
                out["rows"] = len(rows)
                out["result"] = canonical(rows, large=len(rows) > 10000)
            del result
            out["rss_mb"] = vm_hwm_mb(os.getpid())
        except Exception as e:  # reported to the driver, which stops the run
            out = {"error": f"{type(e).__name__}: {e}"}
        print(json.dumps(out), flush=True)


# ---------------------------------------------------------------- driver


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(port, path, proc, what, method="GET", body=None, timeout=300):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{what} exited with {proc.returncode} during start-up")
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            c.request(method, path, body=body)
            if c.getresponse().status < 500:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"{what} did not answer on port {port}")


class Server:
    def __init__(self, name, argv, env, log_path):
        self.name = name
        self.log = open(log_path, "wb")
        self.proc = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT, env=env)

    def rss_mb(self):
        return vm_hwm_mb(self.proc.pid)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def start_lakehouse(binary: Path, data: Path, work: Path, label: str) -> tuple[Server, int]:
    port = free_port()
    data_dir = work / f"lakehouse-{label}"
    shutil.rmtree(data_dir, ignore_errors=True)
    data_dir.mkdir(parents=True)
    srv = Server(
        f"lakehouse-{label}",
        [str(binary), "serve", "--listen", f"127.0.0.1:{port}", "--data-dir", str(data_dir), "--ai", "false", "--auth", "off",
         "--query-threads", str(THREADS), "--query-memory-limit", MEMORY_LIMIT, "--query-max-timeout-ms", "600000"],
        os.environ.copy(),
        work / f"lakehouse-{label}.log",
    )
    wait_http(port, "/health", srv.proc, srv.name)
    for t in TABLES:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
        with open(data / f"{t}.parquet", "rb") as f:
            body = f.read()
        c.request("POST", f"/api/v1/datasets/{t}", body=body,
                  headers={"Content-Type": "application/vnd.apache.parquet"})
        resp = c.getresponse()
        text = resp.read()
        if resp.status != 201:
            raise SystemExit(f"upload {t} to lakehouse: HTTP {resp.status} {text[:300]!r}")
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    c.request("POST", "/api/v1/query", body=json.dumps({"sql": "SELECT version() AS v", "format": "json"}),
              headers={"Content-Type": "application/json"})
    resp = c.getresponse()
    text = resp.read()
    srv.duckdb_version = json.loads(text)["rows"][0][0] if resp.status == 200 else f"? (HTTP {resp.status})"
    log(f"lakehouse {label}: DuckDB {srv.duckdb_version}")
    return srv, port


def start_roapi(binary: Path, data: Path, work: Path, memory: bool) -> tuple[Server, int]:
    port = free_port()
    flag = "true" if memory else "false"
    # Its Postgres and FlightSQL endpoints too get free loopback ports (defaults would collide).
    argv = [str(binary), "-a", f"127.0.0.1:{port}", "-p", f"127.0.0.1:{free_port()}",
            "--addr-flight-sql", f"127.0.0.1:{free_port()}"]
    for t in TABLES:
        argv += ["-t", f"{t}={data / (t + '.parquet')},format=parquet,use_memory_table={flag}"]
    env = dict(os.environ, TOKIO_WORKER_THREADS=str(THREADS), RUST_LOG="warn")
    name = "roapi-memory" if memory else "roapi-scan"
    srv = Server(name, argv, env, work / f"{name}.log")
    wait_http(port, "/api/sql", srv.proc, name, method="POST", body=b"SELECT 1")
    return srv, port


class Worker:
    def __init__(self, engine, data: Path, port, label, python=sys.executable):
        env = dict(os.environ, POLARS_MAX_THREADS=str(THREADS))
        argv = [python, __file__, "worker", engine, str(data)]
        if port:
            argv += ["--port", str(port)]
        self.label = label
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, text=True)
        if json.loads(self.proc.stdout.readline() or '{"ready": false}').get("ready") is not True:
            raise SystemExit(f"worker {label} did not start")

    def query(self, sql, check):
        self.proc.stdin.write(json.dumps({"sql": sql, "check": check}) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise SystemExit(f"worker {self.label} died")
        out = json.loads(line)
        if "error" in out:
            raise SystemExit(f"{self.label}: {out['error']}")
        return out

    def stop(self):
        self.proc.stdin.close()
        try:
            self.proc.wait(60)
        except subprocess.TimeoutExpired:  # stuck in a query (e.g. the run was interrupted)
            self.proc.kill()
            self.proc.wait()


def geomean(xs):
    xs = [x for x in xs if x > 0 and math.isfinite(x)]
    return math.exp(sum(map(math.log, xs)) / len(xs)) if xs else float("nan")


def run(args):
    data = Path(args.data)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    bindir = Path(sys.executable).parent
    wanted = args.engines.split(",")
    queries = {k: v for k, v in QUERIES.items() if not args.queries or k in args.queries.split(",")}

    # label -> (engine kind, server or None, port); the baseline first.
    engines = {}
    servers = []
    interrupted = True  # until the rounds complete: then the workers are idle and stop cleanly
    try:
        for label in wanted:
            if label == "duckdb" or label in ("datafusion", "polars"):
                engines[label] = Worker(label, data, None, label)
                if label == "duckdb":
                    for version, python in args.alt_duckdb:  # raw DuckDB at other versions, next to it
                        engines[f"duckdb-{version}"] = Worker("duckdb", data, None, f"duckdb-{version}", python)
            elif label == "lakehouse":
                for tag, binary in args.lakehouse:
                    srv, port = start_lakehouse(Path(binary), data, out, tag)
                    servers.append(srv)
                    suffix = "" if len(args.lakehouse) == 1 else f"[{tag}]"
                    engines[f"lakehouse_arrow{suffix}"] = Worker("lakehouse_arrow", data, port, "lakehouse")
                    engines[f"lakehouse_arrow{suffix}"].server = srv
                    engines[f"lakehouse_json{suffix}"] = Worker("lakehouse_json", data, port, "lakehouse")
                    engines[f"lakehouse_json{suffix}"].server = srv
            elif label in ("roapi_scan", "roapi_memory"):
                srv, port = start_roapi(bindir / "roapi", data, out, label == "roapi_memory")
                servers.append(srv)
                engines[label] = Worker("roapi", data, port, label)
                engines[label].server = srv
            else:
                raise SystemExit(f"unknown engine {label}")

        times = {(e, q): [] for e in engines for q in queries}
        results = {}
        rows = {}
        for rnd in range(args.reps + 1):
            log(f"round {rnd}/{args.reps}" + (" (warm-up + result check)" if rnd == 0 else ""))
            for qname, sql in queries.items():
                order = list(engines)
                if rnd % 2:  # alternate the order too: nobody is always first after a cold cache
                    order.reverse()
                for e in order:
                    r = engines[e].query(sql, check=(rnd == 0))
                    if rnd == 0:
                        results[(e, qname)] = r["result"]
                        rows[(e, qname)] = r["rows"]
                    else:
                        times[(e, qname)].append(r["ms"])
        interrupted = False
    finally:
        peak = {}
        for e, w in engines.items():
            srv = getattr(w, "server", None)
            peak[e] = srv.rss_mb() if srv else vm_hwm_mb(w.proc.pid)
        for w in engines.values():
            if interrupted:  # a worker may be mid-query: do not wait for it
                w.proc.kill()
            w.stop()
        for s in servers:
            s.stop()

    # correctness: every engine against the baseline (the first one)
    base = next(iter(engines))
    mismatches = []
    for qname in queries:
        for e in engines:
            if not same(results[(base, qname)], results[(e, qname)]):
                mismatches.append(f"{e} differs from {base} on {qname}")

    med = {k: statistics.median(v) for k, v in times.items()}
    report = {
        "machine": f"{platform.node()} {os.cpu_count()} cpus, {platform.platform()}",
        "load_avg_end": os.getloadavg(),
        "reps": args.reps,
        "threads": THREADS,
        "scale": args.scale,
        "versions": versions(),
        "lakehouse_duckdb": {s.name: getattr(s, "duckdb_version", None) for s in servers if s.name.startswith("lakehouse")},
        "engines": list(engines),
        "queries": list(queries),
        "median_ms": {f"{e}|{q}": med[(e, q)] for e in engines for q in queries},
        "all_ms": {f"{e}|{q}": times[(e, q)] for e in engines for q in queries},
        "rows": {f"{e}|{q}": rows[(e, q)] for e in engines for q in queries},
        "peak_rss_mb": peak,
        "mismatches": mismatches,
    }
    (out / "results.json").write_text(json.dumps(report, indent=1))
    print_table(report, base)
    chart(report, base, out / "ratios.png")
    if mismatches:
        print("\nRESULT MISMATCH:\n  " + "\n  ".join(mismatches))
        return 1
    print(f"\nall {len(engines)} engines returned the same results for all {len(queries)} queries")
    return 0


def versions():
    import importlib.metadata as md

    v = {p: md.version(p) for p in ("duckdb", "datafusion", "polars", "pyarrow", "roapi")}
    return v


def print_table(rep, base):
    engines, queries, med = rep["engines"], rep["queries"], rep["median_ms"]
    print(f"\nmedian ms over {rep['reps']} runs (ratio to {base}), threads={rep['threads']}, scale={rep['scale']:g}; "
          f"versions {rep['versions']}; Lakehouse's DuckDB {rep['lakehouse_duckdb']}")
    head = f"| query | " + " | ".join(engines) + " |"
    print(head)
    print("|---|" + "---:|" * len(engines))
    for q in queries:
        b = med[f"{base}|{q}"]
        cells = [f"{med[f'{e}|{q}']:.1f} ({med[f'{e}|{q}'] / b:.2f})" for e in engines]
        print(f"| {q} | " + " | ".join(cells) + " |")
    gm = [geomean([med[f"{e}|{q}"] / med[f"{base}|{q}"] for q in queries]) for e in engines]
    print("| **geomean ratio** | " + " | ".join(f"**{g:.2f}**" for g in gm) + " |")
    print("| peak RSS MB | " + " | ".join(f"{rep['peak_rss_mb'][e]:.0f}" for e in engines) + " |")


def chart(rep, base, path: Path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    engines, queries, med = rep["engines"], rep["queries"], rep["median_ms"]
    fig, ax = plt.subplots(figsize=(12, 5.5))
    width = 0.8 / len(engines)
    for i, e in enumerate(engines):
        ys = [med[f"{e}|{q}"] / med[f"{base}|{q}"] for q in queries]
        xs = [j + (i - (len(engines) - 1) / 2) * width for j in range(len(queries))]
        ax.bar(xs, ys, width, label=e)
    ax.axhline(1.0, color="black", linewidth=0.8)
    ax.set_yscale("log")
    from matplotlib.ticker import FuncFormatter

    ax.yaxis.set_major_formatter(FuncFormatter(lambda y, _: f"{y:g}"))
    ax.yaxis.set_minor_formatter(
        FuncFormatter(lambda y, _: f"{y:g}" if round(y / 10 ** math.floor(math.log10(y))) in (2, 3, 5) else "")
    )
    ax.set_xticks(range(len(queries)), queries, rotation=15)
    ax.set_ylabel(f"median time / {base} (log scale, lower is better)")
    load = rep["load_avg_end"][2]
    scale = "" if rep["scale"] == 1 else f"scale {rep['scale']:g}, "
    ax.set_title(f"bench/peers: {scale}{rep['threads']} threads, median of {rep['reps']} runs, "
                 f"{rep['machine'].split(',')[0]}, 15-min load average {load:.1f} at the end")
    ax.legend(fontsize=8, ncol=2)
    ax.grid(axis="y", which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    print(f"chart: {path}")


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    g = sub.add_parser("gen")
    g.add_argument("data")
    g.add_argument("--scale", type=float, default=1.0, help="fraction of the full data (1: 10M + 6M rows)")
    w = sub.add_parser("worker")
    w.add_argument("engine")
    w.add_argument("data")
    w.add_argument("--port", type=int)
    r = sub.add_parser("run")
    r.add_argument("--data", required=True)
    r.add_argument("--out", required=True)
    r.add_argument("--reps", type=int, default=3)
    r.add_argument("--scale", type=float, default=1.0, help="the data's scale (gen --scale), for the report")
    r.add_argument("--engines", default="duckdb,lakehouse,datafusion,polars,roapi_scan,roapi_memory")
    r.add_argument("--queries", default="", help="comma-separated subset of the query names")
    r.add_argument("--lakehouse", nargs=2, action="append", metavar=("TAG", "BINARY"), default=[],
                   help="a lakehouse binary to run (repeat to compare builds, e.g. DuckDB versions)")
    r.add_argument("--alt-duckdb", nargs=2, action="append", metavar=("VERSION", "PYTHON"), default=[],
                   help="also raw DuckDB from another venv's python (e.g. another DuckDB version)")
    a = ap.parse_args()
    if a.cmd == "gen":
        generate(Path(a.data), a.scale)
    elif a.cmd == "worker":
        worker(a.engine, Path(a.data), a.port)
    else:
        sys.exit(run(a))


if __name__ == "__main__":
    main()
