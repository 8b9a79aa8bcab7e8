"""The project's one Python test helper module (stdlib only): the real `lakehouse` binary as a child
process (Server), free ports, and the radosgw backend settings. Importable as `lakehouse_testing`
from every pytest suite (the root pytest.ini puts tests/pyhelpers on the path) and from scripts run
with PYTHONPATH=tests/pyhelpers."""
import json
import os
import socket
import subprocess
import time
import urllib.error
import urllib.request

LAKEHOUSE_BIN = os.environ.get("LAKEHOUSE_BIN", "build/app/lakehouse")


def s3_env():
    """The running radosgw's settings (ctest fixture `rgw` writes LAKEHOUSE_S3_ENV_FILE), or None."""
    path = os.environ.get("LAKEHOUSE_S3_ENV_FILE")
    if not path:
        return None
    with open(path) as f:
        return dict(line.rstrip("\n").split("=", 1) for line in f if "=" in line)


def s3_args(bucket_prefix):
    """`lakehouse serve` flags for a fresh bucket on the running radosgw."""
    env = s3_env()
    bucket = bucket_prefix + "-" + os.urandom(6).hex()
    return ["--storage", "s3", "--s3-endpoint", env["S3_ENDPOINT"], "--s3-bucket", bucket,
            "--s3-access-key", env["S3_ACCESS_KEY"], "--s3-secret-key", env["S3_SECRET_KEY"],
            "--s3-region", env.get("S3_REGION", "us-east-1")]


#: The stores a backend-parametrised suite runs on: local disk, and radosgw when one is running.
BACKENDS = ["local"] + (["s3"] if os.environ.get("LAKEHOUSE_S3_ENV_FILE") else [])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A `lakehouse serve` child process on a free port, its stdout captured to a file."""

    def __init__(self, tmp_path, *extra_args, env=None, port=None, ai=False, auth=False, flight=False):
        self.port = port or free_port()
        #: Arrow Flight SQL (--flight-listen) on its own free port when `flight` is set.
        self.flight_port = free_port() if flight else None
        self.flight_uri = f"grpc://127.0.0.1:{self.flight_port}" if flight else None
        if flight:
            extra_args = ("--flight-listen", f"127.0.0.1:{self.flight_port}", *extra_args)
        self.base = f"http://127.0.0.1:{self.port}"
        self.log_path = tmp_path / f"server-{self.port}.log"
        self.data_dir = tmp_path / "data"
        args = [LAKEHOUSE_BIN, "serve", "--listen", f"127.0.0.1:{self.port}", "--data-dir", str(self.data_dir),
                "--ai", "true" if ai else "false", "--auth", "true" if auth else "false", *extra_args]
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})})
        deadline = time.time() + 20
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}: {self.log_path.read_text()}")
            try:
                urllib.request.urlopen(self.base + "/health", timeout=1).read()
                return
            except (urllib.error.URLError, ConnectionError):
                time.sleep(0.05)
        raise RuntimeError("server did not come up: " + self.log_path.read_text())

    def request(self, method, path, body=None, headers=None, timeout=30):
        """Returns (status, headers, body bytes); never raises on HTTP errors."""
        req = urllib.request.Request(self.base + path, data=body, method=method, headers=headers or {})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                return r.status, dict(r.headers), r.read()
        except urllib.error.HTTPError as e:
            return e.code, dict(e.headers), e.read()

    def json(self, method, path, body=None, headers=None):
        status, hdrs, data = self.request(method, path, body, headers)
        return status, json.loads(data) if data else None

    def log_lines(self):
        if not self.log.closed:
            self.log.flush()
        out = []
        for line in self.log_path.read_text().splitlines():
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                pass
        return out

    def stop(self, sig=15, timeout=20):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        return self.proc.returncode
