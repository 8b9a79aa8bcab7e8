"""Apache Spark 4.0 in local mode reads a Lakehouse table stored on Ceph radosgw through our Iceberg
REST catalog (the scale-out path, docs/scale-out.md). One JVM start, one test: CI time stays small.
Needs LAKEHOUSE_S3_ENV_FILE (ctest fixture `rgw`); Spark, the Iceberg jars: scripts/setup.d/60-iceberg.sh.
"""
import json
import os
import pathlib

import pytest

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parents[1]
from lakehouse_testing import Server

JARS = ROOT / "iceberg" / ".deps" / "jars"


@pytest.mark.skipif(not os.environ.get("LAKEHOUSE_S3_ENV_FILE"), reason="needs radosgw (ctest fixture rgw)")
def test_spark_aggregate_over_radosgw_through_our_catalog_equals_ours(tmp_path):
    from pyspark.sql import SparkSession

    env = dict(line.split("=", 1) for line in pathlib.Path(os.environ["LAKEHOUSE_S3_ENV_FILE"]).read_text().splitlines()
               if "=" in line)
    s = Server(tmp_path, "--storage", "s3", "--s3-endpoint", env["S3_ENDPOINT"], "--s3-bucket",
               "spark-" + os.urandom(5).hex(), "--s3-access-key", env["S3_ACCESS_KEY"], "--s3-secret-key",
               env["S3_SECRET_KEY"], "--s3-region", env.get("S3_REGION", "us-east-1"))
    spark = None
    try:
        csv = {"Content-Type": "text/csv"}
        body = "region,amount\n" + "".join(f"r{i % 7},{i * 3}\n" for i in range(5000))
        assert s.json("POST", "/api/v1/datasets/sales?format=csv", body.encode(), csv)[0] == 201
        more = "region,amount\n" + "".join(f"r{i % 5},{i}\n" for i in range(1000))
        assert s.json("POST", "/api/v1/datasets/sales/append?format=csv", more.encode(), csv)[0] == 200
        # The endpoint and path style come from LoadTable's config; the keys are the client's own.
        spark = (SparkSession.builder.master("local[2]")
                 .config("spark.jars", ",".join(str(p) for p in sorted(JARS.glob("*.jar"))))
                 .config("spark.ui.enabled", "false")
                 .config("spark.driver.bindAddress", "127.0.0.1").config("spark.driver.host", "127.0.0.1")
                 .config("spark.sql.catalog.lh", "org.apache.iceberg.spark.SparkCatalog")
                 .config("spark.sql.catalog.lh.type", "rest")
                 .config("spark.sql.catalog.lh.uri", s.base + "/iceberg")
                 .config("spark.sql.catalog.lh.io-impl", "org.apache.iceberg.aws.s3.S3FileIO")
                 .config("spark.sql.catalog.lh.s3.access-key-id", env["S3_ACCESS_KEY"])
                 .config("spark.sql.catalog.lh.s3.secret-access-key", env["S3_SECRET_KEY"])
                 .config("spark.sql.catalog.lh.client.region", env.get("S3_REGION", "us-east-1"))
                 .getOrCreate())
        sql = "SELECT region, sum(amount) AS total, count(*) AS n FROM {} GROUP BY region ORDER BY region"
        got = [(r[0], int(r[1]), int(r[2])) for r in spark.sql(sql.format("lh.default.sales")).collect()]
        status, ours = s.json("POST", "/api/v1/query", json.dumps({"sql": sql.format("sales")}).encode(),
                              {"Content-Type": "application/json"})
        assert status == 200
        assert got == [(r[0], int(r[1]), int(r[2])) for r in ours["rows"]]
        assert len(got) == 7
        # Time travel: snapshot 1 == dataset_version('sales', 1).
        v1 = spark.sql("SELECT count(*) FROM lh.default.sales VERSION AS OF 1").collect()[0][0]
        assert v1 == 5000
    finally:
        if spark is not None:
            spark.stop()
        s.stop()
