"""Every dataset read as an Iceberg table by real engines, through our REST catalog.

Runs the real `lakehouse` binary on local disk, and on Ceph radosgw when LAKEHOUSE_S3_ENV_FILE
names a running one (ctest fixture `rgw`). Engines: PyIceberg 0.12 (RestCatalog) and DuckDB 1.4.4
with the iceberg extension loaded from its file (scripts/setup.d/60-iceberg.sh installs both).
"""
import concurrent.futures
import io
import json
import os
import pathlib
import signal
import time

import duckdb
import pyarrow as pa
import pyarrow.ipc
import pytest
from pyiceberg.catalog.rest import RestCatalog
from pyiceberg.exceptions import NoSuchTableError

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parents[1]
from lakehouse_testing import BACKENDS, Server, s3_args, s3_env  # the real binary as a child process

EXT_DIR = ROOT / "iceberg" / ".deps" / "duckdb_ext"
PARQUET = {"Content-Type": "application/vnd.apache.parquet"}


@pytest.fixture(params=BACKENDS)
def backend(request):
    return request.param


def start(tmp_path, backend, extra=(), args=None):
    if args is None:
        args = list(extra) + (s3_args("iceberg") if backend == "s3" else [])
    s = Server(tmp_path, *args)
    s.lh_args = args
    return s


def catalog(server):
    props = {"uri": server.base + "/iceberg"}
    env = s3_env()
    if env:  # no credentials are vended (no auth yet): the client brings its own, as a cluster would
        props.update({"s3.access-key-id": env["S3_ACCESS_KEY"], "s3.secret-access-key": env["S3_SECRET_KEY"]})
    return RestCatalog("lakehouse", **props)


def parquet(tmp_path, sql, name):
    path = tmp_path / f"{name}.parquet"
    duckdb.sql(f"COPY ({sql}) TO '{path}' (FORMAT parquet)")
    return path.read_bytes()


def upload(server, method, path, body, expect):
    status, data = server.json(method, path, body, PARQUET)
    assert status == expect, data
    return data


def query_arrow(server, sql):
    status, _, body = server.request("POST", "/api/v1/query", json.dumps({"sql": sql, "format": "arrow"}).encode(),
                                     {"Content-Type": "application/json"})
    assert status == 200, body[:500]
    return pa.ipc.open_stream(io.BytesIO(body)).read_all()


def rows(table):
    """Rows as a sorted list of tuples, columns in name order (engines may differ in column order)."""
    names = sorted(table.column_names)
    cols = [table.column(n).to_pylist() for n in names]
    return sorted(zip(*cols), key=repr)


TYPED = """SELECT i::INTEGER AS id, (i * 1000000007)::BIGINT AS big, i / 3 AS ratio, (i / 7)::FLOAT AS f,
  CASE WHEN i % 5 = 0 THEN NULL ELSE 'name-' || i END AS name, i % 2 = 0 AS even,
  DATE '2024-01-01' + i::INTEGER AS day, TIMESTAMP '2024-01-01 00:00:00' + INTERVAL (i) SECOND AS ts,
  (i * 1.125)::DECIMAL(18,3) AS amount, [i, i + 1] AS pair, INTERVAL (i) DAY AS span
FROM range({lo}, {hi}) t(i)"""


def build_datasets(server, tmp_path):
    """typed: create + append; evolved: create + append with a new column; replaced: create +
    replace; gone: create + delete (not a table)."""
    upload(server, "POST", "/api/v1/datasets/typed", parquet(tmp_path, TYPED.format(lo=0, hi=300), "t1"), 201)
    upload(server, "POST", "/api/v1/datasets/typed/append", parquet(tmp_path, TYPED.format(lo=300, hi=500), "t2"), 200)
    upload(server, "POST", "/api/v1/datasets/evolved",
           parquet(tmp_path, "SELECT i AS id, 'a' || i AS label FROM range(10) t(i)", "e1"), 201)
    upload(server, "POST", "/api/v1/datasets/evolved/append?allow_schema_change=1",
           parquet(tmp_path, "SELECT i AS id, 'b' || i AS label, i * 2.5 AS score FROM range(10, 15) t(i)", "e2"), 200)
    upload(server, "POST", "/api/v1/datasets/replaced", parquet(tmp_path, "SELECT i AS x FROM range(100) t(i)", "r1"),
           201)
    upload(server, "PUT", "/api/v1/datasets/replaced", parquet(tmp_path, "SELECT i AS x FROM range(7) t(i)", "r2"), 200)
    upload(server, "POST", "/api/v1/datasets/gone", parquet(tmp_path, "SELECT 1 AS x", "g1"), 201)
    status, _ = server.json("DELETE", "/api/v1/datasets/gone")
    assert status == 200


