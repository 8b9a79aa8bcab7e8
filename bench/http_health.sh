#!/usr/bin/env bash
# GET /health throughput and latency with wrk on loopback, against a bare Beast server in the
# same run (the ratio is the gateway's overhead: routing, request ids, JSON access logs to a file).
# Bounded: each run lasts DURATION seconds.   Usage: bench/http_health.sh [DURATION]
# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"  # strict mode, ROOT, BUILD_DIR, free_port, wait_up, get, check
DURATION=${1:-10}
CONNS=${CONNS:-64}
command -v wrk >/dev/null || { echo "wrk is missing: run scripts/setup.sh" >&2; exit 1; }
[ -x "$BUILD_DIR/app/lakehouse" ] && [ -x "$BUILD_DIR/bench/http/http_baseline_server" ] || cmake --build "$BUILD_DIR" --target lakehouse http_baseline_server
tmp=$(mktemp -d)
cleanup() { kill_pids; rm -rf "$tmp"; }
trap cleanup EXIT

P1=$(free_port); "$BUILD_DIR/app/lakehouse" serve --listen "127.0.0.1:$P1" --data-dir "$tmp/data" --ai false --auth off >"$tmp/lakehouse.log" 2>&1 & PIDS+=($!)
P2=$(free_port); "$BUILD_DIR/bench/http/http_baseline_server" "$P2" 2 & PIDS+=($!)
wait_up "$P1"; wait_up "$P2"

run() { # name port -> "rps p50_ms p99_ms"
  wrk -t2 -c"$CONNS" -d1s "http://127.0.0.1:$2/health" >/dev/null  # warm-up
  wrk -t2 -c"$CONNS" -d"${DURATION}s" --latency "http://127.0.0.1:$2/health" >"$tmp/$1.wrk"
  local rps p50 p99
  rps=$(awk '/Requests\/sec/ {print $2}' "$tmp/$1.wrk")
  p50=$(awk '$1=="50%" {print $2}' "$tmp/$1.wrk")
  p99=$(awk '$1=="99%" {print $2}' "$tmp/$1.wrk")
  echo "$rps $p50 $p99"
}
to_ms() { case "$1" in *us) awk -v v="${1%us}" 'BEGIN{printf "%.3f", v/1000}';; *ms) echo "${1%ms}";; *s) awk -v v="${1%s}" 'BEGIN{printf "%.3f", v*1000}';; esac; }

read -r B_RPS B_P50 B_P99 < <(run baseline "$P2")
read -r L_RPS L_P50 L_P99 < <(run lakehouse "$P1")
lines=$(grep -c '"msg":"request"' "$tmp/lakehouse.log" || true)
printf 'GET /health, wrk -t2 -c%s -d%ss on 127.0.0.1 (%s cores)\n' "$CONNS" "$DURATION" "$(nproc)"
printf '%-22s %12s %10s %10s\n' server req/s p50_ms p99_ms
printf '%-22s %12s %10s %10s\n' "baseline (bare Beast)" "$B_RPS" "$(to_ms "$B_P50")" "$(to_ms "$B_P99")"
printf '%-22s %12s %10s %10s\n' lakehouse "$L_RPS" "$(to_ms "$L_P50")" "$(to_ms "$L_P99")"
awk -v l="$L_RPS" -v b="$B_RPS" 'BEGIN{printf "ratio lakehouse/baseline throughput: %.2f\n", l/b}'
echo "access log lines written by lakehouse: $lines"
awk -v l="$L_RPS" -v p="$(to_ms "$L_P99")" 'BEGIN{ok=(l>=25000 && p<10); printf "target (>= 25000 req/s, p99 < 10 ms): %s\n", ok?"met":"NOT met"}'
