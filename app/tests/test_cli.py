"""The `lakehouse` client commands (app/src/cli/) against a real server: sql (one-shot, piped script,
interactive shell in a pty), datasets, describe, upload (progress only on a terminal), download."""
import json
import os
import re
import pty
import select
import subprocess
import time

import pytest

from lakehouse_testing import LAKEHOUSE_BIN, Server, free_port

CSV = "id,name,amount\n1,alice,10.5\n2,bob,20.25\n3,\"carol, jr\",7\n"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("cli")
    s = Server(tmp)
    src = tmp / "sales.csv"
    src.write_text(CSV)
    r = lh("upload", str(src), "sales", "--url", s.base)
    assert r.returncode == 0, r.stderr
    yield s
    s.stop()


def lh(*args, stdin=None, env=None):
    return subprocess.run([LAKEHOUSE_BIN, *args], input=stdin, capture_output=True, text=True, timeout=60,
                          env={**os.environ, "COLUMNS": "120", **(env or {})})


def test_upload_reports_the_new_version_without_progress_when_piped(server, tmp_path):
    f = tmp_path / "more.csv"
    f.write_text("id,name,amount\n4,dave,1.5\n")
    r = lh("upload", str(f), "sales", "--append", "--url", server.base)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("sales v2: 4 rows"), r.stdout
    assert "\r" not in r.stderr and "ETA" not in r.stderr
    # restore v1 content for the other tests
    src = tmp_path / "orig.csv"
    src.write_text(CSV)
    r = lh("upload", str(src), "sales", "--replace", "--url", server.base)
    assert r.returncode == 0 and "sales v3: 3 rows" in r.stdout, r.stdout + r.stderr


def test_upload_errors_and_usage(server, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n3,4,5\n")
    r = lh("upload", str(bad), "broken", "--url", server.base)
    assert r.returncode == 1
    assert r.stderr.startswith("lakehouse: ") and "broken" not in json.loads(
        subprocess.run(["curl", "-s", server.base + "/api/v1/datasets"], capture_output=True, text=True).stdout
    )["datasets"].__repr__()
    r = lh("upload", str(bad), "x", "--append", "--replace", "--url", server.base)
    assert r.returncode == 2 and "exclude" in r.stderr
    r = lh("upload", str(tmp_path / "missing.csv"), "x", "--url", server.base)
    assert r.returncode == 2 and "cannot read" in r.stderr


def test_upload_shows_progress_on_a_terminal(server, tmp_path):
    f = tmp_path / "big.csv"
    f.write_text("id,v\n" + "".join(f"{i},{i * 3}\n" for i in range(300000)))
    out = run_in_pty([LAKEHOUSE_BIN, "upload", str(f), "big", "--url", server.base], b"")
    assert "ETA" in out or "converting" in out, out
    assert "%" in out and "big v1: 300000 rows" in out, out


def test_sql_table_output(server):
    r = lh("sql", "--url", server.base, "SELECT id, name, amount FROM sales ORDER BY id")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].startswith("┌") and lines[-2].startswith("└")
    assert "carol, jr" in r.stdout and "3 rows" in lines[-1]
    assert any(re.match(r"│ +1 │ alice +│ +10\.5 │$", l) for l in lines), r.stdout  # numbers right-aligned
    widths = {len(l) for l in lines[:-1]}
    assert len(widths) == 1, "table rows are not aligned"


def test_sql_table_fits_the_terminal_width(server):
    wide = "SELECT '" + "x" * 200 + "' AS a, 1 AS b"
    r = lh("sql", "--url", server.base, wide, env={"COLUMNS": "60"})
    assert r.returncode == 0
    assert max(len(l) for l in r.stdout.splitlines()) <= 60, r.stdout
    assert "…" in r.stdout


def test_sql_formats_match_the_server(server):
    sql = "SELECT id, name, amount FROM sales ORDER BY id"
    csv = lh("sql", "--url", server.base, "--format", "csv", sql)
    direct = subprocess.run(["curl", "-s", server.base + "/api/v1/query", "-d", json.dumps({"sql": sql, "format": "csv"})],
                            capture_output=True, text=True).stdout
    assert csv.returncode == 0 and csv.stdout == direct
    js = json.loads(lh("sql", "--url", server.base, "-f", "json", sql).stdout)
    assert js["rows"][2][1] == "carol, jr"
    arrow = subprocess.run([LAKEHOUSE_BIN, "sql", "--url", server.base, "-f", "arrow", sql], capture_output=True)
    assert arrow.returncode == 0 and arrow.stdout[:4] == b"\xff\xff\xff\xff"


