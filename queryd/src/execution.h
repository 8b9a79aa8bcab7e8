#pragma once
// Execution: one query on its own connection, streaming, cancellable at its deadline or when the
// client goes away; every result chunk is exported once through the Arrow C data interface to
// the encoders (encoders.cpp).
#include <atomic>
#include <memory>
#include <mutex>
#include <vector>

#include "duckdb.hpp"
#include "lakehouse/queryd/query.h"
#include "lakehouse/shared/watchdog.h"
#include "plan_cache.h"

namespace lakehouse::catalogd {
class Catalog;
}

namespace lakehouse::queryd {

//! Idle DuckDB connections, reused by later queries (ADR 0012, per-request overhead): a new
//! duckdb::Connection builds and tears down its client context (temporary catalog, settings,
//! registered state) on every query. A query takes one and gives it back when it ended cleanly;
//! queries can only SELECT/EXPLAIN (sandbox.h), so nothing of one query's SQL stays on it, and the
//! per-query state (grants, scan tracker, streaming buffer) is set afresh by each query. What a
//! connection keeps on purpose is its prepared plans (plan_cache.h).
class ConnectionPool {
 public:
  ConnectionPool(duckdb::DuckDB& db, size_t max_idle) : db_(db), max_idle_(max_idle) {}
  ~ConnectionPool() {
    for (auto& con : idle_) Close(std::move(con));
  }
  ConnectionPool(const ConnectionPool&) = delete;
  ConnectionPool& operator=(const ConnectionPool&) = delete;

  std::unique_ptr<duckdb::Connection> Take() {
    {
      std::lock_guard lock(mu_);
      if (!idle_.empty()) {
        auto con = std::move(idle_.back());
        idle_.pop_back();
        return con;
      }
    }
    created_.fetch_add(1, std::memory_order_relaxed);
    return std::make_unique<duckdb::Connection>(db_);
  }
  //! Keeps `con` for a later query (or drops it when max_idle are kept already).
  void Give(std::unique_ptr<duckdb::Connection> con) {
    {
      std::lock_guard lock(mu_);
      if (idle_.size() < max_idle_) {
        idle_.push_back(std::move(con));
        return;
      }
    }
    Close(std::move(con));
  }
  //! Closes a connection that is not pooled: its cached plans go first, while their context is
  //! whole (a plan's operator states need it; DuckDB frees a prepared statement before its context).
  static void Close(std::unique_ptr<duckdb::Connection> con) {
    if (con) PlanCache::Clear(*con->context);
  }
  size_t idle() const {
    std::lock_guard lock(mu_);
    return idle_.size();
  }
  uint64_t created() const { return created_.load(std::memory_order_relaxed); }
  //! What the plan caches of these connections did (plan_cache.h).
  const std::shared_ptr<PlanCache::Counters>& plan_counters() const { return plan_counters_; }

 private:
  duckdb::DuckDB& db_;
  const size_t max_idle_;
  mutable std::mutex mu_;
  std::vector<std::unique_ptr<duckdb::Connection>> idle_;
  std::atomic<uint64_t> created_{0};
  std::shared_ptr<PlanCache::Counters> plan_counters_ = std::make_shared<PlanCache::Counters>();
};

//! What every query runs against (all owned by the engine).
struct ExecutionContext {
  duckdb::DuckDB& db;
  ConnectionPool& connections;
  DeadlineWatchdog& watchdog;  //!< interrupts queries at their timeout
  catalogd::Catalog& catalog;  //!< for "did you mean" suggestions
  const QueryConfig& config;
};

QueryStats ExecuteQuery(const ExecutionContext& context, const QueryRequest& request, ResultSink& sink);

}  // namespace lakehouse::queryd
