"""The project's one Python test helper module (stdlib only): the real `lakehouse` binary as a child
process (Server), free ports, and the radosgw backend settings. Importable as `lakehouse_testing`
from every pytest suite (the root pytest.ini puts tests/pyhelpers on the path) and from scripts run
with PYTHONPATH=tests/pyhelpers."""
import json
import os
import pathlib
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


# ---- Deployments (issue 9): the same suites against `lakehouse serve` or a multi-process `lakehouse up` ----

#: "embedded" (`lakehouse serve`, one process) or "multi" (`lakehouse up`: one process per service on
#: loopback, talking gRPC). ctest registers the HTTP suites once per deployment (lakehouse_add_pytest MULTI).
DEPLOYMENT = os.environ.get("LAKEHOUSE_TEST_DEPLOYMENT", "embedded")
#: queryd replicas of a multi-process test deployment (the gateway round-robins over them).
QUERYD_REPLICAS = int(os.environ.get("LAKEHOUSE_TEST_QUERYD_REPLICAS", "2"))
#: The other services a multi-process test deployment runs as processes (aibridge and search too when
#: the server has AI); a service left out runs inside the gateway.
DEPLOY_SERVICES = os.environ.get("LAKEHOUSE_TEST_SERVICES", "storaged,catalogd,ingest").split(",")


def deploy_port(taken=None) -> int:
    """A free 127.0.0.1 port below the kernel's ephemeral range (32768+), where outgoing connections
    take their local ports: a deployment's processes bind theirs seconds after they were picked.
    `taken`: ports picked already for the same deployment (none of them is picked again; the port is
    added to it)."""
    import random
    while True:
        port = random.randint(20000, 32000)
        if taken is not None and port in taken:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        if taken is not None:
            taken.add(port)
        return port


def write_deployment(path, port, ai=False, replicas=None, restart_backoff_ms=500):
    """A deployment file for `lakehouse up` on loopback: the gateway on `port`, every service on a free
    port with its own metrics listener. Returns {role: address} and {role: metrics address} (queryd: lists)."""
    replicas = QUERYD_REPLICAS if replicas is None else replicas
    roles = list(DEPLOY_SERVICES) + (["aibridge", "search"] if ai else [])
    # Distinct ports: picked at random one by one, two listeners of one deployment drew the same port
    # now and then (a process then failed to bind it, and a stranger answered there).
    taken = {port}
    services = {r: f"127.0.0.1:{deploy_port(taken)}" for r in roles}
    services["queryd"] = [f"127.0.0.1:{deploy_port(taken)}" for _ in range(replicas)]
    metrics = {r: f"127.0.0.1:{deploy_port(taken)}" for r in roles}
    metrics["queryd"] = [f"127.0.0.1:{deploy_port(taken)}" for _ in range(replicas)]

    def toml_value(v):
        return "[" + ", ".join(f'"{x}"' for x in v) + "]" if isinstance(v, list) else f'"{v}"'
    lines = ["[server]", f'listen = "127.0.0.1:{port}"', "", "[services]"]
    lines += [f"{k} = {toml_value(v)}" for k, v in services.items()]
    lines += ["", "[deploy]", f"restart_backoff_ms = {restart_backoff_ms}", "", "[deploy.metrics]"]
    lines += [f"{k} = {toml_value(v)}" for k, v in metrics.items()]
    path.write_text("\n".join(lines) + "\n")
    return services, metrics


def deployment_addresses(port, services):
    """Every address a deployment's processes bind (the gateway's HTTP port and each service's gRPC port)."""
    out = {f"127.0.0.1:{port}"}
    for v in (services or {}).values():
        out.update(v if isinstance(v, list) else [v])
    return out


def server_argv(port, data_dir, scratch_dir, extra_args=(), ai=False, auth=False, deployment=None, **deploy_kw):
    """The command line of a test server on 127.0.0.1:`port`: `lakehouse serve`, or in the multi deployment
    `lakehouse up` with a generated deployment file in `scratch_dir`. Returns (argv, services, metrics)."""
    deployment = deployment or DEPLOYMENT
    common = ["--data-dir", str(data_dir), "--ai", "true" if ai else "false", "--auth", "true" if auth else "false",
              *extra_args]
    if deployment == "embedded":
        return [LAKEHOUSE_BIN, "serve", "--listen", f"127.0.0.1:{port}", *common], None, None
    if deployment != "multi":
        raise ValueError(f"LAKEHOUSE_TEST_DEPLOYMENT must be embedded or multi, not {deployment!r}")
    config = pathlib.Path(scratch_dir) / f"deploy-{port}.toml"
    services, metrics = write_deployment(config, port, ai=ai, **deploy_kw)
    return [LAKEHOUSE_BIN, "up", "--config", str(config), *common], services, metrics


