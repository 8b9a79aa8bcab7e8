#!/usr/bin/env bash
# One idempotent setup: Debian packages, DuckDB (scripts/duckdb-version, sha256-pinned), the sidecar's
# Python venv, the Node packages the tests and the bundled model server use, then the build.
# Re-running it is fast and changes nothing that is already in place.
#
#   scripts/setup.sh            install + build (Release, build/)
#   SETUP_SKIP_BUILD=1 ...      install only
#   LAKEHOUSE_DUCKDB_VERSION=1.4.4 ...   another pinned DuckDB (and its extensions) than the default
#                               in scripts/duckdb-version; the build gets -DLAKEHOUSE_DUCKDB_VERSION
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
log() { printf '[setup] %s\n' "$*" >&2; }
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"

# ---- Debian packages -------------------------------------------------------------------------
APT_PACKAGES=(
  build-essential cmake ninja-build ccache pkg-config git curl ca-certificates xz-utils zstd jq
  libboost1.81-dev
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libflatbuffers-dev flatbuffers-compiler
  libcurl4-openssl-dev libssl-dev libpugixml-dev
  libspdlog-dev libfmt-dev libtomlplusplus-dev libcli11-dev nlohmann-json3-dev libsimdjson-dev
  prometheus-cpp-dev prometheus
  libgtest-dev libgmock-dev googletest libbenchmark-dev
  clang-format clang-tidy
  clang-14 libclang-rt-14-dev
  wrk
  radosgw ceph-mon ceph-osd
  libavro-dev
  python3 python3-venv python3-pip
  nodejs npm
  chromium libedit-dev
)
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# nodejs/npm may come from outside Debian on some machines: accept any working node >= 18.
if command -v node >/dev/null && command -v npm >/dev/null; then
  tmp=(); for p in "${missing[@]}"; do [[ "$p" == nodejs || "$p" == npm ]] || tmp+=("$p"); done
  missing=("${tmp[@]+"${tmp[@]}"}")
fi
if [ ${#missing[@]} -gt 0 ]; then
  log "installing Debian packages: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  log "Debian packages: all present"
fi

# ---- DuckDB: libduckdb.so from the npm node bindings, headers from the matching source package --
"$ROOT/scripts/fetch-duckdb.sh"

# ---- Optional parts, each owned by its own script -------------------------------------------
for s in "$ROOT"/scripts/setup.d/*.sh; do
  [ -e "$s" ] || continue
  log "running ${s#"$ROOT"/}"
  bash "$s"
done

# ---- Build ----------------------------------------------------------------------------------
if [ "${SETUP_SKIP_BUILD:-0}" != 1 ]; then
  BUILD_DIR=${BUILD_DIR:-build}
  BUILD_TYPE=${BUILD_TYPE:-RelWithDebInfo}
  duckdb_arg=()
  [ -z "${LAKEHOUSE_DUCKDB_VERSION:-}" ] || duckdb_arg=(-DLAKEHOUSE_DUCKDB_VERSION="$LAKEHOUSE_DUCKDB_VERSION")
  if [ ! -f "$BUILD_DIR/build.ninja" ] || [ ${#duckdb_arg[@]} -gt 0 ]; then
    cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE="$BUILD_TYPE" "${duckdb_arg[@]}" ${CMAKE_EXTRA_ARGS:-} >/dev/null
  fi
  log "building ($BUILD_DIR)"
  cmake --build "$BUILD_DIR" --parallel "$(nproc)"
fi
log "done"
