#pragma once
// The process's one DuckDB memory budget (query.memory_limit), split between its two DuckDB
// instances (docs/adr/0011-duckdb-memory.md): queryd's engine gets three quarters, ingest one.
// Both are handed the whole budget and each takes its share here, so the two limits together
// never exceed what the user configured.
#include <cstdint>
#include <string>
#include <string_view>

namespace lakehouse {

//! "1GB", "512 MiB", "2GiB", "1000000" (bytes) -> bytes, with DuckDB's units (KB = 1000,
//! KiB = 1024, ...). Throws Error(kInvalidArgument) naming the accepted forms.
uint64_t ParseByteSize(std::string_view text);

struct DuckDbBudget {
  uint64_t query_bytes = 0;   //!< queryd's DuckDB memory_limit
  uint64_t ingest_bytes = 0;  //!< ingest's DuckDB memory_limit
};

//! The split of `memory_limit` (query.memory_limit); query_bytes + ingest_bytes <= the budget.
DuckDbBudget SplitDuckDbBudget(std::string_view memory_limit);

//! A byte count as a DuckDB memory_limit setting value ("<n> bytes").
std::string DuckDbBytes(uint64_t bytes);

}  // namespace lakehouse
