"""Fixtures: the REAL bundled model server and real sidecar processes on free 127.0.0.1 ports."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from lakehouse_testing import free_port

ROOT = Path(__file__).resolve().parents[2]
EMBED = "all-minilm:l6-v2-int8"
GEN = "smollm2:135m-instruct-q4_1"


class Proc:
    def __init__(self, args: list[str], env: dict[str, str], ready_url: str, log: Path):
        self.log = log
        self.proc = subprocess.Popen(args, env={**os.environ, **env}, cwd=ROOT,
                                     stdout=log.open("wb"), stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{args} exited: {log.read_text()[-2000:]}")
            try:
                if httpx.get(ready_url, timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"{args} did not become ready: {log.read_text()[-2000:]}")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def start_modelserver(tmp: Path, **env: str) -> tuple[Proc, str]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = Proc([sys.executable, str(ROOT / "modelserver" / "server.py"), "--port", str(port)], env,
                url + "/api/version", tmp / f"modelserver-{port}.log")
    return proc, url


def start_sidecar(tmp: Path, ollama: str, **env: str) -> tuple[Proc, str]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    base = {"OLLAMA_HOST": ollama, "EMBED_MODEL": EMBED, "GEN_MODEL": GEN, "RERANK_MODEL": ""}
    proc = Proc([sys.executable, "-m", "uvicorn", "app:app", "--app-dir", str(ROOT / "sidecar"),
                 "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
                {**base, **env}, url + "/health", tmp / f"sidecar-{port}.log")
    return proc, url


@pytest.fixture(scope="session")
def tmp_logs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("ai-logs")


@pytest.fixture(scope="session")
def modelserver(tmp_logs: Path):
    proc, url = start_modelserver(tmp_logs)
    yield url
    proc.stop()


@pytest.fixture(scope="session")
def sidecar(tmp_logs: Path, modelserver: str):
    proc, url = start_sidecar(tmp_logs, modelserver)
    yield url
    proc.stop()


@pytest.fixture(scope="session")
def client(sidecar: str):
    with httpx.Client(base_url=sidecar, timeout=120) as c:
        yield c
