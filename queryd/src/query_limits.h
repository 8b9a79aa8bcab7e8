#pragma once
// The operator's limits on what one query may cost (docs/adr/0010-query-limits.md):
// - memory: every allocation DuckDB makes (buffer pages, string heaps, hash tables...) is counted
//   against limits.max_memory; one past it fails with an out-of-memory error that ends only that
//   query (503), so the process stays under the limit;
// - time: DuckDB checks for interrupts between vectors, not inside one function call nor while
//   planning. Inputs that would run long there are refused up front: the query's shape (expression
//   depth, terms of one AND/OR or CASE, expression count) and the few functions whose cost grows
//   with the product of their string arguments' lengths (guard macros);
// - crashes: DuckDB's recursive JSON functions overflow the stack on deep input; guard macros
//   check the depth first (limits.max_json_depth).
#include "duckdb.hpp"
#include "lakehouse/queryd/query.h"

namespace lakehouse::queryd {

//! Installs the counting allocator (once per process) and sets the cap (0: count, never refuse).
void InstallMemoryCap(duckdb::DBConfig& config, uint64_t max_bytes);
//! Bytes DuckDB holds now through the counting allocator.
uint64_t AllocatedBytes();
//! True when an out-of-memory message came from the cap (rather than DuckDB's buffer manager).
bool IsMemoryCapError(const std::string& message);

//! Creates the guard macros and the functions they call (on the admin connection, before the
//! configuration is locked).
void InstallFunctionGuards(duckdb::Connection& admin, const QueryConfig& config);

//! Before parsing (which is quadratic in the terms of one AND/OR chain: 30,000 take 4 s): throws
//! Error(kInvalidArgument) when the text has more AND/OR/WHEN keywords than any plannable query.
void CheckSqlText(std::string_view sql);

//! Throws Error(kInvalidArgument) when the statement is too complex to plan within a timeout, or
//! names a function by catalog/schema (which would bypass the guard macros).
void CheckQueryShape(duckdb::SQLStatement& statement);

}  // namespace lakehouse::queryd
