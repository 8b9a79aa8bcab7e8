#!/usr/bin/env bash
# Tracing (+ auth) overhead: /health (wrk) and the baseline queries with tracing on (always_on,
# exporting to a real OTLP receiver that counts the spans) and auth on vs both off, same binary, same
# run; the figure is the server's CPU time per request, rounds alternating, medians
# (bench/telemetry/run.py has the knobs: REQUESTS, ROUNDS, RUNS, BLOCK, ROWS, BENCH_CONFIGS, BENCH_SAMPLER).
#   bench/telemetry.sh            REQUESTS=20000 per /health round, ROUNDS=15; queries RUNS=5 x BLOCK=20; ROWS=300000
#   LAKEHOUSE_BASE_BIN=/path/to/old/lakehouse BENCH_CONFIGS=off,auth+trace,auth+trace@base bench/telemetry.sh
#                                 also measures an earlier build's auth+trace in the same rounds
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD_DIR:-$ROOT/build}
command -v wrk >/dev/null || { echo "wrk is missing: run scripts/setup.sh" >&2; exit 1; }
[ -x "$BUILD/app/lakehouse" ] || cmake --build "$BUILD" --target lakehouse
# A copy of the binary: the build dir may be relinked meanwhile.
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
cp "$BUILD/app/lakehouse" "$tmp/lakehouse"
# LAKEHOUSE_BASE_BIN: an earlier build, for servers named NAME@base in BENCH_CONFIGS (same run).
BASE_BIN=""
if [ -n "${LAKEHOUSE_BASE_BIN:-}" ]; then cp "$LAKEHOUSE_BASE_BIN" "$tmp/lakehouse-base"; BASE_BIN="$tmp/lakehouse-base"; fi
BASE_BIN="$BASE_BIN" LAKEHOUSE_BIN="$tmp/lakehouse" PYTHONPATH="$ROOT/tests/pyhelpers" "$ROOT/.venv/bin/python" "$ROOT/bench/telemetry/run.py"
