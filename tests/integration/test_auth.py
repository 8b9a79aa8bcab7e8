"""Auth through the real binary with auth ON (docs/api/auth.md), tried as an attacker would: no
key, a wrong key, a revoked key, an expired key, a reader writing, a key for `a` reading `b`
through SQL tricks, header injection, very long keys, a cross-site text/plain POST, DNS
rebinding. Each gets the right 401/403/400 and nothing changes. Plus the first-start admin key,
the CLI, a restart and a second process over the same storage, and --auth off's refusal."""
import json
import os
import stat
import subprocess
import time

import pytest
from lakehouse_testing import LAKEHOUSE_BIN, Server

CSV_A = b"id,secret\n1,alpha\n2,beta\n"
CSV_B = b"id,secret\n1,bravo-only\n"


def bearer(key):
    return {"Authorization": f"Bearer {key}"}


def datasets(s, key):
    status, body = s.json("GET", "/api/v1/datasets", headers=bearer(key))
    assert status == 200
    return sorted(d["name"] for d in body["datasets"])


def query(s, key, sql):
    return s.json("POST", "/api/v1/query", json.dumps({"sql": sql}).encode(),
                  {**bearer(key), "Content-Type": "application/json"})


def create_key(s, admin, **body):
    status, out = s.json("POST", "/api/v1/keys", json.dumps(body).encode(),
                         {**bearer(admin), "Content-Type": "application/json"})
    assert status == 201, out
    return out