def bound_addresses(log_path):
    """The addresses the processes logging to `log_path` bound: the gateway's "listening", a service's "serving"."""
    out = set()
    for line in pathlib.Path(log_path).read_text(errors="replace").splitlines():
        if '"listening"' in line or '"serving"' in line:
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            out.add(entry.get("address") or entry.get("listen"))
    return out


def wait_healthy(base, proc, timeout, log_path=None, expect=()):
    """Waits until the server at `base` answers /health and, in a multi-process deployment, reaches
    every service it calls; raises RuntimeError when `proc` exits or `timeout` s pass. With `log_path`
    (`lakehouse up`'s log), also until its processes logged binding every address in `expect`: a
    port picked free may be taken by another test before a process binds it, and then a stranger
    would answer there."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        if log_path is not None and not set(expect) <= bound_addresses(log_path):
            time.sleep(0.1)
            continue
        try:
            body = json.loads(urllib.request.urlopen(base + "/health", timeout=1).read())
            remote = [v for v in body.get("services", {}).values() if isinstance(v, dict) and v.get("remote")]
            if all(v.get("status") == "ok" for v in remote):
                return
        except (urllib.error.URLError, ConnectionError, ValueError, OSError):
            pass
        time.sleep(0.05)
    raise RuntimeError(f"server did not come up within {timeout} s")


class Server:
    """A test server on a free port, its stdout captured to a file: `lakehouse serve`, or with
    deployment="multi" (default: LAKEHOUSE_TEST_DEPLOYMENT) `lakehouse up`, every service its own
    process (their JSON logs all go to the same file). `deploy_kw` go to write_deployment."""

    def __init__(self, tmp_path, *extra_args, env=None, port=None, ai=False, auth=False, deployment=None,
                 flight=False, **deploy_kw):
        self.deployment = deployment or DEPLOYMENT
        #: Arrow Flight SQL (--flight-listen) on its own free port when `flight` is set.
        self.flight_port = free_port() if flight else None
        self.flight_uri = f"grpc://127.0.0.1:{self.flight_port}" if flight else None
        if flight:
            extra_args = ("--flight-listen", f"127.0.0.1:{self.flight_port}", *extra_args)
        self.data_dir = tmp_path / "data"
        env = {**os.environ, **(env or {})}
        # A deployment's ports are picked before its processes bind them: when one was taken
        # meanwhile, it does not come up; start again on other ports (a given `port` is kept).
        attempts = 1 if self.deployment == "embedded" else 3
        for attempt in range(attempts):
            self.port = port or (free_port() if self.deployment == "embedded" else deploy_port())
            self.base = f"http://127.0.0.1:{self.port}"
            self.log_path = tmp_path / f"server-{self.port}.log"
            args, self.services, self.metrics = server_argv(self.port, self.data_dir, tmp_path, extra_args, ai=ai,
                                                            auth=auth, deployment=self.deployment, **deploy_kw)
            self.log = open(self.log_path, "wb")
            self.proc = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT, env=env)
            try:
                if self.deployment == "embedded":
                    wait_healthy(self.base, self.proc, 20)
                else:
                    wait_healthy(self.base, self.proc, 45 if attempt + 1 < attempts else 90, self.log_path,
                                 deployment_addresses(self.port, self.services))
                return
            except RuntimeError as e:
                self.stop()
                if attempt + 1 == attempts:
                    raise RuntimeError(f"{e}: {self.log_path.read_text()[-5000:]}") from None

    def pids(self):
        """Multi deployment: {process name: pid} of the processes `lakehouse up` runs now (from its log)."""
        out = {}
        for line in self.log_lines():
            if line.get("msg") == "process started":
                out[line["process"]] = line["pid"]
            elif line.get("msg") in ("process exited; restarting", "process stopped"):
                out.pop(line.get("process"), None)
        return out

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

    def stop(self, sig=15, timeout=None):
        timeout = timeout or (20 if self.deployment == "embedded" else 60)
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        return self.proc.returncode
