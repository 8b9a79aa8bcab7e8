# Sourced first by every bench script: strict mode, ROOT (the checkout) and BUILD_DIR (default
# build/), a free port, waiting for a server, and the summary helpers of the scripts that print
# figures against targets (those write "RESULT name=value" lines to the file named by $results).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD_DIR=${BUILD_DIR:-$ROOT/build}

# free_port: a TCP port on 127.0.0.1 that is free now.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# wait_up PORT: waits up to 20 s for GET /health on 127.0.0.1:PORT to answer 2xx, else exits.
wait_up() {
  for _ in $(seq 200); do curl -sf -o /dev/null "http://127.0.0.1:$1/health" && return 0; sleep 0.1; done
  echo "server on $1 did not start" >&2
  exit 1
}

# PIDS: the background processes a script started (PIDS+=("$!")); kill_pids stops them all (call
# it from the script's EXIT trap).
PIDS=()
kill_pids() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
}

# query_data DIR: bench/query's data sets (10M-row events, 6M-row lineitem, 1.5M-row orders, made by
# query_bench generate, which must be built) in DIR, generated once and then reused.
query_data() {
  [ -f "$1/.stamp-v1" ] && return 0
  mkdir -p "$1"
  printf '[lib.sh] generating datasets in %s (once)\n' "$1" >&2
  "$BUILD_DIR/bench/query/query_bench" generate "$1"
  touch "$1/.stamp-v1"
}

# get NAME: the value of the line "RESULT NAME=value" in $results.
get() { sed -n "s/^RESULT $1=//p" "$results"; }

# check LABEL VALUE OP TARGET: one summary line, "ok" or "MISSED"; OP is >=, <= or <.
check() {
  local verdict
  verdict=$(awk -v v="$2" -v t="$4" -v op="$3" \
    'BEGIN { ok = (op == ">=") ? v >= t : (op == "<=") ? v <= t : v < t; print ok ? "ok" : "MISSED" }')
  printf '%-52s %10s   target %s %s   %s\n' "$1" "$2" "$3" "$4" "$verdict"
}
