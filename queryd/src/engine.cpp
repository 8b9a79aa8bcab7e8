// The engine: one DuckDB database per engine, wired from the parts in this folder, each holding
// one concern (the split follows RocksDB's db_impl_*.cc):
//   - object_fs.cpp: the lakehouse:// file system DuckDB reads objects through, and its footer cache;
//   - resolver.cpp:  dataset names (and dataset_version) to scans of exactly a manifest's objects;
//   - sandbox.cpp:   one read-only statement, no external access, locked configuration, error mapping;
//   - execution.cpp: one query, streaming and cancellable, into the encoders.
// These are the only translation units that include duckdb.hpp.
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>
#include <vector>

#include "ai_functions.h"
#include "arrow_memory.h"
#include "duckdb/parallel/task_scheduler.hpp"
#include "execution.h"
#include "lakehouse/catalogd/catalog.h"
#include "lakehouse/queryd/query.h"
#include "lakehouse/shared/memory_budget.h"
#include "lakehouse/shared/watchdog.h"
#include "object_fs.h"
#include "parquet_export.h"
#include "query_limits.h"
#include "resolver.h"
#include "sandbox.h"
#include "spill_fs.h"

namespace lakehouse::queryd {
namespace {

class EngineImpl final : public QueryEngine {
 public:
  EngineImpl(catalogd::Catalog& catalog, storaged::ObjectStore& store, const QueryConfig& config)
      : catalog_(catalog),
        config_(config),
        registry_(std::make_shared<ObjectRegistry>()),
        remote_stats_(std::make_shared<RemoteStats>()),
        resolver_(catalog, registry_) {
    duckdb::DBConfig db_config;
    ConfigureSandbox(db_config);
    db_config.SetOptionByName("memory_limit",
                              duckdb::Value(DuckDbBytes(SplitDuckDbBudget(config.memory_limit).query_bytes)));
    // DuckDB launches no threads of its own: the engine runs config.threads workers (below), so it
    // can lower their priority. A heavy query runs only on them; a light one on its caller too.
    db_config.SetOptionByName("threads", duckdb::Value::BIGINT(config.threads));
    db_config.SetOptionByName("external_threads", duckdb::Value::BIGINT(config.threads));
    // Spill files behind their own scheme: SQL cannot list or read them (spill_fs.h).
    if (!config.temp_dir.empty()) {
      db_config.SetOptionByName("temp_directory", duckdb::Value(SpillDirectoryUrl(config.temp_dir)));
    }
    if (config.max_spill_total_bytes != 0) {
      db_config.SetOptionByName("max_temp_directory_size",
                                duckdb::Value(std::to_string(config.max_spill_total_bytes) + "B"));
    }
    InstallMemoryCap(db_config, config.max_memory_bytes);
    KeepResultBuffersMapped();  // malloc keeps result batches' buffers mapped (arrow_memory.h), once per process
    // A lakehouse:// path of a dataset this engine has not resolved yet (another replica did):
    // resolve the head of the dataset its key names, then look again. db_ (and the file system
    // calling this) goes before resolver_.
    registry_->SetLoader([this](const std::string& key) {
      const auto dataset = catalogd::DatasetOfDataKey(key);
      if (!dataset) return;
      try {
        resolver_.ResolveHead(*dataset);
      } catch (const Error& e) {
        // No such dataset (or deleted): the key stays unknown, the user's mistake (400). The
        // catalog unreachable: the query cannot be answered now (503), the path may be fine.
        if (e.code() == ErrorCode::kUnavailable) throw duckdb::IOException(e.what());
      }
    });
    resolver_.InstallReplacementScan(db_config);
    db_ = std::make_unique<duckdb::DuckDB>(nullptr, &db_config);

    db_->GetFileSystem().RegisterSubSystem(MakeSpillFileSystem());
    db_->GetFileSystem().RegisterSubSystem(
        MakeObjectFileSystem(store, registry_, remote_stats_, config.footer_cache_bytes, config.force_range_reads));
    db_->GetFileSystem().RegisterSubSystem(MakeExportFileSystem(ExportDirectory(config), config.max_spill_total_bytes));
    resolver_.Attach(*db_);
    StartWorkers(config.threads, config.worker_nice);
    duckdb::Connection admin(*db_);
    InstallFunctionGuards(admin, config);
    RegisterAiFunctions(admin, config.ai_functions);
    LockSandbox(admin);
    // Enough idle connections for the queries that usually run at once; more are made on demand.
    connections_ = std::make_unique<ConnectionPool>(*db_, static_cast<size_t>(std::max(4, 4 * config.threads)));

    // The catalog cannot remove listeners: the engine's detaches itself on destruction.
    catalog_.AddListener([link = listener_link_](const DatasetManifest& manifest) {
      std::lock_guard lock(link->mu);
      if (link->engine == nullptr) return;
      if (manifest.tombstone) {
        link->engine->resolver_.Forget(manifest.dataset);
      } else {
        link->engine->resolver_.Invalidate(manifest.dataset);
      }
    });
  }

