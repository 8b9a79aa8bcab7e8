#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz/) with clang into build-fuzz/ and runs each for a bounded
# time, starting from its committed corpus (fuzz/corpus/<target>/; new inputs go to a scratch dir,
# the repository is not modified). Fails on the first crash, leak, timeout or OOM, keeping the
# reproducer in build-fuzz/artifacts/. Prints executions and coverage per target.
# Usage: scripts/fuzz.sh [target...]     FUZZ_SECONDS=30 per target (CI), MERGE=1 adds new inputs
# to the committed corpus (minimised with -merge=1).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
SECONDS_PER_TARGET=${FUZZ_SECONDS:-30}
TARGETS=("$@")
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=(http presign ingest sql)

if [ ! -f build-fuzz/build.ninja ]; then
  CC=clang-14 CXX=clang++-14 cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DLAKEHOUSE_FUZZ=ON -DLAKEHOUSE_BUILD_TESTS=OFF -DLAKEHOUSE_BUILD_BENCH=OFF >/dev/null
fi
cmake --build build-fuzz --parallel "$(nproc)" --target $(printf 'fuzz_%s ' "${TARGETS[@]}")

mkdir -p build-fuzz/artifacts
status=0
for t in "${TARGETS[@]}"; do
  scratch=$(mktemp -d)
  log=build-fuzz/fuzz_$t.log
  echo "[fuzz] $t for ${SECONDS_PER_TARGET}s" >&2
  # DuckDB's prebuilt library is not instrumented; its own allocations are not leak-checked.
  if ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 "build-fuzz/fuzz/fuzz_$t" "$scratch" "fuzz/corpus/$t" \
      -max_total_time="$SECONDS_PER_TARGET" -timeout=20 -rss_limit_mb=3072 -max_len=8192 \
      -artifact_prefix="build-fuzz/artifacts/$t-" -print_final_stats=1 >"$log" 2>&1; then
    if [ "${MERGE:-0}" = 1 ]; then
      "build-fuzz/fuzz/fuzz_$t" -merge=1 "fuzz/corpus/$t" "$scratch" >/dev/null 2>&1 || true
    fi
  else
    status=1
    echo "[fuzz] $t FAILED; reproducer in build-fuzz/artifacts/ (log: $log):" >&2
    grep -E "ERROR|SUMMARY|Test unit written" "$log" | head -5 >&2 || tail -20 "$log" >&2
  fi
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo "?")
  cov=$(grep -oE '#[0-9]+[[:space:]]+DONE[[:space:]]+cov: [0-9]+ ft: [0-9]+' "$log" | tail -1 | grep -oE 'cov: [0-9]+ ft: [0-9]+' || true)
  [ -n "$cov" ] || cov=$(grep -oE 'cov: [0-9]+ ft: [0-9]+' "$log" | tail -1 || echo "cov: ?")
  echo "[fuzz] $t: executions=$execs $cov" >&2
  rm -rf "$scratch"
done
exit $status
