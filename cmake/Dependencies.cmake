# Every external dependency is found here, once. Debian packages unless noted (scripts/setup.sh).
find_package(Threads REQUIRED)
find_package(Boost 1.81 REQUIRED)                 # Beast + Asio (header-only)
find_package(nlohmann_json 3.11 REQUIRED)
find_package(spdlog REQUIRED)
find_package(fmt REQUIRED)
find_package(CURL REQUIRED)
find_package(OpenSSL REQUIRED)
find_package(pugixml REQUIRED)
find_package(Protobuf REQUIRED)                   # module mode: Debian ships no CONFIG
find_package(gRPC CONFIG REQUIRED)
find_package(CLI11 REQUIRED)
find_package(tomlplusplus CONFIG REQUIRED)
find_package(FlatBuffers CONFIG REQUIRED)     # Arrow IPC writer
find_package(opentelemetry-cpp CONFIG REQUIRED) # traces (bookworm-backports, scripts/setup.d/05-backports.sh)
find_package(prometheus-cpp CONFIG REQUIRED)    # metrics
if(LAKEHOUSE_BUILD_TESTS)
  find_package(GTest REQUIRED)
endif()

# DuckDB (scripts/fetch-duckdb.sh, sha256-pinned; docs/adr/0013-duckdb-version.md). Versions are
# installed side by side; LAKEHOUSE_DUCKDB_VERSION picks one (default: scripts/duckdb-version, which
# setup installs). 1.4.4 lives in third_party/duckdb/, later ones in third_party/duckdb-<version>/.
# Headers are SYSTEM so their warnings are not ours.
file(STRINGS ${PROJECT_SOURCE_DIR}/scripts/duckdb-version LAKEHOUSE_DUCKDB_DEFAULT_VERSION LIMIT_COUNT 1)
set(LAKEHOUSE_DUCKDB_VERSION ${LAKEHOUSE_DUCKDB_DEFAULT_VERSION} CACHE STRING
    "DuckDB version to build against (installed by: scripts/fetch-duckdb.sh <version>)")
# The earlier path variable would silently override the version: it is gone (one knob only).
unset(LAKEHOUSE_DUCKDB_ROOT CACHE)
if(LAKEHOUSE_DUCKDB_VERSION STREQUAL "1.4.4")
  set(DUCKDB_ROOT ${PROJECT_SOURCE_DIR}/third_party/duckdb)
else()
  set(DUCKDB_ROOT ${PROJECT_SOURCE_DIR}/third_party/duckdb-${LAKEHOUSE_DUCKDB_VERSION})
endif()
if(NOT EXISTS ${DUCKDB_ROOT}/lib/libduckdb.so)
  message(FATAL_ERROR "DuckDB ${LAKEHOUSE_DUCKDB_VERSION} not found in ${DUCKDB_ROOT}: run "
                      "scripts/fetch-duckdb.sh ${LAKEHOUSE_DUCKDB_VERSION} (or scripts/setup.sh)")
endif()
message(STATUS "DuckDB ${LAKEHOUSE_DUCKDB_VERSION}: ${DUCKDB_ROOT}")
add_library(duckdb SHARED IMPORTED GLOBAL)
set_target_properties(duckdb PROPERTIES
  IMPORTED_LOCATION ${DUCKDB_ROOT}/lib/libduckdb.so
  IMPORTED_NO_SONAME ON)
target_include_directories(duckdb SYSTEM INTERFACE ${DUCKDB_ROOT}/include)
