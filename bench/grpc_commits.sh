#!/usr/bin/env bash
# Commits/s through catalogd over gRPC vs the embedded catalog (issue 9), 1 and 4 writers, each
# pair measured in one run of grpc_commit_bench (same machine, same store kind, loopback gRPC).
# Usage: bench/grpc_commits.sh [SECONDS]      env: BUILD_DIR (default build/)
# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"  # strict mode, ROOT, BUILD_DIR, get, check
SECONDS_EACH=${1:-3}
BIN="$BUILD_DIR/bench/grpc/grpc_commit_bench"
[ -x "$BIN" ] || cmake --build "$BUILD_DIR" --target grpc_commit_bench
tmp=$(mktemp -d /tmp/lh-grpc-bench.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
results="$tmp/results"
run() { timeout 300 "$BIN" "$@" | tee -a "$results"; }

echo "== commits, embedded then over gRPC ($SECONDS_EACH s each)"
run --dir "$tmp/t1" --threads 1 --seconds "$SECONDS_EACH"
run --dir "$tmp/t4" --threads 4 --seconds "$SECONDS_EACH"

echo
echo "== summary (2 cores shared; ratio = over gRPC / embedded)"
check "commits/s over gRPC / embedded, 1 writer" "$(get grpc_vs_embedded_t1)" ">=" 0
check "commits/s over gRPC / embedded, 4 writers" "$(get grpc_vs_embedded_t4)" ">=" 0
check "commits/s over gRPC, 1 writer" "$(get commits_per_s_grpc_t1)" ">=" 0
check "commits/s over gRPC, 4 writers" "$(get commits_per_s_grpc_t4)" ">=" 0
