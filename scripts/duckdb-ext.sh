#!/usr/bin/env bash
# Fetches official DuckDB extensions from their sha256-pinned wheels on PyPI (one signed
# <name>.duckdb_extension each, see /work/shared/docs/STACK.md) into a folder, where the server
# LOADs them from the file: DuckDB never downloads anything itself.
#   scripts/duckdb-ext.sh <python> <dest dir> <version> <name>=<wheel sha256> ...
# The wheel family follows the version: 1.4.x is `duckdb-ext-<name>==1.4.4.20260205` (pass that
# version), 1.5 on `duckdb-extension-<name>==1.5.5`.
# Idempotent: an extension whose stamp matches its hash is skipped.
set -euo pipefail
python=$1 dest=$2 version=$3
shift 3
case "$version" in
  1.4.*) family=duckdb-ext ;;
  *) family=duckdb-extension ;;
esac
mkdir -p "$dest"
for spec in "$@"; do
  ext=${spec%%=*} sha=${spec#*=}
  stamp="$dest/.$ext-$sha"
  [ -f "$stamp" ] && [ -f "$dest/$ext.duckdb_extension" ] && continue
  printf '[setup duckdb-ext] fetching %s-%s==%s\n' "$family" "$ext" "$version" >&2
  tmp=$(mktemp -d)
  "$python" -m pip download -q --disable-pip-version-check --no-deps --only-binary=:all: \
    "$family-$ext==$version" -d "$tmp"
  wheel=$(ls "$tmp"/*.whl)
  echo "$sha  $wheel" | sha256sum -c --quiet -
  "$python" -c "import sys, zipfile; z = zipfile.ZipFile(sys.argv[1]); \
n = [m for m in z.namelist() if m.endswith('/$ext.duckdb_extension')][0]; \
open(sys.argv[2], 'wb').write(z.read(n))" "$wheel" "$dest/$ext.duckdb_extension.tmp"
  mv "$dest/$ext.duckdb_extension.tmp" "$dest/$ext.duckdb_extension"
  rm -rf "$tmp"
  rm -f "$dest/.$ext-"*
  touch "$stamp"
done
