"""Runs the Playwright browser test (browser.mjs, Debian Chromium headless) against a real
`lakehouse serve` on a free 127.0.0.1 port, serving the built UI (ui/dist)."""
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
from lakehouse_testing import Server


def run_browser_script(tmp_path, script, ai=False, auth=False):
    """Starts the real server on the built UI and runs one Playwright script against it (with auth
    on, the script also gets the path of the first admin key the server wrote)."""
    dist = ROOT / "ui" / "dist"
    assert (dist / "index.html").exists(), "ui/dist is not built: run scripts/setup.d/50-ui.sh"
    artifacts = os.environ.get("LAKEHOUSE_ARTIFACTS", str(ROOT / "ui" / "test-artifacts"))
    server = Server(tmp_path, "--ui-dir", str(dist), ai=ai, auth=auth)
    extra = [str(server.data_dir / "admin.key")] if auth else []
    try:
        r = subprocess.run(["node", str(ROOT / "ui" / "tests" / script), server.base, artifacts, *extra],
                           cwd=ROOT / "ui", capture_output=True, text=True, timeout=240)
        print(r.stdout)
        print(r.stderr, file=sys.stderr)
        assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    finally:
        server.stop()


def test_browser(tmp_path):
    run_browser_script(tmp_path, "browser.mjs")


def test_browser_semantic_search(tmp_path):
    """The search page with AI on (bundled embedding model): embed a column, search, see the row."""
    run_browser_script(tmp_path, "browser_ai.mjs", ai=True)


def test_browser_upload_cancel_and_parquet_export(tmp_path):
    """Cancel a large upload mid-send (nothing visible, server fine), then export a result as Parquet."""
    run_browser_script(tmp_path, "browser_upload.mjs")


def test_browser_auth(tmp_path):
    """Auth on: key prompt, rejected key, admin key, a reader's 403s, the key across reload/context."""
    run_browser_script(tmp_path, "browser_auth.mjs", auth=True)
