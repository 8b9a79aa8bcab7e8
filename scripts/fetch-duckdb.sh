#!/usr/bin/env bash
# Installs DuckDB 1.4.4 into third_party/duckdb/{include,lib} from two npm tarballs, checked
# against pinned sha256 sums. The headers and the library report the same source id (6ddac802ff).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DEST="$ROOT/third_party/duckdb"
STAMP="$DEST/.stamp-1.4.4-r.4"
[ -f "$STAMP" ] && exit 0
LIB_PKG=@duckdb/node-bindings-linux-x64@1.4.4-r.4
LIB_SHA=732fac4dc6b8f198870b9c4bb6ddf13544466daca00ad28ba2f1d80de5d7aa4b
SRC_PKG=duckdb@1.4.4
SRC_SHA=5bb967dcbcd517670ba5f169f238fb9d6787e53752c60ebe24386169d76941ed
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
echo "[setup] fetching DuckDB 1.4.4 from npm" >&2
npm pack --silent "$LIB_PKG" "$SRC_PKG" >/dev/null
echo "$LIB_SHA  duckdb-node-bindings-linux-x64-1.4.4-r.4.tgz" | sha256sum -c --quiet -
echo "$SRC_SHA  duckdb-1.4.4.tgz" | sha256sum -c --quiet -
mkdir lib src
tar xzf duckdb-node-bindings-linux-x64-1.4.4-r.4.tgz -C lib
tar xzf duckdb-1.4.4.tgz -C src package/src/duckdb/src/include package/LICENSE
rm -rf "$DEST"; mkdir -p "$DEST/lib"
cp lib/package/libduckdb.so "$DEST/lib/"
cp -r src/package/src/duckdb/src/include "$DEST/include"
cp src/package/LICENSE "$DEST/LICENSE"
touch "$STAMP"
