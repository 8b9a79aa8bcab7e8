#!/usr/bin/env bash
# Tracing (+ auth) overhead: /health (wrk) and the baseline queries with tracing on (always_on,
# exporting to a real OTLP receiver that counts the spans) and auth on vs both off, same binary, same
# run; the figure is the server's CPU time per request, rounds alternating, medians
# (bench/telemetry/run.py has the knobs: REQUESTS, ROUNDS, RUNS, BLOCK, ROWS, BENCH_CONFIGS, BENCH_SAMPLER).
#   bench/telemetry.sh            REQUESTS=20000 per /health round, ROUNDS=15; queries RUNS=5 x BLOCK=20; ROWS=300000
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD_DIR:-$ROOT/build}
command -v wrk >/dev/null || { echo "wrk is missing: run scripts/setup.sh" >&2; exit 1; }
[ -x "$BUILD/app/lakehouse" ] || cmake --build "$BUILD" --target lakehouse
# A copy of the binary: the build dir may be relinked meanwhile.
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
cp "$BUILD/app/lakehouse" "$tmp/lakehouse"
LAKEHOUSE_BIN="$tmp/lakehouse" PYTHONPATH="$ROOT/tests/pyhelpers" "$ROOT/.venv/bin/python" "$ROOT/bench/telemetry/run.py"
