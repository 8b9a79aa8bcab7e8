#pragma once
// Name resolution: a dataset name in SQL becomes a scan of exactly the objects of the catalog's head
// manifest (PRD invariant 5), cached until the next commit; dataset_version(name, version) does the
// same for an older version. Every object is checked against the manifest's schema first.
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "duckdb.hpp"
#include "lakehouse/shared/error.h"
#include "lakehouse/shared/types.h"
#include "object_fs.h"

namespace lakehouse::catalogd {
class Catalog;
}

namespace lakehouse::queryd {

//! While alive, a lakehouse error raised by resolution on this thread (DuckDB runs binder
//! callbacks on the executing thread) is stored in `slot`, so the user gets it rather than
//! DuckDB's wrapping of it.
class ResolutionErrorScope {
 public:
  explicit ResolutionErrorScope(std::optional<Error>& slot);
  ~ResolutionErrorScope();
  ResolutionErrorScope(const ResolutionErrorScope&) = delete;
  ResolutionErrorScope& operator=(const ResolutionErrorScope&) = delete;

 private:
  std::optional<Error>* previous_;
};

//! Records `e` as the error of the query binding on this thread (inside a ResolutionErrorScope),
//! so the user gets it rather than DuckDB's wrapping of it; a no-op elsewhere.
void RecordResolutionError(const Error& e);

//! What a dataset version resolves to; the table reference is built from it for each query.
struct ResolvedDataset {
  std::string dataset;
  uint64_t version = 0;
  Schema schema;                   //!< the manifest's columns
  std::vector<std::string> paths;  //!< lakehouse:// paths of exactly the manifest's objects
  std::vector<std::string> keys;   //!< their object keys (scan accounting)
  bool exact = true;               //!< every object has the manifest's columns
  //! The manifest's partition columns and their types: the scan reads their values from the keys'
  //! col=value segments (hive partitioning), so DuckDB skips objects a predicate rules out.
  std::vector<std::pair<std::string, std::string>> partition_columns;
};

class Resolver {
 public:
  Resolver(catalogd::Catalog& catalog, std::shared_ptr<ObjectRegistry> registry);
  Resolver(const Resolver&) = delete;
  Resolver& operator=(const Resolver&) = delete;

  //! Lets DuckDB resolve dataset names through this resolver; call before the database opens.
  void InstallReplacementScan(duckdb::DBConfig& config);
  //! Registers dataset_version(name, version) on `db`, which footers are then read through.
  //! `db` must outlive the resolver's use.
  void Attach(duckdb::DuckDB& db);

  //! Forgets the cached head of `dataset` (a commit landed).
  void Invalidate(const std::string& dataset);
  //! A dataset was deleted: its cached versions and its objects are forgotten (the catalog
  //! answers 404 for every version now), so nothing of it stays readable until a restart.
  void Forget(const std::string& dataset);
  //! Datasets whose head is cached.
  size_t resolved_datasets();
  //! The head version of `name`, resolved (its objects registered) on first use; throws the
  //! catalog's error (404 for a deleted or unknown dataset).
  std::shared_ptr<const ResolvedDataset> ResolveHead(const std::string& name);
  //! Version `version` of `name`, resolved on first use; throws the catalog's error.
  std::shared_ptr<const ResolvedDataset> ResolveVersion(const std::string& name, uint64_t version);
  //! Records in the query's scan accounting (ScanTracker) the objects `resolved` gives the scan.
  void Account(duckdb::ClientContext& context, const ResolvedDataset& resolved);

  //! Objects queries were given, opened and pruned, over the engine's life.
  const ScanTracker::Totals& scan_totals() const { return *scan_totals_; }

  //! The replacement scan: a table name that is a dataset becomes a scan of its head version.
  duckdb::unique_ptr<duckdb::TableRef> ReplaceTable(duckdb::ClientContext& context, const std::string& catalog_name,
                                                    const std::string& schema_name, const std::string& table_name);
  //! dataset_version(name, version).
  duckdb::unique_ptr<duckdb::TableRef> ReplaceVersion(duckdb::ClientContext& context, const std::string& name,
                                                      int64_t version);

 private:
  using Columns = std::vector<std::pair<std::string, std::string>>;  //!< (name, DuckDB type)

  //! The table reference the scan of `resolved` becomes (and what a statement being prepared
  //! records of it, plan_cache.h).
  duckdb::unique_ptr<duckdb::TableRef> ScanOf(duckdb::ClientContext& context,
                                              const std::shared_ptr<const ResolvedDataset>& resolved, bool head,
                                              const std::string& alias);
  std::shared_ptr<const ResolvedDataset> Resolve(const DatasetManifest& manifest);
  Columns ObjectColumns(const DatasetManifest& manifest, const ObjectRef& ref);

  catalogd::Catalog& catalog_;
  std::shared_ptr<ObjectRegistry> registry_;
  duckdb::DuckDB* db_ = nullptr;
  std::shared_ptr<ScanTracker::Totals> scan_totals_ = std::make_shared<ScanTracker::Totals>();

  std::mutex mu_;
  std::unordered_map<std::string, std::shared_ptr<const ResolvedDataset>> head_;      //!< by dataset
  std::unordered_map<std::string, std::shared_ptr<const ResolvedDataset>> versions_;  //!< by "name@version"
  std::unordered_map<std::string, uint64_t> generation_;     //!< commits seen per dataset (stale-fill guard)
  std::unordered_map<std::string, Columns> object_columns_;  //!< by object key
};

//! The table reference of a resolved dataset, under `alias`.
duckdb::unique_ptr<duckdb::TableRef> MakeTableRef(const ResolvedDataset& resolved, const std::string& alias);

}  // namespace lakehouse::queryd
