// The lakehouse:// file system and its footer cache (see object_fs.h).
#include "object_fs.h"

#include <algorithm>
#include <cstring>
#include <list>

#include "duckdb/common/file_opener.hpp"
#include "duckdb/main/client_context.hpp"

#include "lakehouse/shared/error.h"
#include "lakehouse/shared/telemetry.h"
#include "lakehouse/storaged/object_store.h"

namespace lakehouse::queryd {

constexpr std::string_view kScheme = "lakehouse://";

std::string ObjectPath(const std::string& key) { return std::string(kScheme) + key; }

void ObjectRegistry::Add(const std::string& dataset, const ObjectRef& ref) {
  std::lock_guard lock(mu_);
  if (objects_.insert_or_assign(ref.key, RegisteredObject{ref.size, ref.etag, dataset}).second) {
    keys_by_dataset_[dataset].push_back(ref.key);
  }
}

void ObjectRegistry::ForgetDataset(const std::string& dataset) {
  std::lock_guard lock(mu_);
  auto it = keys_by_dataset_.find(dataset);
  if (it == keys_by_dataset_.end()) return;
  for (const auto& key : it->second) objects_.erase(key);
  keys_by_dataset_.erase(it);
}

std::optional<RegisteredObject> ObjectRegistry::Find(const std::string& key) const {
  if (auto found = Lookup(key)) return found;
  if (!loader_) return std::nullopt;
  loader_(key);
  return Lookup(key);
}

std::optional<RegisteredObject> ObjectRegistry::Lookup(const std::string& key) const {
  std::lock_guard lock(mu_);
  auto it = objects_.find(key);
  if (it == objects_.end()) return std::nullopt;
  return it->second;
}

size_t ObjectRegistry::size() const {
  std::lock_guard lock(mu_);
  return objects_.size();
}

namespace {
constexpr const char* kScanTrackerKey = "lakehouse_scan_tracker";
}  // namespace

ScanTracker& ScanTracker::Of(duckdb::ClientContext& context, const std::shared_ptr<Totals>& totals) {
  return *context.registered_state->GetOrCreate<ScanTracker>(kScanTrackerKey, totals);
}

duckdb::shared_ptr<ScanTracker> ScanTracker::Find(duckdb::ClientContext& context) {
  return context.registered_state->Get<ScanTracker>(kScanTrackerKey);
}

void ScanTracker::Listed(const std::vector<std::string>& keys) {
  std::lock_guard lock(mu_);
  listed_.insert(keys.begin(), keys.end());
}

void ScanTracker::Opened(const std::string& key, uint64_t size) {
  std::lock_guard lock(mu_);
  if (listed_.contains(key) && opened_.insert(key).second) bytes_opened_ += size;
}

void ScanTracker::Resolved(const std::string& dataset, uint64_t version) {
  std::lock_guard lock(mu_);
  versions_.push_back(dataset + "@" + std::to_string(version));
}

uint64_t ScanTracker::BytesOpened() const {
  std::lock_guard lock(mu_);
  return bytes_opened_;
}

std::string ScanTracker::Versions() const {
  std::lock_guard lock(mu_);
  std::string out;
  for (const auto& v : versions_) out += (out.empty() ? "" : ",") + v;
  return out;
}

std::pair<uint64_t, uint64_t> ScanTracker::Counts() const {
  std::lock_guard lock(mu_);
  return {opened_.size(), listed_.size() - opened_.size()};
}

void ScanTracker::QueryBegin(duckdb::ClientContext&) {
  std::lock_guard lock(mu_);
  listed_.clear();
  opened_.clear();
  bytes_opened_ = 0;
  versions_.clear();
}

void ScanTracker::QueryEnd(duckdb::ClientContext&) {
  // The counts stay readable after the end (the query's stats are written once its result is
  // drained, which may end it); the next query on this connection starts them afresh.
  const auto [scanned, pruned] = Counts();
  totals_->queries++;
  totals_->objects_scanned += scanned;
  totals_->objects_pruned += pruned;
}

namespace {

constexpr uint64_t kFooterTail = 64 << 10;  //!< bytes fetched (and cached) at the end of a remote object

//! Tails of remote objects (Parquet footers), LRU-bounded by bytes.
class FooterCache {
 public:
  explicit FooterCache(uint64_t capacity) : capacity_(capacity) {}

  //! Copies [offset, offset + n) into `out` when the cached tail covers it.
  bool Read(const std::string& key, uint64_t offset, uint64_t n, void* out) {
    std::lock_guard lock(mu_);
    auto it = entries_.find(key);
    if (it == entries_.end() || offset < it->second.start) return false;
    const uint64_t rel = offset - it->second.start;
    if (rel + n > it->second.data.size()) return false;
    std::memcpy(out, it->second.data.data() + rel, n);
    lru_.splice(lru_.begin(), lru_, it->second.pos);
    return true;
  }
  void Put(const std::string& key, uint64_t start, std::string data) {
    std::lock_guard lock(mu_);
    if (data.size() > capacity_) return;
    auto it = entries_.find(key);
    if (it != entries_.end()) {
      bytes_ -= it->second.data.size();
      lru_.erase(it->second.pos);
      entries_.erase(it);
    }
    lru_.push_front(key);
    bytes_ += data.size();
    entries_.emplace(key, Entry{start, std::move(data), lru_.begin()});
    while (bytes_ > capacity_ && !lru_.empty()) {
      auto victim = entries_.find(lru_.back());
      bytes_ -= victim->second.data.size();
      entries_.erase(victim);
      lru_.pop_back();
    }
  }

