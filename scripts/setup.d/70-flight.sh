#!/usr/bin/env bash
# Arrow Flight SQL (docs/adr/0019-flight-sql.md):
# 1. The Arrow project's own Flight.proto and FlightSql.proto, as Apache Arrow publishes them in its
#    flight-core 18.1.0 jar on Maven Central (sha256-pinned jar, then each file verified), into the
#    ignored flight/.deps/proto/ that flight/CMakeLists.txt generates C++ from.
# 2. The Flight SQL test clients (ADBC driver + manager; pyarrow.flight comes with pyarrow) into
#    .venv, pinned with hashes (flight/tests/requirements.txt).
# Idempotent: skips what is in place with the right checksum.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
VENV="$ROOT/.venv"
DEST="$ROOT/flight/.deps/proto"
VERSION=18.1.0
JAR_SHA=34e0e4e43f80e3487099be79c2e29be977f542c153467c0c392297ea705a101a
declare -A FILES=(
  [Flight.proto]=b5923f85465861ed28044608c369b6b744e7d987393645b4a6fed87574f66b39
  [FlightSql.proto]=87049b3b561cb5743be0deaa6ab095d3ce0350dd33cfc1fe2377d92d5aec094a
)

ok=1
for f in "${!FILES[@]}"; do
  echo "${FILES[$f]}  $DEST/$f" | sha256sum -c --status 2>/dev/null || ok=0
done
if [ "$ok" = 0 ]; then
  printf '[setup flight] fetching org.apache.arrow:flight-core:%s (Flight.proto, FlightSql.proto)\n' "$VERSION" >&2
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  curl -fsSL --retry 3 -o "$tmp/flight-core.jar" \
    "https://repo1.maven.org/maven2/org/apache/arrow/flight-core/$VERSION/flight-core-$VERSION.jar"
  echo "$JAR_SHA  $tmp/flight-core.jar" | sha256sum -c --quiet -
  mkdir -p "$DEST"
  for f in "${!FILES[@]}"; do
    mkdir -p "$tmp/p"
    python3 -c "import sys, zipfile; open(sys.argv[3], 'wb').write(zipfile.ZipFile(sys.argv[1]).read(sys.argv[2]))" \
      "$tmp/flight-core.jar" "$f" "$tmp/p/$f"
    echo "${FILES[$f]}  $tmp/p/$f" | sha256sum -c --quiet -
    cp "$tmp/p/$f" "$DEST/$f"
  done
fi

[ -x "$VENV/bin/python" ] || { echo "70-flight: $VENV missing (run scripts/setup.d/10-python.sh first)" >&2; exit 1; }
REQS="$ROOT/flight/tests/requirements.txt"
sum=$(sha256sum "$REQS" | cut -c1-16)
if [ ! -f "$VENV/.flight-stamp-$sum" ]; then
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check --require-hashes --only-binary=:all: -r "$REQS"
  rm -f "$VENV"/.flight-stamp-*; touch "$VENV/.flight-stamp-$sum"
fi
