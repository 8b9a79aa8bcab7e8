#!/usr/bin/env bash
# Instructions spent in the JSON and CSV encoders (callgrind, collecting only inside
# JsonEncoder::EncodeRows and CsvEncoder::EncodeRows, on whichever thread encodes) for one
# 200k-row x 5-column result, per server binary: exact and independent of machine load (ADR 0012).
# Also checks the binaries' outputs are identical (apart from the JSON trailer's elapsed_ms).
#
#   bench/encoder_callgrind.sh OLD_BINARY NEW_BINARY
#
# Needs a data dir holding the events dataset: run bench/result_path.sh once (it leaves
# $WORK/<first config>/data); DATA=<data dir> to use another.
# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"  # strict mode, free_port
WORK=${WORK:-/tmp/lh-bench-result-path}
DATA=${DATA:-$(find "$WORK" -mindepth 2 -maxdepth 2 -name data -type d | head -1)}
[ -d "$DATA" ] || { echo "no data dir: run bench/result_path.sh first" >&2; exit 1; }
SQL="SELECT id, category, amount, price, qty FROM events WHERE id < 200000 ORDER BY id"
trap kill_pids EXIT  # a failed request (set -e) must not leave a server running
declare -A IR
for label in old new; do
  bin=$1; [ "$label" = new ] && bin=$2
  dir=$WORK/callgrind-$label
  rm -rf "$dir"; mkdir -p "$dir"; cp -r "$DATA" "$dir/data"
  port=$(free_port)
  valgrind --tool=callgrind --collect-atstart=no --toggle-collect='*JsonEncoder::EncodeRows*' \
    --toggle-collect='*CsvEncoder::EncodeRows*' --callgrind-out-file="$dir/cg.out" "$bin" serve --listen "127.0.0.1:$port" \
    --data-dir "$dir/data" --ai false --auth off --query-threads 2 --query-memory-limit 2GB --query-max-timeout-ms 600000 >"$dir/server.log" 2>&1 &
  pid=$!
  PIDS+=("$pid")
  for _ in $(seq 600); do curl -sf -o /dev/null "127.0.0.1:$port/health" && break; sleep 0.5; done
  for f in json csv; do
    curl -sf -o "$dir/out.$f" -d "$(jq -nc --arg sql "$SQL" --arg f "$f" '{sql: $sql, format: $f, timeout_ms: 600000}')" \
      "127.0.0.1:$port/api/v1/query"
  done
  kill -INT "$pid"; wait "$pid" || true
  for enc in Json Csv; do
    IR[$label.$enc]=$(callgrind_annotate --inclusive=yes "$dir/cg.out" 2>/dev/null | grep "${enc}Encoder::EncodeRows" | head -1 | awk '{gsub(",", "", $1); print $1}')
  done
  sed -i 's/"elapsed_ms":[0-9]*/"elapsed_ms":0/' "$dir/out.json"
done
for enc in Json Csv; do
  awk -v e="$enc" -v o="${IR[old.$enc]}" -v n="${IR[new.$enc]}" \
    'BEGIN {printf "%sEncoder::EncodeRows: %.1fM -> %.1fM instructions (%.3fx)\n", e, o/1e6, n/1e6, n/o}'
done
for f in json csv; do
  cmp -s "$WORK/callgrind-old/out.$f" "$WORK/callgrind-new/out.$f" && echo "$f output identical" || echo "$f output DIFFERS"
done
