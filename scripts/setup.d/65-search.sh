#!/usr/bin/env bash
# The DuckDB extensions search's own DuckDB loads from their files (docs/adr/0007-search.md):
# fts (BM25 full-text index) and vss (HNSW vector index), from sha256-pinned wheels on PyPI, into
# the ignored search/.deps/duckdb_ext/v<version>/ - one folder per DuckDB version, as the library
# names itself (`duckdb_library_version()`), because an extension loads only into its own version.
# The version is the build's (scripts/duckdb-version, or LAKEHOUSE_DUCKDB_VERSION; docs/adr/0013).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
VERSION=${LAKEHOUSE_DUCKDB_VERSION:-$(cat "$ROOT/scripts/duckdb-version")}
DEST="$ROOT/search/.deps/duckdb_ext/v$VERSION"
case "$VERSION" in
  1.5.5)
    "$ROOT/scripts/duckdb-ext.sh" "$ROOT/.venv/bin/python" "$DEST" 1.5.5 \
      fts=9d452ba4f0d083a183bed76ca2c710feaa823f6731ed57374f64b44e4d10f0a1 \
      vss=4d1b8013134cc1a14810fb2bb962653382fdccd6e1f39f0d383e38c88eb17efa
    ;;
  1.4.4)
    "$ROOT/scripts/duckdb-ext.sh" "$ROOT/.venv/bin/python" "$DEST" 1.4.4.20260205 \
      fts=7e885a5f693e542b5e2cf17fe976eda8def9641261fa11d0f6769b879470af90 \
      vss=9666ddb74c9823ffdd65e31b03e1f119ecd91fccd1f30e8a01eef44a1ac5658c
    ;;
  *) echo "65-search.sh: no pinned fts/vss wheels for DuckDB $VERSION" >&2; exit 1 ;;
esac
