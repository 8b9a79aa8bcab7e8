#!/usr/bin/env bash
# Tables that stay fast as they grow (issue 13), one bounded run, ratios against baselines measured
# in the same invocation:
#   1. APPENDS (1,000) small appends through the HTTP API, then the same query before and after
#      POST /compact: median time and objects opened (target: far fewer objects, faster)
#   2. append commit latency at version ~10 vs ~VERSIONS (10,000), through the catalog library
#      (target <= 1.5x), and the cold resolve of the head
#   3. garbage collection of GC_OBJECTS (100,000) objects on local disk: time, and vs a plain listing
# Usage: bench/tables_growth.sh      env: BUILD_DIR (default build/), APPENDS, VERSIONS, GC_OBJECTS, REPEAT
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD_DIR:-$ROOT/build}
APPENDS=${APPENDS:-1000}
VERSIONS=${VERSIONS:-10000}
GC_OBJECTS=${GC_OBJECTS:-100000}
REPEAT=${REPEAT:-9}
BIN="$BUILD/app/lakehouse"
BENCH="$BUILD/bench/tables/tables_bench"
PY="$ROOT/.venv/bin/python"
[ -x "$PY" ] || PY=python3
[ -x "$BIN" ] || cmake --build "$BUILD" --target lakehouse
[ -x "$BENCH" ] || cmake --build "$BUILD" --target tables_bench
tmp=$(mktemp -d /tmp/lh-tables-growth.XXXXXX)
port=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT

echo "== 1. $APPENDS small appends, before vs after compaction"
timeout 900 "$BIN" serve --listen "127.0.0.1:$port" --data-dir "$tmp/data" --ai false --auth off --query-threads 2 \
  >"$tmp/server.log" 2>&1 &
pid=$!
PYTHONPATH="$ROOT/bench" timeout 900 "$PY" - "$port" "$APPENDS" "$REPEAT" <<'PYEOF'
import json, statistics, sys, time
from benchlib import Api
port, appends, repeat = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
call = Api(port).call

rows_per = 200
def chunk(a):
    return "".join(json.dumps({"id": a * rows_per + i, "user_id": (a * rows_per + i) % 997,
                               "amount": (i % 100) / 10, "kind": f"k{i % 7}"}) + "\n" for i in range(rows_per)).encode()
nd = {"Content-Type": "application/x-ndjson"}
t = time.perf_counter()
call("POST", "/api/v1/datasets/events", chunk(0), nd)
for a in range(1, appends):
    call("POST", "/api/v1/datasets/events/append", chunk(a), nd)
print(f"{appends} appends of {rows_per} rows in {time.perf_counter() - t:.1f} s")
# Exact aggregates (DECIMAL, not DOUBLE: a float sum depends on the order rows arrive in).
sql = json.dumps({"sql": "SELECT kind, count(*), sum(id), sum(CAST(amount AS DECIMAL(18, 1))), count(DISTINCT user_id) "
                         "FROM events GROUP BY kind ORDER BY kind"}).encode()
js = {"Content-Type": "application/json"}

def run():
    call("POST", "/api/v1/query", sql, js)  # warm
    times, last = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        last = call("POST", "/api/v1/query", sql, js)
        times.append(time.perf_counter() - t)
    return statistics.median(times), last

before_s, before = run()
t = time.perf_counter()
c = call("POST", "/api/v1/datasets/events/compact")
compact_s = time.perf_counter() - t
after_s, after = run()
assert before["rows"] == after["rows"], ("compaction changed the query's result", before["rows"], after["rows"])
print(f"compaction: {c['objects_before']} -> {c['objects_after']} objects in {compact_s:.2f} s (version {c['version']})")
for name, secs, r in (("before", before_s, before), ("after", after_s, after)):
    print(f"query {name} compaction: median {secs * 1000:.1f} ms over {repeat} runs, objects opened {r['stats']['objects_scanned']}")
ratio = after_s / before_s
print(f"RESULT compaction_query_time_ratio={ratio:.3f}")
print(f"RESULT compaction_objects_opened_before={before['stats']['objects_scanned']}")
print(f"RESULT compaction_objects_opened_after={after['stats']['objects_scanned']}")
PYEOF
kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
pid=""

echo "== 2. append commit latency, version ~10 vs ~$VERSIONS (local disk)"
timeout 900 "$BENCH" history --dir "$tmp/history" --versions "$VERSIONS"
rm -rf "$tmp/history"
echo "== 3. garbage collection of $GC_OBJECTS objects (local disk)"
timeout 900 "$BENCH" gc --dir "$tmp/gc" --objects "$GC_OBJECTS"
