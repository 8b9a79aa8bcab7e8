#!/usr/bin/env bash
# The cost of auth (API key check on every request, Host/Origin checks): one server with auth on
# (requests carry a key) against one with auth off, same build, same data, in one run; the figures
# are ratios (the machine may be loaded). GET /health with wrk (public: the guard still runs), and
# the baseline queries of bench/query/queries.tsv over a generated `events` dataset, alternating
# the two servers query by query (best of RUNS each).   Usage: bench/auth.sh [DURATION]
# Targets (issue 10): <= 15% on /health, <= 5% on queries. Bounded: wrk runs DURATION s per server.
# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"  # strict mode, ROOT, BUILD_DIR, free_port, wait_up, get, check
DURATION=${1:-5}
RUNS=${RUNS:-7}
ROWS=${ROWS:-1000000}
CONNS=${CONNS:-32}
command -v wrk >/dev/null || { echo "wrk is missing: run scripts/setup.sh" >&2; exit 1; }
command -v jq >/dev/null || { echo "jq is missing: run scripts/setup.sh" >&2; exit 1; }
[ -x "$BUILD_DIR/app/lakehouse" ] || cmake --build "$BUILD_DIR" --target lakehouse
tmp=$(mktemp -d)
cleanup() { kill_pids; rm -rf "$tmp"; }
trap cleanup EXIT
cp "$BUILD_DIR/app/lakehouse" "$tmp/lakehouse"  # the build dir may be relinked meanwhile

ON=$(free_port); "$tmp/lakehouse" serve --listen "127.0.0.1:$ON" --data-dir "$tmp/on" --ai false --query-threads 2 \
  --log-level warn >"$tmp/on.log" 2>&1 & PIDS+=($!)
OFF=$(free_port); "$tmp/lakehouse" serve --listen "127.0.0.1:$OFF" --data-dir "$tmp/off" --ai false --auth off \
  --query-threads 2 --log-level warn >"$tmp/off.log" 2>&1 & PIDS+=($!)
wait_up "$ON"; wait_up "$OFF"
KEY=$(cat "$tmp/on/admin.key")

# The events dataset (same columns as bench/query's), made by the server's own SQL and uploaded as CSV.
GEN_SQL="SELECT i AS id, (i * 7919) % 100000 / 100.0 AS amount, 'c' || (i % 20) AS category, (i % 100) AS qty,
  (i % 997) / 10.0 AS price, TIMESTAMP '2024-01-01' + INTERVAL (i) SECOND AS ts FROM range($ROWS) t(i)"
curl -sf -o "$tmp/events.csv" -H 'Content-Type: application/json' \
  -d "$(jq -nc --arg sql "$GEN_SQL" '{format: "csv", sql: $sql}')" "http://127.0.0.1:$OFF/api/v1/query"
for p in "$ON" "$OFF"; do
  code=$(curl -s -o "$tmp/up.json" -w '%{http_code}' -H "Authorization: Bearer $KEY" -H 'Content-Type: text/csv' \
    --data-binary "@$tmp/events.csv" "http://127.0.0.1:$p/api/v1/datasets/events")
  [ "$code" = 201 ] || { echo "upload failed: $code $(head -c 300 "$tmp/up.json")" >&2; exit 1; }
done

health() { # port [header] -> req/s
  wrk -t2 -c"$CONNS" -d1s ${2:+-H "$2"} "http://127.0.0.1:$1/health" >/dev/null
  wrk -t2 -c"$CONNS" -d"${DURATION}s" ${2:+-H "$2"} "http://127.0.0.1:$1/health" | awk '/Requests\/sec/ {print $2}'
}
query_ms() { # port sql -> seconds
  curl -s -o /dev/null -w '%{time_total} %{http_code}\n' -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' \
    -d "$(jq -nc --arg sql "$2" '{sql: $sql, format: "arrow"}')" "http://127.0.0.1:$1/api/v1/query"
}

