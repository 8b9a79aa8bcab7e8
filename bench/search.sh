#!/usr/bin/env bash
# Search index benchmark: HNSW (DuckDB vss) vs brute force over N random 384-d vectors in
# search's own DuckDB (the service's Index class and SQL): build time, p50/p99, recall@10.
# Bounded: fixed N and query count, 30-minute cap. Needs scripts/setup.d/65-search.sh's extensions.
#   bench/search.sh [N=200000] [QUERIES=100] [DIM=384] [MEMORY_LIMIT=6GB] [EF_SEARCH=200] [M=16]
#                   [EF_CONSTRUCTION=128] [DATA=gaussian|lowrank]
# BUILD_DIR picks the build tree (default: build).
# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"  # strict mode, ROOT, BUILD_DIR, free_port, wait_up, get, check
[ -d "$BUILD_DIR" ] || cmake -S "$ROOT" -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$BUILD_DIR" --target search_bench -j2 >/dev/null
timeout 1800 "$BUILD_DIR/bench/search/search_bench" "${1:-200000}" "${2:-100}" "${3:-384}" "${4:-6GB}" "${5:-200}" \
  "${6:-16}" "${7:-128}" "${8:-gaussian}"
