#include "services.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "lakehouse/aibridge/aibridge.h"
#include "lakehouse/app/supervisor.h"
#include "lakehouse/catalogd/catalog.h"
#include "lakehouse/iceberg/iceberg.h"
#include "lakehouse/ingest/ingest.h"
#include "lakehouse/queryd/query.h"
#include "lakehouse/search/search.h"
#include "lakehouse/shared/error.h"
#include "lakehouse/shared/logging.h"
#include "lakehouse/shared/strings.h"
#include "lakehouse/shared/types.h"
#include "lakehouse/storaged/object_store.h"

namespace lakehouse::app {
namespace {

//! Unreferenced data objects younger than this are left alone: they may belong to a commit in flight.
constexpr int64_t kGarbageMinAgeMs = int64_t{15} * 60 * 1000;
constexpr auto kGarbageInterval = std::chrono::minutes(10);

//! Writes `text` to `path` readable by the owner only (0600), atomically (temp file + rename).
void WritePrivateFile(const std::filesystem::path& path, const std::string& text) {
  const auto tmp = path.string() + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);  // never readable by others
  if (fd < 0 || ::write(fd, text.data(), text.size()) != static_cast<ssize_t>(text.size()) || ::fsync(fd) != 0) {
    if (fd >= 0) ::close(fd);
    Fail(ErrorCode::kInternal, "cannot write {}: {}", tmp, std::strerror(errno));
  }
  ::close(fd);
  std::filesystem::rename(tmp, path);
}

//! The configured presign secret, or one generated on first start and kept in the data directory
//! (mode 0600) so presigned URLs stay valid across restarts.
std::string PresignSecret(const Config& config) {
  if (!config.presign_secret.empty()) return config.presign_secret;
  const std::filesystem::path path = std::filesystem::path(config.data_dir) / "presign.key";
  if (std::ifstream in(path); in) {
    std::string key;
    std::getline(in, key);
    if (key.size() >= 32) return key;
  }
  std::string key = RandomHexId() + RandomHexId();
  WritePrivateFile(path, key + "\n");
  return key;
}

//! The host of "http://host:port/path" (or of "host:port").
std::string UrlHost(std::string url) {
  if (auto scheme = url.find("://"); scheme != std::string::npos) url = url.substr(scheme + 3);
  url = url.substr(0, url.find('/'));
  if (url.starts_with('[')) return url.substr(0, url.find(']') + 1);
  return url.substr(0, url.rfind(':'));
}

std::unique_ptr<storaged::ObjectStore> MakeStore(const Config& config) {
  if (config.storage == "s3") {
    storaged::S3StoreOptions s3;
    s3.endpoint = config.s3_endpoint;
    s3.region = config.s3_region;
    s3.bucket = config.s3_bucket;
    s3.access_key = config.s3_access_key;
    s3.secret_key = config.s3_secret_key;
    s3.multipart_threshold = config.s3_multipart_threshold_mb << 20;
    return storaged::Instrumented(storaged::MakeS3Store(s3));
  }
  storaged::LocalStoreOptions local;
  local.root = config.objects_dir();
  local.presign_secret = PresignSecret(config);
  return storaged::Instrumented(storaged::MakeLocalStore(local));
}

class Services final : public RunningServices {
 public:
  explicit Services(const Config& config) : config_(config) {
    store_ = MakeStore(config);
    catalogd::CatalogOptions catalog_options;
    catalog_options.retention.keep_versions = config.retention_keep_versions;
    catalog_options.retention.keep_days = static_cast<double>(config.retention_keep_days);
    catalog_options.gc_min_age_ms = kGarbageMinAgeMs;
    catalog_ = catalogd::MakeCatalog(*store_, catalog_options);
    auto started = std::chrono::steady_clock::now();
    catalog_->Rebuild();
    log::Info(
        "catalog rebuilt from storage",
        {{"datasets", catalog_->List().size()},
         {"ms",
          std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started).count()}});

    ingest::IngestOptions ingest_options;
    ingest_options.temp_dir = config.temp_dir() + "/ingest";
    ingest_options.memory_limit = config.query_memory_limit;
    ingest_options.threads = config.query_threads;
    ingest_options.max_json_depth = config.max_json_depth;
    ingest_options.max_partitions = config.ingest_max_partitions;
    ingest_options.compaction.target_bytes = config.compaction_target_mb << 20;
    ingest_options.compaction.auto_min_small_objects = config.compaction_auto_min_small_objects;
    std::filesystem::create_directories(ingest_options.temp_dir);
    ingest_ = ingest::MakeIngestor(*store_, *catalog_, ingest_options);