printf 'auth on vs off, one run (%s cores, load %s)\n' "$(nproc)" "$(cut -d' ' -f1 /proc/loadavg)"
H_OFF=$(health "$OFF"); H_ON=$(health "$ON"); H_OFF2=$(health "$OFF"); H_ON2=$(health "$ON")
H_OFF=$(printf '%s\n%s\n' "$H_OFF" "$H_OFF2" | sort -g | tail -1); H_ON=$(printf '%s\n%s\n' "$H_ON" "$H_ON2" | sort -g | tail -1)
printf '%-34s %12s %12s %8s\n' "" "auth off" "auth on" "on/off"
awk -v a="$H_OFF" -v b="$H_ON" 'BEGIN{printf "%-34s %12.0f %12.0f %8.3f  (req/s, best of 2, wrk -c'"$CONNS"' -d'"$DURATION"'s)\n", "GET /health", a, b, b/a}'

# The smallest query (SELECT 1: the light lane, no table) many times over: the per-request cost of the
# key check shows most here. wrk with a POST body; the auth-on server gets the key header.
cat >"$tmp/select1.lua" <<'LUA'
wrk.method = "POST"
wrk.body = '{"sql": "SELECT 1 AS x"}'
wrk.headers["Content-Type"] = "application/json"
LUA
select1() { # port [header] -> req/s
  wrk -t2 -c4 -d1s -s "$tmp/select1.lua" ${2:+-H "$2"} "http://127.0.0.1:$1/api/v1/query" >/dev/null
  wrk -t2 -c4 -d"${DURATION}s" -s "$tmp/select1.lua" ${2:+-H "$2"} "http://127.0.0.1:$1/api/v1/query" |
    awk '/Requests\/sec/ {print $2}'
}
S_OFF=$(select1 "$OFF"); S_ON=$(select1 "$ON" "Authorization: Bearer $KEY")
S_OFF2=$(select1 "$OFF"); S_ON2=$(select1 "$ON" "Authorization: Bearer $KEY")
S_OFF=$(printf '%s\n%s\n' "$S_OFF" "$S_OFF2" | sort -g | tail -1); S_ON=$(printf '%s\n%s\n' "$S_ON" "$S_ON2" | sort -g | tail -1)
awk -v a="$S_OFF" -v b="$S_ON" 'BEGIN{printf "%-34s %12.0f %12.0f %8.3f  (req/s, best of 2, wrk -c4)\n", "POST /api/v1/query SELECT 1", a, b, b/a}'

while IFS=$'\t' read -r name sql; do
  case "$name" in ''|'#'*) continue;; esac
  case "$sql" in *events*) ;; *) continue;; esac  # the queries over events (the TPC-H ones need lineitem)
  query_ms "$OFF" "$sql" >/dev/null; query_ms "$ON" "$sql" >/dev/null  # warm-up
  off=(); on=()
  for _ in $(seq "$RUNS"); do
    r=$(query_ms "$OFF" "$sql"); [ "${r##* }" = 200 ] || { echo "HTTP ${r##* } (off): $sql" >&2; exit 1; }; off+=("${r%% *}")
    r=$(query_ms "$ON" "$sql"); [ "${r##* }" = 200 ] || { echo "HTTP ${r##* } (on): $sql" >&2; exit 1; }; on+=("${r%% *}")
  done
  b_off=$(printf '%s\n' "${off[@]}" | sort -g | head -1); b_on=$(printf '%s\n' "${on[@]}" | sort -g | head -1)
  awk -v n="query $name" -v a="$b_off" -v b="$b_on" 'BEGIN{printf "%-34s %10.1fms %10.1fms %8.3f  (best of '"$RUNS"')\n", n, a*1000, b*1000, b/a}'
done <"$ROOT/bench/query/queries.tsv"
echo "targets: /health on/off >= 0.85 (throughput), queries on/off <= 1.05 (time)"