  ~EngineImpl() override {
    {
      std::lock_guard lock(listener_link_->mu);
      listener_link_->engine = nullptr;
    }
    workers_running_.store(false);
    duckdb::TaskScheduler::GetScheduler(*db_->instance).Signal(workers_.size());
    for (auto& worker : workers_) worker.join();
  }

  QueryStats Execute(const QueryRequest& request, ResultSink& sink) override {
    return ExecuteQuery(ExecutionContext{*db_, *connections_, watchdog_, catalog_, config_}, request, sink);
  }

  //! DuckDB's worker threads, ours so that their nice value can be raised: a heavy query then
  //! yields the CPU to the I/O threads (/health) and to light queries, which run on their callers
  //! (issue 14: `SELECT 1` under 16 heavy queries). An unprivileged thread cannot lower its nice
  //! value again, hence threads dedicated to query work rather than renicing a caller.
  void StartWorkers(int count, int nice) {
    auto& scheduler = duckdb::TaskScheduler::GetScheduler(*db_->instance);
    for (int i = 0; i < count; ++i) {
      workers_.emplace_back([this, &scheduler, nice] {
        // Linux: PRIO_PROCESS with a thread id sets that thread's nice value alone.
        if (nice > 0) ::setpriority(PRIO_PROCESS, static_cast<id_t>(::syscall(SYS_gettid)), nice);
        scheduler.ExecuteForever(&workers_running_);
      });
    }
  }

  nlohmann::json Health() override {
    return {{"status", "ok"},
            {"duckdb_version", duckdb::DuckDB::LibraryVersion()},
            {"active_queries", watchdog_.active()},
            {"resolved_datasets", resolver_.resolved_datasets()},
            {"registered_objects", registry_->size()},
            {"connections", {{"idle", connections_->idle()}, {"created", connections_->created()}}},
            {"plans",
             {{"hits", connections_->plan_counters()->hits.load()},
              {"prepared", connections_->plan_counters()->prepared.load()},
              {"uncacheable", connections_->plan_counters()->uncacheable.load()}}},
            {"scans",
             {{"queries", resolver_.scan_totals().queries.load()},
              {"objects_scanned", resolver_.scan_totals().objects_scanned.load()},
              {"objects_pruned", resolver_.scan_totals().objects_pruned.load()}}},
            {"remote_reads",
             {{"range_requests", remote_stats_->range_requests.load()},
              {"bytes", remote_stats_->range_bytes.load()},
              {"footer_cache_hits", remote_stats_->footer_hits.load()},
              {"local_opens", remote_stats_->local_opens.load()}}}};
  }

 private:
  struct ListenerLink {
    explicit ListenerLink(EngineImpl* e) : engine(e) {}
    std::mutex mu;
    EngineImpl* engine;
  };
  std::shared_ptr<ListenerLink> listener_link_ = std::make_shared<ListenerLink>(this);
  catalogd::Catalog& catalog_;
  QueryConfig config_;
  std::shared_ptr<ObjectRegistry> registry_;
  std::shared_ptr<RemoteStats> remote_stats_;
  Resolver resolver_;
  std::unique_ptr<duckdb::DuckDB> db_;
  std::unique_ptr<ConnectionPool> connections_;  //!< after db_: its connections close first
  DeadlineWatchdog watchdog_;                    //!< interrupts queries at their deadline
  std::atomic<bool> workers_running_{true};
  std::vector<std::thread> workers_;  //!< run DuckDB's tasks (StartWorkers); joined before db_ goes
};

}  // namespace

std::unique_ptr<QueryEngine> MakeQueryEngine(catalogd::Catalog& catalog, storaged::ObjectStore& store,
                                             const QueryConfig& config) {
  return std::make_unique<EngineImpl>(catalog, store, config);
}

}  // namespace lakehouse::queryd
