#!/usr/bin/env bash
# Search index benchmark: HNSW (DuckDB vss) vs brute force over N random 384-d vectors in
# search's own DuckDB (the service's Index class and SQL): HNSW build time, p50/p99 per query (wall
# and CPU) of both, the ratio HNSW / brute force, and recall@10 of HNSW against brute force.
# Bounded: fixed N and query count, a TIMEOUT cap (seconds, default 3600). Needs
# scripts/setup.d/65-search.sh's extensions. Memory: about 3 x N x DIM x 4 bytes (two tables and the
# index; 1M x 384: ~5 GB), within MEMORY_LIMIT for the tables.
#   bench/search.sh [N=200000] [QUERIES=100] [DIM=384] [MEMORY_LIMIT=6GB] [EF_SEARCH=400[,600,...]] [M=16]
#                   [EF_CONSTRUCTION=64] [DATA=gaussian|lowrank] [BUILD_THREADS=1]
# The 1M figures of ADR 0022: TIMEOUT=7000 bench/search.sh 1000000 100 384 8GB 200,300,400,600 16 64 lowrank 2
# BUILD_DIR picks the build tree (default: build).
# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"  # strict mode, ROOT, BUILD_DIR, free_port, wait_up, get, check
[ -d "$BUILD_DIR" ] || cmake -S "$ROOT" -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$BUILD_DIR" --target search_bench -j2 >/dev/null
timeout "${TIMEOUT:-3600}" "$BUILD_DIR/bench/search/search_bench" "${1:-200000}" "${2:-100}" "${3:-384}" "${4:-6GB}" \
  "${5:-400}" "${6:-16}" "${7:-64}" "${8:-gaussian}" "${9:-1}"
