#!/usr/bin/env python3
"""Runs sqllogictest-style .test files through the real HTTP API of the `lakehouse` binary.

    run_sql_tests.py --lakehouse BIN [--storage local|s3] [--s3-env FILE] FILE.test...

Each run starts its own server on 127.0.0.1 (a free port, a fresh data dir; with --storage s3 a
fresh bucket on the radosgw named in the env file), uploads the datasets the files ask for
through POST /api/v1/datasets/{name}, and runs every statement through POST /api/v1/query.

File format (one record per block, blocks separated by blank lines; '#' starts a comment):

    load NAME [create|append|replace] [allow_schema_change] [partition_by=a,b]
                                         upload the CSV lines that follow (header first)
    generate NAME ROWS                   upload ROWS generated rows: id, grp (id % 10),
                                         val (id * 0.5), name ('name_' || id)
    statement ok                         the SQL that follows succeeds
    statement error [STATUS]             the SQL fails (with that HTTP status); after a line
    SQL                                  '----', a substring the error message must contain
    ----
    message substring
    query TYPES [rowsort] [scanned<=N] [pruned>=N]
    SQL                                  one letter per column (I integer, R real/decimal, T text,
    ----                                 B boolean, D date/time, N nested); after '----' the rows,
    1<TAB>x                              columns separated by tabs (or, with no tab, by spaces);
                                         scanned/pruned bound the stats' objects_scanned/_pruned
    preview NAME LIMIT TYPES             GET /api/v1/datasets/NAME/preview?limit=LIMIT; rows follow '----'
    ----
    delete NAME                          DELETE /api/v1/datasets/NAME (a tombstone version)
    timeout MS                           the next statement/query is sent with timeout_ms = MS

Values compare as text: NULL for null, true/false, numbers as JSON writes them, strings as they
are, "(empty)" for the empty string, nested values as compact JSON.
"""
import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid

# The shared test helpers: a multi-process deployment when LAKEHOUSE_TEST_DEPLOYMENT=multi (issue 9).
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "tests", "pyhelpers"))
import lakehouse_testing  # noqa: E402


class Failure(Exception):
    pass


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def read_env(path):
    env = {}
    with open(path) as f:
        for line in f:
            if "=" in line:
                k, v = line.strip().split("=", 1)
                env[k] = v
    return env


class Server:
    def __init__(self, binary, storage, s3_env):
        self.dir = tempfile.mkdtemp(prefix="lh-sqltest-")
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        extra = []
        if storage == "s3":
            env = read_env(s3_env)
            extra = ["--storage", "s3", "--s3-endpoint", env["S3_ENDPOINT"],
                     "--s3-bucket", "sqltest-" + uuid.uuid4().hex[:12],
                     "--s3-access-key", env["S3_ACCESS_KEY"], "--s3-secret-key", env["S3_SECRET_KEY"],
                     "--s3-region", env.get("S3_REGION", "us-east-1")]
        lakehouse_testing.LAKEHOUSE_BIN = binary
        multi = lakehouse_testing.DEPLOYMENT == "multi"
        if multi:
            self.port = lakehouse_testing.deploy_port()
            self.url = f"http://127.0.0.1:{self.port}"
        args, services, _ = lakehouse_testing.server_argv(self.port, self.dir, self.dir, extra)
        log_path = os.path.join(self.dir, "server.log")
        self.log = open(log_path, "w")
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT)
        try:
            if multi:
                lakehouse_testing.wait_healthy(self.url, self.proc, 90, log_path,
                                               lakehouse_testing.deployment_addresses(self.port, services))
            else:
                lakehouse_testing.wait_healthy(self.url, self.proc, 30)
        except RuntimeError as e:
            tail = self.tail()
            self.stop()
            raise Failure(f"{e}: {tail}") from None

    def tail(self):
        self.log.flush()
        with open(os.path.join(self.dir, "server.log")) as f:
            return f.read()[-3000:]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20 if lakehouse_testing.DEPLOYMENT == "embedded" else 60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def request(self, method, path, body=None, headers=None):
        req = urllib.request.Request(self.url + path, data=body, method=method, headers=headers or {})
        try:
            with urllib.request.urlopen(req, timeout=120) as resp:
                return resp.status, resp.read(), resp.headers.get("Content-Type", "")
        except urllib.error.HTTPError as e:
            return e.code, e.read(), e.headers.get("Content-Type", "")


def render(value):
    if value is None:
        return "NULL"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, str):
        return value if value != "" else "(empty)"
    if isinstance(value, (int, float)):
        return json.dumps(value)
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def split_expected(line, ncols):
    if "\t" in line:
        return line.split("\t")
    if ncols == 1:
        return [line]
    return line.split()


def parse_blocks(path):
    with open(path) as f:
        lines = f.read().split("\n")
    blocks, current, start = [], [], 0
    for number, line in enumerate(lines, 1):
        if line.strip() == "":
            if current:
                blocks.append((start, current))
                current = []
            continue
        if line.startswith("#") and not current:
            continue
        if not current:
            start = number
        current.append(line)
    if current:
        blocks.append((start, current))
    return blocks


