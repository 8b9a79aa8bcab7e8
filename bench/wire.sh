#!/usr/bin/env bash
# Issue 15's result-path figures against raw DuckDB in the same invocation (bench/wire.py): the
# 10M x 4 Arrow stream (GB/s), the 1M-row select as Arrow/JSON/CSV, and count(*) over keep-alive.
#
#   bench/wire.sh                                   this build's binary
#   LAKEHOUSE="old=/path/lakehouse new=build/app/lakehouse" bench/wire.sh   several, side by side
#   RUNS=7 FIGURES=select,count bench/wire.sh
#   PERF=/tmp/prof FIGURES=stream bench/wire.sh    also a CPU profile of each server per figure
#                                                  (perf record -g: /tmp/prof/<label>-<figure>.data)
#
# Data and the raw-DuckDB venv are bench/peers' (run bench/peers/run.sh once: it makes both).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD_DIR=${BUILD_DIR:-$ROOT/build}
WORK=${WORK:-/tmp/lh-bench-wire}
DATA=${DATA:-/tmp/lh-bench-peers/data}
PY=$ROOT/bench/peers/.venv/bin/python
[ -x "$PY" ] && [ -f "$DATA/events.parquet" ] ||
  { echo "run bench/peers/run.sh once first (the venv and $DATA)" >&2; exit 1; }
mkdir -p "$WORK/bin"
args=()
for spec in ${LAKEHOUSE:-default=$BUILD_DIR/app/lakehouse}; do
  tag=${spec%%=*}
  cp "${spec#*=}" "$WORK/bin/lakehouse-$tag"  # a copy: the build dir may be relinked meanwhile
  args+=(--lakehouse "$tag" "$WORK/bin/lakehouse-$tag")
done
exec "$PY" "$ROOT/bench/wire.py" --data "$DATA" --work "$WORK" --runs "${RUNS:-5}" \
  --figures "${FIGURES:-stream,select,count}" ${PERF:+--perf "$PERF"} "${args[@]}"
