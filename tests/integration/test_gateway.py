"""Phase 0 gate through the real binary: health, errors, limits, request ids, logs, shutdown."""
import json
import os
import subprocess
import time

from lakehouse_testing import LAKEHOUSE_BIN, Server


def test_health_is_ok_and_lists_services(server):
    status, body = server.json("GET", "/health")
    assert status == 200
    assert body["status"] == "ok"
    assert body["version"]
    assert "storaged" in body["services"], body
    assert body["services"]["storaged"]["backend"] == "local"


def test_ready_when_services_are_ready(server):
    status, body = server.json("GET", "/ready")
    assert status == 200, body
    assert body["ready"] is True


def test_unknown_route_is_404_json(server):
    status, headers, data = server.request("GET", "/no/such/route")
    assert status == 404
    err = json.loads(data)["error"]
    assert err["code"] == "not_found"
    assert "/no/such/route" in err["message"]
    assert err["request_id"] == headers["X-Request-Id"]


def test_wrong_method_is_405(server):
    status, headers, data = server.request("DELETE", "/health")
    assert status == 405
    assert headers["Allow"] == "GET"
    assert json.loads(data)["error"]["code"] == "method_not_allowed"


def test_body_over_limit_is_413(tmp_path):
    s = Server(tmp_path, "--max-body-bytes", "1024")
    try:
        status, _, data = s.request("POST", "/api/v1/query", body=b"x" * 4096,
                                    headers={"Content-Type": "application/json"})
        assert status == 413
        assert json.loads(data)["error"]["code"] == "payload_too_large"
    finally:
        s.stop()


def test_request_id_echoed_and_logged_as_json(server):
    status, headers, _ = server.request("GET", "/health", headers={"X-Request-Id": "itest-123"})
    assert status == 200
    assert headers["X-Request-Id"] == "itest-123"
    time.sleep(0.1)
    lines = [l for l in server.log_lines() if l.get("request_id") == "itest-123"]
    assert len(lines) == 1, server.log_lines()
    line = lines[0]
    assert line["msg"] == "request"
    assert line["method"] == "GET" and line["path"] == "/health" and line["status"] == 200
    assert line["bytes"] > 0 and line["duration_ms"] >= 0
    assert line["level"] == "info" and line["ts"]


def test_start_and_shutdown_are_logged_and_exit_zero(tmp_path):
    s = Server(tmp_path)
    assert s.stop(sig=15) == 0
    msgs = [l["msg"] for l in s.log_lines()]
    assert "starting" in msgs and "listening" in msgs and "shutdown complete" in msgs


def test_sigint_also_exits_zero(tmp_path):
    s = Server(tmp_path)
    assert s.stop(sig=2) == 0


def test_config_precedence_flag_over_env_over_file(tmp_path):
    cfg = tmp_path / "lakehouse.toml"
    cfg.write_text('[server]\nlisten = "127.0.0.1:1111"\nworker_threads = 3\n[log]\nlevel = "warn"\n')
    env = {**os.environ, "LAKEHOUSE_LISTEN": "127.0.0.1:2222"}
    out = subprocess.run([LAKEHOUSE_BIN, "config", "--config", str(cfg)], env=env, capture_output=True, text=True,
                         check=True).stdout
    assert 'listen = "127.0.0.1:2222"' in out  # env beats file
    assert "worker_threads = 3" in out          # file beats default
    out = subprocess.run([LAKEHOUSE_BIN, "config", "--config", str(cfg), "--listen", "127.0.0.1:3333"], env=env,
                         capture_output=True, text=True, check=True).stdout
    assert 'listen = "127.0.0.1:3333"' in out  # flag beats env


def test_bad_config_is_a_clear_error(tmp_path):
    r = subprocess.run([LAKEHOUSE_BIN, "serve", "--storage", "floppy"], capture_output=True, text=True)
    assert r.returncode == 2
    assert "storage.backend must be 'local' or 's3'" in r.stderr
    cfg = tmp_path / "broken.toml"
    cfg.write_text("[server\nlisten=")
    r = subprocess.run([LAKEHOUSE_BIN, "serve", "--config", str(cfg)], capture_output=True, text=True)
    assert r.returncode == 2 and "cannot read config file" in r.stderr


def test_port_in_use_is_a_clear_error(server, tmp_path):
    r = subprocess.run([LAKEHOUSE_BIN, "serve", "--listen", f"127.0.0.1:{server.port}", "--data-dir",
                        str(tmp_path / "other"), "--ai", "false"], capture_output=True, text=True, timeout=20)
    assert r.returncode != 0
    assert "cannot listen on" in r.stderr
