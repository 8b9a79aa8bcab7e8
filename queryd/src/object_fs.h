#pragma once
// The lakehouse:// file system DuckDB reads objects through. It serves exactly the objects of
// manifests the resolver registered (user SQL cannot reach manifests, staging uploads or keys of
// other stores): local objects are read in place, remote ones through ObjectStore::GetRange with a
// small LRU cache of Parquet footers.
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

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
};

//! The objects of every manifest the engine resolved; lakehouse:// serves these and nothing else.
class ObjectRegistry {
 public:
  //! Registers an object of `dataset` (a manifest the resolver read).
  void Add(const std::string& dataset, const ObjectRef& ref);
  std::optional<RegisteredObject> Find(const std::string& key) const;
  //! Forgets every object of a deleted dataset: lakehouse:// paths to them stop resolving.
  void ForgetDataset(const std::string& dataset);
  size_t size() const;

 private:
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

//! The file system to register with DuckDB (FileSystem::RegisterSubSystem). `store` must outlive it.
duckdb::unique_ptr<duckdb::FileSystem> MakeObjectFileSystem(storaged::ObjectStore& store,
                                                            std::shared_ptr<ObjectRegistry> registry,
                                                            std::shared_ptr<RemoteStats> stats,
                                                            uint64_t footer_cache_bytes, bool force_range_reads);

}  // namespace lakehouse::queryd
