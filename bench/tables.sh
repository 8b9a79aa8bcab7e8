#!/usr/bin/env bash
# Partition pruning (issue 13), one bounded run: the same rows uploaded twice through the HTTP API
# - partitioned by day (365 partitions) and unpartitioned - then a selective query (one day) run
# REPEAT times on each; prints the median times, the objects opened, and their ratio.
#   target: partitioned <= 0.2x the unpartitioned time
# Rows are scattered over the days (day = i * 7919 mod 365), as arrivals from many days would be,
# so the unpartitioned file's row-group statistics cannot skip most of it on their own.
# Usage: bench/tables.sh [ROWS] [REPEAT]     env: BUILD_DIR (default build/)
# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"  # strict mode, ROOT, BUILD_DIR, free_port, wait_up, get, check
ROWS=${1:-5000000}
REPEAT=${2:-15}
BIN="$BUILD_DIR/app/lakehouse"
PY="$ROOT/.venv/bin/python"
[ -x "$PY" ] || PY=python3
[ -x "$BIN" ] || cmake --build "$BUILD_DIR" --target lakehouse
tmp=$(mktemp -d /tmp/lh-tables-bench.XXXXXX)
port=$(free_port)
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
timeout 900 "$BIN" serve --listen "127.0.0.1:$port" --data-dir "$tmp/data" --ai false --auth off --query-threads 2 \
  >"$tmp/server.log" 2>&1 &
pid=$!
PYTHONPATH="$ROOT/bench" timeout 900 "$PY" - "$port" "$ROWS" "$REPEAT" "$tmp" <<'PYEOF'
import datetime, json, statistics, sys, time
from benchlib import Api
port, rows, repeat, tmp = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
call = Api(port).call

start = datetime.date(2025, 1, 1)
days = [(start + datetime.timedelta(days=d)).isoformat() for d in range(365)]
path = f"{tmp}/events.csv"
with open(path, "w") as f:
    f.write("id,day,user_id,amount,kind\n")
    for i in range(rows):
        f.write(f"{i},{days[(i * 7919) % 365]},{i % 10007},{i % 1000 / 10},k{i % 7}\n")
body = open(path, "rb").read()
csv = {"Content-Type": "text/csv"}
t = time.perf_counter(); flat = call("POST", "/api/v1/datasets/events_flat", body, csv); t_flat = time.perf_counter() - t
t = time.perf_counter(); part = call("POST", "/api/v1/datasets/events_by_day?partition_by=day", body, csv)
t_part = time.perf_counter() - t
print(f"upload {rows} rows: unpartitioned {t_flat:.2f} s ({len(flat['objects'])} object), "
      f"partitioned by day {t_part:.2f} s ({len(part['objects'])} objects)")

def run(dataset):
    sql = f"SELECT count(*), sum(CAST(amount AS DECIMAL(18, 1))), count(DISTINCT user_id) FROM {dataset} WHERE day = DATE '2025-06-01'"
    payload = json.dumps({"sql": sql}).encode()
    call("POST", "/api/v1/query", payload, {"Content-Type": "application/json"})  # warm (footers, resolution)
    times, last = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        last = call("POST", "/api/v1/query", payload, {"Content-Type": "application/json"})
        times.append(time.perf_counter() - t)
    return statistics.median(times), last

flat_s, flat_r = run("events_flat")
part_s, part_r = run("events_by_day")
assert flat_r["rows"] == part_r["rows"], (flat_r["rows"], part_r["rows"])
for name, secs, r in (("unpartitioned", flat_s, flat_r), ("partitioned by day", part_s, part_r)):
    st = r["stats"]
    print(f"selective query (1 of 365 days), {name}: median {secs * 1000:.1f} ms over {repeat} runs; "
          f"objects scanned {st['objects_scanned']}, pruned {st['objects_pruned']}")
ratio = part_s / flat_s
print(f"RESULT partitioned_vs_unpartitioned_ratio={ratio:.3f}")
print(f"{'partitioned / unpartitioned time':<46} {ratio:10.3f}   target <= 0.2   {'ok' if ratio <= 0.2 else 'MISSED'}")
PYEOF
