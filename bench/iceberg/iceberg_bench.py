"""Iceberg figures for bench/iceberg.sh (one invocation, ratios against baselines run here).

  commits  appends/s through HTTP with Iceberg metadata on vs off (same storage kind, fresh server
           each, SECONDS each, one writer): ratio target >= 0.5
  scan     PyIceberg scan to Arrow vs our /api/v1/query Arrow endpoint for the same ROWS-row table
           (median of 3 each)
Servers are the real `lakehouse` binary on 127.0.0.1 (tests/integration/conftest.py's Server).
"""
import argparse
import io
import json
import os
import pathlib
import statistics
import tempfile
import time

import duckdb
import pyarrow as pa
import pyarrow.ipc
from pyiceberg.catalog.rest import RestCatalog

from lakehouse_testing import Server


def storage_args(s3_env_file):
    if not s3_env_file:
        return [], {}
    env = dict(line.split("=", 1) for line in pathlib.Path(s3_env_file).read_text().splitlines() if "=" in line)
    args = ["--storage", "s3", "--s3-endpoint", env["S3_ENDPOINT"], "--s3-bucket", "bench-" + os.urandom(5).hex(),
            "--s3-access-key", env["S3_ACCESS_KEY"], "--s3-secret-key", env["S3_SECRET_KEY"],
            "--s3-region", env.get("S3_REGION", "us-east-1")]
    return args, {"s3.access-key-id": env["S3_ACCESS_KEY"], "s3.secret-access-key": env["S3_SECRET_KEY"]}


def commits_per_second(tmp, args, iceberg, seconds):
    s = Server(pathlib.Path(tempfile.mkdtemp(dir=tmp)), *args, "--iceberg", iceberg)
    try:
        csv = {"Content-Type": "text/csv"}
        status, _ = s.json("POST", "/api/v1/datasets/bench?format=csv", b"a,b\n0,0\n", csv)
        assert status == 201
        n = 0
        start = time.monotonic()
        while time.monotonic() - start < seconds:
            status, body = s.json("POST", "/api/v1/datasets/bench/append?format=csv", f"a,b\n{n},{n}\n".encode(), csv)
            assert status == 200, body
            n += 1
        return n / (time.monotonic() - start)
    finally:
        s.stop()


def median_seconds(fn, runs=3):
    times = []
    for _ in range(runs):
        t = time.monotonic()
        fn()
        times.append(time.monotonic() - t)
    return statistics.median(times)


def scan(tmp, args, client_props, rows):
    s = Server(pathlib.Path(tempfile.mkdtemp(dir=tmp)), *args)
    try:
        path = pathlib.Path(tmp) / "big.parquet"
        duckdb.sql(f"COPY (SELECT i AS id, i % 1000 AS grp, i * 0.5 AS amount, 'n' || (i % 97) AS name "
                   f"FROM range({rows}) t(i)) TO '{path}' (FORMAT parquet)")
        status, body = s.json("POST", "/api/v1/datasets/big", path.read_bytes(),
                              {"Content-Type": "application/vnd.apache.parquet"})
        assert status == 201, body
        cat = RestCatalog("lakehouse", uri=s.base + "/iceberg", **client_props)

        def pyiceberg():
            t = cat.load_table("default.big").scan().to_arrow()
            assert t.num_rows == rows

        def ours():
            status, _, data = s.request("POST", "/api/v1/query",
                                        json.dumps({"sql": "SELECT * FROM big", "format": "arrow"}).encode(),
                                        {"Content-Type": "application/json"}, timeout=300)
            assert status == 200
            assert pa.ipc.open_stream(io.BytesIO(data)).read_all().num_rows == rows

        return median_seconds(pyiceberg), median_seconds(ours)
    finally:
        s.stop()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--seconds", type=float, default=5)
    p.add_argument("--rows", type=int, default=2_000_000)
    p.add_argument("--s3-env", default="")
    p.add_argument("--label", default="local")
    a = p.parse_args()
    _, props = storage_args(a.s3_env)
    with tempfile.TemporaryDirectory() as tmp:
        off = commits_per_second(tmp, storage_args(a.s3_env)[0], "false", a.seconds)
        on = commits_per_second(tmp, storage_args(a.s3_env)[0], "true", a.seconds)
        print(f"RESULT commits_per_s_{a.label}_iceberg_off={off:.1f}")
        print(f"RESULT commits_per_s_{a.label}_iceberg_on={on:.1f}")
        print(f"RESULT commits_ratio_{a.label}={on / off:.2f}")
        py_s, ours_s = scan(tmp, storage_args(a.s3_env)[0], props, a.rows)
        print(f"RESULT scan_s_{a.label}_pyiceberg={py_s:.3f}")
        print(f"RESULT scan_s_{a.label}_http_arrow={ours_s:.3f}")
        print(f"RESULT scan_ratio_{a.label}={py_s / ours_s:.2f}")


if __name__ == "__main__":
    main()
