#!/usr/bin/env bash
# AI benchmark: embeddings/s straight to the bundled model server vs through
# gateway -> aibridge -> sidecar (batches of 32, same run, alternating rounds), and rows/s of an
# embedding job over a 10,000-row text column, plus one search over the result.
# Everything runs on 127.0.0.1 and is bounded (fixed request counts, 10-minute cap).
#   bench/ai.sh [BATCHES_PER_ROUND=40] [ROUNDS=3] [COLUMN_ROWS=10000]
# BUILD_DIR picks the build tree (default: build).
# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"  # strict mode, ROOT, BUILD_DIR, free_port, wait_up, get, check
[ -d "$BUILD_DIR" ] || cmake -S "$ROOT" -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$BUILD_DIR" --target ai_bench -j2 >/dev/null
timeout 600 "$BUILD_DIR/bench/ai/ai_bench" "${1:-40}" "${2:-3}" "${3:-10000}"