@pytest.fixture(scope="module")
def lake(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("auth")
    s = Server(tmp, "--auth-refresh-ms", "300", auth=True)
    admin = (s.data_dir / "admin.key").read_text().strip()
    for name, data in (("a", CSV_A), ("b", CSV_B), ("sales_eu", CSV_A)):
        status, body = s.json("POST", f"/api/v1/datasets/{name}", data, {**bearer(admin), "Content-Type": "text/csv"})
        assert status == 201, body
    s.admin = admin
    s.reader_a = create_key(s, admin, role="reader", datasets="a")["key"]
    s.writer_sales = create_key(s, admin, role="writer", datasets=["sales_*"])["key"]
    yield s
    s.stop()


def test_first_start_writes_the_admin_key_once_and_logs_it_once(lake):
    path = lake.data_dir / "admin.key"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    key = lake.admin
    assert key.startswith("lh_") and len(key) == 84
    logged = [line for line in lake.log_lines() if key in json.dumps(line)]
    assert len(logged) == 1, "the first admin key is printed once, and no other line repeats it"
    assert not any(lake.reader_a in json.dumps(line) for line in lake.log_lines()), "keys are never logged"
    status, me = lake.json("GET", "/api/v1/whoami", headers={"X-API-Key": key})
    assert status == 200 and me["role"] == "admin"


def test_no_wrong_malformed_and_long_keys_get_401_and_change_nothing(lake):
    before = datasets(lake, lake.admin)
    secret = lake.admin[20:]
    attempts = [
        {},
        bearer("lh_0000000000000000_" + "0" * 64),
        bearer(lake.admin[:-1] + ("0" if lake.admin[-1] != "0" else "1")),
        {"Authorization": "Basic " + lake.admin},
        {"Authorization": "Bearer " + "x" * 5000},
        {"X-API-Key": "lh_" + "a" * 10000},
        {"X-API-Key": lake.admin[:30] + " , Bearer " + lake.admin},
    ]
    for headers in attempts:
        status, hdrs, body = lake.request("DELETE", "/api/v1/datasets/a", headers=headers)
        assert status == 401, (headers.keys(), status, body)
        assert hdrs["WWW-Authenticate"].startswith('Bearer realm="lakehouse"')
        err = json.loads(body)["error"]
        assert err["code"] == "unauthenticated" and err["request_id"] == hdrs["X-Request-Id"]
        assert secret.encode() not in body
    # Header injection: a bare CR, or a NUL, inside the key never reaches a handler as a second header.
    for raw in (b"X-API-Key: lh_x\rAuthorization: Bearer " + lake.admin.encode(),
                b"Authorization: Bearer " + lake.admin.encode() + b"\x00x",
                b"Authorization: Bearer lh_x\r Authorization: Bearer " + lake.admin.encode()):
        with socket_request(lake.port, b"DELETE /api/v1/datasets/a HTTP/1.1\r\nHost: 127.0.0.1\r\n" + raw +
                            b"\r\nConnection: close\r\n\r\n") as reply:
            assert reply.split(b" ")[1] in (b"400", b"401"), reply[:200]
    assert datasets(lake, lake.admin) == before
    assert lake.request("GET", "/health")[0] == 200


class socket_request:
    """Sends raw bytes, returns the first response bytes."""

    def __init__(self, port, data):
        import socket
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.sock.sendall(data)

    def __enter__(self):
        return self.sock.recv(4096)

    def __exit__(self, *exc):
        self.sock.close()


def test_reader_cannot_write_and_writer_only_its_grants(lake):
    for method, path in (("DELETE", "/api/v1/datasets/a"), ("POST", "/api/v1/datasets/a/append"),
                         ("PUT", "/api/v1/datasets/a"), ("POST", "/api/v1/datasets/newone")):
        status, body = lake.json(method, path, CSV_A, {**bearer(lake.reader_a), "Content-Type": "text/csv"})
        assert status == 403, (method, path, body)
    status, body = lake.json("DELETE", "/api/v1/datasets/a", headers=bearer(lake.writer_sales))
    assert status == 403 and "'a'" in body["error"]["message"]
    status, body = lake.json("POST", "/api/v1/datasets/sales_us", CSV_B,
                             {**bearer(lake.writer_sales), "Content-Type": "text/csv"})
    assert status == 201, body
    status, body = lake.json("POST", "/api/v1/keys", b'{"role":"admin"}',
                             {**bearer(lake.writer_sales), "Content-Type": "application/json"})
    assert status == 403
    # Nothing a refused request tried is visible; the audit log has the refusals and the create.
    assert datasets(lake, lake.admin) == ["a", "b", "sales_eu", "sales_us"]
    assert query(lake, lake.admin, "SELECT count(*) AS n FROM a")[1]["rows"] == [[2]]
    audit = [line for line in lake.log_lines() if line.get("msg") == "audit" or line.get("message") == "audit"]
    assert any(line.get("dataset") == "a" and line.get("result") == "refused" for line in audit), audit[-3:]
    assert any(line.get("dataset") == "sales_us" and line.get("status") == 201 and line.get("key_id") for line in audit)


def test_reader_of_a_cannot_reach_b_through_sql(lake):
    key = lake.reader_a
    assert datasets(lake, key) == ["a"]
    status, body = query(lake, key, "SELECT * FROM a ORDER BY id")
    assert status == 200 and len(body["rows"]) == 2
    tricks = [
        "SELECT * FROM b",
        "SELECT * FROM B",
        'SELECT * FROM "b"',
        "SELECT * FROM main.b",
        "SELECT * FROM dataset_version('b', 1)",
        "SELECT * FROM a WHERE id IN (SELECT id FROM b)",
        "WITH x AS (SELECT * FROM b) SELECT * FROM x",
        "WITH x AS (SELECT * FROM a), y AS (SELECT * FROM x, b) SELECT * FROM y",
        "SELECT * FROM a UNION ALL SELECT * FROM b",
        "SELECT * FROM (SELECT * FROM (SELECT * FROM b))",
        "SELECT * FROM query('SELECT * FROM b')",
        "SELECT * FROM query_table('b')",
        "SELECT (SELECT secret FROM b LIMIT 1)",
        "SELECT * FROM a, LATERAL (SELECT * FROM b) t",
        "DESCRIBE b",
        "SUMMARIZE b",
        "SELECT * FROM no_such_dataset",  # an ungranted name is 403 whether or not it exists
    ]
    for sql in tricks:
        status, body = query(lake, key, sql)
        assert status == 403, (sql, status, body)
        assert body["error"]["code"] == "permission_denied"
        assert "'b'" in body["error"]["message"] or "no_such_dataset" in body["error"]["message"], body
        assert b"bravo-only" not in json.dumps(body).encode()
    # Views of views cannot be made (read-only SQL), so they cannot launder a name either.
    status, body = query(lake, key, "CREATE VIEW v AS SELECT * FROM b")
    assert status in (400, 403)
    # A lakehouse:// path of b's object (known to the attacker) is refused where it opens.
    _, manifest = lake.json("GET", "/api/v1/datasets/b/versions/1", headers=bearer(lake.admin))
    obj = manifest["objects"][0]["key"]
    query(lake, lake.admin, "SELECT * FROM b")  # the engine now knows b's objects
    for sql in (f"SELECT * FROM read_parquet('lakehouse://{obj}')", f"SELECT * FROM 'lakehouse://{obj}'"):
        status, body = query(lake, key, sql)
        assert status == 403, (sql, status, body)
        assert b"bravo-only" not in json.dumps(body).encode()
    # Path routes and search check the same grants.
    assert lake.json("GET", "/api/v1/datasets/b", headers=bearer(key))[0] == 403
    assert lake.json("GET", "/api/v1/datasets/b/preview", headers=bearer(key))[0] == 403
    assert lake.json("GET", "/api/v1/datasets/b/data", headers=bearer(key))[0] == 403
    assert lake.json("GET", "/iceberg/v1/namespaces/default/tables/b", headers=bearer(key))[0] == 403
    assert lake.json("GET", "/api/v1/datasets/a/preview", headers=bearer(key))[0] == 200
    # A prefix grant: sales_* reads sales_eu, not a.
    assert query(lake, lake.writer_sales, "SELECT count(*) FROM sales_eu")[0] == 200
    assert query(lake, lake.writer_sales, "SELECT * FROM sales_eu, a")[0] == 403


def test_revoked_and_expired_keys(lake, tmp_path):
    short = create_key(lake, lake.admin, role="reader", datasets="a", expires_in="3s")
    revoked = create_key(lake, lake.admin, role="reader", datasets="a")
    assert query(lake, short["key"], "SELECT 1")[0] == 200
    # Revoked through the CLI (LAKEHOUSE_URL / LAKEHOUSE_API_KEY).
    env = {**os.environ, "LAKEHOUSE_URL": lake.base, "LAKEHOUSE_API_KEY": lake.admin}
    r = subprocess.run([LAKEHOUSE_BIN, "keys", "revoke", revoked["id"]], env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    status, body = query(lake, revoked["key"], "SELECT 1")
    assert status == 401 and "revoked" in body["error"]["message"]
    time.sleep(3.2)
    status, body = query(lake, short["key"], "SELECT 1")
    assert status == 401 and "expired" in body["error"]["message"]
    listed = {k["id"]: k["status"] for k in lake.json("GET", "/api/v1/keys", headers=bearer(lake.admin))[1]["keys"]}
    assert listed[revoked["id"]] == "revoked" and listed[short["id"]] == "expired"


def test_cli_keys_and_client_commands_send_the_key(lake):
    env = {**os.environ, "LAKEHOUSE_URL": lake.base, "LAKEHOUSE_API_KEY": lake.admin}
    r = subprocess.run([LAKEHOUSE_BIN, "keys", "create", "--role", "reader", "--datasets", "b,web_*",
                        "--expires", "30d"], env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    key = r.stdout.strip()
    assert key.startswith("lh_") and "\n" not in key
    r = subprocess.run([LAKEHOUSE_BIN, "keys", "list"], env=env, capture_output=True, text=True)
    assert r.returncode == 0 and key[3:19] in r.stdout and key[20:] not in r.stdout
    reader_env = {**env, "LAKEHOUSE_API_KEY": key}
    r = subprocess.run([LAKEHOUSE_BIN, "datasets", "-f", "csv"], env=reader_env, capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.splitlines()[1:] and all(
        line.startswith("b,") for line in r.stdout.splitlines()[1:]), r.stdout
    r = subprocess.run([LAKEHOUSE_BIN, "sql", "-f", "csv", "SELECT secret FROM b"], env=reader_env,
                       capture_output=True, text=True)
    assert r.returncode == 0 and "bravo-only" in r.stdout
    r = subprocess.run([LAKEHOUSE_BIN, "sql", "SELECT * FROM a"], env=reader_env, capture_output=True, text=True)
    assert r.returncode == 1 and "may not read dataset 'a'" in r.stderr
    r = subprocess.run([LAKEHOUSE_BIN, "keys", "list"], env=reader_env, capture_output=True, text=True)
    assert r.returncode == 1 and "admin" in r.stderr
    r = subprocess.run([LAKEHOUSE_BIN, "datasets"], env={**env, "LAKEHOUSE_API_KEY": ""}, capture_output=True,
                       text=True)
    assert r.returncode == 1 and "needs an API key" in r.stderr


def test_browser_checks(lake):
    # DNS rebinding: the server answers no other site's name.
    status, body = lake.json("GET", "/api/v1/datasets", headers={**bearer(lake.admin), "Host": "attacker.example"})
    assert status == 400 and "attacker.example" in body["error"]["message"]
    # A cross-site text/plain POST (a form or fetch without preflight) creates nothing, key or not.
    for headers in ({}, bearer(lake.admin)):
        status, body = lake.json("POST", "/api/v1/datasets/evil", b"id\n1\n",
                                 {**headers, "Origin": "http://evil.example", "Content-Type": "text/plain"})
        assert status == 403, body
    assert "evil" not in datasets(lake, lake.admin)
    # The UI's own origin passes.
    status, body = lake.json("POST", "/api/v1/query", b'{"sql":"SELECT 1 AS x"}',
                             {**bearer(lake.admin), "Origin": lake.base, "Content-Type": "application/json"})
    assert status == 200, body
    # /health is public and says nothing about data; /ready needs a key.
    status, body = lake.json("GET", "/health")
    assert status == 200 and "sales" not in json.dumps(body)
    assert lake.request("GET", "/ready")[0] == 401
    assert lake.request("GET", "/ready", headers=bearer(lake.reader_a))[0] == 200
    assert lake.request("GET", "/")[0] == 200 or lake.request("GET", "/")[0] == 404  # UI files are public


def test_keys_survive_a_restart_and_a_second_process_sees_revocation(tmp_path):
    s = Server(tmp_path, "--auth-refresh-ms", "300", auth=True)
    admin = (s.data_dir / "admin.key").read_text().strip()
    key = create_key(s, admin, role="reader", datasets="*")
    # A second process over the same storage (another gateway) accepts the key ...
    second = tmp_path / "second"
    second.mkdir()
    os.symlink(s.data_dir, second / "data")  # the same storage
    other = Server(second, "--auth-refresh-ms", "300", auth=True)
    try:
        assert other.request("GET", "/api/v1/datasets", headers=bearer(key["key"]))[0] == 200
        # ... and refuses it within auth.refresh_ms of the first revoking it.
        assert s.request("DELETE", f"/api/v1/keys/{key['id']}", headers=bearer(admin))[0] == 200
        deadline = time.time() + 5
        while time.time() < deadline and other.request("GET", "/api/v1/datasets", headers=bearer(key["key"]))[0] != 401:
            time.sleep(0.05)
        assert other.request("GET", "/api/v1/datasets", headers=bearer(key["key"]))[0] == 401
    finally:
        other.stop()
    port = s.port
    s.stop()
    s2 = Server(tmp_path, port=port, auth=True)
    try:
        assert (s2.data_dir / "admin.key").read_text().strip() == admin, "no second admin key at a restart"
        assert s2.request("GET", "/api/v1/datasets", headers=bearer(admin))[0] == 200
        assert s2.request("GET", "/api/v1/datasets", headers=bearer(key["key"]))[0] == 401
    finally:
        s2.stop()


def test_auth_off_is_refused_on_a_non_loopback_address(tmp_path):
    r = subprocess.run([LAKEHOUSE_BIN, "serve", "--listen", "0.0.0.0:0", "--auth", "off", "--data-dir",
                        str(tmp_path / "d"), "--ai", "false"], capture_output=True, text=True, timeout=20)
    assert r.returncode == 2
    assert "auth.enabled = false is refused" in r.stderr


def test_embedding_jobs_belong_to_their_source_dataset(tmp_path):
    """A job is listed, read and cancelled only under its source's grants; a named target must be
    writable. (Its own server: the jobs need the AI sidecar, which the module's server runs without.)"""
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    s = Server(tmp_path, "--ai-home", root, "--auth-refresh-ms", "300", auth=True, ai=True)
    try:
        admin = (s.data_dir / "admin.key").read_text().strip()
        for name, data in (("a", CSV_A), ("b", CSV_B)):
            status, body = s.json("POST", f"/api/v1/datasets/{name}", data, {**bearer(admin), "Content-Type": "text/csv"})
            assert status == 201, body
        writer_a = create_key(s, admin, role="writer", datasets="a")["key"]
        post = {"Content-Type": "application/json"}
        deadline = time.time() + 90
        while True:  # the sidecar and model server start under the supervisor
            status, body = s.json("POST", "/api/v1/datasets/b/embeddings", json.dumps({"column": "secret"}).encode(),
                                  {**bearer(admin), **post})
            if status == 202 or time.time() > deadline:
                break
            time.sleep(1)
        assert status == 202, body
        job_b = body["id"]
        status, body = s.json("POST", "/api/v1/datasets/a/embeddings", json.dumps({"column": "secret"}).encode(),
                              {**bearer(writer_a), **post})
        assert status == 202, body
        job_a = body["id"]

        status, body = s.json("GET", "/api/v1/ai/jobs", headers=bearer(writer_a))
        assert status == 200, body
        assert [j["id"] for j in body["jobs"]] == [job_a]
        assert {j["id"] for j in s.json("GET", "/api/v1/ai/jobs", headers=bearer(admin))[1]["jobs"]} == {job_a, job_b}
        for method in ("GET", "DELETE"):
            status, body = s.json(method, f"/api/v1/ai/jobs/{job_b}", headers=bearer(writer_a))
            assert status == 403, (method, body)
            assert "'b'" in body["error"]["message"] and "bravo" not in json.dumps(body)
        assert s.json("GET", f"/api/v1/ai/jobs/{job_a}", headers=bearer(writer_a))[0] == 200

        # A named target outside the key's grants is refused before anything runs or is written.
        status, body = s.json("POST", "/api/v1/datasets/a/embeddings",
                              json.dumps({"column": "secret", "target": "b_vectors", "wait": True}).encode(),
                              {**bearer(writer_a), **post})
        assert status == 403, body
        assert "b_vectors" in body["error"]["message"]
        assert s.json("GET", "/api/v1/datasets/b_vectors", headers=bearer(admin))[0] == 404
    finally:
        s.stop()
