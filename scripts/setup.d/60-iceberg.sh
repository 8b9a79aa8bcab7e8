#!/usr/bin/env bash
# The engines the Iceberg tests read our tables with, all under the ignored iceberg/.deps/:
#   venv/        PyIceberg 0.12 + pyarrow + duckdb 1.4.4 (iceberg/tests/requirements.txt, hash-pinned)
#   duckdb_ext/  iceberg.duckdb_extension and avro.duckdb_extension from the sha256-pinned
#                duckdb-ext-* 1.4.4 wheels on PyPI (loaded from the file; DuckDB never downloads)
# libavro-dev (the C library the server writes Avro with) is in scripts/setup.sh's APT list.
# Idempotent: each part is skipped when its stamp matches.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
DEPS="$ROOT/iceberg/.deps"
REQS="$ROOT/iceberg/tests/requirements.txt"
log() { printf '[setup iceberg] %s\n' "$*" >&2; }
mkdir -p "$DEPS"

# ---- Python venv ----------------------------------------------------------------------------
sum=$(sha256sum "$REQS" | cut -c1-16)
if [ ! -f "$DEPS/venv/.stamp-$sum" ]; then
  log "installing $REQS into iceberg/.deps/venv"
  [ -x "$DEPS/venv/bin/python" ] || /usr/bin/python3 -m venv "$DEPS/venv"
  "$DEPS/venv/bin/python" -m pip install -q --disable-pip-version-check --require-hashes --only-binary=:all: -r "$REQS"
  rm -f "$DEPS"/venv/.stamp-*
  touch "$DEPS/venv/.stamp-$sum"
fi

# ---- DuckDB extensions (iceberg needs avro loaded first) ------------------------------------
EXT_VERSION=1.4.4.20260205
declare -A EXT_SHA256=(
  [iceberg]=edd0d3676c4c4b46beef9217b27c09ad531224ac5b11d706ed63bb1be1f7fb97
  [avro]=3956c822a89db87524c4fd06b207495eb7cbd1592abf7ab29a5fce88baaa828e
)
mkdir -p "$DEPS/duckdb_ext"
for ext in avro iceberg; do
  stamp="$DEPS/duckdb_ext/.$ext-${EXT_SHA256[$ext]}"
  [ -f "$stamp" ] && [ -f "$DEPS/duckdb_ext/$ext.duckdb_extension" ] && continue
  log "fetching duckdb-ext-$ext==$EXT_VERSION"
  tmp=$(mktemp -d)
  "$DEPS/venv/bin/python" -m pip download -q --disable-pip-version-check --no-deps --only-binary=:all: \
    "duckdb-ext-$ext==$EXT_VERSION" -d "$tmp"
  wheel=$(ls "$tmp"/*.whl)
  echo "${EXT_SHA256[$ext]}  $wheel" | sha256sum -c --quiet -
  "$DEPS/venv/bin/python" -c "import sys, zipfile; z = zipfile.ZipFile(sys.argv[1]); \
n = [m for m in z.namelist() if m.endswith('/$ext.duckdb_extension')][0]; \
open(sys.argv[2], 'wb').write(z.read(n))" "$wheel" "$DEPS/duckdb_ext/$ext.duckdb_extension"
  rm -rf "$tmp"
  rm -f "$DEPS/duckdb_ext/.$ext-"*
  touch "$stamp"
done
