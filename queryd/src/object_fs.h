#pragma once
// The lakehouse:// file system DuckDB reads objects through. It serves exactly the objects of
// manifests the resolver registered (user SQL cannot reach manifests, staging uploads or keys of
// other stores): local objects are read in place, remote ones through ObjectStore::GetRange with a
// small LRU cache of Parquet footers.
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "duckdb.hpp"
#include "lakehouse/shared/types.h"

namespace lakehouse::storaged {
class ObjectStore;
}

namespace lakehouse::queryd {

//! "lakehouse://<key>": how SQL names an object.
std::string ObjectPath(const std::string& key);

struct RegisteredObject {
  uint64_t size = 0;
  std::string etag;
  std::string dataset;  //!< whose manifest lists it (grants are checked against it)
};

//! The objects of every manifest the engine resolved; lakehouse:// serves these and nothing else.
class ObjectRegistry {
 public:
  //! Registers an object of `dataset` (a manifest the resolver read).
  void Add(const std::string& dataset, const ObjectRef& ref);
  //! The object, if registered; on a miss the loader (if set) runs first, outside the lock.
  std::optional<RegisteredObject> Find(const std::string& key) const;
  //! What Find runs on a miss, to register the objects `key` may belong to: the engine resolves
  //! the head of the dataset whose data prefix holds the key, so a lakehouse:// path opens (or is
  //! refused by grant) alike on every queryd replica, whichever resolved the dataset before.
  //! Set once, before queries run.
  void SetLoader(std::function<void(const std::string& key)> loader) { loader_ = std::move(loader); }
  //! Forgets every object of a deleted dataset: lakehouse:// paths to them stop resolving.
  void ForgetDataset(const std::string& dataset);
  size_t size() const;

 private:
  std::optional<RegisteredObject> Lookup(const std::string& key) const;

  std::function<void(const std::string& key)> loader_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, RegisteredObject> objects_;
  std::unordered_map<std::string, std::vector<std::string>> keys_by_dataset_;
};

//! Counters of the remote read path (reported by the engine's health).
struct RemoteStats {
  std::atomic<uint64_t> range_requests{0};
  std::atomic<uint64_t> range_bytes{0};
  std::atomic<uint64_t> footer_hits{0};
  std::atomic<uint64_t> local_opens{0};
};

//! The objects one query was given (every object of the manifests it resolved) and the ones it
//! opened, so the query's stats can say how many partition pruning skipped. Kept in the query's
//! ClientContext: each query runs on its own connection.
class ScanTracker final : public duckdb::ClientContextState {
 public:
  //! Engine-wide totals, added to when each query ends (queryd's health).
  struct Totals {
    std::atomic<uint64_t> queries{0};
    std::atomic<uint64_t> objects_scanned{0};
    std::atomic<uint64_t> objects_pruned{0};
  };
  explicit ScanTracker(std::shared_ptr<Totals> totals) : totals_(std::move(totals)) {}

  //! The tracker of `context`, created (adding to `totals`) when there is none yet.
  static ScanTracker& Of(duckdb::ClientContext& context, const std::shared_ptr<Totals>& totals);
  //! The tracker of `context`, if a dataset was resolved in it.
  static duckdb::shared_ptr<ScanTracker> Find(duckdb::ClientContext& context);

  void Listed(const std::vector<std::string>& keys);
  void Opened(const std::string& key, uint64_t size);
  //! The dataset versions the query resolved ("sales@3"), for its span.
  void Resolved(const std::string& dataset, uint64_t version);
  //! Objects listed and opened / listed and never opened (pruned), so far.
  std::pair<uint64_t, uint64_t> Counts() const;
  //! Bytes of the objects opened so far; "name@version,..." of the versions resolved.
  uint64_t BytesOpened() const;
  std::string Versions() const;

  void QueryBegin(duckdb::ClientContext& context) override;
  void QueryEnd(duckdb::ClientContext& context) override;

 private:
  std::shared_ptr<Totals> totals_;
  mutable std::mutex mu_;
  std::unordered_set<std::string> listed_;
  std::unordered_set<std::string> opened_;  //!< only keys in listed_
  uint64_t bytes_opened_ = 0;
  std::vector<std::string> versions_;
};

//! The datasets the query running on a connection may read (QueryRequest::may_read), kept in its
//! ClientContext. Checked where names resolve (Resolver) and where lakehouse:// paths open.
class DatasetAccess final : public duckdb::ClientContextState {
 public:
  DatasetAccess(std::function<bool(std::string_view)> may_read, std::string principal)
      : may_read_(std::move(may_read)), principal_(std::move(principal)) {}
  //! Sets (or clears, when `may_read` is empty) the grants of the queries on `context`.
  static void Install(duckdb::ClientContext& context, const std::function<bool(std::string_view)>& may_read,
                      const std::string& principal);
  //! Throws (a lakehouse Error(kPermissionDenied) naming the dataset, recorded as the query's
  //! resolution error, wrapped for DuckDB) unless the query on `context` may read `dataset`.
  static void Check(duckdb::ClientContext& context, const std::string& dataset);

 private:
  std::function<bool(std::string_view)> may_read_;
  std::string principal_;
};

//! The file system to register with DuckDB (FileSystem::RegisterSubSystem). `store` must outlive it.
duckdb::unique_ptr<duckdb::FileSystem> MakeObjectFileSystem(storaged::ObjectStore& store,
                                                            std::shared_ptr<ObjectRegistry> registry,
                                                            std::shared_ptr<RemoteStats> stats,
                                                            uint64_t footer_cache_bytes, bool force_range_reads);

}  // namespace lakehouse::queryd