    queryd::QueryConfig query_config;
    query_config.memory_limit = config.query_memory_limit;
    query_config.threads = config.query_threads;
    query_config.temp_dir = config.query_temp_dir.empty() ? config.temp_dir() + "/query" : config.query_temp_dir;
    query_config.default_timeout_ms = config.query_timeout_ms;
    query_config.max_timeout_ms = config.query_max_timeout_ms;
    query_config.max_memory_bytes = ParseBytes("limits.max_memory", config.max_memory);
    query_config.max_spill_per_query_bytes = ParseBytes("limits.max_spill_per_query", config.max_spill_per_query);
    query_config.max_spill_total_bytes = ParseBytes("limits.max_spill_total", config.max_spill_total);
    query_config.max_json_depth = config.max_json_depth;
    query_config.streaming_buffer_bytes = static_cast<uint64_t>(config.query_streaming_buffer_bytes);
    std::filesystem::create_directories(query_config.temp_dir);
    query_ = queryd::MakeQueryEngine(*catalog_, *store_, query_config);

    StartAuth();
    StartIceberg();
    if (config.ai_enabled) StartAi();
    gc_thread_ = std::thread([this] { CollectGarbageLoop(); });
  }

  ~Services() override { Stop(); }

  gateway::Services handles() const override {
    gateway::Services s;
    s.store = store_.get();
    s.catalog = catalog_.get();
    s.ingest = ingest_.get();
    s.query = query_.get();
    s.ai = ai_.get();
    s.search = search_.get();
    s.iceberg = iceberg_.get();
    s.max_upload_bytes = config_.max_upload_bytes;
    s.public_base_url = config_.public_url.empty() ? "http://" + config_.listen : config_.public_url;
    s.ui_dir = config_.ui_dir;
    s.max_concurrent_queries = config_.max_concurrent_queries;
    s.max_queued_queries = config_.max_queued_queries;
    s.max_queue_wait_ms = config_.max_queue_wait_ms;
    s.auth.enabled = config_.auth_enabled;
    s.auth.keys = keys_.get();
    s.auth.scrape_token = config_.scrape_token;
    s.auth.allowed_hosts = SplitList(config_.allowed_hosts);
    const std::string listen_host = config_.listen_host();
    if (listen_host != "0.0.0.0" && listen_host != "[::]") s.auth.allowed_hosts.push_back(listen_host);
    if (!config_.public_url.empty()) s.auth.allowed_hosts.push_back(UrlHost(config_.public_url));
    s.auth.allowed_origins = SplitList(config_.allowed_origins);
    return s;
  }

  std::vector<gateway::HealthCheck> health_checks() const override {
    std::vector<gateway::HealthCheck> checks;
    checks.push_back({"storaged", [kind = store_->Kind()] {
                        return nlohmann::json{{"status", "ok"}, {"backend", kind}};
                      }});
    checks.push_back({"catalogd", [] { return nlohmann::json{{"status", "ok"}}; }});
    checks.push_back({"queryd", [q = query_.get()] { return q->Health(); }});
    if (ai_) {
      checks.push_back({"aibridge", [ai = ai_.get(), sup = supervisor_.get()] {
                          nlohmann::json h = ai->Health();
                          if (sup != nullptr) h["children"] = sup->Health();
                          return h;
                        }});
    }
    return checks;
  }

  void Stop() override {
    {
      std::lock_guard lock(stop_mu_);
      if (stopped_) return;
      stopped_ = true;
    }
    stop_cv_.notify_all();
    if (gc_thread_.joinable()) gc_thread_.join();
    if (ai_start_thread_.joinable()) ai_start_thread_.join();
    search_.reset();  // cancels embedding jobs and waits for them, before their services go
    if (iceberg_sync_thread_.joinable()) iceberg_sync_thread_.join();
    if (iceberg_) iceberg_->Flush();  // a clean stop leaves the Iceberg metadata at the head
    if (supervisor_) supervisor_->Stop();
    // A fresh checkpoint makes the next start's rebuild read one object instead of every manifest.
    try {
      catalog_->Checkpoint();
    } catch (const std::exception& e) {
      log::Warn("catalog checkpoint at shutdown failed", {{"error", e.what()}});
    }
  }

 private:
  //! API keys live in object storage (the KeyStore re-reads them every auth.refresh_ms). On the
  //! first start with auth on and no key at all, an admin key is made, logged once and written to
  //! <data_dir>/admin.key (0600), so `export LAKEHOUSE_API_KEY=$(cat data/admin.key)` works.
  void StartAuth() {
    if (!config_.auth_enabled) {
      log::Warn("auth is off (auth.enabled = false): every route is open to anyone who can reach the port");
      return;
    }
    keys_ = std::make_unique<gateway::KeyStore>(*store_, std::chrono::milliseconds(config_.auth_refresh_ms));
    if (!keys_->List().empty()) return;
    auto created = keys_->Create(gateway::Role::kAdmin, {}, std::nullopt, "first admin key (created at first start)");
    const auto path = std::filesystem::path(config_.data_dir) / "admin.key";
    WritePrivateFile(path, created.token + "\n");
    log::Warn("created the first admin API key; it is shown once here and kept in the admin.key file (mode 0600)",
              {{"key_id", created.info.id}, {"key", created.token}, {"file", path.string()}});
  }

