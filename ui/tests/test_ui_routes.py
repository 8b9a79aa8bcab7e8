"""The gateway's web UI routes (gateway/src/routes_ui.cpp) through the real binary: content types,
cache headers, the SPA fallback, path traversal, and that API/health paths keep their meaning."""
import http.client
import json
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
from lakehouse_testing import Server


@pytest.fixture
def ui_dir(tmp_path):
    d = tmp_path / "ui"
    (d / "assets").mkdir(parents=True)
    (d / "index.html").write_text("<!doctype html><title>Lakehouse</title><div id=main></div>")
    (d / "assets" / "index-AbC123.js").write_text("console.log('app');")
    (d / "assets" / "index-AbC123.css").write_text("body{}")
    (d / "favicon.svg").write_text("<svg xmlns='http://www.w3.org/2000/svg'/>")
    (tmp_path / "secret.txt").write_text("do not serve")
    return d


@pytest.fixture
def ui_server(tmp_path, ui_dir):
    s = Server(tmp_path, "--ui-dir", str(ui_dir))
    yield s
    s.stop()


def raw_get(server, path):
    """GET with the path sent exactly as given (no client-side normalisation of '..')."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    conn.putrequest("GET", path, skip_accept_encoding=True)
    conn.endheaders()
    r = conn.getresponse()
    body = r.read()
    conn.close()
    return r.status, {k.lower(): v for k, v in r.getheaders()}, body


def test_index_is_html_and_never_cached(ui_server):
    status, headers, body = raw_get(ui_server, "/")
    assert status == 200
    assert headers["content-type"].startswith("text/html")
    assert headers["cache-control"] == "no-cache"
    assert b"<title>Lakehouse</title>" in body


def test_hashed_assets_are_immutable_with_their_types(ui_server):
    status, headers, body = raw_get(ui_server, "/assets/index-AbC123.js")
    assert status == 200 and body == b"console.log('app');"
    assert headers["content-type"].startswith("text/javascript")
    assert "immutable" in headers["cache-control"] and "max-age=31536000" in headers["cache-control"]
    status, headers, _ = raw_get(ui_server, "/assets/index-AbC123.css")
    assert status == 200 and headers["content-type"].startswith("text/css")
    status, headers, _ = raw_get(ui_server, "/favicon.svg")
    assert status == 200 and headers["content-type"] == "image/svg+xml"


def test_app_pages_fall_back_to_index(ui_server):
    for path in ["/datasets", "/datasets/sales", "/sql", "/sql?q=SELECT%201", "/upload", "/status", "/search"]:
        status, headers, body = raw_get(ui_server, path)
        assert status == 200, path
        assert headers["content-type"].startswith("text/html"), path
        assert b"<title>Lakehouse</title>" in body, path


def test_api_and_health_keep_their_meaning(ui_server):
    status, headers, body = raw_get(ui_server, "/api/v1/nope")
    assert status == 404 and headers["content-type"].startswith("application/json")
    assert json.loads(body)["error"]["code"] == "not_found"
    status, _, body = raw_get(ui_server, "/health")
    assert status == 200 and json.loads(body)["status"] in ("ok", "degraded")
    status, _, body = raw_get(ui_server, "/api/v1/datasets")
    assert status == 200 and json.loads(body) == {"datasets": []}


def test_missing_files_and_traversal_are_404(ui_server):
    for path in ["/assets/nope.js", "/assets/../secret.txt", "/assets/%2e%2e/%2e%2e/secret.txt",
                 "/assets/..%2f..%2fsecret.txt", "/assets/%2e%2e%2f%2e%2e%2fsecret.txt", "/assets/.",
                 "/assets//etc/passwd", "/assets/..\\secret.txt"]:
        status, headers, body = raw_get(ui_server, path)
        assert status == 404, (path, status, body)
        assert b"do not serve" not in body
        assert headers["content-type"].startswith("application/json"), path


def test_unbuilt_ui_says_how_to_build_it(tmp_path):
    s = Server(tmp_path, "--ui-dir", str(tmp_path / "missing"))
    try:
        status, headers, body = raw_get(s, "/")
        assert status == 404
        err = json.loads(body)["error"]
        assert err["code"] == "not_found" and "not built" in err["message"]
    finally:
        s.stop()


@pytest.mark.skipif(not (ROOT / "ui" / "dist" / "index.html").exists(), reason="ui/dist not built")
def test_default_dir_is_the_built_ui_found_above_the_binary(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "LAKEHOUSE_UI_DIR"}
    s = Server(tmp_path, env=env)
    try:
        status, headers, body = raw_get(s, "/")
        assert status == 200, body
        built = (ROOT / "ui" / "dist" / "index.html").read_bytes()
        assert body == built
        script = next(p for p in (ROOT / "ui" / "dist" / "assets").iterdir() if p.suffix == ".js")
        status, headers, _ = raw_get(s, "/assets/" + script.name)
        assert status == 200 and "immutable" in headers["cache-control"]
    finally:
        s.stop()
