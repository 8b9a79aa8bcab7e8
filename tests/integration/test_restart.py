"""State that must survive a restart of `lakehouse serve` on the same data directory."""
import json
import urllib.request

from lakehouse_testing import Server

CSV = b"id,name\n1,a\n2,b\n"


def test_catalog_and_presigned_urls_survive_restart(tmp_path):
    s = Server(tmp_path)
    status, body = s.json("POST", "/api/v1/datasets/people", CSV, {"Content-Type": "text/csv"})
    assert status == 201, body
    status, listing = s.json("GET", "/api/v1/datasets/people/data?presign=1&expires=600")
    assert status == 200, listing
    url = listing["objects"][0]["url"]
    original = urllib.request.urlopen(url, timeout=10).read()
    assert original[:4] == b"PAR1"
    port = s.port
    assert s.stop() == 0

    s2 = Server(tmp_path, port=port)
    try:
        status, body = s2.json("GET", "/api/v1/datasets/people")
        assert status == 200 and body["version"] == 1, body
        # The presign key is kept in the data directory: a URL issued before the restart still works.
        assert urllib.request.urlopen(url, timeout=10).read() == original
        status, result = s2.json("POST", "/api/v1/query", json.dumps({"sql": "SELECT count(*) AS n FROM people"}).encode())
        assert status == 200 and result["rows"] == [[2]], result
    finally:
        s2.stop()