 private:
  struct Entry {
    uint64_t start;
    std::string data;
    std::list<std::string>::iterator pos;
  };
  std::mutex mu_;
  uint64_t capacity_;
  uint64_t bytes_ = 0;
  std::list<std::string> lru_;
  std::unordered_map<std::string, Entry> entries_;
};

class LakehouseFileHandle final : public duckdb::FileHandle {
 public:
  LakehouseFileHandle(duckdb::FileSystem& fs, const std::string& path, duckdb::FileOpenFlags flags, std::string key_p,
                      RegisteredObject object_p, duckdb::unique_ptr<duckdb::FileHandle> local_p)
      : FileHandle(fs, path, flags), key(std::move(key_p)), object(std::move(object_p)), local(std::move(local_p)) {}
  void Close() override {
    if (local) local->Close();
  }

  std::string key;
  RegisteredObject object;
  duckdb::unique_ptr<duckdb::FileHandle> local;  //!< set when the object is a local file
  idx_t position = 0;
  telemetry::TraceContext trace = telemetry::Current();  //!< the query's span: reads run on DuckDB's threads
};

class LakehouseFileSystem final : public duckdb::FileSystem {
 public:
  LakehouseFileSystem(storaged::ObjectStore& store, std::shared_ptr<ObjectRegistry> registry,
                      std::shared_ptr<RemoteStats> stats, uint64_t footer_cache_bytes, bool force_range_reads)
      : store_(store),
        registry_(std::move(registry)),
        stats_(std::move(stats)),
        footers_(footer_cache_bytes),
        force_range_reads_(force_range_reads),
        local_fs_(duckdb::FileSystem::CreateLocal()) {}

  std::string GetName() const override { return "LakehouseFileSystem"; }
  bool CanHandleFile(const std::string& path) override { return path.starts_with("lakehouse:"); }

  duckdb::unique_ptr<duckdb::FileHandle> OpenFile(const std::string& path, duckdb::FileOpenFlags flags,
                                                  duckdb::optional_ptr<duckdb::FileOpener> opener) override {
    if (flags.OpenForWriting()) throw duckdb::PermissionException("objects are read-only: cannot write \"%s\"", path);
    const std::string key = KeyOf(path);
    auto object = registry_->Find(key);
    if (object) CheckAccess(opener, object->dataset);
    if (!object) {
      if (flags.ReturnNullIfNotExists()) return nullptr;
      // A user's mistake (a guessed or deleted object), not a storage failure: 400, not 503.
      throw duckdb::PermissionException(
          "\"%s\" is not an object of any dataset (or its dataset was deleted); query datasets by name", path);
    }
    if (auto context = duckdb::FileOpener::TryGetClientContext(opener)) {
      if (auto tracker = ScanTracker::Find(*context)) tracker->Opened(key, object->size);
    }
    duckdb::unique_ptr<duckdb::FileHandle> local;
    if (!force_range_reads_) {
      if (auto local_path = LocalPath(key)) {
        local = local_fs_->OpenFile(*local_path, duckdb::FileFlags::FILE_FLAGS_READ);
        stats_->local_opens++;
      }
    }
    return duckdb::make_uniq<LakehouseFileHandle>(*this, path, flags, key, *object, std::move(local));
  }

  void Read(duckdb::FileHandle& handle, void* buffer, int64_t nr_bytes, idx_t location) override {
    auto& h = handle.Cast<LakehouseFileHandle>();
    if (h.local) {
      h.local->Read(buffer, static_cast<idx_t>(nr_bytes), location);
      return;
    }
    ReadRemote(h, buffer, static_cast<uint64_t>(nr_bytes), location);
  }

  int64_t Read(duckdb::FileHandle& handle, void* buffer, int64_t nr_bytes) override {
    auto& h = handle.Cast<LakehouseFileHandle>();
    const uint64_t size = GetSize(h);
    const uint64_t n = std::min<uint64_t>(static_cast<uint64_t>(nr_bytes), size > h.position ? size - h.position : 0);
    Read(handle, buffer, static_cast<int64_t>(n), h.position);
    h.position += n;
    return static_cast<int64_t>(n);
  }