MAPPED = ["id", "big", "ratio", "f", "name", "even", "day", "ts", "amount"]  # pair, span: no Iceberg v2 type


def test_pyiceberg_reads_every_dataset_like_our_query(tmp_path, backend):
    s = start(tmp_path, backend)
    try:
        build_datasets(s, tmp_path)
        cat = catalog(s)
        assert cat.list_namespaces() == [("default",)]
        assert sorted(cat.list_tables("default")) == [("default", "evolved"), ("default", "replaced"),
                                                       ("default", "typed")]
        assert cat.table_exists("default.typed") and not cat.table_exists("default.gone")

        for name in ["typed", "evolved", "replaced"]:
            table = cat.load_table(f"default.{name}")
            ours = query_arrow(s, f"SELECT * FROM {name}")
            cols = [c for c in ours.column_names if c in MAPPED or name != "typed"]
            got = table.scan().to_arrow()
            assert sorted(got.column_names) == sorted(cols), name
            assert rows(got) == rows(ours.select(cols)), name
            # Every version is a snapshot (id == version), and reads as dataset_version(name, n).
            versions = [v["version"] for v in s.json("GET", f"/api/v1/datasets/{name}/versions")[1]["versions"]]
            assert [snap.snapshot_id for snap in table.snapshots()] == versions
            for n in versions:
                old = query_arrow(s, f"SELECT * FROM dataset_version('{name}', {n})")
                old_cols = [c for c in old.column_names if c in MAPPED or name != "typed"]
                assert rows(table.scan(snapshot_id=n).to_arrow()) == rows(old.select(old_cols)), (name, n)

        typed = cat.load_table("default.typed")
        props = typed.metadata.properties
        assert props["lakehouse.unmapped-columns"] == "pair,span"
        # Data-file stats from the Parquet footers: counts and bounds of `id` per file.
        id_field = typed.schema().find_field("id").field_id
        files = sorted((t.file for t in typed.scan().plan_files()), key=lambda f: f.record_count)
        assert [f.record_count for f in files] == [200, 300]
        assert [f.value_counts[id_field] for f in files] == [200, 300]
        assert files[1].lower_bounds[id_field] == (0).to_bytes(4, "little")
        assert files[1].upper_bounds[id_field] == (299).to_bytes(4, "little")
        name_field = typed.schema().find_field("name").field_id
        assert files[1].null_value_counts[name_field] == 60
        # Pruning uses them: a filter outside the first file's range skips it.
        assert len(list(typed.scan(row_filter="id >= 400").plan_files())) == 1

        # Schema evolution: one schema per shape, field ids kept, the new column null for old rows.
        evolved = cat.load_table("default.evolved")
        assert [sch.schema_id for sch in evolved.schemas().values()] == [0, 1]
        assert evolved.schemas()[0].find_field("id").field_id == evolved.schema().find_field("id").field_id
        assert rows(evolved.scan(snapshot_id=1).to_arrow()) == [(i, "a%d" % i) for i in range(10)]
        scores = dict(zip(*[evolved.scan().to_arrow().column(c).to_pylist() for c in ["id", "score"]]))
        assert scores[3] is None and scores[12] == 30.0

        # Replace produced a snapshot that removes the old file.
        replaced = cat.load_table("default.replaced")
        assert replaced.current_snapshot().summary.operation.value == "overwrite"
        assert replaced.scan().to_arrow().num_rows == 7
    finally:
        s.stop()


