#!/usr/bin/env bash
# Incremental embedding vs a full re-embed through the real server and the bundled embedding model
# (bench/search/incremental.py): embeds ROWS short texts, appends 1 %, runs the embeddings job again
# (it embeds only the new rows) and a full re-embed of the same rows into a new target; prints the
# time of each, the rows each embedded, and the ratio. Everything on 127.0.0.1, bounded (fixed row
# counts, 40-minute cap), the server stopped at the end.
#   bench/search_incremental.sh [ROWS=10000] [APPEND_PERCENT=1]
# BUILD_DIR picks the build tree (default: build).
# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"  # strict mode, ROOT, BUILD_DIR, free_port, wait_up, get, check
[ -d "$BUILD_DIR" ] || cmake -S "$ROOT" -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$BUILD_DIR" --target lakehouse -j2 >/dev/null
# A copy of the binary: the build tree may be relinked meanwhile.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp "$BUILD_DIR/app/lakehouse" "$tmp/lakehouse"
ROWS=${1:-10000} APPEND_PERCENT=${2:-1} LAKEHOUSE_BIN="$tmp/lakehouse" PYTHONPATH="$ROOT/tests/pyhelpers" \
  timeout 2400 "$ROOT/.venv/bin/python" "$ROOT/bench/search/incremental.py"
