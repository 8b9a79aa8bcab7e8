#!/usr/bin/env bash
# Iceberg read figures with real engines (issue 12), one ROWS-row table on local disk, ratios
# against baselines run in the same invocation (bench/iceberg/spark_bench.py):
#   - Spark 4.0 local[2]: an aggregate through our Iceberg REST catalog vs the same Parquet files
#     read directly by Spark (median of RUNS, after a warm-up of each; target <= 1.1x)
#   - PyIceberg scan to Arrow vs our /api/v1/query Arrow endpoint for the same table (median of RUNS)
# Prints the load average too: the machine is shared, compare ratios, not seconds.
# Usage: bench/iceberg_spark.sh      env: BUILD_DIR (default build/), ROWS (10,000,000), RUNS (3)
# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"  # strict mode, ROOT, BUILD_DIR, free_port, wait_up, get, check
PY="$ROOT/iceberg/.deps/venv/bin/python"
[ -x "$PY" ] && [ -d "$ROOT/iceberg/.deps/jars" ] || bash "$ROOT/scripts/setup.d/60-iceberg.sh"
tmp=$(mktemp -d /tmp/lh-iceberg-spark-bench.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
# One copy of the binary for the whole run (the shared build dir can be relinked mid-run).
cp "$BUILD_DIR/app/lakehouse" "$tmp/lakehouse"
export LAKEHOUSE_BIN="$tmp/lakehouse" SPARK_LOCAL_IP=127.0.0.1
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg) ($(nproc) cores)"
PYTHONPATH="$ROOT/tests/pyhelpers${PYTHONPATH:+:$PYTHONPATH}" timeout 1500 "$PY" "$ROOT/bench/iceberg/spark_bench.py" --rows "${ROWS:-10000000}" --runs "${RUNS:-3}" | tee "$tmp/results"
echo "load average after:  $(cut -d' ' -f1-3 /proc/loadavg)"
get() { sed -n "s/^RESULT $1=//p" "$tmp/results"; }
echo
echo "== summary (${ROWS:-10000000} rows, local disk)"
printf '%-50s %8s s\n' "Spark aggregate through our REST catalog" "$(get spark_s_catalog)"
printf '%-50s %8s s\n' "Spark aggregate over the Parquet files directly" "$(get spark_s_direct)"
printf '%-50s %8s    target <= 1.1   %s\n' "Spark: catalog / direct" "$(get spark_ratio)" \
  "$(awk -v v="$(get spark_ratio)" 'BEGIN { print (v <= 1.1) ? "ok" : "MISSED" }')"
printf '%-50s %8s s\n' "PyIceberg scan to Arrow" "$(get scan_s_pyiceberg)"
printf '%-50s %8s s\n' "our HTTP Arrow endpoint (SELECT *)" "$(get scan_s_http_arrow)"
printf '%-50s %8s\n' "PyIceberg / HTTP Arrow" "$(get scan_ratio)"
