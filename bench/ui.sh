#!/usr/bin/env bash
# Web UI benchmark: a 1M-row query result in the browser (Debian Chromium, headless) against the
# same query over the HTTP API with curl, in the same run; and the first page's bundle size.
#
#   bench/ui.sh                 (about a minute; RUNS=3 timed runs of each, best taken)
#   ROWS=1000000 RUNS=3 BUILD_DIR=build bench/ui.sh
#   LAKEHOUSE_BIN=/path/to/lakehouse bench/ui.sh     (use that binary instead of building one)
#
# Figures printed:
#   curl: time to the first byte and to the whole Arrow stream (POST /api/v1/query, format=arrow)
#   browser: time from Ctrl+Enter to the first rows on screen, and to all rows browsable (the
#            result model complete and the grid drawn), plus the ratios browser/curl
#   gzip size of what the first page loads (index.html + entry JS + CSS); target < 300 KB
#   upload of an UPLOAD_MB (default 200) CSV through the browser's upload page vs curl
#   --data-binary, each to a new dataset, both including the server's conversion; target >= 0.8x
#   (UPLOAD_MB=0 skips it)
# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"  # strict mode, ROOT, BUILD_DIR, free_port, wait_up, get, check
RUNS=${RUNS:-3}
ROWS=${ROWS:-1000000}
UPLOAD_MB=${UPLOAD_MB:-200}
WORK=$(mktemp -d /tmp/lh-bench-ui.XXXXXX)
log() { printf '[ui.sh] %s\n' "$*" >&2; }

"$ROOT/scripts/setup.d/50-ui.sh"
if [ -z "${LAKEHOUSE_BIN:-}" ]; then
  cmake --build "$BUILD_DIR" --target lakehouse >/dev/null
  LAKEHOUSE_BIN=$BUILD_DIR/app/lakehouse
fi
cp "$LAKEHOUSE_BIN" "$WORK/lakehouse"

PID=""
cleanup() {
  [ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT

port=$(free_port)
URL=http://127.0.0.1:$port
"$WORK/lakehouse" serve --listen "127.0.0.1:$port" --data-dir "$WORK/data" --ai false --auth off --query-threads 2 \
  --ui-dir "$ROOT/ui/dist" >"$WORK/server.log" 2>&1 &
PID=$!
for _ in $(seq 100); do curl -fs "$URL/health" >/dev/null && break; sleep 0.1; done

SQL="SELECT range AS id, range % 1000 AS grp, range * 0.5 AS amount, 'row ' || range AS label FROM range($ROWS)"
body=$(jq -cn --arg sql "$SQL" '{sql: $sql, format: "arrow"}')

log "curl: $RUNS runs"
best_first=999; best_all=999
for _ in $(seq "$RUNS"); do
  read -r first all size < <(curl -s -o /dev/null --max-time 120 -w '%{time_starttransfer} %{time_total} %{size_download}\n' \
    "$URL/api/v1/query" -d "$body")
  best_first=$(echo "$first $best_first" | awk '{print ($1<$2)?$1:$2}')
  best_all=$(echo "$all $best_all" | awk '{print ($1<$2)?$1:$2}')
done

log "browser: $RUNS runs"
results=$(cd "$ROOT/ui" && timeout 600 node "$ROOT/bench/ui/first_rows.mjs" "$URL" "$SQL" "$RUNS")
b_first=$(echo "$results" | jq -s 'map(.firstRowsMs) | min / 1000')
b_all=$(echo "$results" | jq -s 'map(.allRowsMs) | min / 1000')
rows=$(echo "$results" | jq -s '.[0].rows')

if [ "$UPLOAD_MB" -gt 0 ]; then
  log "upload: generating a ${UPLOAD_MB} MB CSV"
  /usr/bin/python3 - "$WORK/up.csv" "$UPLOAD_MB" <<'PY'
import sys
path, mb = sys.argv[1], int(sys.argv[2])
with open(path, "w") as f:
    f.write("id,name,amount,note\n")
    i = 0
    while f.tell() < mb * 1024 * 1024:
        f.write("".join(f"{j},name {j % 997},{j * 0.25},some text for row {j}\n" for j in range(i, i + 10000)))
        i += 10000
PY
  up_bytes=$(stat -c %s "$WORK/up.csv")
  log "upload: curl"
  curl_up=$(curl -s -o /dev/null --max-time 900 -w '%{time_total}' -H 'Content-Type: text/csv' \
    --data-binary @"$WORK/up.csv" "$URL/api/v1/datasets/up_curl")
  log "upload: browser"
  browser_up=$(cd "$ROOT/ui" && timeout 900 node "$ROOT/bench/ui/upload.mjs" "$URL" "$WORK/up.csv" up_browser)
fi

dist=$ROOT/ui/dist
entry_js=$(grep -o 'assets/index-[^"]*\.js' "$dist/index.html" | head -1)
entry_css=$(grep -o 'assets/index-[^"]*\.css' "$dist/index.html" | head -1)
gz() { gzip -9 -c "$1" | wc -c; }
first_page=$(( $(gz "$dist/index.html") + $(gz "$dist/$entry_js") + $(gz "$dist/$entry_css") ))

printf "\n%-44s %12s\n" "query result: $rows rows, $(numfmt --to=iec "$size")B Arrow" "seconds"
printf '%-44s %12.3f\n' "curl: first byte" "$best_first"
printf '%-44s %12.3f\n' "curl: whole stream" "$best_all"
printf '%-44s %12.3f   (%.2fx curl first byte)\n' "browser: first rows on screen" "$b_first" "$(echo "$b_first / $best_first" | bc -l)"
printf '%-44s %12.3f   (%.2fx curl whole stream)\n' "browser: all rows browsable" "$b_all" "$(echo "$b_all / $best_all" | bc -l)"
printf '%-44s %9d KB   (target < 300 KB)\n' "first page gzip (html + $entry_js + css)" $(( first_page / 1024 ))
if [ "$UPLOAD_MB" -gt 0 ]; then
  printf '%-44s %12.3f   (%.0f MB/s)\n' "upload ${UPLOAD_MB} MB CSV: curl" "$curl_up" "$(echo "$up_bytes / $curl_up / 1048576" | bc -l)"
  printf '%-44s %12.3f   (%.0f MB/s; %.2fx curl throughput, target >= 0.8x)\n' "upload ${UPLOAD_MB} MB CSV: browser" "$browser_up" \
    "$(echo "$up_bytes / $browser_up / 1048576" | bc -l)" "$(echo "$curl_up / $browser_up" | bc -l)"
fi