def test_sql_errors_exit_codes(server):
    r = lh("sql", "--url", server.base, "SELEC 1")
    assert r.returncode == 1 and "syntax error" in r.stderr
    r = lh("sql", "--url", server.base, "SELECT * FROM nope")
    assert r.returncode == 1 and "nope" in r.stderr
    r = lh("sql", "--url", f"http://127.0.0.1:{free_port()}", "SELECT 1")
    assert r.returncode == 3 and "cannot reach" in r.stderr
    r = lh("sql", "--url", server.base, "--format", "xml", "SELECT 1")
    assert r.returncode == 2


def test_url_from_environment(server):
    r = lh("datasets", env={"LAKEHOUSE_URL": server.base})
    assert r.returncode == 0 and "sales" in r.stdout
    r = lh("datasets", "-f", "csv", env={"LAKEHOUSE_URL": server.base})
    assert r.stdout.splitlines()[0] == "name,rows,bytes,version,updated"
    assert any(l.startswith("sales,3,") for l in r.stdout.splitlines()), r.stdout


def test_describe(server):
    r = lh("describe", "sales", "--url", server.base)
    assert r.returncode == 0, r.stderr
    for text in ["id", "BIGINT", "name", "VARCHAR", "amount", "DOUBLE", "create"]:
        assert text in r.stdout, (text, r.stdout)
    r = lh("describe", "nosuch", "--url", server.base)
    assert r.returncode == 1 and "nosuch" in r.stderr


def test_download_matches_the_stored_parquet(server, tmp_path):
    target = tmp_path / "sales.parquet"
    r = lh("download", "sales", str(target), "--url", server.base)
    assert r.returncode == 0, r.stderr
    data = target.read_bytes()
    assert data[:4] == b"PAR1" and data[-4:] == b"PAR1"
    direct = subprocess.run(["curl", "-s", server.base + "/api/v1/datasets/sales/data"], capture_output=True).stdout
    assert data == direct
    r = lh("download", "nosuch", str(tmp_path / "x.parquet"), "--url", server.base)
    assert r.returncode == 1 and not (tmp_path / "x.parquet").exists() and not (tmp_path / "x.parquet.part").exists()


def test_piped_script_runs_each_statement(server):
    script = "SELECT 1 AS a;\n.tables\nSELECT\n  2 AS b;\nSELEC oops;\nSELECT 3 AS c"
    r = lh("sql", "--url", server.base, stdin=script)
    assert r.returncode == 1  # one statement failed, the others still ran
    for col in "abc":
        assert re.search(rf"│ +{col} +│", r.stdout), (col, r.stdout)
    assert "sales" in r.stdout
    assert "syntax error" in r.stderr


def run_in_pty(argv, keystrokes, env=None, wait_for=None, timeout=30):
    """Runs argv on a pseudo-terminal, types `keystrokes` (a list of (expect, send) pairs or bytes)."""
    pid, fd = pty.fork()
    if pid == 0:
        os.execve(argv[0], argv, {**os.environ, "TERM": "dumb", **(env or {})})
    out = b""
    deadline = time.time() + timeout

    def read_until(pattern):
        nonlocal out
        while time.time() < deadline:
            if pattern is not None and pattern in out:
                return
            r, _, _ = select.select([fd], [], [], 0.2)
            if r:
                try:
                    chunk = os.read(fd, 65536)
                except OSError:
                    return
                if not chunk:
                    return
                out += chunk
        if pattern is not None:
            raise AssertionError(f"timed out waiting for {pattern!r}: {out.decode(errors='replace')}")

    if isinstance(keystrokes, bytes):
        if keystrokes:
            os.write(fd, keystrokes)
    else:
        for expect, send in keystrokes:
            read_until(expect)
            os.write(fd, send)
    read_until(None)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, out.decode(errors="replace")
    return out.decode(errors="replace")


def test_interactive_shell(server, tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    steps = [
        (b"lakehouse> ", b"SELECT 40 +\r"),
        (b"...> ", b"2 AS answer;\r"),
        (b"42", b".tables\r"),
        (b"sales", b".schema sales\r"),
        (b"amount", b".timer on\r"),
        (b"lakehouse> ", b"SELECT 'x;y' AS s;\r"),
        (b"Run Time", b"SELEC 1;\r"),
        (b"syntax error", b".quit\r"),
    ]
    out = run_in_pty([LAKEHOUSE_BIN, "sql", "--url", server.base], steps, env={"HOME": str(home)})
    assert "x;y" in out
    history = (home / ".lakehouse_history").read_text().replace("\\040", " ")  # libedit's encoding
    assert "SELECT 'x;y' AS s;" in history