def test_rest_catalog_error_model_and_read_only(tmp_path):
    s = start(tmp_path, "local")
    try:
        status, body = s.json("GET", "/iceberg/v1/config")
        assert status == 200 and body["defaults"] == {} and body["overrides"] == {}
        status, body = s.json("GET", "/iceberg/v1/namespaces/default/tables/nope")
        assert status == 404 and body["error"]["type"] == "NoSuchTableException" and body["error"]["code"] == 404
        assert "nope" in body["error"]["message"]
        status, body = s.json("GET", "/iceberg/v1/namespaces/other/tables")
        assert status == 404 and body["error"]["type"] == "NoSuchNamespaceException"
        assert s.request("HEAD", "/iceberg/v1/namespaces/default")[0] == 204
        assert s.request("HEAD", "/iceberg/v1/namespaces/default/tables/nope")[0] == 404
        for method, path in [("POST", "/iceberg/v1/namespaces"), ("POST", "/iceberg/v1/namespaces/default/tables"),
                             ("POST", "/iceberg/v1/namespaces/default/tables/x"),
                             ("DELETE", "/iceberg/v1/namespaces/default/tables/x"),
                             ("POST", "/iceberg/v1/tables/rename")]:
            status, body = s.json(method, path, b"{}", {"Content-Type": "application/json"})
            assert status == 406 and body["error"]["type"] == "UnsupportedOperationException", (method, path)
        with pytest.raises(NoSuchTableError):
            catalog(s).load_table("default.nope")
    finally:
        s.stop()


def test_switch_off_writes_no_metadata_and_catalog_answers_503(tmp_path):
    s = start(tmp_path, "local", ["--iceberg", "false"])
    try:
        upload(s, "POST", "/api/v1/datasets/off", parquet(tmp_path, "SELECT 1 AS x", "o"), 201)
        status, body = s.json("GET", "/iceberg/v1/namespaces/default/tables/off")
        assert status == 503 and body["error"]["type"] == "ServiceUnavailableException"
        assert not (s.data_dir / "objects" / "_iceberg").exists()
    finally:
        s.stop()


def duckdb_with_iceberg():
    con = duckdb.connect(config={"autoinstall_known_extensions": "false", "autoload_known_extensions": "false",
                                 "allow_unsigned_extensions": "false"})
    con.execute(f"LOAD '{EXT_DIR / 'avro.duckdb_extension'}'")  # iceberg needs avro, and would download it
    con.execute(f"LOAD '{EXT_DIR / 'iceberg.duckdb_extension'}'")
    return con


def test_duckdb_iceberg_extension_reads_our_metadata(tmp_path):
    # By metadata location: attaching the REST catalog makes the extension use httpfs for its HTTP
    # calls, an extension this test does not install (docs/adr/0009-iceberg.md).
    s = start(tmp_path, "local")
    try:
        build_datasets(s, tmp_path)
        con = duckdb_with_iceberg()
        for name in ["typed", "evolved", "replaced"]:
            status, loaded = s.json("GET", f"/iceberg/v1/namespaces/default/tables/{name}")
            assert status == 200
            location = loaded["metadata-location"].removeprefix("file://")
            got = con.execute(f"SELECT * FROM iceberg_scan('{location}')").fetch_arrow_table()
            ours = query_arrow(s, f"SELECT * FROM {name}")
            assert rows(got) == rows(ours.select(got.column_names)), name
            assert sorted(got.column_names) == sorted(c for c in ours.column_names if c in MAPPED or name != "typed")
            snapshots = con.execute(f"SELECT snapshot_id FROM iceberg_snapshots('{location}') ORDER BY 1").fetchall()
            assert [r[0] for r in snapshots] == [1, 2]
    finally:
        s.stop()


def append(server, name, i):
    body = f"writer,seq\n{i},{i}\n".encode()
    return server.json("POST", f"/api/v1/datasets/{name}/append?format=csv", body, {"Content-Type": "text/csv"})


def test_eight_concurrent_appenders_make_a_linear_snapshot_history(tmp_path, backend):
    s = start(tmp_path, backend)
    try:
        s.json("POST", "/api/v1/datasets/log?format=csv", b"writer,seq\n-1,-1\n", {"Content-Type": "text/csv"})
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            results = list(pool.map(lambda i: append(s, "log", i), range(40)))
        assert all(status == 200 for status, _ in results)
        if backend == "local":  # the background writer gets there without being asked
            head = s.data_dir / "objects" / "_iceberg" / "log" / "metadata" / f"{41:020}.metadata.json"
            deadline = time.time() + 30
            while not head.exists() and time.time() < deadline:
                time.sleep(0.05)
            assert head.exists()
        table = catalog(s).load_table("default.log")
        snaps = table.snapshots()
        assert [x.snapshot_id for x in snaps] == list(range(1, 42))
        assert [x.parent_snapshot_id for x in snaps] == [None] + list(range(1, 41))
        assert rows(table.scan().to_arrow()) == rows(query_arrow(s, "SELECT * FROM log"))
        for n in (1, 17, 41):
            assert table.scan(snapshot_id=n).to_arrow().num_rows == n
    finally:
        s.stop()


