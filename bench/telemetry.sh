#!/usr/bin/env bash
# Tracing overhead: /health (wrk) and the baseline queries with tracing on (always_on, exporting to
# a real OTLP receiver) vs off, same binary, same run; prints on/off ratios (bench/telemetry/run.py).
#   bench/telemetry.sh            DURATION=5 s of wrk per server, RUNS=7 per query, ROWS=1000000
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD_DIR:-$ROOT/build}
command -v wrk >/dev/null || { echo "wrk is missing: run scripts/setup.sh" >&2; exit 1; }
[ -x "$BUILD/app/lakehouse" ] || cmake --build "$BUILD" --target lakehouse
# A copy of the binary: the build dir may be relinked meanwhile.
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
cp "$BUILD/app/lakehouse" "$tmp/lakehouse"
LAKEHOUSE_BIN="$tmp/lakehouse" PYTHONPATH="$ROOT/tests/pyhelpers" "$ROOT/.venv/bin/python" "$ROOT/bench/telemetry/run.py"
