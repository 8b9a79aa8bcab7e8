#!/usr/bin/env bash
# Catalog and ingest figures (issue 3), bounded in time:
#   - commits/s on local disk (1 and 4 writer threads, SECONDS each) and on Ceph radosgw
#     (started here with scripts/rgw.sh and stopped afterwards; skip with CATALOG_BENCH_S3=0)
#   - catalog rebuild time for DATASETS (10,000) datasets on local disk
#   - ingest MB/s for a Parquet upload and for CSV -> Parquet, against DuckDB's own COPY of the
#     same CSV in the same run (ratio)
# Usage: bench/catalog.sh [SECONDS]      env: BUILD_DIR (default build/), DATASETS, ROWS
# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"  # strict mode, ROOT, BUILD_DIR, free_port, wait_up, get, check
SECONDS_EACH=${1:-3}
DATASETS=${DATASETS:-10000}
ROWS=${ROWS:-2000000}
BIN="$BUILD_DIR/bench/catalog/catalog_bench"
[ -x "$BIN" ] || cmake --build "$BUILD_DIR" --target catalog_bench
tmp=$(mktemp -d /tmp/lh-catalog-bench.XXXXXX)
rgw_dir="$tmp/rgw"
cleanup() { [ -d "$rgw_dir" ] && "$ROOT/scripts/rgw.sh" stop "$rgw_dir" >/dev/null 2>&1 || true; rm -rf "$tmp"; }
trap cleanup EXIT
results="$tmp/results"
run() { timeout 600 "$BIN" "$@" | tee -a "$results"; }

echo "== commits on local disk ($SECONDS_EACH s each)"
run commits --dir "$tmp/local1" --threads 1 --seconds "$SECONDS_EACH"
run commits --dir "$tmp/local4" --threads 4 --seconds "$SECONDS_EACH"
echo "== rebuild of $DATASETS datasets (local disk)"
run rebuild --dir "$tmp/rebuild" --datasets "$DATASETS"
echo "== ingest ($ROWS rows)"
run ingest --dir "$tmp/ingest" --rows "$ROWS"
if [ "${CATALOG_BENCH_S3:-1}" != 0 ]; then
  echo "== commits on Ceph radosgw ($SECONDS_EACH s each)"
  "$ROOT/scripts/rgw.sh" start "$rgw_dir" >/dev/null
  run commits --s3-env "$rgw_dir/env" --threads 1 --seconds "$SECONDS_EACH"
  run commits --s3-env "$rgw_dir/env" --threads 4 --seconds "$SECONDS_EACH"
  echo "== rebuild of $DATASETS datasets (radosgw)"
  run rebuild --s3-env "$rgw_dir/env" --datasets "$DATASETS"
fi

echo
echo "== summary (2 cores shared; targets from issue 3)"
check "commits/s local, 1 writer" "$(get commits_per_s_local_t1)" ">=" 1000
check "commits/s local, 4 writers" "$(get commits_per_s_local_t4)" ">=" 1000
if [ "${CATALOG_BENCH_S3:-1}" != 0 ]; then
  check "commits/s radosgw, 1 writer" "$(get commits_per_s_s3_t1)" ">=" 50
  check "commits/s radosgw, 4 writers" "$(get commits_per_s_s3_t4)" ">=" 50
fi

check "rebuild of $DATASETS datasets, local (s)" "$(get "rebuild_s_local_$DATASETS")" "<" 2
check "  same, from a checkpoint (s)" "$(get "rebuild_snapshot_s_local_$DATASETS")" "<" 2
if [ "${CATALOG_BENCH_S3:-1}" != 0 ]; then
  check "rebuild of $DATASETS datasets, radosgw (s)" "$(get "rebuild_s_s3_$DATASETS")" "<" 2
  check "  same, from a checkpoint (s)" "$(get "rebuild_snapshot_s_s3_$DATASETS")" "<" 2
fi
check "ingest Parquet upload (MB/s)" "$(get ingest_parquet_mb_per_s)" ">=" 0
check "ingest CSV -> Parquet (MB/s)" "$(get ingest_csv_mb_per_s)" ">=" 0
check "DuckDB COPY CSV -> Parquet (MB/s)" "$(get duckdb_copy_csv_mb_per_s)" ">=" 0
check "CSV ingest / DuckDB COPY" "$(get csv_ingest_vs_copy_ratio)" ">=" 0.8
