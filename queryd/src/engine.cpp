// The DuckDB side of queryd: the one translation unit that includes duckdb.hpp (it costs ~7 s of
// compile time). It holds
//   - LakehouseFileSystem: DuckDB reads objects as lakehouse://<key>; local objects are read in
//     place, remote ones through ObjectStore::GetRange with a small footer cache;
//   - resolution: a replacement scan turns a dataset name into read_parquet over exactly the
//     objects of the catalog's head manifest (PRD invariant 5), cached until the next commit;
//     dataset_version(name, version) does the same for an older version;
//   - the sandbox: one read-only statement, no external access, locked configuration;
//   - execution: streaming, cancellable, every chunk exported once through the Arrow C data
//     interface to the encoders (encoders.cpp).
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <list>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "duckdb.hpp"
#include "duckdb/catalog/catalog.hpp"
#include "duckdb/common/arrow/arrow_appender.hpp"
#include "duckdb/common/arrow/arrow_converter.hpp"
#include "duckdb/common/vector_operations/vector_operations.hpp"
#include "duckdb/function/replacement_scan.hpp"
#include "duckdb/function/table_function.hpp"
#include "duckdb/main/stream_query_result.hpp"
#include "duckdb/parser/parsed_data/create_table_function_info.hpp"
#include "duckdb/parser/parser.hpp"
#include "duckdb/parser/statement/explain_statement.hpp"
#include "duckdb/parser/statement/select_statement.hpp"
#include "duckdb/parser/tableref/subqueryref.hpp"
#include "encoders.h"
#include "lakehouse/catalogd/catalog.h"
#include "lakehouse/queryd/query.h"
#include "lakehouse/shared/error.h"
#include "lakehouse/shared/logging.h"
#include "lakehouse/shared/types.h"
#include "lakehouse/storaged/object_store.h"
#include "output.h"

namespace lakehouse::queryd {
namespace {

using Clock = std::chrono::steady_clock;
constexpr std::string_view kScheme = "lakehouse://";
constexpr uint64_t kFooterTail = 64 << 10;  //!< bytes fetched (and cached) at the end of a remote object
constexpr idx_t kArrowBatchRows = idx_t{64} * 1024;

std::string ObjectPath(const std::string& key) { return std::string(kScheme) + key; }

std::string SqlString(std::string_view text) {
  std::string out = "'";
  for (char c : text) {
    if (c == '\'') out.push_back('\'');
    out.push_back(c);
  }
  out.push_back('\'');
  return out;
}

// ---- Objects DuckDB may read ---------------------------------------------------------------

struct RegisteredObject {
  uint64_t size = 0;
  std::string etag;
};

//! The objects of every manifest the engine resolved. lakehouse:// serves these and nothing else,
//! so user SQL cannot reach manifests, staging uploads or keys of other stores.
class ObjectRegistry {
 public:
  void Add(const ObjectRef& ref) {
    std::lock_guard lock(mu_);
    objects_[ref.key] = RegisteredObject{ref.size, ref.etag};
  }
  std::optional<RegisteredObject> Find(const std::string& key) const {
    std::lock_guard lock(mu_);
    auto it = objects_.find(key);
    if (it == objects_.end()) return std::nullopt;
    return it->second;
  }
  size_t size() const {
    std::lock_guard lock(mu_);
    return objects_.size();
  }

