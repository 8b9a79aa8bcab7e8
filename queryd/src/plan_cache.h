#pragma once
// Prepared plans of the statements run on one pooled connection, by SQL text (ADR 0012, sixth
// session). A query whose SQL ran before on the same connection reuses its bound, optimised and
// physically planned statement instead of parsing, sandbox-checking, binding and planning it again
// (~200-300 us of a `count(*)`'s ~0.4 ms in DuckDB). A text's first run is planned as usual; its
// second is prepared and cached; later ones reuse the plan (a query run once pays nothing).
//
// Why a plan can be reused safely: what DuckDB bound in it that can change is only what the resolver
// handed it - a dataset version's objects (immutable) - and whether the caller may read them. Every
// reuse therefore checks, for each dataset version the plan's bind resolved, that the caller may read
// it and that the resolver still resolves the name to the same version (pointer-identical: a commit,
// a delete or a re-resolution all give a new one); otherwise the statement is prepared afresh, which
// gives any error exactly as an unprepared query would.
//
// DuckDB itself re-binds every plan that scans Parquet (`MultiFileBindData::SupportStatementCache`
// is false: a glob's files may change; ours are fixed object lists) and every plan with a function
// fixed for a query's duration (`now()`, `current_timestamp`, ...: CONSISTENT_WITHIN_QUERY).
// To keep the second kind re-bound, a plan that scans datasets is probed once when it is prepared:
// the statement is prepared again with each dataset replaced by an empty relation of its columns;
// only when that probe needs no re-bind is the plan's re-bind flag cleared. Searches
// (semantic_search, hybrid_search) compute their hits while binding and are never cached.
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "duckdb.hpp"
#include "duckdb/main/client_context_state.hpp"
#include "resolver.h"

namespace lakehouse::queryd {

class PlanCache final : public duckdb::ClientContextState {
 public:
  //! Engine-wide counters (queryd's health: `plans`).
  struct Counters {
    std::atomic<uint64_t> hits{0};         //!< queries that ran a cached plan
    std::atomic<uint64_t> prepared{0};     //!< plans prepared and cached
    std::atomic<uint64_t> uncacheable{0};  //!< statements prepared for one run only
  };

  //! Plans kept per connection (least recently used go first), and the longest SQL text kept.
  static constexpr size_t kMaxPlans = 64;
  static constexpr size_t kMaxSqlBytes = size_t{16} << 10;
  static constexpr size_t kMaxSeen = 4096;

  explicit PlanCache(std::shared_ptr<Counters> counters) : counters_(std::move(counters)) {}

  //! The cache of `context`'s connection, created on first use.
  static PlanCache& Of(duckdb::ClientContext& context, const std::shared_ptr<Counters>& counters);
  //! The cache of `context` while it prepares a statement (the resolver records what the bind
  //! resolved), else null.
  static PlanCache* Preparing(duckdb::ClientContext& context);
  //! Whether a statement may go through Start (one SELECT without parameters).
  static bool MayPrepare(const duckdb::SQLStatement& statement);

  //! A dataset version a plan's bind resolved (the head of its dataset when `head`).
  struct Dependency {
    Resolver* resolver;
    std::shared_ptr<const ResolvedDataset> resolved;
    bool head;
  };
  struct Plan {
    //! The prepared statement's data, not the PreparedStatement: that holds its ClientContext,
    //! which holds this cache - a cycle that would keep a dropped connection alive for ever.
    duckdb::shared_ptr<duckdb::PreparedStatementData> data;
    std::string query;
    std::vector<Dependency> dependencies;
    uint64_t last_used = 0;
  };

  //! The cached plan of `sql`, if it is still valid for a caller who may read what `may_read`
  //! allows (empty: everything); null otherwise (the caller then parses and calls Start).
  const Plan* Find(const std::string& sql, const std::function<bool(std::string_view)>& may_read);
  //! Starts `statement` (the parse of `sql`): unprepared on the text's first run here, else
  //! prepared, and cached when it may be.
  duckdb::unique_ptr<duckdb::PendingQueryResult> Start(duckdb::ClientContext& context, const std::string& sql,
                                                       duckdb::unique_ptr<duckdb::SQLStatement> statement);
  //! The query started last has ended cleanly (its result is closed): the operator states its run left in
  //! its cached plan (DuckDB keeps a plan's sink states until the plan runs again) are freed, so a
  //! cached plan holds no hash table or sorted data between runs.
  void Finished();
  //! Drops every plan of `context`'s connection; call before the connection is destroyed (a plan's
  //! operator states must go while their context is whole).
  static void Clear(duckdb::ClientContext& context);

  //! Starts a plan Find returned, on `context` (the connection's).
  duckdb::unique_ptr<duckdb::PendingQueryResult> Start(duckdb::ClientContext& context, const Plan& plan);

  // Called by the resolver while a statement is being prepared (Preparing() is this).
  //! True while the probe runs: the resolver then answers an empty relation of the dataset's columns.
  bool probing() const { return probing_; }
  //! The bind resolved `resolved` (the head of its dataset when `head`, else that version).
  void Depend(Resolver& resolver, std::shared_ptr<const ResolvedDataset> resolved, bool head);
  //! The bind captured something a later run must see afresh (a search's hits): not cached.
  void Uncacheable() { uncacheable_ = true; }

  //! A cached plan's run starts a new query, which clears the query's scan accounting: the
  //! objects the plan scans are listed again here, as its bind did the first time.
  duckdb::RebindQueryInfo OnExecutePrepared(duckdb::ClientContext& context, duckdb::PreparedStatementCallbackInfo& info,
                                            duckdb::RebindQueryInfo current_rebind) override;

 private:
  bool Valid(const Plan& plan, const std::function<bool(std::string_view)>& may_read) const;
  const Plan& Keep(const std::string& sql, Plan plan);

  std::shared_ptr<Counters> counters_;
  std::unordered_map<std::string, Plan> plans_;
  uint64_t uses_ = 0;
  //! Hashes of the SQL texts run here without a plan (a collision only prepares one earlier).
  std::unordered_set<size_t> seen_;
  // While Start prepares a statement:
  bool preparing_ = false;
  bool probing_ = false;
  bool uncacheable_ = false;
  std::vector<Dependency> bound_;
  //! The plan being started (its objects are listed again in OnExecutePrepared).
  const Plan* starting_ = nullptr;
  //! The cached plan run last, until Finished().
  duckdb::shared_ptr<duckdb::PreparedStatementData> running_;
};

}  // namespace lakehouse::queryd
