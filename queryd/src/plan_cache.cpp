// Prepared plans per connection (see plan_cache.h).
#include "plan_cache.h"

#include <algorithm>
#include <functional>

#include "duckdb/execution/physical_operator.hpp"
#include "duckdb/execution/physical_plan_generator.hpp"
#include "duckdb/main/prepared_statement_data.hpp"

namespace lakehouse::queryd {
namespace {

constexpr const char* kPlanCacheKey = "lakehouse_plan_cache";

//! Sets `flag` for the life of the scope.
class FlagScope {
 public:
  explicit FlagScope(bool& flag) : flag_(flag) { flag_ = true; }
  ~FlagScope() { flag_ = false; }
  FlagScope(const FlagScope&) = delete;
  FlagScope& operator=(const FlagScope&) = delete;

 private:
  bool& flag_;
};

}  // namespace

PlanCache& PlanCache::Of(duckdb::ClientContext& context, const std::shared_ptr<Counters>& counters) {
  return *context.registered_state->GetOrCreate<PlanCache>(kPlanCacheKey, counters);
}

PlanCache* PlanCache::Preparing(duckdb::ClientContext& context) {
  auto cache = context.registered_state->Get<PlanCache>(kPlanCacheKey);
  return cache && cache->preparing_ ? cache.get() : nullptr;
}

bool PlanCache::MayPrepare(const duckdb::SQLStatement& statement) {
  return statement.type == duckdb::StatementType::SELECT_STATEMENT && statement.named_param_map.empty();
}

const PlanCache::Plan* PlanCache::Find(const std::string& sql, const std::function<bool(std::string_view)>& may_read) {
  auto it = plans_.find(sql);
  if (it == plans_.end()) return nullptr;
  if (!Valid(it->second, may_read)) {
    plans_.erase(it);
    return nullptr;
  }
  it->second.last_used = ++uses_;
  counters_->hits.fetch_add(1, std::memory_order_relaxed);
  return &it->second;
}

bool PlanCache::Valid(const Plan& plan, const std::function<bool(std::string_view)>& may_read) const {
  for (const auto& dependency : plan.dependencies) {
    const ResolvedDataset& was = *dependency.resolved;
    // Refused: prepared afresh, so the caller gets the same 403 as without a cache.
    if (may_read && !may_read(was.dataset)) return false;
    try {
      const auto now = dependency.head ? dependency.resolver->ResolveHead(was.dataset)
                                       : dependency.resolver->ResolveVersion(was.dataset, was.version);
      if (now != dependency.resolved) return false;
    } catch (const std::exception&) {
      return false;  // deleted, or the catalog is unreachable: preparing afresh reports it
    }
  }
  return true;
}

duckdb::unique_ptr<duckdb::PendingQueryResult> PlanCache::Start(duckdb::ClientContext& context, const std::string& sql,
                                                                duckdb::unique_ptr<duckdb::SQLStatement> statement) {
  if (seen_.size() >= kMaxSeen) seen_.clear();
  if (seen_.insert(std::hash<std::string>{}(sql)).second) return context.PendingQuery(std::move(statement), true);
  auto probe_statement = statement->Copy();
  Plan plan;
  bound_.clear();
  uncacheable_ = false;
  {
    const FlagScope preparing(preparing_);
    auto prepared = context.Prepare(std::move(statement));
    if (prepared->HasError()) return duckdb::make_uniq<duckdb::PendingQueryResult>(prepared->error);
    plan.data = prepared->data;
    plan.query = prepared->query;
  }
  plan.dependencies = std::move(bound_);
  bound_.clear();

  auto& properties = plan.data->properties;
  bool cacheable =
      !uncacheable_ && sql.size() <= kMaxSqlBytes && properties.bound_all_parameters && properties.parameter_count == 0;
  if (cacheable && properties.always_require_rebind) {
    // DuckDB re-binds Parquet scans (and functions fixed per query) on every run. Without the
    // datasets' scans, does the statement still need it?
    cacheable = false;
    if (!plan.dependencies.empty()) {
      const FlagScope preparing(preparing_);
      const FlagScope probing(probing_);
      auto probe = context.Prepare(std::move(probe_statement));
      cacheable = !probe->HasError() && !probe->data->properties.always_require_rebind;  // it records nothing
    }
    if (cacheable) properties.always_require_rebind = false;
  }

  if (!cacheable) {
    counters_->uncacheable.fetch_add(1, std::memory_order_relaxed);
    return Start(context, plan);  // the pending query holds the prepared data; the plan may go
  }
  counters_->prepared.fetch_add(1, std::memory_order_relaxed);
  plan.last_used = ++uses_;
  return Start(context, Keep(sql, std::move(plan)));
}

duckdb::unique_ptr<duckdb::PendingQueryResult> PlanCache::Start(duckdb::ClientContext& context, const Plan& plan) {
  // What PreparedStatement::PendingQuery does for a statement without parameters.
  duckdb::case_insensitive_map_t<duckdb::BoundParameterData> no_parameters;
  duckdb::PendingQueryParameters parameters;
  parameters.parameters = &no_parameters;
  const bool streams = plan.data->properties.output_type == duckdb::QueryResultOutputType::ALLOW_STREAMING;
  parameters.query_parameters.output_type =
      streams ? duckdb::QueryResultOutputType::ALLOW_STREAMING : duckdb::QueryResultOutputType::FORCE_MATERIALIZED;
  auto data = plan.data;  // DuckDB may swap in a re-bound copy: the cached plan stays as it is
  running_ = plan.data;
  starting_ = &plan;
  auto pending = context.PendingQuery(plan.query, data, parameters);
  starting_ = nullptr;
  return pending;
}

namespace {

//! Frees what a run left in a plan's operators (DuckDB resets them only when the plan runs again).
void ResetStates(const duckdb::PhysicalOperator& op) {
  auto& mutable_op = const_cast<duckdb::PhysicalOperator&>(op);  // NOLINT(cppcoreguidelines-pro-type-const-cast): ours
  mutable_op.sink_state.reset();
  mutable_op.op_state.reset();
  for (const auto& child : op.GetChildren()) ResetStates(child.get());
}

}  // namespace

void PlanCache::Finished() {
  if (!running_) return;
  if (running_->physical_plan) ResetStates(running_->physical_plan->Root());
  running_.reset();
}

void PlanCache::Clear(duckdb::ClientContext& context) {
  auto cache = context.registered_state->Get<PlanCache>(kPlanCacheKey);
  if (!cache) return;
  cache->running_.reset();
  cache->plans_.clear();
}

const PlanCache::Plan& PlanCache::Keep(const std::string& sql, Plan plan) {
  if (plans_.size() >= kMaxPlans && !plans_.contains(sql)) {
    auto oldest = std::min_element(plans_.begin(), plans_.end(), [](const auto& a, const auto& b) {
      return a.second.last_used < b.second.last_used;
    });
    plans_.erase(oldest);
  }
  return plans_.insert_or_assign(sql, std::move(plan)).first->second;
}

void PlanCache::Depend(Resolver& resolver, std::shared_ptr<const ResolvedDataset> resolved, bool head) {
  if (!probing_) bound_.push_back({&resolver, std::move(resolved), head});
}

duckdb::RebindQueryInfo PlanCache::OnExecutePrepared(duckdb::ClientContext& context,
                                                     duckdb::PreparedStatementCallbackInfo&,
                                                     duckdb::RebindQueryInfo current_rebind) {
  // A re-bind (DuckDB's own decision) resolves, and so lists, the objects again itself.
  if (starting_ != nullptr && current_rebind == duckdb::RebindQueryInfo::DO_NOT_REBIND) {
    for (const auto& dependency : starting_->dependencies) dependency.resolver->Account(context, *dependency.resolved);
  }
  starting_ = nullptr;
  return current_rebind;
}

}  // namespace lakehouse::queryd
