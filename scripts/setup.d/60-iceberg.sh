#!/usr/bin/env bash
# The engines the Iceberg tests read our tables with, all under the ignored iceberg/.deps/:
#   venv/        PyIceberg 0.12 + pyarrow + duckdb 1.4.4 (iceberg/tests/requirements.txt, hash-pinned)
#   duckdb_ext/  iceberg.duckdb_extension and avro.duckdb_extension from the sha256-pinned
#                duckdb-ext-* 1.4.4 wheels on PyPI (loaded from the file; DuckDB never downloads)
#   venv/ also   pyspark 4.0.1 (iceberg/tests/requirements-spark.txt, hash-pinned)
#   jars/        iceberg-spark-runtime-4.0_2.13 and iceberg-aws-bundle 1.10.0 from Maven Central (sha256)
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
"$ROOT/scripts/duckdb-ext.sh" "$DEPS/venv/bin/python" "$DEPS/duckdb_ext" 1.4.4.20260205 \
  avro=3956c822a89db87524c4fd06b207495eb7cbd1592abf7ab29a5fce88baaa828e \
  iceberg=edd0d3676c4c4b46beef9217b27c09ad531224ac5b11d706ed63bb1be1f7fb97

# ---- Spark 4.0 + the Iceberg runtime and AWS bundle (Maven Central, sha256-pinned) ----------
spark_sum=$(sha256sum "$ROOT/iceberg/tests/requirements-spark.txt" | cut -c1-16)
if [ ! -f "$DEPS/venv/.spark-$spark_sum" ]; then
  log "installing pyspark (iceberg/tests/requirements-spark.txt)"
  "$DEPS/venv/bin/python" -m pip install -q --disable-pip-version-check --require-hashes \
    -r "$ROOT/iceberg/tests/requirements-spark.txt"
  rm -f "$DEPS"/venv/.spark-*
  touch "$DEPS/venv/.spark-$spark_sum"
fi
MAVEN=https://repo1.maven.org/maven2/org/apache/iceberg
declare -A JAR_SHA256=(
  [iceberg-spark-runtime-4.0_2.13-1.10.0.jar]=0480f1248e0a8b50ae2a730d7ad3e1a727351c362ca63f4a0c35182087a49323
  [iceberg-aws-bundle-1.10.0.jar]=172370cfc32a5f1ae5399b210e86fc04a366dc29a112d97ac8ffc74df7525596
)
declare -A JAR_PATH=(
  [iceberg-spark-runtime-4.0_2.13-1.10.0.jar]=iceberg-spark-runtime-4.0_2.13/1.10.0
  [iceberg-aws-bundle-1.10.0.jar]=iceberg-aws-bundle/1.10.0
)
mkdir -p "$DEPS/jars"
for jar in "${!JAR_SHA256[@]}"; do
  if [ -f "$DEPS/jars/$jar" ] && echo "${JAR_SHA256[$jar]}  $DEPS/jars/$jar" | sha256sum -c --quiet - 2>/dev/null; then
    continue
  fi
  log "fetching $jar"
  curl -sSfL --retry 3 -o "$DEPS/jars/$jar.tmp" "$MAVEN/${JAR_PATH[$jar]}/$jar"
  echo "${JAR_SHA256[$jar]}  $DEPS/jars/$jar.tmp" | sha256sum -c --quiet -
  mv "$DEPS/jars/$jar.tmp" "$DEPS/jars/$jar"
done