  //! Iceberg metadata follows every commit (written after our manifest wins); on start, metadata
  //! that is missing or behind (a crash between the two writes) is regenerated in the background.
  void StartIceberg() {
    iceberg::IcebergOptions options;
    options.enabled = config_.iceberg_enabled;
    if (config_.storage == "s3") {
      options.s3_endpoint = config_.s3_endpoint;
      options.s3_region = config_.s3_region;
    }
    iceberg_ = iceberg::MakeIcebergTables(*store_, *catalog_, options);
    if (!options.enabled) return;
    catalog_->AddListener([tables = iceberg_.get()](const DatasetManifest& m) { tables->OnCommit(m); });
    iceberg_sync_thread_ = std::thread([tables = iceberg_.get()] {
      try {
        size_t n = tables->SyncAll();
        if (n > 0) log::Info("iceberg metadata regenerated", {{"datasets", n}});
      } catch (const std::exception& e) {
        log::Warn("iceberg metadata sync failed; tables are brought up to date when loaded", {{"error", e.what()}});
      }
    });
  }

  //! The sidecar (and, without Ollama, the bundled model server) start in the background so the
  //! gateway is up at once; AI routes answer 503 "starting" until the sidecar is healthy.
  void StartAi() {
    SupervisorConfig sup;
    sup.home = config_.ai_home;  // empty: found from this binary's location
    sup.python = config_.ai_python;
    sup.sidecar_url = config_.ai_sidecar_url;
    sup.ollama_url = config_.ai_ollama_host;
    sup.model_server = config_.ai_model_server;
    sup.log_dir = config_.data_dir + "/logs";
    std::filesystem::create_directories(sup.log_dir);
    supervisor_ = std::make_unique<AiSupervisor>(sup);
    aibridge::AiConfig ai;
    ai.sidecar_url = supervisor_->sidecar_url();
    ai.timeout_ms = config_.ai_timeout_ms;
    ai_ = aibridge::MakeAiBridge(ai);
    search::SearchOptions search_options;
    search_options.temp_dir = config_.temp_dir() + "/search";
    search_options.memory_limit = config_.query_memory_limit;
    search_options.query_timeout_ms = config_.query_max_timeout_ms;  // reading a column to embed: the longest allowed
    // The fts and vss extensions setup fetches (scripts/setup.d/65-search.sh), beside the AI home.
    const std::string home = config_.ai_home.empty() ? FindAiHome() : config_.ai_home;
    if (!home.empty()) search_options.extension_dir = home + "/search/.deps/duckdb_ext";
    search_ = search::MakeSearchService(*catalog_, *ingest_, *query_, *ai_, *store_, search_options);
    ai_start_thread_ = std::thread([this] {
      try {
        supervisor_->Start();
        log::Info("ai ready",
                  {{"sidecar", supervisor_->sidecar_url()}, {"model_server", supervisor_->model_server_url()}});
      } catch (const std::exception& e) {
        log::Error("ai did not start; AI routes answer 503 until it does", {{"error", e.what()}});
      }
    });
  }

  void CollectGarbageLoop() {
    std::unique_lock lock(stop_mu_);
    while (!stopped_) {
      lock.unlock();
      try {
        size_t compacted = ingest_->AutoCompact();
        if (compacted > 0) log::Info("automatic compaction", {{"datasets", compacted}});
        size_t n = catalog_->CollectGarbage(kGarbageMinAgeMs);
        if (n > 0) log::Info("garbage collected unreferenced objects", {{"deleted", n}});
        n = iceberg_->CollectExpired(kGarbageMinAgeMs);
        if (n > 0) log::Info("iceberg metadata of expired versions removed", {{"deleted", n}});
      } catch (const std::exception& e) {
        log::Warn("garbage collection failed", {{"error", e.what()}});
      }
      lock.lock();
      stop_cv_.wait_for(lock, kGarbageInterval, [this] { return stopped_; });
    }
  }

  Config config_;
  std::unique_ptr<storaged::ObjectStore> store_;
  std::unique_ptr<catalogd::Catalog> catalog_;
  std::unique_ptr<ingest::Ingestor> ingest_;
  std::unique_ptr<queryd::QueryEngine> query_;
  std::unique_ptr<aibridge::AiBridge> ai_;
  std::unique_ptr<search::SearchService> search_;  //!< uses ai_, catalog_, ingest_, query_
  std::unique_ptr<AiSupervisor> supervisor_;
  std::unique_ptr<iceberg::IcebergTables> iceberg_;
  std::unique_ptr<gateway::KeyStore> keys_;  //!< null when auth is off
  std::thread iceberg_sync_thread_;
  std::thread ai_start_thread_;
  std::thread gc_thread_;
  std::mutex stop_mu_;
  std::condition_variable stop_cv_;
  bool stopped_ = false;
};

}  // namespace

std::unique_ptr<RunningServices> StartServices(const Config& config) { return std::make_unique<Services>(config); }

}  // namespace lakehouse::app