 private:
  mutable std::mutex mu_;
  std::unordered_map<std::string, RegisteredObject> objects_;
};

struct RemoteStats {
  std::atomic<uint64_t> range_requests{0};
  std::atomic<uint64_t> range_bytes{0};
  std::atomic<uint64_t> footer_hits{0};
  std::atomic<uint64_t> local_opens{0};
};

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
    if (!object) {
      if (flags.ReturnNullIfNotExists()) return nullptr;
      throw duckdb::IOException("\"%s\" is not an object of any dataset; query datasets by name", path);
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
  duckdb::vector<duckdb::OpenFileInfo> Glob(const std::string& path, duckdb::FileOpener*) override {
    duckdb::vector<duckdb::OpenFileInfo> result;
    if (registry_->Find(KeyOf(path))) result.emplace_back(path);
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
  static std::string KeyOf(const std::string& path) {
    if (!path.starts_with(kScheme)) throw duckdb::IOException("\"%s\" is not a lakehouse:// object path", path);
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

// ---- Per-query state shared with the binder callbacks (they run on the executing thread) ----

struct QueryState {
  std::optional<Error> resolution_error;  //!< a lakehouse error raised while resolving a dataset
};
thread_local QueryState* current_query = nullptr;

//! Cancels queries at their deadline from one background thread.
class Watchdog {
 public:
  Watchdog() : thread_([this] { Run(); }) {}
  ~Watchdog() {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  uint64_t Add(Clock::time_point deadline, duckdb::ClientContext* context, std::atomic<bool>* fired) {
    std::lock_guard lock(mu_);
    const uint64_t id = ++next_id_;
    entries_.emplace(id, Entry{deadline, context, fired});
    cv_.notify_all();
    return id;
  }
  //! After Remove returns, the watchdog never touches the entry's context again.
  void Remove(uint64_t id) {
    std::lock_guard lock(mu_);
    entries_.erase(id);
  }
  size_t active() {
    std::lock_guard lock(mu_);
    return entries_.size();
  }

 private:
  struct Entry {
    Clock::time_point deadline;
    duckdb::ClientContext* context;
    std::atomic<bool>* fired;
  };
  void Run() {
    std::unique_lock lock(mu_);
    while (!stop_) {
      auto next = Clock::time_point::max();
      const auto now = Clock::now();
      for (auto it = entries_.begin(); it != entries_.end();) {
        if (it->second.deadline <= now) {
          it->second.fired->store(true);
          it->second.context->Interrupt();
          it = entries_.erase(it);
        } else {
          next = std::min(next, it->second.deadline);
          ++it;
        }
      }
      if (next == Clock::time_point::max()) {
        cv_.wait(lock);
      } else {
        cv_.wait_until(lock, next);
      }
    }
  }
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<uint64_t, Entry> entries_;
  uint64_t next_id_ = 0;
  bool stop_ = false;
  std::thread thread_;
};

// ---- Resolution --------------------------------------------------------------------------------

struct ResolvedDataset {
  std::string dataset;
  uint64_t version = 0;
  std::string select_sql;  //!< SELECT over exactly the manifest's objects
};

bool SameType(std::string a, std::string b) {
  auto norm = [](std::string& s) {
    for (auto& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    std::erase(s, ' ');
  };
  norm(a);
  norm(b);
  return a == b;
}

class EngineImpl;
struct EngineScanData final : duckdb::ReplacementScanData {
  explicit EngineScanData(EngineImpl* e) : engine(e) {}
  EngineImpl* engine;
};
struct EngineFunctionInfo final : duckdb::TableFunctionInfo {
  explicit EngineFunctionInfo(EngineImpl* e) : engine(e) {}
  EngineImpl* engine;
};

std::string DescribeType(const duckdb::LogicalType& type) { return type.ToString(); }

//! Types the Arrow export does not carry faithfully (or at all) are sent as their text.
bool NeedsTextCast(const duckdb::LogicalType& type) {
  using duckdb::LogicalTypeId;
  switch (type.id()) {
    case LogicalTypeId::ENUM:
    case LogicalTypeId::UNION:
    case LogicalTypeId::UHUGEINT:
    case LogicalTypeId::BIT:
    case LogicalTypeId::BIGNUM:
    case LogicalTypeId::TIME_TZ:
    case LogicalTypeId::UUID:
    case LogicalTypeId::VARIANT:
      return true;
    case LogicalTypeId::LIST:
      return NeedsTextCast(duckdb::ListType::GetChildType(type));
    case LogicalTypeId::ARRAY:
      return NeedsTextCast(duckdb::ArrayType::GetChildType(type));
    case LogicalTypeId::MAP:
      return NeedsTextCast(duckdb::MapType::KeyType(type)) || NeedsTextCast(duckdb::MapType::ValueType(type));
    case LogicalTypeId::STRUCT:
      for (auto& child : duckdb::StructType::GetChildTypes(type)) {
        if (NeedsTextCast(child.second)) return true;
      }
      return false;
    default:
      return false;
  }
}

class EngineImpl final : public QueryEngine {
 public:
  EngineImpl(catalogd::Catalog& catalog, storaged::ObjectStore& store, const QueryConfig& config)
      : catalog_(catalog), store_(store), config_(config) {
    registry_ = std::make_shared<ObjectRegistry>();
    remote_stats_ = std::make_shared<RemoteStats>();

    duckdb::DBConfig db_config;
    db_config.options.autoinstall_known_extensions = false;
    db_config.options.autoload_known_extensions = false;
    db_config.options.allow_community_extensions = false;
    db_config.options.allow_unsigned_extensions = false;
    db_config.SetOptionByName("memory_limit", duckdb::Value(config.memory_limit));
    db_config.SetOptionByName("threads", duckdb::Value::BIGINT(config.threads));
    if (!config.temp_dir.empty()) db_config.SetOptionByName("temp_directory", duckdb::Value(config.temp_dir));
    db_config.replacement_scans.emplace_back(ResolveTableScan, duckdb::make_uniq<EngineScanData>(this));
    db_ = std::make_unique<duckdb::DuckDB>(nullptr, &db_config);

    auto& fs = db_->GetFileSystem();
    fs.RegisterSubSystem(duckdb::make_uniq<LakehouseFileSystem>(store_, registry_, remote_stats_,
                                                                config.footer_cache_bytes, config.force_range_reads));

    duckdb::Connection admin(*db_);
    RegisterDatasetVersionFunction(admin);
    // Order matters: allowed_directories can only be set while external access is still on, and
    // nothing can be set once the configuration is locked.
    for (const char* sql :
         {"SET TimeZone = 'UTC'", "SET parquet_metadata_cache = true", "SET allowed_directories = ['lakehouse://']",
          "SET enable_external_access = false", "SET lock_configuration = true"}) {
      auto result = admin.Query(sql);
      if (result->HasError()) Fail(ErrorCode::kInternal, "configuring DuckDB ({}): {}", sql, result->GetError());
    }
    // The catalog cannot remove listeners: the engine's detaches itself on destruction.
    catalog_.AddListener([link = listener_link_](const DatasetManifest& manifest) {
      std::lock_guard lock(link->mu);
      if (link->engine != nullptr) link->engine->Invalidate(manifest.dataset);
    });
  }

  ~EngineImpl() override {
    std::lock_guard lock(listener_link_->mu);
    listener_link_->engine = nullptr;
  }

  QueryStats Execute(const QueryRequest& request, ResultSink& sink) override;

  nlohmann::json Health() override {
    size_t resolved = 0;
    {
      std::lock_guard lock(mu_);
      resolved = head_.size();
    }
    return {{"status", "ok"},
            {"duckdb_version", duckdb::DuckDB::LibraryVersion()},
            {"active_queries", watchdog_.active()},
            {"resolved_datasets", resolved},
            {"registered_objects", registry_->size()},
            {"remote_reads",
             {{"range_requests", remote_stats_->range_requests.load()},
              {"bytes", remote_stats_->range_bytes.load()},
              {"footer_cache_hits", remote_stats_->footer_hits.load()},
              {"local_opens", remote_stats_->local_opens.load()}}}};
  }

  //! The replacement scan: a table name that is a dataset becomes a scan of its head version.
  duckdb::unique_ptr<duckdb::TableRef> ReplaceTable(const std::string& catalog_name, const std::string& schema_name,
                                                    const std::string& table_name) {
    if (!catalog_name.empty() || !(schema_name.empty() || schema_name == "main")) return nullptr;
    std::string name = duckdb::StringUtil::Lower(table_name);
    if (!DatasetId::IsValid(name)) return nullptr;
    std::shared_ptr<const ResolvedDataset> resolved;
    try {
      resolved = ResolveHead(name);
    } catch (const Error& e) {
      if (e.code() == ErrorCode::kNotFound) return nullptr;  // DuckDB reports the missing table
      if (current_query) current_query->resolution_error = e;
      throw duckdb::BinderException(e.what());
    }
    return MakeRef(*resolved, table_name);
  }

  duckdb::unique_ptr<duckdb::TableRef> ReplaceVersion(const std::string& name, int64_t version) {
    if (version < 1) throw duckdb::BinderException("dataset_version: version must be >= 1, got %lld", version);
    try {
      auto resolved = ResolveVersion(DatasetId::Parse(name).str(), static_cast<uint64_t>(version));
      return MakeRef(*resolved, name);
    } catch (const Error& e) {
      if (current_query) current_query->resolution_error = e;
      throw duckdb::BinderException(e.what());
    }
  }

 private:
  static duckdb::unique_ptr<duckdb::TableRef> ResolveTableScan(duckdb::ClientContext&,
                                                               duckdb::ReplacementScanInput& input,
                                                               duckdb::optional_ptr<duckdb::ReplacementScanData> data) {
    return data->Cast<EngineScanData>().engine->ReplaceTable(input.catalog_name, input.schema_name, input.table_name);
  }

  static duckdb::unique_ptr<duckdb::TableRef> DatasetVersionBind(duckdb::ClientContext&,
                                                                 duckdb::TableFunctionBindInput& input) {
    auto* engine = input.info->Cast<EngineFunctionInfo>().engine;
    if (input.inputs.size() != 2 || input.inputs[0].IsNull() || input.inputs[1].IsNull()) {
      throw duckdb::BinderException("dataset_version(name, version) needs a dataset name and a version number");
    }
    return engine->ReplaceVersion(input.inputs[0].GetValue<std::string>(), input.inputs[1].GetValue<int64_t>());
  }

  void RegisterDatasetVersionFunction(duckdb::Connection& admin) {
    duckdb::TableFunction fn("dataset_version", {duckdb::LogicalType::VARCHAR, duckdb::LogicalType::BIGINT}, nullptr);
    fn.bind_replace = DatasetVersionBind;
    fn.function_info = duckdb::make_shared_ptr<EngineFunctionInfo>(this);
    admin.context->RunFunctionInTransaction([&]() {
      auto& system = duckdb::Catalog::GetSystemCatalog(*admin.context);
      duckdb::CreateTableFunctionInfo info(fn);
      system.CreateTableFunction(*admin.context, info);
    });
  }

  static duckdb::unique_ptr<duckdb::TableRef> MakeRef(const ResolvedDataset& resolved, const std::string& alias) {
    duckdb::Parser parser;
    parser.ParseQuery(resolved.select_sql);
    auto select =
        duckdb::unique_ptr_cast<duckdb::SQLStatement, duckdb::SelectStatement>(std::move(parser.statements[0]));
    return duckdb::make_uniq<duckdb::SubqueryRef>(std::move(select), alias);
  }

  void Invalidate(const std::string& dataset) {
    std::lock_guard lock(mu_);
    head_.erase(dataset);
    ++generation_[dataset];
  }

  std::shared_ptr<const ResolvedDataset> ResolveHead(const std::string& name) {
    uint64_t generation = 0;
    {
      std::lock_guard lock(mu_);
      auto it = head_.find(name);
      if (it != head_.end()) return it->second;
      generation = generation_[name];
    }
    DatasetManifest manifest = catalog_.Head(name);
    auto resolved = Resolve(manifest);
    std::lock_guard lock(mu_);
    // A commit that landed while we resolved makes this head stale: use it for this query only.
    if (generation_[name] == generation) head_[name] = resolved;
    return resolved;
  }

  std::shared_ptr<const ResolvedDataset> ResolveVersion(const std::string& name, uint64_t version) {
    const std::string cache_key = name + "@" + std::to_string(version);
    {
      std::lock_guard lock(mu_);
      auto it = versions_.find(cache_key);
      if (it != versions_.end()) return it->second;
    }
    DatasetManifest manifest = catalog_.Get(name, version);
    if (manifest.tombstone) {
      Fail(ErrorCode::kNotFound, "dataset '{}' was deleted at version {}: it has no rows to query", name, version);
    }
    auto resolved = Resolve(manifest);
    std::lock_guard lock(mu_);
    if (versions_.size() > 4096) versions_.clear();
    versions_[cache_key] = resolved;
    return resolved;
  }

  //! Builds the scan of one manifest, after checking its objects against its schema.
  std::shared_ptr<const ResolvedDataset> Resolve(const DatasetManifest& manifest) {
    auto resolved = std::make_shared<ResolvedDataset>();
    resolved->dataset = manifest.dataset;
    resolved->version = manifest.version;
    if (Fingerprint(manifest.schema) != manifest.fingerprint) {
      Fail(ErrorCode::kConflict,
           "dataset '{}' version {}: the manifest's schema fingerprint {} does not match its columns; the manifest is "
           "damaged",
           manifest.dataset, manifest.version, manifest.fingerprint.hex.substr(0, 12));
    }
    for (const auto& object : manifest.objects) registry_->Add(object.ref);
    // Schema check: every object's columns against the manifest's. An object that differs is
    // either damage (409 naming the dataset) or, after an append that changed the schema
    // (schema_version > 1), an object written under an older schema version.
    bool exact = true;
    for (const auto& object : manifest.objects) {
      const auto columns = ObjectColumns(manifest, object.ref);
      const std::string diff = DiffColumns(manifest.schema, columns);
      if (diff.empty()) continue;
      exact = false;
      const bool shares_a_column = std::any_of(columns.begin(), columns.end(), [&](const auto& c) {
        return std::any_of(manifest.schema.begin(), manifest.schema.end(),
                           [&](const auto& m) { return m.name == c.first; });
      });
      if (manifest.schema_version <= 1 || !shares_a_column) {
        Fail(ErrorCode::kConflict,
             "dataset '{}' version {}: object '{}' does not match the manifest's schema (fingerprint {}): {}",
             manifest.dataset, manifest.version, object.ref.key, manifest.fingerprint.hex.substr(0, 12), diff);
      }
    }

    std::string paths;
    for (size_t i = 0; i < manifest.objects.size(); ++i) {
      if (i != 0) paths += ", ";
      paths += SqlString(ObjectPath(manifest.objects[i].ref.key));
    }
    auto manifest_columns = [&](auto&& expression) {
      std::string list;
      for (size_t i = 0; i < manifest.schema.size(); ++i) {
        if (i != 0) list += ", ";
        const std::string name = duckdb::KeywordHelper::WriteOptionallyQuoted(manifest.schema[i].name);
        list += fmt::format("CAST({} AS {}) AS {}", expression(name), manifest.schema[i].type, name);
      }
      return list;
    };
    std::string sql;
    if (manifest.objects.empty() || manifest.schema.empty()) {
      // No data yet: an empty relation with the manifest's columns.
      sql = manifest.schema.empty() ? "SELECT NULL AS empty WHERE false"
                                    : "SELECT * FROM (SELECT " +
                                          manifest_columns([](const std::string&) { return "NULL"; }) + ") WHERE false";
    } else if (exact) {
      sql = "SELECT * FROM read_parquet([" + paths + "])";
    } else {
      // Objects of older schema versions: columns matched by name, missing ones NULL, types cast
      // to the manifest's.
      sql = "SELECT " + manifest_columns([](const std::string& name) { return name; }) + " FROM read_parquet([" +
            paths + "], union_by_name = true)";
    }
    resolved->select_sql = std::move(sql);
    return resolved;
  }

  using Columns = std::vector<std::pair<std::string, std::string>>;  //!< (name, DuckDB type)

  //! An object's columns, from its Parquet footer (one tail read; DuckDB's metadata cache then
  //! has it for the query). Remembered per key: objects are immutable.
  Columns ObjectColumns(const DatasetManifest& manifest, const ObjectRef& ref) {
    {
      std::lock_guard lock(mu_);
      auto it = object_columns_.find(ref.key);
      if (it != object_columns_.end()) return it->second;
    }
    duckdb::Connection con(*db_);
    auto result = con.Query("DESCRIBE SELECT * FROM read_parquet(" + SqlString(ObjectPath(ref.key)) + ")");
    if (result->HasError()) {
      const auto& error = result->GetErrorObject();
      const auto code = error.Type() == duckdb::ExceptionType::IO ? ErrorCode::kUnavailable : ErrorCode::kConflict;
      Fail(code, "dataset '{}' version {}: cannot read object '{}': {}", manifest.dataset, manifest.version, ref.key,
           error.RawMessage());
    }
    Columns columns;
    for (idx_t row = 0; row < result->RowCount(); ++row) {
      columns.emplace_back(result->GetValue(0, row).ToString(), result->GetValue(1, row).ToString());
    }
    std::lock_guard lock(mu_);
    if (object_columns_.size() > 100000) object_columns_.clear();
    object_columns_[ref.key] = columns;
    return columns;
  }

  //! What differs between the manifest's columns and a file's; empty when they match.
  static std::string DiffColumns(const Schema& schema, const Columns& actual) {
    std::string diff;
    auto add = [&](const std::string& text) { diff += (diff.empty() ? "" : "; ") + text; };
    const size_t common = std::min(actual.size(), schema.size());
    for (size_t i = 0; i < common; ++i) {
      if (schema[i].name != actual[i].first) {
        add(fmt::format("column {} is '{}' in the file, '{}' in the manifest", i + 1, actual[i].first, schema[i].name));
      } else if (!SameType(schema[i].type, actual[i].second)) {
        add(fmt::format("{}: {} in the file, {} in the manifest", schema[i].name, actual[i].second, schema[i].type));
      }
    }
    for (size_t i = common; i < actual.size(); ++i) add(fmt::format("extra column '{}' in the file", actual[i].first));
    for (size_t i = common; i < schema.size(); ++i) {
      add(fmt::format("column '{}' missing from the file", schema[i].name));
    }
    return diff;
  }

  struct ListenerLink {
    explicit ListenerLink(EngineImpl* e) : engine(e) {}
    std::mutex mu;
    EngineImpl* engine;
  };
  std::shared_ptr<ListenerLink> listener_link_ = std::make_shared<ListenerLink>(this);
  catalogd::Catalog& catalog_;
  storaged::ObjectStore& store_;
  QueryConfig config_;
  std::shared_ptr<ObjectRegistry> registry_;
  std::shared_ptr<RemoteStats> remote_stats_;
  std::unique_ptr<duckdb::DuckDB> db_;
  Watchdog watchdog_;

  std::mutex mu_;
  std::unordered_map<std::string, std::shared_ptr<const ResolvedDataset>> head_;      //!< by dataset
  std::unordered_map<std::string, std::shared_ptr<const ResolvedDataset>> versions_;  //!< by "name@version"
  std::unordered_map<std::string, uint64_t> generation_;     //!< commits seen per dataset (stale-fill guard)
  std::unordered_map<std::string, Columns> object_columns_;  //!< by object key
};

// ---- Sandbox -------------------------------------------------------------------------------

constexpr const char* kAllowedStatements = "SELECT, WITH, VALUES, FROM, EXPLAIN, DESCRIBE, SUMMARIZE, SHOW";

//! The statement's leading keyword as the user wrote it (INSTALL and LOAD share one statement type).
std::string LeadingKeyword(const std::string& sql, duckdb::StatementType type) {
  size_t start = sql.find_first_not_of(" \t\r\n(");
  size_t end = start;
  while (end < sql.size() && std::isalpha(static_cast<unsigned char>(sql[end]))) ++end;
  if (start == std::string::npos || end == start) return duckdb::StatementTypeToString(type);
  return duckdb::StringUtil::Upper(sql.substr(start, end - start));
}

void CheckReadOnly(const duckdb::SQLStatement& statement, const std::string& sql) {
  using duckdb::StatementType;
  switch (statement.type) {
    case StatementType::SELECT_STATEMENT:
      return;
    case StatementType::EXPLAIN_STATEMENT:
      CheckReadOnly(*statement.Cast<duckdb::ExplainStatement>().stmt,
                    statement.Cast<duckdb::ExplainStatement>().stmt->query);
      return;
    default: {
      std::string what = LeadingKeyword(sql, statement.type);
      Fail(ErrorCode::kInvalidArgument,
           "{} statements are not allowed: queries are read-only (allowed: {}); configuration, files, extensions "
           "and attached databases cannot be changed from SQL",
           what, kAllowedStatements);
    }
  }
}

//! Edit distance between two short names (for "did you mean" suggestions).
size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

//! "table 'x' does not exist" with the closest dataset names, instead of DuckDB's suggestions of
//! its own system tables.
[[noreturn]] void FailUnknownTable(const std::string& name, const std::vector<catalogd::DatasetSummary>& datasets) {
  std::string lowered = duckdb::StringUtil::Lower(name);
  std::vector<std::pair<size_t, std::string>> close;
  for (const auto& d : datasets) {
    size_t distance = EditDistance(lowered, d.name);
    if (distance <= std::max<size_t>(2, lowered.size() / 3)) close.emplace_back(distance, d.name);
  }
  std::sort(close.begin(), close.end());
  if (close.empty()) {
    Fail(ErrorCode::kNotFound,
         "table '{}' does not exist: no dataset has that name (GET /api/v1/datasets lists them; older versions are "
         "read with dataset_version('name', n))",
         name);
  }
  std::string suggestions;
  for (size_t i = 0; i < close.size() && i < 3; ++i) suggestions += (i ? ", '" : "'") + close[i].second + "'";
  Fail(ErrorCode::kNotFound, "table '{}' does not exist: no dataset has that name; did you mean {}?", name,
       suggestions);
}

[[noreturn]] void ThrowQueryError(const duckdb::ErrorData& error, const QueryState& state, bool timed_out,
                                  bool client_gone, int64_t timeout_ms, catalogd::Catalog& catalog) {
  if (state.resolution_error) throw *state.resolution_error;
  if (timed_out) {
    Fail(ErrorCode::kTimeout,
         "the query ran past its timeout of {} ms and was cancelled; narrow it or raise timeout_ms", timeout_ms);
  }
  if (client_gone) Fail(ErrorCode::kCancelled, "the client disconnected; the query was cancelled");
  using duckdb::ExceptionType;
  const std::string& message = error.Message();
  switch (error.Type()) {
    case ExceptionType::CATALOG: {
      const auto& extra = error.ExtraInfo();
      auto name = extra.find("name");
      auto type = extra.find("type");
      if (name != extra.end() && (type == extra.end() || type->second == "Table" || type->second == "View")) {
        FailUnknownTable(name->second, catalog.List());
      }
      throw Error(ErrorCode::kInvalidArgument, message);
    }
    case ExceptionType::PERMISSION:
      Fail(ErrorCode::kInvalidArgument,
           "not allowed: {} (queries read datasets by name; files, URLs and settings are off limits)", message);
    case ExceptionType::INTERRUPT:
      Fail(ErrorCode::kCancelled, "the query was cancelled");
    case ExceptionType::OUT_OF_MEMORY:
      Fail(ErrorCode::kUnavailable, "the query needs more memory than the engine may use: {}", message);
    case ExceptionType::IO:
    case ExceptionType::HTTP:
      Fail(ErrorCode::kUnavailable, "{}", message);
    case ExceptionType::INTERNAL:
    case ExceptionType::FATAL:
    case ExceptionType::UNKNOWN_TYPE:
      Fail(ErrorCode::kInternal, "{}", message);
    default:
      // Parser, binder, conversion, invalid input, out of range, division by zero...: the SQL's fault.
      throw Error(ErrorCode::kInvalidArgument, message);
  }
}

//! Holds an exported Arrow struct until it is released.
struct ArrowHolder {
  ArrowSchema schema{};
  ArrowArray array{};
  ~ArrowHolder() {
    if (schema.release) schema.release(&schema);
    if (array.release) array.release(&array);
  }
};

QueryStats EngineImpl::Execute(const QueryRequest& request, ResultSink& sink) {
  const auto started = Clock::now();
  if (request.sql.find_first_not_of(" \t\r\n;") == std::string::npos) {
    Fail(ErrorCode::kInvalidArgument, "sql is empty: send one read-only statement, e.g. SELECT * FROM <dataset>");
  }
  int64_t timeout_ms = request.timeout_ms.value_or(config_.default_timeout_ms);
  LH_USER_CHECK(timeout_ms > 0, "timeout_ms must be positive, got {}", timeout_ms);
  LH_USER_CHECK(timeout_ms <= config_.max_timeout_ms, "timeout_ms {} exceeds the maximum of {} ms", timeout_ms,
                config_.max_timeout_ms);

  duckdb::Connection con(*db_);
  duckdb::vector<duckdb::unique_ptr<duckdb::SQLStatement>> statements;
  try {
    statements = con.ExtractStatements(request.sql);
  } catch (const std::exception& e) {
    duckdb::ErrorData error(e);
    throw Error(ErrorCode::kInvalidArgument, error.Message());
  }
  LH_USER_CHECK(statements.size() == 1, "send exactly one statement per query, got {}", statements.size());
  CheckReadOnly(*statements[0], request.sql);

  QueryState state;
  current_query = &state;
  struct ResetState {
    ~ResetState() { current_query = nullptr; }
  } reset_state;

  std::atomic<bool> timed_out{false};
  bool client_gone = false;
  const uint64_t watch_id =
      watchdog_.Add(started + std::chrono::milliseconds(timeout_ms), con.context.get(), &timed_out);
  struct Unwatch {
    Watchdog& w;
    uint64_t id;
    ~Unwatch() { w.Remove(id); }
  } unwatch{watchdog_, watch_id};

  auto fail = [&](const duckdb::ErrorData& error) {
    ThrowQueryError(error, state, timed_out.load(), client_gone, timeout_ms, catalog_);
  };

  duckdb::unique_ptr<duckdb::QueryResult> result;
  try {
    auto pending = con.context->PendingQuery(std::move(statements[0]), true);
    if (pending->HasError()) fail(pending->GetErrorObject());
    auto last_poll = Clock::now();
    while (true) {
      const auto st = pending->ExecuteTask();
      if (duckdb::PendingQueryResult::IsResultReady(st) || st == duckdb::PendingExecutionResult::EXECUTION_ERROR) break;
      const auto now = Clock::now();
      if (now - last_poll > std::chrono::milliseconds(20)) {
        last_poll = now;
        if (sink.ClientGone()) {
          client_gone = true;
          con.Interrupt();
        }
      }
      if (st == duckdb::PendingExecutionResult::BLOCKED || st == duckdb::PendingExecutionResult::NO_TASKS_AVAILABLE) {
        std::this_thread::sleep_for(std::chrono::microseconds(200));
      }
    }
    if (pending->HasError()) fail(pending->GetErrorObject());
    result = pending->Execute();
    if (result->HasError()) fail(result->GetErrorObject());
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    fail(duckdb::ErrorData(e));
  }
  // Column metadata: names and DuckDB type names for the header; the exported types cast the few
  // that Arrow cannot carry faithfully to VARCHAR.
  const auto& types = result->types;
  std::vector<ColumnInfo> columns;
  duckdb::vector<duckdb::LogicalType> export_types;
  bool any_cast = false;
  for (idx_t i = 0; i < types.size(); ++i) {
    columns.push_back({result->names[i], DescribeType(types[i])});
    const bool cast = NeedsTextCast(types[i]);
    any_cast |= cast;
    export_types.push_back(cast ? duckdb::LogicalType::VARCHAR : types[i]);
  }
  auto properties = con.context->GetClientProperties();
  const std::unordered_map<idx_t, const duckdb::shared_ptr<duckdb::ArrowTypeExtensionData>> no_extensions;

  Output out(sink);
  std::unique_ptr<Encoder> encoder;
  QueryStats stats;
  const uint64_t limit = request.limit.value_or(std::numeric_limits<uint64_t>::max());
  const idx_t batch_rows = request.format == ResultFormat::kArrow ? kArrowBatchRows : STANDARD_VECTOR_SIZE;
  duckdb::DataChunk cast_chunk;
  if (any_cast) cast_chunk.Initialize(duckdb::Allocator::DefaultAllocator(), export_types);

  auto start_output = [&]() {
    sink.Begin(ContentType(request.format));
    encoder = MakeEncoder(request.format, out);
    ArrowHolder holder;
    duckdb::ArrowConverter::ToArrowSchema(&holder.schema, export_types, result->names, properties);
    encoder->Start(columns, holder.schema);
  };
  // Chunks are appended straight into Arrow buffers (one copy) until a batch is full.
  duckdb::unique_ptr<duckdb::ArrowAppender> appender;
  idx_t appended = 0;
  auto flush_batch = [&]() {
    if (!appender || appended == 0) return;
    ArrowHolder holder;
    holder.array = appender->Finalize();
    appender.reset();
    appended = 0;
    encoder->Batch(holder.array);
    if (!out.ok()) {
      client_gone = true;
      Fail(ErrorCode::kCancelled, "the client disconnected; the query was cancelled");
    }
  };
  auto append = [&](duckdb::DataChunk& chunk, idx_t count) {
    if (!appender)
      appender = duckdb::make_uniq<duckdb::ArrowAppender>(export_types, batch_rows, properties, no_extensions);
    appender->Append(chunk, 0, count, count);
    appended += count;
    if (appended + STANDARD_VECTOR_SIZE > batch_rows) flush_batch();
  };

  try {
    while (true) {
      auto chunk = result->Fetch();
      if (result->HasError()) fail(result->GetErrorObject());
      if (!encoder) start_output();
      if (!chunk || chunk->size() == 0) break;
      idx_t count = chunk->size();
      if (stats.rows + count > limit) {
        count = static_cast<idx_t>(limit - stats.rows);
        chunk->SetCardinality(count);
        stats.truncated = true;
      }
      stats.rows += count;
      duckdb::DataChunk* source = chunk.get();
      if (any_cast) {
        cast_chunk.Reset();
        for (idx_t c = 0; c < chunk->ColumnCount(); ++c) {
          if (export_types[c] == chunk->data[c].GetType()) {
            cast_chunk.data[c].Reference(chunk->data[c]);
          } else {
            duckdb::VectorOperations::Cast(*con.context, chunk->data[c], cast_chunk.data[c], count);
          }
        }
        cast_chunk.SetCardinality(count);
        source = &cast_chunk;
      }
      append(*source, count);
      if (stats.truncated || stats.rows >= limit) {
        // Was the limit exactly the end? Only a further fetch could tell; report a cut when rows remain.
        if (!stats.truncated) {
          auto next = result->Fetch();
          stats.truncated = next && next->size() > 0;
        }
        con.Interrupt();
        break;
      }
    }
    flush_batch();
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    fail(duckdb::ErrorData(e));
  }
  stats.elapsed_ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started).count();
  encoder->Finish(stats);
  out.Flush();
  stats.bytes = out.bytes();
  if (!out.ok()) Fail(ErrorCode::kCancelled, "the client disconnected; the query was cancelled");
  return stats;
}

}  // namespace

std::unique_ptr<QueryEngine> MakeQueryEngine(catalogd::Catalog& catalog, storaged::ObjectStore& store,
                                             const QueryConfig& config) {
  return std::make_unique<EngineImpl>(catalog, store, config);
}

}  // namespace lakehouse::queryd
