"""What the bench scripts' Python parts share: wait for a server, call its JSON API (stdlib only).
The scripts put bench/ on PYTHONPATH (bench/lib.sh's BENCH_PYTHONPATH)."""
import json
import time
import urllib.request


class Api:
    """A running `lakehouse serve` at 127.0.0.1:port; waits until /health answers (10 s)."""

    def __init__(self, port):
        self.base = f"http://127.0.0.1:{port}"
        for _ in range(200):
            try:
                urllib.request.urlopen(self.base + "/health", timeout=1).read()
                return
            except Exception:
                time.sleep(0.05)
        raise RuntimeError(f"no server at {self.base}")

    def call(self, method, path, body=None, headers=None):
        """The parsed JSON answer; raises on an HTTP error."""
        req = urllib.request.Request(self.base + path, data=body, method=method, headers=headers or {})
        with urllib.request.urlopen(req, timeout=600) as r:
            return json.loads(r.read())
