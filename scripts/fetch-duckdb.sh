#!/usr/bin/env bash
# Installs one DuckDB version into third_party/duckdb-<version>/{include,lib,LICENSE} (1.4.4: its
# original place third_party/duckdb/, so existing installs and build caches stay valid), every file
# checked against a pinned sha256 (docs/adr/0013-duckdb-version.md). Versions side by side; the build
# picks one with the CMake cache variable LAKEHOUSE_DUCKDB_VERSION (default: scripts/duckdb-version).
#   scripts/fetch-duckdb.sh                  the default version (scripts/duckdb-version)
#   scripts/fetch-duckdb.sh 1.4.4            another one (LAKEHOUSE_DUCKDB_VERSION=1.4.4 scripts/setup.sh)
# Idempotent: a version whose stamp is present is skipped; nothing else in third_party/ is touched.
#   1.5.5  libduckdb.so from npm @duckdb/node-bindings-linux-x64@1.5.5-r.5; headers from the PyPI
#          sdist duckdb==1.5.5 (external/duckdb/src/include). The sdist is fetched as a file, not with
#          `pip download`, which would prepare it (build its metadata with scikit-build-core).
#   1.4.4  libduckdb.so from npm @duckdb/node-bindings-linux-x64@1.4.4-r.4; headers from npm duckdb@1.4.4.
# The headers and the library of each pair report the same source id.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
VERSION=${1:-${LAKEHOUSE_DUCKDB_VERSION:-$(cat "$ROOT/scripts/duckdb-version")}}
case "$VERSION" in
  1.5.5)
    LIB_PKG=@duckdb/node-bindings-linux-x64@1.5.5-r.5
    LIB_TGZ=duckdb-node-bindings-linux-x64-1.5.5-r.5.tgz
    LIB_SHA=86d2bda909785550e8a14a57a8a4584827aff0e268d8f1a58c3fd48559f7020e
    SRC_URL=https://files.pythonhosted.org/packages/7d/19/e57151753576373c6696a12022648546cca6038e8833fda2908ee2342d9b/duckdb-1.5.5.tar.gz
    SRC_FILE=duckdb-1.5.5.tar.gz
    SRC_SHA=72f33ee57ca7595b23957671a2cc7f7fe2be0ecc2d68f63abedcfcaa3a5c1238
    SRC_INCLUDE=duckdb-1.5.5/external/duckdb/src/include
    SRC_LICENSE=duckdb-1.5.5/external/duckdb/LICENSE
    DEST="$ROOT/third_party/duckdb-1.5.5"
    STAMP="$DEST/.stamp-1.5.5-r.5"
    ;;
  1.4.4)
    LIB_PKG=@duckdb/node-bindings-linux-x64@1.4.4-r.4
    LIB_TGZ=duckdb-node-bindings-linux-x64-1.4.4-r.4.tgz
    LIB_SHA=732fac4dc6b8f198870b9c4bb6ddf13544466daca00ad28ba2f1d80de5d7aa4b
    SRC_URL=npm:duckdb@1.4.4
    SRC_FILE=duckdb-1.4.4.tgz
    SRC_SHA=5bb967dcbcd517670ba5f169f238fb9d6787e53752c60ebe24386169d76941ed
    SRC_INCLUDE=package/src/duckdb/src/include
    SRC_LICENSE=package/LICENSE
    DEST="$ROOT/third_party/duckdb"
    STAMP="$DEST/.stamp-1.4.4-r.4"
    ;;
  *) echo "scripts/fetch-duckdb.sh: no pinned DuckDB $VERSION (known: 1.5.5, 1.4.4)" >&2; exit 1 ;;
esac
[ -f "$STAMP" ] && exit 0
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
echo "[setup] fetching DuckDB $VERSION ($LIB_PKG, ${SRC_URL##*/})" >&2
npm pack --silent "$LIB_PKG" >/dev/null
if [[ "$SRC_URL" == npm:* ]]; then
  npm pack --silent "${SRC_URL#npm:}" >/dev/null
else
  curl -sSfL --retry 3 -o "$SRC_FILE" "$SRC_URL"
fi
echo "$LIB_SHA  $LIB_TGZ" | sha256sum -c --quiet -
echo "$SRC_SHA  $SRC_FILE" | sha256sum -c --quiet -
mkdir lib src
tar xzf "$LIB_TGZ" -C lib package/libduckdb.so
tar xzf "$SRC_FILE" -C src "$SRC_INCLUDE" "$SRC_LICENSE"
# Assembled next to the destination, then renamed into place: a half-copied version is never used.
rm -rf "$DEST.tmp"; mkdir -p "$DEST.tmp/lib"
cp lib/package/libduckdb.so "$DEST.tmp/lib/"
cp -r "src/$SRC_INCLUDE" "$DEST.tmp/include"
cp "src/$SRC_LICENSE" "$DEST.tmp/LICENSE"
touch "$DEST.tmp/${STAMP##*/}"
rm -rf "$DEST"
mv "$DEST.tmp" "$DEST"
