#pragma once
// The process's one DuckDB memory budget (query.memory_limit), split between its three DuckDB
// instances (docs/adr/0011-duckdb-memory.md): ingest gets a quarter, search a sixteenth, queryd's
// engine the rest (11/16). Each is handed the whole budget and takes its share here, so the
// limits together never exceed what the user configured.
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
  uint64_t search_bytes = 0;  //!< search's DuckDB memory_limit (vectors being written)
};

//! The split of `memory_limit` (query.memory_limit); the three shares add up to the budget.
DuckDbBudget SplitDuckDbBudget(std::string_view memory_limit);

//! A byte count as a DuckDB memory_limit setting value ("<n> bytes").
std::string DuckDbBytes(uint64_t bytes);

}  // namespace lakehouse
