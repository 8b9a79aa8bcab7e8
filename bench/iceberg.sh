#!/usr/bin/env bash
# Iceberg figures (issue 12), bounded in time, ratios against baselines run in the same invocation:
#   - commits/s through HTTP (1-row CSV appends, one writer, SECONDS each) with Iceberg metadata
#     on vs off (target >= 0.5x), on local disk and on Ceph radosgw (started here with
#     scripts/rgw.sh and stopped afterwards; skip with ICEBERG_BENCH_S3=0)
#   - PyIceberg scan to Arrow vs our /api/v1/query Arrow endpoint, same ROWS-row table (median of 3)
# Spark through our catalog vs Spark over the same Parquet files (10M rows): bench/iceberg_spark.sh.
# Usage: bench/iceberg.sh [SECONDS]      env: BUILD_DIR (default build/), ROWS (2,000,000)
# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"  # strict mode, ROOT, BUILD_DIR, free_port, wait_up, get, check
SECONDS_EACH=${1:-5}
ROWS=${ROWS:-2000000}
PY="$ROOT/iceberg/.deps/venv/bin/python"
[ -x "$PY" ] || bash "$ROOT/scripts/setup.d/60-iceberg.sh"
tmp=$(mktemp -d /tmp/lh-iceberg-bench.XXXXXX)
rgw_dir="$tmp/rgw"
cleanup() { [ -d "$rgw_dir" ] && "$ROOT/scripts/rgw.sh" stop "$rgw_dir" >/dev/null 2>&1 || true; rm -rf "$tmp"; }
trap cleanup EXIT
# One copy of the binary for the whole run (the shared build dir can be relinked mid-run).
cp "$BUILD_DIR/app/lakehouse" "$tmp/lakehouse"
export LAKEHOUSE_BIN="$tmp/lakehouse"
results="$tmp/results"
run() { PYTHONPATH="$ROOT/tests/pyhelpers${PYTHONPATH:+:$PYTHONPATH}" timeout 900 "$PY" "$ROOT/bench/iceberg/iceberg_bench.py" --seconds "$SECONDS_EACH" --rows "$ROWS" "$@" | tee -a "$results"; }

echo "== local disk"
run --label local
if [ "${ICEBERG_BENCH_S3:-1}" != 0 ]; then
  echo "== Ceph radosgw"
  "$ROOT/scripts/rgw.sh" start "$rgw_dir" >/dev/null
  run --label s3 --s3-env "$rgw_dir/env"
fi

echo
echo "== summary (2 cores shared)"
for label in local $([ "${ICEBERG_BENCH_S3:-1}" != 0 ] && echo s3); do
  printf '%-52s %10s\n' "commits/s $label, Iceberg off" "$(get "commits_per_s_${label}_iceberg_off")"
  printf '%-52s %10s\n' "commits/s $label, Iceberg on" "$(get "commits_per_s_${label}_iceberg_on")"
  check "commits $label: on / off" "$(get "commits_ratio_$label")" ">=" 0.5
  printf '%-52s %10s\n' "scan $ROWS rows $label: PyIceberg (s)" "$(get "scan_s_${label}_pyiceberg")"
  printf '%-52s %10s\n' "scan $ROWS rows $label: HTTP Arrow (s)" "$(get "scan_s_${label}_http_arrow")"
  printf '%-52s %10s\n' "scan $label: PyIceberg / HTTP Arrow" "$(get "scan_ratio_$label")"
done