def test_kill_9_between_commit_and_metadata_then_restart_shows_exactly_our_head(tmp_path, backend):
    # Commits made while metadata is off are exactly the state a crash right after our manifest
    # won leaves behind: versions without Iceberg metadata. Then a kill -9 while writers commit.
    s = start(tmp_path, backend, ["--iceberg", "false"])
    args = [a for a in s.lh_args if a not in ("--iceberg", "false")]
    s.json("POST", "/api/v1/datasets/crash?format=csv", b"writer,seq\n-1,-1\n", {"Content-Type": "text/csv"})
    for i in range(3):
        assert append(s, "crash", i)[0] == 200
    s.stop(sig=signal.SIGKILL)
    s = start(tmp_path, backend, args=args)
    try:
        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            futures = [pool.submit(append, s, "crash", 100 + i) for i in range(12)]
            s.stop(sig=signal.SIGKILL)
            for f in futures:
                try:
                    f.result()
                except Exception:  # noqa: BLE001  (connections cut by the kill)
                    pass
        s = start(tmp_path, backend, args=args)
        versions = [v["version"] for v in s.json("GET", "/api/v1/datasets/crash/versions")[1]["versions"]]
        cat = catalog(s)
        table = cat.load_table("default.crash")
        assert [x.snapshot_id for x in table.snapshots()] == versions
        assert table.current_snapshot().snapshot_id == versions[-1]
        assert rows(table.scan().to_arrow()) == rows(query_arrow(s, "SELECT * FROM crash"))
        if backend == "local":
            con = duckdb_with_iceberg()
            location = s.json("GET", "/iceberg/v1/namespaces/default/tables/crash")[1]["metadata-location"]
            got = con.execute(f"SELECT * FROM iceberg_scan('{location.removeprefix('file://')}')").fetch_arrow_table()
            assert rows(got) == rows(query_arrow(s, "SELECT * FROM crash"))
    finally:
        s.stop()


def iceberg_objects(server, backend, dataset):
    """Every object under _iceberg/<dataset>/ in the server's store (local disk or the radosgw bucket)."""
    if backend == "local":
        return sorted(p.name for p in server.data_dir.rglob("*") if p.is_file() and f"/_iceberg/{dataset}/" in p.as_posix())
    import pyarrow.fs
    env = s3_env()
    args = server.lh_args
    bucket = args[args.index("--s3-bucket") + 1]
    endpoint = env["S3_ENDPOINT"]
    fs = pyarrow.fs.S3FileSystem(access_key=env["S3_ACCESS_KEY"], secret_key=env["S3_SECRET_KEY"],
                                 endpoint_override=endpoint.split("://", 1)[-1], scheme=endpoint.split("://", 1)[0],
                                 region=env.get("S3_REGION", "us-east-1"))
    sel = pyarrow.fs.FileSelector(f"{bucket}/_iceberg/{dataset}", recursive=True, allow_not_found=True)
    return sorted(i.base_name for i in fs.get_file_info(sel) if i.type == pyarrow.fs.FileType.File)


def test_deleting_a_dataset_removes_its_iceberg_metadata(tmp_path, backend):
    """DELETE removes _iceberg/<name>/ (metadata JSON, manifest lists, manifests) and nothing of other
    tables; a dataset created again under the name is a new table; a restart keeps the live one."""
    s = start(tmp_path, backend)
    try:
        upload(s, "POST", "/api/v1/datasets/doomed", parquet(tmp_path, "SELECT i AS x FROM range(10) t(i)", "d1"), 201)
        upload(s, "POST", "/api/v1/datasets/doomed/append", parquet(tmp_path, "SELECT 99::BIGINT AS x", "d2"), 200)
        upload(s, "POST", "/api/v1/datasets/other", parquet(tmp_path, "SELECT 1 AS y", "o1"), 201)
        cat = catalog(s)
        assert len(cat.load_table("default.doomed").snapshots()) == 2  # metadata written (Load catches up)
        cat.load_table("default.other")
        before = iceberg_objects(s, backend, "doomed")
        assert len(before) == 6, before
        other = iceberg_objects(s, backend, "other")
        status, _ = s.json("DELETE", "/api/v1/datasets/doomed")
        assert status == 200
        deadline = time.time() + 20
        while iceberg_objects(s, backend, "doomed") and time.time() < deadline:
            time.sleep(0.1)
        assert iceberg_objects(s, backend, "doomed") == []
        assert iceberg_objects(s, backend, "other") == other
        assert not cat.table_exists("default.doomed")

        upload(s, "POST", "/api/v1/datasets/doomed", parquet(tmp_path, "SELECT 7::BIGINT AS x", "d3"), 201)
        table = cat.load_table("default.doomed")
        assert [snap.snapshot_id for snap in table.snapshots()] == [4]
        assert table.scan().to_arrow().column("x").to_pylist() == [7]
        s.stop()
        s = start(tmp_path, backend, args=s.lh_args)
        table = catalog(s).load_table("default.doomed")
        assert table.scan().to_arrow().column("x").to_pylist() == [7]
        assert len(iceberg_objects(s, backend, "doomed")) == 3
    finally:
        s.stop()