class Runner:
    def __init__(self, server):
        self.server = server
        self.timeout_ms = None
        self.count = 0

    def upload(self, name, op, csv_text, schema_change=False, partition_by=None):
        path = f"/api/v1/datasets/{name}" + ("/append" if op == "append" else "")
        method = "PUT" if op == "replace" else "POST"
        query = "?format=csv" + ("&allow_schema_change=1" if schema_change else "")
        if partition_by is not None:
            query += "&partition_by=" + partition_by
        status, body, _ = self.server.request(method, path + query, csv_text.encode(),
                                              {"Content-Type": "text/csv"})
        if status not in (200, 201):
            raise Failure(f"upload of {name} ({op}) failed: {status} {body[:500]!r}")

    def query(self, sql):
        payload = {"sql": sql, "format": "json"}
        if self.timeout_ms is not None:
            payload["timeout_ms"] = self.timeout_ms
            self.timeout_ms = None
        status, body, ctype = self.server.request("POST", "/api/v1/query", json.dumps(payload).encode(),
                                                  {"Content-Type": "application/json"})
        return status, body, ctype

    def check_rows(self, result, types, sort, expected_lines, where):
        columns = result["columns"]
        if len(types) != len(columns):
            raise Failure(f"{where}: query has {len(columns)} columns, the test says {len(types)} ({types})")
        actual = [[render(v) for v in row] for row in result["rows"]]
        expected = [split_expected(line, len(columns)) for line in expected_lines]
        if sort:
            actual.sort()
            expected.sort()
        if actual != expected:
            got = "\n".join("\t".join(r) for r in actual[:50])
            want = "\n".join("\t".join(r) for r in expected[:50])
            raise Failure(f"{where}: rows differ\n--- expected\n{want}\n--- actual\n{got}")

    def run_block(self, where, lines):
        head = lines[0].split()
        kind = head[0]
        if kind == "load":
            op = head[2] if len(head) > 2 and "=" not in head[2] else "create"
            partition_by = next((h.split("=", 1)[1] for h in head[2:] if h.startswith("partition_by=")), None)
            self.upload(head[1], op, "\n".join(lines[1:]) + "\n", "allow_schema_change" in head[3:], partition_by)
        elif kind == "generate":
            rows = int(head[2])
            text = ["id,grp,val,name"] + [f"{i},{i % 10},{i * 0.5},name_{i}" for i in range(rows)]
            self.upload(head[1], "create", "\n".join(text) + "\n")
        elif kind == "delete":
            status, body, _ = self.server.request("DELETE", f"/api/v1/datasets/{head[1]}")
            if status != 200:
                raise Failure(f"{where}: delete of {head[1]} failed: {status} {body[:300]!r}")
        elif kind == "timeout":
            self.timeout_ms = int(head[1])
            return
        elif kind == "statement":
            sql, message = split_sql(lines[1:])
            status, body, _ = self.query(sql)
            if head[1] == "ok":
                if status != 200:
                    raise Failure(f"{where}: expected success, got {status}: {body[:500]!r}")
            elif head[1] == "error":
                want_status = int(head[2]) if len(head) > 2 else None
                if status == 200:
                    raise Failure(f"{where}: expected an error, the statement succeeded")
                if want_status is not None and status != want_status:
                    raise Failure(f"{where}: expected HTTP {want_status}, got {status}: {body[:500]!r}")
                error = json.loads(body)["error"]["message"]
                for needle in message:
                    if needle not in error:
                        raise Failure(f"{where}: error message lacks {needle!r}: {error!r}")
            else:
                raise Failure(f"{where}: unknown statement kind {head[1]!r}")
        elif kind == "query":
            types = head[1]
            sort = "rowsort" in head[2:]
            sql, expected = split_sql(lines[1:])
            status, body, ctype = self.query(sql)
            if status != 200:
                raise Failure(f"{where}: query failed with {status}: {body[:500]!r}")
            if not ctype.startswith("application/json"):
                raise Failure(f"{where}: content type {ctype}")
            result = json.loads(body)
            self.check_rows(result, types, sort, expected, where)
            stats = result["stats"]
            for option in head[2:]:
                if option.startswith("scanned<="):
                    if stats["objects_scanned"] > int(option[len("scanned<="):]):
                        raise Failure(f"{where}: the query opened {stats['objects_scanned']} objects ({option}): {stats}")
                elif option.startswith("pruned>="):
                    if stats["objects_pruned"] < int(option[len("pruned>="):]):
                        raise Failure(f"{where}: the query pruned {stats['objects_pruned']} objects ({option}): {stats}")
        elif kind == "preview":
            name, limit, types = head[1], head[2], head[3]
            status, body, _ = self.server.request("GET", f"/api/v1/datasets/{name}/preview?limit={limit}")
            if status != 200:
                raise Failure(f"{where}: preview failed with {status}: {body[:500]!r}")
            self.check_rows(json.loads(body), types, False, lines[2:] if lines[1] == "----" else lines[1:], where)
        else:
            raise Failure(f"{where}: unknown record {kind!r}")
        self.count += 1


def split_sql(lines):
    if "----" in lines:
        i = lines.index("----")
        return "\n".join(lines[:i]), lines[i + 1:]
    return "\n".join(lines), []


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--lakehouse", required=True)
    parser.add_argument("--storage", default="local", choices=["local", "s3"])
    parser.add_argument("--s3-env", default=os.environ.get("LAKEHOUSE_S3_ENV_FILE"))
    parser.add_argument("files", nargs="+")
    args = parser.parse_args()
    if args.storage == "s3" and not args.s3_env:
        print("--storage s3 needs --s3-env or LAKEHOUSE_S3_ENV_FILE", file=sys.stderr)
        return 2
    failures = 0
    for path in args.files:
        server = Server(args.lakehouse, args.storage, args.s3_env)
        runner = Runner(server)
        name = os.path.basename(path)
        try:
            for start, lines in parse_blocks(path):
                runner.run_block(f"{name}:{start}", lines)
            print(f"ok   {name} ({runner.count} records, {args.storage})")
        except Failure as e:
            failures += 1
            print(f"FAIL {e}\n--- server log tail\n{server.tail()}", file=sys.stderr)
        finally:
            server.stop()
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
