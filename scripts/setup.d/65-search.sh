#!/usr/bin/env bash
# The DuckDB extensions search's own DuckDB loads from their files (docs/adr/0007-search.md):
# fts (BM25 full-text index) and vss (HNSW vector index), from the sha256-pinned
# duckdb-ext-* 1.4.4 wheels on PyPI, into the ignored search/.deps/duckdb_ext/.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
"$ROOT/scripts/duckdb-ext.sh" "$ROOT/.venv/bin/python" "$ROOT/search/.deps/duckdb_ext" 1.4.4.20260205 \
  fts=7e885a5f693e542b5e2cf17fe976eda8def9641261fa11d0f6769b879470af90 \
  vss=9666ddb74c9823ffdd65e31b03e1f119ecd91fccd1f30e8a01eef44a1ac5658c
