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

# DuckDB 1.4.4 from npm (scripts/fetch-duckdb.sh). Headers are SYSTEM so their warnings are not ours.
# LAKEHOUSE_DUCKDB_ROOT builds against another DuckDB (include/ + lib/libduckdb.so), e.g. to evaluate a
# newer version in a separate build dir (docs/adr/0013-duckdb-version.md).
set(LAKEHOUSE_DUCKDB_ROOT ${PROJECT_SOURCE_DIR}/third_party/duckdb CACHE PATH "DuckDB install: include/ and lib/libduckdb.so")
set(DUCKDB_ROOT ${LAKEHOUSE_DUCKDB_ROOT})
if(NOT EXISTS ${DUCKDB_ROOT}/lib/libduckdb.so)
  message(FATAL_ERROR "DuckDB not found in ${DUCKDB_ROOT}: run scripts/setup.sh")
endif()
add_library(duckdb SHARED IMPORTED GLOBAL)
set_target_properties(duckdb PROPERTIES
  IMPORTED_LOCATION ${DUCKDB_ROOT}/lib/libduckdb.so
  IMPORTED_NO_SONAME ON)
target_include_directories(duckdb SYSTEM INTERFACE ${DUCKDB_ROOT}/include)
