#!/usr/bin/env bash
# Multi-process vs embedded (issue 9): the same queries through `lakehouse up` (gateway -> queryd
# over gRPC, catalogd and storaged in their own processes) and through `lakehouse serve` (one
# process, direct calls), both running at once on copies of the same data, timed alternately.
#
#   bench/multiprocess.sh            the baseline aggregates + a 10M-row Arrow result (~5-10 min)
#   RUNS=7 bench/multiprocess.sh     timed runs per query and deployment (best of RUNS, default 5,
#                                    after one warm-up each; runs alternate between the two)
#   REPLICAS=2 bench/multiprocess.sh queryd replicas of the multi-process deployment (default 1)
#   BUILD_DIR=build-x bench/multiprocess.sh
#
# Data: bench/query's generator (10M-row events, 6M-row lineitem), cached in $DATA (default the
# query bench's /tmp/lh-bench-query/data, made there when missing).
# Figures: per query embedded ms, multi-process ms, ratio multi/embedded (target <= 1.05); the
# 10M-row Arrow result's throughput multi/embedded (target >= 0.9).
# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"  # strict mode, ROOT, BUILD_DIR, free_port, wait_up, get, check
RUNS=${RUNS:-5}
REPLICAS=${REPLICAS:-1}
WORK=${WORK:-/tmp/lh-bench-multiprocess}
DATA=${DATA:-/tmp/lh-bench-query/data}
LH=$BUILD_DIR/app/lakehouse
QUERIES=$ROOT/bench/query/queries.tsv
log() { printf '[multiprocess.sh] %s\n' "$*" >&2; }

cmake --build "$BUILD_DIR" --target lakehouse query_bench >/dev/null
rm -rf "$WORK"; mkdir -p "$WORK/bin" "$DATA"
cp "$LH" "$WORK/bin/lakehouse"; LH=$WORK/bin/lakehouse  # the build dir may be relinked meanwhile
query_data "$DATA"

trap kill_pids EXIT

COMMON=(--ai false --auth off --query-threads 2 --query-memory-limit 1GB --query-max-timeout-ms 600000)
EMB_PORT=$(free_port)
"$LH" serve --listen "127.0.0.1:$EMB_PORT" --data-dir "$WORK/embedded" "${COMMON[@]}" >"$WORK/embedded.log" 2>&1 &
PIDS+=("$!")
MULTI_PORT=$(free_port)
PYTHONPATH=$ROOT/tests/pyhelpers python3 -c "
import pathlib, sys, lakehouse_testing as t
t.write_deployment(pathlib.Path('$WORK/deploy.toml'), $MULTI_PORT, replicas=$REPLICAS)"
"$LH" up --config "$WORK/deploy.toml" --data-dir "$WORK/multi" "${COMMON[@]}" >"$WORK/multi.log" 2>&1 &
PIDS+=("$!")
EMB=http://127.0.0.1:$EMB_PORT
MULTI=http://127.0.0.1:$MULTI_PORT
wait_up "$EMB_PORT"
for _ in $(seq 600); do  # up: every process, then the gateway
  curl -sf -o /dev/null "$MULTI/health" && break
  sleep 0.1
done
curl -sf -o /dev/null "$MULTI/health" || { log "deployment did not start: $(tail -5 "$WORK/multi.log")"; exit 1; }

upload() {  # upload URL NAME
  local code
  code=$(curl -s -o "$WORK/upload.json" -w '%{http_code}' -X POST -H 'Content-Type: application/vnd.apache.parquet' \
    --data-binary "@$DATA/$2.parquet" "$1/api/v1/datasets/$2")
  [ "$code" = 201 ] || { log "upload $2 to $1 failed: $code $(head -c 300 "$WORK/upload.json")"; exit 1; }
}
log "uploading events (10M rows) and lineitem (6M rows) to both"
for d in events lineitem; do upload "$EMB" "$d"; upload "$MULTI" "$d"; done

# one URL SQL -> seconds (one Arrow run; the body is read and discarded; fails on a non-200)
one() {
  local body out
  body=$(jq -nc --arg sql "$2" '{sql: $sql, format: "arrow", timeout_ms: 600000}')
  out=$(curl -s -m 660 -o /dev/null -w '%{time_total} %{size_download} %{http_code}' \
    -H 'Content-Type: application/json' -d "$body" "$1/api/v1/query")
  [ "${out##* }" = 200 ] || { log "HTTP ${out##* } from $1 for: $2"; exit 1; }
  LAST_BYTES=$(echo "$out" | cut -d' ' -f2)
  echo "${out%% *}"
}

# pair SQL -> "embedded_best_ms multi_best_ms bytes", runs alternating between the two deployments
pair() {
  local e=() m=()
  one "$EMB" "$1" >/dev/null; one "$MULTI" "$1" >/dev/null  # warm-up
  for _ in $(seq 1 "$RUNS"); do
    e+=("$(one "$EMB" "$1")")
    m+=("$(one "$MULTI" "$1")")
  done
  local eb mb
  eb=$(printf '%s\n' "${e[@]}" | sort -n | head -1)
  mb=$(printf '%s\n' "${m[@]}" | sort -n | head -1)
  echo "$(awk -v x="$eb" 'BEGIN{printf "%.1f", x*1000}') $(awk -v x="$mb" 'BEGIN{printf "%.1f", x*1000}')"
}

results=$WORK/results
: >"$results"
printf '\n%-9s %12s %12s %14s\n' query embedded_ms multi_ms multi/embedded
for q in groupby tpch_q1 tpch_q6 topk; do
  sql=$(awk -F'\t' -v n="$q" '$1 == n {print $2}' "$QUERIES")
  read -r e m < <(pair "$sql")
  ratio=$(awk -v e="$e" -v m="$m" 'BEGIN{printf "%.3f", m/e}')
  printf '%-9s %12s %12s %13sx\n' "$q" "$e" "$m" "$ratio"
  echo "RESULT $q=$ratio" >>"$results"
done

log "10M-row Arrow result (SELECT * FROM events)"
read -r e m < <(pair "SELECT * FROM events")
bytes=$(one "$EMB" "SELECT * FROM events" >/dev/null; echo "$LAST_BYTES")
mb=$(awk -v b="$bytes" 'BEGIN{printf "%.0f", b/1e6}')
tput=$(awk -v e="$e" -v m="$m" 'BEGIN{printf "%.3f", e/m}')
printf '\narrow 10M rows (%s MB): embedded %s ms (%.0f MB/s), multi-process %s ms (%.0f MB/s)\n' "$mb" "$e" \
  "$(awk -v b="$mb" -v t="$e" 'BEGIN{print b/(t/1000)}')" "$m" "$(awk -v b="$mb" -v t="$m" 'BEGIN{print b/(t/1000)}')"
echo "RESULT stream=$tput" >>"$results"

echo
echo "summary (RUNS=$RUNS, REPLICAS=$REPLICAS, load average $(cut -d' ' -f1-3 /proc/loadavg))"
for q in groupby tpch_q1 tpch_q6 topk; do check "multi/embedded time, $q" "$(get "$q")" "<=" 1.05; done
check "multi/embedded throughput, 10M-row Arrow result" "$(get stream)" ">=" 0.9
