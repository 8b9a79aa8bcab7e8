"""Spark and PyIceberg over one ROWS-row Lakehouse table (bench/iceberg_spark.sh; ratios in one run).

  spark    Spark 4.0 (local[2]) runs the same aggregate over the table through our Iceberg REST
           catalog, and over the same Parquet files read directly (spark.read.parquet of the paths
           the table's manifests list): median of RUNS each, alternating, after one warm-up of
           each. Ratio catalog / direct, target <= 1.1.
  scan     PyIceberg scan to Arrow vs our /api/v1/query Arrow endpoint, same table, median of RUNS.
The server is the real `lakehouse` binary on 127.0.0.1, local disk (tests/integration/conftest.py's Server).
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

ROOT = pathlib.Path(__file__).resolve().parents[2]
from lakehouse_testing import Server  # noqa: E402  (tests/pyhelpers, on PYTHONPATH from bench/iceberg_spark.sh)

JARS = ROOT / "iceberg" / ".deps" / "jars"
SQL = "SELECT region, count(*) AS n, sum(amount) AS total, max(id) AS top FROM {} WHERE flag GROUP BY region ORDER BY region"


def timed(fn):
    t = time.monotonic()
    out = fn()
    return time.monotonic() - t, out


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--rows", type=int, default=10_000_000)
    p.add_argument("--runs", type=int, default=3)
    a = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="lh-spark-bench-") as tmp:
        tmp = pathlib.Path(tmp)
        path = tmp / "big.parquet"
        duckdb.sql(f"COPY (SELECT i AS id, 'r' || (i % 13) AS region, (i % 1000) * 0.25 AS amount, i % 3 <> 0 AS flag "
                   f"FROM range({a.rows}) t(i)) TO '{path}' (FORMAT parquet)")
        (tmp / "server").mkdir()
        s = Server(tmp / "server")
        spark = None
        try:
            t0 = time.monotonic()
            status, body = s.json("POST", "/api/v1/datasets/big", path.read_bytes(),
                                  {"Content-Type": "application/vnd.apache.parquet"})
            assert status == 201, body
            print(f"[spark-bench] {a.rows} rows uploaded in {time.monotonic() - t0:.1f} s "
                  f"({path.stat().st_size / 1e6:.0f} MB Parquet)", flush=True)
            path.unlink()
            status, ours = s.json("POST", "/api/v1/query", json.dumps({"sql": SQL.format("big")}).encode(),
                                  {"Content-Type": "application/json"})
            assert status == 200, ours
            want = [(r[0], int(r[1]), float(r[2]), int(r[3])) for r in ours["rows"]]

            from pyspark.sql import SparkSession
            spark = (SparkSession.builder.master("local[2]")
                     .config("spark.jars", ",".join(str(j) for j in sorted(JARS.glob("*.jar"))))
                     .config("spark.ui.enabled", "false").config("spark.ui.showConsoleProgress", "false")
                     .config("spark.driver.memory", "2g")
                     .config("spark.driver.bindAddress", "127.0.0.1").config("spark.driver.host", "127.0.0.1")
                     .config("spark.sql.catalog.lh", "org.apache.iceberg.spark.SparkCatalog")
                     .config("spark.sql.catalog.lh.type", "rest")
                     .config("spark.sql.catalog.lh.uri", s.base + "/iceberg")
                     .getOrCreate())
            spark.sparkContext.setLogLevel("ERROR")
            files = [r[0] for r in spark.sql("SELECT file_path FROM lh.default.big.files").collect()]
            assert files and all(f.startswith("file://") for f in files), files

            def through_catalog():
                # A fresh load each run: the REST round trip (LoadTable, manifests) is part of the cost.
                spark.catalog.refreshTable("lh.default.big")
                return spark.sql(SQL.format("lh.default.big")).collect()

            def direct():
                spark.read.parquet(*files).createOrReplaceTempView("big_direct")
                return spark.sql(SQL.format("big_direct")).collect()

            for fn in (through_catalog, direct):  # warm-up: JIT, jar loading, first file opens
                got = [(r[0], int(r[1]), float(r[2]), int(r[3])) for r in fn()]
                assert got == want, (fn.__name__, got[:3], want[:3])
            cat_t, dir_t = [], []
            for _ in range(a.runs):
                cat_t.append(timed(through_catalog)[0])
                dir_t.append(timed(direct)[0])
            spark.stop()
            spark = None
            cat_s, dir_s = statistics.median(cat_t), statistics.median(dir_t)
            print(f"RESULT spark_s_catalog={cat_s:.3f}")
            print(f"RESULT spark_s_direct={dir_s:.3f}")
            print(f"RESULT spark_ratio={cat_s / dir_s:.2f}")

            cat = RestCatalog("lakehouse", uri=s.base + "/iceberg")

            def pyiceberg():
                assert cat.load_table("default.big").scan().to_arrow().num_rows == a.rows

            def http_arrow():
                status, _, data = s.request("POST", "/api/v1/query",
                                            json.dumps({"sql": "SELECT * FROM big", "format": "arrow"}).encode(),
                                            {"Content-Type": "application/json"}, timeout=600)
                assert status == 200
                assert pa.ipc.open_stream(io.BytesIO(data)).read_all().num_rows == a.rows

            py_t, ours_t = [], []
            for _ in range(a.runs):
                py_t.append(timed(pyiceberg)[0])
                ours_t.append(timed(http_arrow)[0])
            py_s, ours_s = statistics.median(py_t), statistics.median(ours_t)
            print(f"RESULT scan_s_pyiceberg={py_s:.3f}")
            print(f"RESULT scan_s_http_arrow={ours_s:.3f}")
            print(f"RESULT scan_ratio={py_s / ours_s:.2f}")
        finally:
            if spark is not None:
                spark.stop()
            s.stop()


if __name__ == "__main__":
    main()
