#pragma once
// Execution: one query on its own connection, streaming, cancellable at its deadline or when the
// client goes away; every result chunk is exported once through the Arrow C data interface to
// the encoders (encoders.cpp).
#include "duckdb.hpp"
#include "lakehouse/queryd/query.h"
#include "lakehouse/shared/watchdog.h"

namespace lakehouse::catalogd {
class Catalog;
}

namespace lakehouse::queryd {

//! What every query runs against (all owned by the engine).
struct ExecutionContext {
  duckdb::DuckDB& db;
  DeadlineWatchdog& watchdog;  //!< interrupts queries at their timeout
  catalogd::Catalog& catalog;  //!< for "did you mean" suggestions
  const QueryConfig& config;
};

QueryStats ExecuteQuery(const ExecutionContext& context, const QueryRequest& request, ResultSink& sink);

}  // namespace lakehouse::queryd
