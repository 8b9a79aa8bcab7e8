#pragma once
// The sandbox: one read-only statement per query, no external access, no extensions, a locked
// configuration; and the mapping of DuckDB's errors to lakehouse errors a user can act on.
#include <cstdint>
#include <optional>
#include <string>

#include "duckdb.hpp"
#include "lakehouse/shared/error.h"

namespace lakehouse::catalogd {
class Catalog;
}

namespace lakehouse::queryd {

//! Options set before the database opens (no extension installs or loads).
void ConfigureSandbox(duckdb::DBConfig& config);
//! Settings applied once on an admin connection, ending with the configuration locked.
void LockSandbox(duckdb::Connection& admin);

//! Throws Error(kInvalidArgument) unless the statement only reads (SELECT, EXPLAIN of one...).
void CheckReadOnly(const duckdb::SQLStatement& statement, const std::string& sql);

//! What happened to a query besides DuckDB's own error, for the message the user gets.
struct QueryOutcome {
  std::optional<Error> resolution_error;  //!< a lakehouse error raised while resolving a dataset
  bool timed_out = false;
  bool client_gone = false;
  int64_t timeout_ms = 0;
  //! Set when the query was cancelled for spilling past a limit: its name and value in bytes.
  const char* spill_limit = nullptr;
  uint64_t spill_limit_bytes = 0;
};

//! Maps a DuckDB error to the lakehouse error the user gets (unknown tables get "did you mean").
[[noreturn]] void ThrowQueryError(const duckdb::ErrorData& error, const QueryOutcome& outcome,
                                  catalogd::Catalog& catalog);

}  // namespace lakehouse::queryd
