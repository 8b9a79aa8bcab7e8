#!/usr/bin/env bash
# Crash loop (issue 14): appends to one dataset while the server is killed with SIGKILL at a random
# moment, ITERATIONS times (default 300). Every append the server acknowledged (201) must be in the
# dataset after the restarts: prints acknowledged vs found rows (0 lost expected) and the temp
# files (.lh-tmp-*) left in the object store (0 expected: dead writers' temp files are swept).
# Bounded: one server at a time on 127.0.0.1, about 1-2 s per iteration.
# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"  # strict mode, ROOT, BUILD_DIR, free_port, wait_up, get, check
ITERATIONS=${ITERATIONS:-300}
WORK=$(mktemp -d /tmp/lh-crashloop.XXXXXX)
cmake --build "$BUILD_DIR" --target lakehouse >/dev/null
cp "$BUILD_DIR/app/lakehouse" "$WORK/lakehouse"
PID=""
cleanup() { [ -z "$PID" ] || { kill -9 "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; }; rm -rf "$WORK"; }
trap cleanup EXIT
PORT=$(free_port)
URL="http://127.0.0.1:$PORT"
start() {
  "$WORK/lakehouse" serve --listen "127.0.0.1:$PORT" --data-dir "$WORK/data" --ai false --auth off --log-level warn \
    >>"$WORK/server.log" 2>&1 &
  PID=$!
  for _ in $(seq 1 300); do curl -sf -m 2 -o /dev/null "$URL/health" && return 0; sleep 0.05; done
  echo "server did not start" >&2; tail -5 "$WORK/server.log" >&2; exit 1
}
start
: >"$WORK/acked"
printf 'id\n0\n' | curl -sf -o /dev/null -X POST --data-binary @- -H 'Content-Type: text/csv' "$URL/api/v1/datasets/crash"
acked=1
for i in $(seq 1 "$ITERATIONS"); do
  # A few appends in flight, then SIGKILL at a random moment (0-300 ms).
  for j in 1 2 3; do
    ( code=$(printf 'id\n%d\n' $((i * 10 + j)) | curl -s -m 5 -o /dev/null -w '%{http_code}' -X POST \
        --data-binary @- -H 'Content-Type: text/csv' "$URL/api/v1/datasets/crash/append" || true)
      [[ "$code" == 20[01] ]] && echo "$((i * 10 + j))" >>"$WORK/acked" ) &  # an append answers 200
  done
  sleep "0.$(printf '%03d' $((RANDOM % 300)))"
  kill -9 "$PID"; wait "$PID" 2>/dev/null || true
  wait  # the curl subshells end once the server is gone
  start
done
acked=$(( $(wc -l <"$WORK/acked" 2>/dev/null || echo 0) ))
found=$(curl -sf -X POST "$URL/api/v1/query" -d '{"sql": "SELECT list(id ORDER BY id) FROM crash", "format": "csv"}' | tail -1)
lost=0
while read -r id; do
  [[ ",${found//[\[\] \"]/}," == *",$id,"* ]] || lost=$((lost + 1))
done <"$WORK/acked"
for _ in $(seq 1 50); do  # the start-up sweep runs in the background
  tmp_left=$(find "$WORK/data" -name '.lh-tmp-*' | wc -l)
  [ "$tmp_left" = 0 ] && break
  sleep 0.2
done
echo "crash loop: $ITERATIONS kill -9 restarts; acknowledged appends: $acked; lost: $lost; .lh-tmp-* files left: $tmp_left" \
  "(load average: $(cut -d' ' -f1-3 /proc/loadavg))"
# No acknowledged append at all would mean the loop measured nothing.
[ "$lost" = 0 ] && [ "$acked" -gt 0 ]