  int64_t GetFileSize(duckdb::FileHandle& handle) override {
    return static_cast<int64_t>(GetSize(handle.Cast<LakehouseFileHandle>()));
  }
  duckdb::timestamp_t GetLastModifiedTime(duckdb::FileHandle&) override {
    return duckdb::timestamp_t(0);  // objects are immutable: keys are never rewritten
  }
  std::string GetVersionTag(duckdb::FileHandle& handle) override {
    return handle.Cast<LakehouseFileHandle>().object.etag;
  }
  bool FileExists(const std::string& filename, duckdb::optional_ptr<duckdb::FileOpener>) override {
    return registry_->Find(KeyOf(filename)).has_value();
  }
  duckdb::vector<duckdb::OpenFileInfo> Glob(const std::string& path, duckdb::FileOpener* opener) override {
    auto object = registry_->Find(KeyOf(path));
    if (!object) {
      // A user's mistake (a guessed or deleted object), not a storage failure: 400, not 503.
      throw duckdb::PermissionException(
          "\"%s\" is not an object of any dataset (or its dataset was deleted); query datasets by name", path);
    }
    CheckAccess(opener, object->dataset);
    duckdb::vector<duckdb::OpenFileInfo> result;
    result.emplace_back(path);
    return result;
  }
  void Seek(duckdb::FileHandle& handle, idx_t location) override {
    handle.Cast<LakehouseFileHandle>().position = location;
  }
  idx_t SeekPosition(duckdb::FileHandle& handle) override { return handle.Cast<LakehouseFileHandle>().position; }
  bool CanSeek() override { return true; }
  bool OnDiskFile(duckdb::FileHandle& handle) override { return handle.Cast<LakehouseFileHandle>().local != nullptr; }
  duckdb::FileType GetFileType(duckdb::FileHandle&) override { return duckdb::FileType::FILE_TYPE_REGULAR; }

  std::optional<std::string> LocalPath(const std::string& key) const { return store_.LocalPath(key); }

 private:
  //! A lakehouse:// path reaches a dataset as surely as its name: the caller's grants apply.
  static void CheckAccess(duckdb::optional_ptr<duckdb::FileOpener> opener, const std::string& dataset) {
    if (auto context = duckdb::FileOpener::TryGetClientContext(opener)) DatasetAccess::Check(*context, dataset);
  }

  static std::string KeyOf(const std::string& path) {
    if (!path.starts_with(kScheme)) {
      throw duckdb::PermissionException("\"%s\" is not a lakehouse:// object path; query datasets by name", path);
    }
    return path.substr(kScheme.size());
  }

  uint64_t GetSize(LakehouseFileHandle& h) {
    if (h.local) return static_cast<uint64_t>(h.local->GetFileSize());
    return h.object.size;
  }

  void Fetch(const std::string& key, uint64_t offset, uint64_t n, char* out) {
    uint64_t got = 0;
    try {
      store_.GetRange(key, offset, n, [&](std::string_view chunk) {
        const uint64_t take = std::min<uint64_t>(chunk.size(), n - got);
        std::memcpy(out + got, chunk.data(), take);
        got += take;
        return true;
      });
    } catch (const Error& e) {
      throw duckdb::IOException("reading object \"%s\" from storage failed: %s", key, e.what());
    }
    stats_->range_requests++;
    stats_->range_bytes += got;
    if (got != n) {
      throw duckdb::IOException("short read of object \"%s\": wanted %llu bytes at %llu, got %llu", key,
                                static_cast<unsigned long long>(n), static_cast<unsigned long long>(offset),
                                static_cast<unsigned long long>(got));
    }
  }

  void ReadRemote(LakehouseFileHandle& h, void* buffer, uint64_t n, uint64_t location) {
    if (n == 0) return;
    const telemetry::ContextScope trace(h.trace.valid() ? h.trace : telemetry::Current());
    const uint64_t size = h.object.size;
    if (location + n > size) {
      throw duckdb::IOException("read past the end of object \"%s\" (%llu + %llu > %llu)", h.key,
                                static_cast<unsigned long long>(location), static_cast<unsigned long long>(n),
                                static_cast<unsigned long long>(size));
    }
    if (footers_.Read(h.key, location, n, buffer)) {
      stats_->footer_hits++;
      return;
    }
    // Reads that reach into the last bytes are footer reads (Parquet: length + magic, then the
    // metadata right before them): fetch the whole tail once and keep it.
    if (location + n + 8 >= size) {
      const uint64_t start = std::min<uint64_t>(location, size > kFooterTail ? size - kFooterTail : 0);
      std::string tail(size - start, '\0');
      Fetch(h.key, start, tail.size(), tail.data());
      std::memcpy(buffer, tail.data() + (location - start), n);
      footers_.Put(h.key, start, std::move(tail));
      return;
    }
    Fetch(h.key, location, n, static_cast<char*>(buffer));
  }

  storaged::ObjectStore& store_;
  std::shared_ptr<ObjectRegistry> registry_;
  std::shared_ptr<RemoteStats> stats_;
  FooterCache footers_;
  bool force_range_reads_;
  duckdb::unique_ptr<duckdb::FileSystem> local_fs_;
};

}  // namespace

duckdb::unique_ptr<duckdb::FileSystem> MakeObjectFileSystem(storaged::ObjectStore& store,
                                                            std::shared_ptr<ObjectRegistry> registry,
                                                            std::shared_ptr<RemoteStats> stats,
                                                            uint64_t footer_cache_bytes, bool force_range_reads) {
  return duckdb::make_uniq<LakehouseFileSystem>(store, std::move(registry), std::move(stats), footer_cache_bytes,
                                                force_range_reads);
}

}  // namespace lakehouse::queryd