def test_expired_versions_lose_their_iceberg_metadata_and_engines_still_read_the_table(tmp_path):
    # issue 13: retention expires versions 1-4; once the expiry is older than the GC safety window
    # (15 minutes: simulated by ageing the expiry marker's mtime on local disk), POST /api/v1/gc
    # removes their Iceberg metadata too. PyIceberg and DuckDB still read the current table, and
    # so they do after a restart and one more append (its snapshot rewrites the manifests).
    s = start(tmp_path, "local")
    try:
        upload(s, "POST", "/api/v1/datasets/ret", parquet(tmp_path, "SELECT i AS x FROM range(10) t(i)", "x1"), 201)
        for n in (2, 3):
            upload(s, "POST", "/api/v1/datasets/ret/append",
                   parquet(tmp_path, f"SELECT i AS x FROM range({n * 10}, {n * 10 + 10}) t(i)", f"x{n}"), 200)
        assert s.json("POST", "/api/v1/datasets/ret/compact")[1]["version"] == 4  # rewrites 1-3's files
        status, r = s.json("PUT", "/api/v1/datasets/ret/retention", b'{"keep_versions": 1}',
                           {"Content-Type": "application/json"})
        assert status == 200 and r["version"] == 5 and r["objects"] == [] and r["object_count"] == 1, r
        meta = s.data_dir / "objects" / "_iceberg" / "ret" / "metadata"
        deadline = time.time() + 30
        while not (meta / f"{5:020}.metadata.json").exists() and time.time() < deadline:
            time.sleep(0.05)
        before = sorted(p.name for p in meta.iterdir())
        status, gc = s.json("POST", "/api/v1/gc")
        assert status == 200 and gc["versions_expired"] == 4 and gc["iceberg_files_deleted"] == 0, gc
        assert sorted(p.name for p in meta.iterdir()) == before  # within the safety window
        marker = s.data_dir / "objects" / "_catalog" / "ret" / f"{5:020}.expired.json"
        old = time.time() - 3600
        os.utime(marker, (old, old))
        status, gc = s.json("POST", "/api/v1/gc")
        assert status == 200 and gc["iceberg_files_deleted"] == 4 + 4 + 4, gc  # JSONs, lists, manifests 1-m0..4-m1
        left = sorted(p.name for p in meta.iterdir())
        assert left == sorted([f"{4:020}-m0.avro", f"{5:020}.metadata.json", f"snap-{5:020}.avro"]), left

        def read_both(server):
            ours = rows(query_arrow(server, "SELECT * FROM ret"))
            table = catalog(server).load_table("default.ret")
            assert [x.snapshot_id for x in table.snapshots()] == list(range(5, table.current_snapshot().snapshot_id + 1))
            assert rows(table.scan().to_arrow()) == ours
            location = server.json("GET", "/iceberg/v1/namespaces/default/tables/ret")[1]["metadata-location"]
            got = duckdb_with_iceberg().execute(
                f"SELECT * FROM iceberg_scan('{location.removeprefix('file://')}')").fetch_arrow_table()
            assert rows(got) == ours

        read_both(s)
        s.stop()
        s = start(tmp_path, "local", args=s.lh_args)
        upload(s, "POST", "/api/v1/datasets/ret/append", parquet(tmp_path, "SELECT 99::BIGINT AS x", "x6"), 200)
        while not (meta / f"{6:020}.metadata.json").exists() and time.time() < deadline + 30:
            time.sleep(0.05)
        read_both(s)
    finally:
        s.stop()
