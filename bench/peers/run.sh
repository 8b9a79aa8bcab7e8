#!/usr/bin/env bash
# Side-by-side benchmark: Lakehouse over HTTP (Arrow, JSON) against raw DuckDB at the embedded version
# (Python, in process, producing Arrow), DataFusion, Polars and ROAPI (scanning Parquet per query, and
# with tables preloaded in memory). 2 threads everywhere, 8 queries, engines alternating in one run,
# results checked equal, median ms + ratio to raw DuckDB + peak RSS printed, a PNG chart written.
#
#   bench/peers/run.sh                       everything (~15 min on 2 shared cores; data made once)
#   SCALE=0.1 bench/peers/run.sh             a tenth of the data (1M + 0.6M rows) for iterating; the
#                                            report and chart say the scale; figures are quoted at 1
#   REPS=3 bench/peers/run.sh                timed runs per query and engine (default 3, after a
#                                            warm-up round that also checks the results)
#   ENGINES=duckdb,lakehouse bench/peers/run.sh     a subset (duckdb first: it is the baseline)
#   QUERIES=select_1m,count bench/peers/run.sh      a subset of the queries (names in peers.py)
#   BUILD_DIR=build-x bench/peers/run.sh     the lakehouse binary of another build dir (tagged
#                                            duckdb-<scripts/duckdb-version>, or $LAKEHOUSE_TAG)
#   EXTRA_LAKEHOUSE="duckdb-1.4.4=/path/to/lakehouse" bench/peers/run.sh
#                                            also run another lakehouse binary (tag=path, space
#                                            separated for several), e.g. one built on another DuckDB:
#     BUILD_DIR=build-155 EXTRA_LAKEHOUSE="duckdb-1.4.4=build/app/lakehouse" RAW_DUCKDB_ALT=1.4.4 bench/peers/run.sh
#   RAW_DUCKDB_ALT=1.4.4 bench/peers/run.sh  also raw DuckDB at another version (its own venv, from
#                                            requirements-duckdb-1.4.4.txt), right after the baseline
#
# Work dir $WORK (default /tmp/lh-bench-peers): data/ (events 10M rows, TPC-H SF1 lineitem 6M rows,
# kept between runs; data-s<SCALE>/ for other scales), out/results.json, out/ratios.png, server logs.
# The raw DuckDB baseline is the version the project embeds (scripts/duckdb-version): requirements.txt
# pins it, and run.sh refuses to start when the two disagree. The peers are installed from
# PyPI into bench/peers/.venv (ignored by git) from requirements.txt (pinned, with hashes).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BUILD_DIR=${BUILD_DIR:-$ROOT/build}
REPS=${REPS:-3}
WORK=${WORK:-/tmp/lh-bench-peers}
ENGINES=${ENGINES:-duckdb,lakehouse,datafusion,polars,roapi_scan,roapi_memory}
QUERIES=${QUERIES:-}
SCALE=${SCALE:-1}
RAW_DUCKDB_ALT=${RAW_DUCKDB_ALT:-}
VENV=$HERE/.venv
log() { printf '[peers] %s\n' "$*" >&2; }

# The venv: rebuilt when requirements.txt changes. The lock holds CPython 3.11 / x86_64 wheels.
python3 -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' ||
  { log "needs python3 3.11 (requirements.txt is locked for cp311 wheels), found $(python3 --version)"; exit 1; }
if [ ! -f "$VENV/.stamp" ] || ! cmp -s "$VENV/.stamp" "$HERE/requirements.txt"; then
  log "installing the peers into $VENV"
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check --require-hashes --no-deps -r "$HERE/requirements.txt"
  cp "$HERE/requirements.txt" "$VENV/.stamp"
fi
PY=$VENV/bin/python
embedded=$(cat "$ROOT/scripts/duckdb-version")
raw=$("$PY" -c 'import duckdb; print(duckdb.__version__)')
[ "$raw" = "$embedded" ] ||
  { log "requirements.txt pins duckdb $raw, the project embeds $embedded (scripts/duckdb-version)"; exit 1; }
ALT_ARGS=()
for v in $RAW_DUCKDB_ALT; do
  req="$HERE/requirements-duckdb-$v.txt"
  [ -f "$req" ] || { log "no $req (raw DuckDB $v is not pinned)"; exit 1; }
  alt="$HERE/.venv-duckdb-$v"
  if [ ! -f "$alt/.stamp" ] || ! cmp -s "$alt/.stamp" "$req"; then
    log "installing raw DuckDB $v into $alt"
    rm -rf "$alt"
    python3 -m venv "$alt"
    "$alt/bin/pip" install -q --disable-pip-version-check --require-hashes --no-deps -r "$req"
    cp "$req" "$alt/.stamp"
  fi
  ALT_ARGS+=(--alt-duckdb "$v" "$alt/bin/python")
done

cmake --build "$BUILD_DIR" --target lakehouse >/dev/null
DATA=$WORK/data
[ "$SCALE" = 1 ] || DATA=$WORK/data-s$SCALE
mkdir -p "$DATA" "$WORK/bin" "$WORK/out"
# Copies of the servers: a build dir may be relinked by another build during the run.
cp "$BUILD_DIR/app/lakehouse" "$WORK/bin/lakehouse"
LH_ARGS=(--lakehouse "${LAKEHOUSE_TAG:-duckdb-$embedded}" "$WORK/bin/lakehouse")
for spec in ${EXTRA_LAKEHOUSE:-}; do
  tag=${spec%%=*}
  cp "${spec#*=}" "$WORK/bin/lakehouse-$tag"
  LH_ARGS+=(--lakehouse "$tag" "$WORK/bin/lakehouse-$tag")
done

"$PY" "$HERE/peers.py" gen "$DATA" --scale "$SCALE"
exec "$PY" "$HERE/peers.py" run --data "$DATA" --out "$WORK/out" --reps "$REPS" --engines "$ENGINES" \
  --queries "$QUERIES" --scale "$SCALE" "${LH_ARGS[@]}" "${ALT_ARGS[@]}"
