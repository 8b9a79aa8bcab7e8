"""format=parquet on POST /api/v1/query and the preview: DuckDB writes the result as a Parquet file in
the query temp directory, the gateway streams it, the file is removed; pyarrow reads what JSON says."""
import decimal
import io
import json

import pyarrow.parquet as pq

CSV = "id,name,amount,day\n" + "".join(f"{i},n{i % 7},{i}.25,2024-01-{1 + i % 28:02d}\n" for i in range(5000))


def make_dataset(server):
    status, _, body = server.request("POST", "/api/v1/datasets/sales?format=csv", body=CSV.encode())
    assert status == 201, body


def query(server, body, **kw):
    return server.request("POST", "/api/v1/query", body=json.dumps(body).encode(),
                          headers={"Content-Type": "application/json"}, **kw)


def export_files(server):
    temp = server.data_dir / "tmp"
    return [p for p in temp.rglob("lakehouse-export-*")] if temp.exists() else []


def plain(v):
    return str(v) if isinstance(v, decimal.Decimal) else v


def test_parquet_result_equals_the_json_result(server):
    make_dataset(server)
    sql = "SELECT id, name, amount, day, amount * 2 AS twice FROM sales WHERE id % 3 = 0 ORDER BY id"
    status, headers, data = query(server, {"sql": sql, "format": "parquet"})
    assert status == 200, data
    assert headers["Content-Type"] == "application/vnd.apache.parquet"
    assert data[:4] == b"PAR1" and data[-4:] == b"PAR1"
    table = pq.read_table(io.BytesIO(data))
    status, _, js = query(server, {"sql": sql, "format": "json"})
    result = json.loads(js)
    assert table.column_names == [c["name"] for c in result["columns"]]
    rows = [[plain(v) for v in row.values()] for row in table.to_pylist()]
    want = [[str(v) if isinstance(v, float) else v for v in r] for r in result["rows"]]
    got = [[r[0], r[1], str(r[2]), r[3].isoformat(), str(r[4])] for r in rows]
    assert got == [[w[0], w[1], str(w[2]), w[3], str(w[4])] for w in want]
    assert len(got) == 1667
    assert export_files(server) == []  # removed once sent


def test_query_parameter_accept_header_limit_and_preview(server):
    make_dataset(server)
    status, _, data = server.request("POST", "/api/v1/query?format=parquet", body=b'{"sql": "FROM sales", "limit": 10}')
    assert status == 200, data
    assert pq.read_table(io.BytesIO(data)).num_rows == 10
    status, headers, data = server.request(
        "POST", "/api/v1/query", body=b'{"sql": "SELECT count(*) AS n FROM sales"}',
        headers={"Accept": "application/vnd.apache.parquet"})
    assert status == 200 and headers["Content-Type"] == "application/vnd.apache.parquet"
    assert pq.read_table(io.BytesIO(data)).to_pylist() == [{"n": 5000}]
    status, _, data = server.request("GET", "/api/v1/datasets/sales/preview?limit=3&format=parquet")
    assert status == 200, data
    assert pq.read_table(io.BytesIO(data)).column("id").to_pylist() == [0, 1, 2]


def test_errors_are_json_before_any_byte_and_leave_no_file(server):
    make_dataset(server)
    status, _, data = query(server, {"sql": "SELEC 1", "format": "parquet"})
    assert status == 400 and "syntax error" in json.loads(data)["error"]["message"]
    status, _, data = query(server, {"sql": "EXPLAIN SELECT 1", "format": "parquet"})
    assert status == 400 and "format=parquet needs a query" in json.loads(data)["error"]["message"]
    status, _, data = query(server, {"sql": "SELECT * FROM nope", "format": "parquet"})
    assert status == 404, data
    status, _, data = query(server, {"sql": "SELECT 1/0 AS x, error('boom') FROM sales", "format": "parquet"})
    assert status == 400 and "boom" in json.loads(data)["error"]["message"]
    assert export_files(server) == []


def test_export_files_cannot_be_read_written_or_listed_from_sql(server):
    make_dataset(server)
    name = "lakehouse-export://" + "0" * 32
    for sql in (f"SELECT * FROM read_parquet('{name}')", f"SELECT * FROM read_text('{name}')",
                "SELECT * FROM glob('lakehouse-export://*')",
                f"COPY (SELECT 1) TO '{name}' (FORMAT parquet)"):
        status, _, data = query(server, {"sql": sql, "format": "json"})
        assert status == 400, (sql, data)
    # The files in the temp directory stay out of reach by their local path too.
    temp = server.data_dir / "tmp" / "lakehouse-export"
    temp.mkdir(parents=True, exist_ok=True)
    local = temp / ("lakehouse-export-" + "1" * 32 + ".parquet")
    local.write_bytes(b"PAR1")
    assert query(server, {"sql": "SELECT 1", "format": "parquet"})[0] == 200  # the directory is the right one
    for sql in (f"SELECT * FROM read_parquet('{local}')", f"SELECT * FROM read_blob('{local}')"):
        status, _, data = query(server, {"sql": sql})
        assert status == 400, (sql, data)


def test_timeout_cancels_the_copy_and_removes_the_file(server):
    make_dataset(server)
    status, _, data = query(server, {"sql": "SELECT * FROM range(3000000000) t(x) WHERE x % 7 = 0",
                                     "format": "parquet", "timeout_ms": 300})
    assert status == 408, data[:200]
    assert export_files(server) == []
    # The server still answers.
    status, _, data = query(server, {"sql": "SELECT 42 AS x", "format": "parquet"})
    assert status == 200 and pq.read_table(io.BytesIO(data)).to_pylist() == [{"x": 42}]


def test_spill_cap_bounds_the_file(tmp_path):
    from lakehouse_testing import Server
    s = Server(tmp_path, "--max-spill-total", "1MB")
    try:
        status, _, data = query(s, {"sql": "SELECT x, md5(x::VARCHAR) AS h FROM range(2000000) t(x)",
                                    "format": "parquet"})
        assert status == 400 and "larger than limits.max_spill_total" in json.loads(data)["error"]["message"], data[:300]
        assert export_files(s) == []
    finally:
        s.stop()
