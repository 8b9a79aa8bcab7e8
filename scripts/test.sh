#!/usr/bin/env bash
# Sets everything up (scripts/setup.sh), builds, and runs every test:
#   1. the full suite (GoogleTest, pytest, Node, radosgw-backed S3 tests) on the release build;
#   2. every C++ test again under AddressSanitizer + UndefinedBehaviorSanitizer (the tests
#      labelled python or node drive the release binary and are not repeated).
#   3. each libFuzzer target for FUZZ_SECONDS (30) from its corpus (scripts/fuzz.sh).
# Usage: scripts/test.sh [extra ctest args]     (SKIP_SANITIZE=1 skips step 2, SKIP_FUZZ=1 step 3)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
JOBS=$(nproc)

"$ROOT/scripts/setup.sh"
"$ROOT/scripts/lint.sh"   # formatting is part of the build's contract (.clang-format)

echo "[test] full suite (build/)" >&2
ctest --test-dir build --output-on-failure --timeout 900 -j "$JOBS" "$@"

if [ "${SKIP_SANITIZE:-0}" != 1 ]; then
  echo "[test] C++ tests under ASan + UBSan (build-asan/)" >&2
  if [ ! -f build-asan/build.ninja ]; then
    cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DLAKEHOUSE_SANITIZE=ON \
      -DLAKEHOUSE_BUILD_BENCH=OFF >/dev/null
  fi
  cmake --build build-asan --parallel "$JOBS"
  # DuckDB's prebuilt library is not instrumented; leak checks stay on for our code.
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --test-dir build-asan --output-on-failure --timeout 900 -j "$JOBS" -LE "python|node" "$@"
fi
if [ "${SKIP_FUZZ:-0}" != 1 ]; then
  # Every libFuzzer target (fuzz/) from its committed corpus, a bounded time each; fails on a crash.
  echo "[test] fuzzing, ${FUZZ_SECONDS:-30}s per target (build-fuzz/)" >&2
  FUZZ_SECONDS=${FUZZ_SECONDS:-30} "$ROOT/scripts/fuzz.sh"
fi
echo "[test] all tests passed" >&2
