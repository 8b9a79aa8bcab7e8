#include "services.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "lakehouse/aibridge/aibridge.h"
#include "lakehouse/app/supervisor.h"
#include "lakehouse/catalogd/catalog.h"
#include "lakehouse/iceberg/iceberg.h"
#include "lakehouse/ingest/ingest.h"
#include "lakehouse/queryd/ai_functions.h"
#include "lakehouse/queryd/query.h"
#include "lakehouse/search/search.h"
#include "lakehouse/shared/error.h"
#include "lakehouse/shared/logging.h"
#include "lakehouse/shared/periodic.h"
#include "lakehouse/shared/strings.h"
#include "lakehouse/shared/types.h"
#include "lakehouse/storaged/object_store.h"

namespace lakehouse::app {
namespace {

//! Unreferenced data objects younger than this are left alone: they may belong to a commit in flight.
constexpr int64_t kGarbageMinAgeMs = int64_t{15} * 60 * 1000;
constexpr auto kGarbageInterval = std::chrono::minutes(10);
constexpr int64_t kReplicaHealthDeadlineMs = 250;

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

//! The health of the services this process reaches over gRPC, probed in the background (health
//! checks must not block): a service is "ok" while one of its addresses accepts connections.
class RemoteHealth {
 public:
  void Add(std::string name, std::vector<std::string> addresses) {
    std::lock_guard lock(mu_);
    status_[name] = {{"status", "starting"}, {"remote", true}, {"addresses", addresses}};
    targets_.push_back({std::move(name), std::move(addresses)});
  }
  void Start() {
    if (targets_.empty()) return;
    prober_ = std::make_unique<PeriodicThread>("remote service health", std::chrono::seconds(1), [this] { Probe(); });
  }
  void Stop() { prober_.reset(); }
  ~RemoteHealth() { Stop(); }
  nlohmann::json Get(const std::string& name) const {
    std::lock_guard lock(mu_);
    auto it = status_.find(name);
    return it == status_.end() ? nlohmann::json{{"status", "down"}} : it->second;
  }

 private:
  void Probe() {
    std::map<std::string, nlohmann::json> fresh;
    for (const auto& target : targets_) {
      nlohmann::json up = nlohmann::json::array();
      for (const auto& a : target.addresses) {
        if (TcpReachable(a, 300)) up.push_back(a);
      }
      nlohmann::json status = nlohmann::json::object();
      status.update({{"status", up.empty() ? "down" : "ok"},
                     {"remote", true},
                     {"addresses", target.addresses},
                     {"reachable", up}});
      fresh[target.name] = std::move(status);
    }
    std::lock_guard lock(mu_);
    status_ = std::move(fresh);
  }

  mutable std::mutex mu_;
  struct Target {
    std::string name;
    std::vector<std::string> addresses;
  };
  std::vector<Target> targets_;
  std::map<std::string, nlohmann::json> status_;
  std::unique_ptr<PeriodicThread> prober_;  //!< last: probes until stopped
};

class Services final : public RunningServices {
 public:
  Services(const Config& config, Role role) : config_(config), role_(role) {
    const bool embedded = role == Role::kEmbedded;
    const bool front = embedded || role == Role::kGateway;  // serves HTTP: auth, Iceberg
    // A service runs here when this is its role, in the embedded server, or when no address names
    // another process for it.
    auto here = [&](Role owner, const std::string& address) { return embedded || role == owner || address.empty(); };
    const bool ai = config.ai_enabled && (front || role == Role::kAibridge || role == Role::kSearch);
    const bool want_catalog = role != Role::kStoraged && role != Role::kAibridge;
    const bool want_ingest = front || role == Role::kIngest || role == Role::kSearch;
    const bool want_query = front || role == Role::kQueryd || role == Role::kSearch;
    const bool want_search = ai && (front || role == Role::kSearch);

    if (role != Role::kAibridge) {
      if (here(Role::kStoraged, config.storaged_address)) {
        store_ = MakeStore(config);
      } else {
        store_ = rpc::ConnectStorage(Client(config.storaged_address, "storaged"));
        remote_.Add("storaged", {config.storaged_address});
      }
    }
    if (want_catalog) {
      if (here(Role::kCatalogd, config.catalogd_address)) {
        StartCatalog();
        owns_catalog_ = front || role == Role::kCatalogd;
      } else {
        catalog_ = rpc::ConnectCatalog(Client(config.catalogd_address, "catalogd"));
        remote_.Add("catalogd", {config.catalogd_address});
      }
    }
    if (want_ingest) {
      if (here(Role::kIngest, config.ingest_address)) {
        StartIngest();
        owns_ingest_ = front || role == Role::kIngest;
      } else {
        ingest_ = rpc::ConnectIngest(Client(config.ingest_address, "ingest"));
        remote_.Add("ingest", {config.ingest_address});
      }
    }
    if (want_query) {
      if (here(Role::kQueryd, config.queryd_addresses)) {
        StartQuery();
      } else {
        std::vector<rpc::ClientOptions> replicas;
        for (const auto& address : config.queryd_replicas()) replicas.push_back(Client(address, "queryd"));
        query_ = rpc::ConnectQuery(replicas);
        // /health asks every replica itself (one client each, short deadline, no retries).
        for (auto options : replicas) {
          options.deadline_ms = kReplicaHealthDeadlineMs;
          options.max_attempts = 1;
          replica_health_.push_back({options.address, rpc::ConnectQuery({options})});
        }
      }
    }

    if (front) {
      StartAuth();
      StartIceberg();
    }
    if (ai) {
      if (here(Role::kAibridge, config.aibridge_address)) {
        StartAiBridge();
      } else {
        ai_ = rpc::ConnectAi(Client(config.aibridge_address, "aibridge"));
        remote_.Add("aibridge", {config.aibridge_address});
      }
    }
    if (want_search) {
      if (here(Role::kSearch, config.search_address)) {
        StartSearch();
      } else {
        search_ = rpc::ConnectSearch(Client(config.search_address, "search"));
        remote_.Add("search", {config.search_address});
      }
    }
    if (search_ && ai_) {
      // queryd's SQL functions (ADR 0022) over this process's search and AI, local or remote.
      ai_functions_ = search::MakeAiFunctions(*search_, *ai_);
      ai_functions_link_->Set(ai_functions_.get());
    }
    if (supervisor_) StartAiChildren();
    if (owns_catalog_ || owns_ingest_) {
      gc_thread_ =
          std::make_unique<PeriodicThread>("garbage collection", kGarbageInterval, [this] { CollectGarbage(); });
    }
    remote_.Start();
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
    auto remote = [this](const char* name) {
      return gateway::HealthCheck{name, [this, name] { return remote_.Get(name); }};
    };
    if (store_) {
      if (IsRemote(config_.storaged_address, Role::kStoraged)) {
        // The backend's kind: asked once while storaged is up, then cached by the client.
        checks.push_back({"storaged", [this] {
                            nlohmann::json h = remote_.Get("storaged");
                            if (h.value("status", "") != "ok") return h;
                            try {
                              h["backend"] = store_->Kind();
                            } catch (const std::exception& e) {
                              h["status"] = "down";
                              h["error"] = e.what();
                            }
                            return h;
                          }});
      } else {
        checks.push_back({"storaged", [kind = store_->Kind()] {
                            return nlohmann::json{{"status", "ok"}, {"backend", kind}};
                          }});
      }
    }
    if (catalog_) {
      if (IsRemote(config_.catalogd_address, Role::kCatalogd)) {
        checks.push_back(remote("catalogd"));
      } else {
        checks.push_back({"catalogd", [] { return nlohmann::json{{"status", "ok"}}; }});
      }
    }
    if (ingest_ && IsRemote(config_.ingest_address, Role::kIngest)) checks.push_back(remote("ingest"));
    if (query_) {
      if (IsRemote(config_.queryd_addresses, Role::kQueryd)) {
        checks.push_back({"queryd", [this] { return ReplicasHealth(); }});
      } else {
        checks.push_back({"queryd", [q = query_.get()] { return q->Health(); }});
      }
    }
    if (ai_) {
      if (IsRemote(config_.aibridge_address, Role::kAibridge)) {
        checks.push_back(remote("aibridge"));
      } else {
        checks.push_back({"aibridge", [ai = ai_.get(), sup = supervisor_.get()] {
                            nlohmann::json h = ai->Health();
                            if (sup != nullptr) h["children"] = sup->Health();
                            return h;
                          }});
      }
    }
    if (search_ && IsRemote(config_.search_address, Role::kSearch)) checks.push_back(remote("search"));
    return checks;
  }

  rpc::ServedServices served() const override {
    rpc::ServedServices s;
    if (role_ == Role::kStoraged) s.store = store_.get();
    if (role_ == Role::kCatalogd) s.catalog = catalog_.get();
    if (role_ == Role::kIngest) s.ingest = ingest_.get();
    if (role_ == Role::kQueryd) s.query = query_.get();
    if (role_ == Role::kAibridge) s.ai = ai_.get();
    if (role_ == Role::kSearch) s.search = search_.get();
    return s;
  }

  void Stop() override {
    {
      std::lock_guard lock(stop_mu_);
      if (stopped_) return;
      stopped_ = true;
    }
    remote_.Stop();
    gc_thread_.reset();
    if (ai_start_thread_.joinable()) ai_start_thread_.join();
    ai_functions_link_->Set(nullptr);  // waits for SQL calls into search in flight
    ai_functions_.reset();
    search_.reset();  // cancels embedding jobs and waits for them, before their services go
    if (iceberg_sync_thread_.joinable()) iceberg_sync_thread_.join();
    if (iceberg_) iceberg_->Flush();  // a clean stop leaves the Iceberg metadata at the head
    if (supervisor_) supervisor_->Stop();
    if (!owns_catalog_) return;
    // A fresh checkpoint makes the next start's rebuild read one object instead of every manifest.
    try {
      catalog_->Checkpoint();
    } catch (const std::exception& e) {
      log::Warn("catalog checkpoint at shutdown failed", {{"error", e.what()}});
    }
  }

 private:
  //! The queryd replicas' health, asked now (a loopback call takes well under a millisecond; a
  //! replica that is down refuses at once, a wedged one costs kReplicaHealthDeadlineMs): their
  //! counters summed (active queries, scans, remote reads) and each replica's own under "replicas".
  nlohmann::json ReplicasHealth() const {
    nlohmann::json total = nlohmann::json::object();
    nlohmann::json replicas = nlohmann::json::array();
    nlohmann::json reachable = nlohmann::json::array();
    nlohmann::json addresses = nlohmann::json::array();
    for (const auto& [address, client] : replica_health_) {
      addresses.push_back(address);
      nlohmann::json h;
      try {
        h = client->Health();
        reachable.push_back(address);
        AddCounters(total, h);
      } catch (const std::exception& e) {
        h = {{"status", "down"}, {"error", e.what()}};
      }
      h["address"] = address;
      replicas.push_back(std::move(h));
    }
    total.update({{"status", reachable.empty() ? "down" : "ok"},
                  {"remote", true},
                  {"addresses", addresses},
                  {"reachable", reachable},
                  {"replicas", replicas}});
    return total;
  }

  //! Adds the numbers of `part` into `total` (recursively through objects); other values: the first seen.
  static void AddCounters(nlohmann::json& total, const nlohmann::json& part) {
    if (!part.is_object()) return;
    for (const auto& [key, value] : part.items()) {
      if (!total.contains(key)) {
        total[key] = value;
      } else if (value.is_number_integer() && total[key].is_number_integer()) {
        total[key] = total[key].get<int64_t>() + value.get<int64_t>();
      } else if (value.is_number() && total[key].is_number()) {
        total[key] = total[key].get<double>() + value.get<double>();
      } else if (value.is_object()) {
        AddCounters(total[key], value);
      }
    }
  }

  bool IsRemote(const std::string& address, Role owner) const {
    return role_ != Role::kEmbedded && role_ != owner && !address.empty();
  }

  rpc::ClientOptions Client(const std::string& address, const char* service) const {
    rpc::ClientOptions options;
    options.address = address;
    options.service = service;
    options.deadline_ms = config_.rpc_deadline_ms;
    options.security = RpcSecurity(config_);
    return options;
  }

  void StartCatalog() {
    catalogd::CatalogOptions catalog_options;
    catalog_options.retention.keep_versions = config_.retention_keep_versions;
    catalog_options.retention.keep_days = static_cast<double>(config_.retention_keep_days);
    catalog_options.gc_min_age_ms = kGarbageMinAgeMs;
    catalog_ = catalogd::MakeCatalog(*store_, catalog_options);
    auto started = std::chrono::steady_clock::now();
    catalog_->Rebuild();
    log::Info(
        "catalog rebuilt from storage",
        {{"datasets", catalog_->List().size()},
         {"ms",
          std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started).count()}});
  }

  void StartIngest() {
    ingest::IngestOptions ingest_options;
    ingest_options.temp_dir = config_.temp_dir() + "/ingest";
    ingest_options.memory_limit = config_.query_memory_limit;
    ingest_options.threads = config_.query_threads;
    ingest_options.max_json_depth = config_.max_json_depth;
    ingest_options.max_partitions = config_.ingest_max_partitions;
    ingest_options.compaction.target_bytes = config_.compaction_target_mb << 20;
    ingest_options.compaction.auto_min_small_objects = config_.compaction_auto_min_small_objects;
    std::filesystem::create_directories(ingest_options.temp_dir);
    ingest_ = ingest::MakeIngestor(*store_, *catalog_, ingest_options);
  }

  void StartQuery() {
    queryd::QueryConfig query_config;
    query_config.memory_limit = config_.query_memory_limit;
    query_config.threads = config_.query_threads;
    query_config.temp_dir = config_.query_temp_dir.empty() ? config_.temp_dir() + "/query" : config_.query_temp_dir;
    // Replicas on one machine share the data directory: each spills into its own folder.
    if (role_ == Role::kQueryd && config_.query_temp_dir.empty()) {
      query_config.temp_dir = config_.temp_dir() + "/query-" + std::to_string(config_.listen_port());
    }
    query_config.default_timeout_ms = config_.query_timeout_ms;
    query_config.max_timeout_ms = config_.query_max_timeout_ms;
    query_config.max_memory_bytes = ParseBytes("limits.max_memory", config_.max_memory);
    query_config.max_spill_per_query_bytes = ParseBytes("limits.max_spill_per_query", config_.max_spill_per_query);
    query_config.max_spill_total_bytes = ParseBytes("limits.max_spill_total", config_.max_spill_total);
    query_config.max_json_depth = config_.max_json_depth;
    query_config.streaming_buffer_bytes = static_cast<uint64_t>(config_.query_streaming_buffer_bytes);
    std::filesystem::create_directories(query_config.temp_dir);
    query_config.ai_functions = ai_functions_link_;  // embed() & co. in SQL, linked once search is up
    query_ = queryd::MakeQueryEngine(*catalog_, *store_, query_config);
  }

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
    auto created = keys_->CreateFirstAdmin("first admin key (created at first start)");
    if (!created) {
      log::Info("another process created the first admin API key (see its admin.key file)");
      return;
    }
    const auto path = std::filesystem::path(config_.data_dir) / "admin.key";
    WritePrivateFile(path, created->token + "\n");
    log::Warn("created the first admin API key; it is shown once here and kept in the admin.key file (mode 0600)",
              {{"key_id", created->info.id}, {"key", created->token}, {"file", path.string()}});
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

  //! The sidecar (and, without Ollama, the bundled model server) start in the background
  //! (StartAiChildren) so the gateway is up at once; AI routes answer 503 "starting" until the
  //! sidecar is healthy.
  void StartAiBridge() {
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
  }

  void StartSearch() {
    search::SearchOptions search_options;
    search_options.temp_dir = config_.temp_dir() + "/search";
    search_options.memory_limit = config_.query_memory_limit;
    search_options.own_memory_limit = config_.search_memory_limit;
    search_options.query_timeout_ms = config_.query_max_timeout_ms;  // reading a column to embed: the longest allowed
    // The fts and vss extensions setup fetches (scripts/setup.d/65-search.sh), beside the AI home.
    const std::string home = config_.ai_home.empty() ? FindAiHome() : config_.ai_home;
    if (!home.empty()) search_options.extension_dir = home + "/search/.deps/duckdb_ext";
    search_ = search::MakeSearchService(*catalog_, *ingest_, *query_, *ai_, *store_, search_options);
  }

  void StartAiChildren() {
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

  void CollectGarbage() {
    try {
      if (owns_ingest_) {
        size_t compacted = ingest_->AutoCompact();
        if (compacted > 0) log::Info("automatic compaction", {{"datasets", compacted}});
      }
      if (owns_catalog_) {
        size_t n = catalog_->CollectGarbage(kGarbageMinAgeMs);
        if (n > 0) log::Info("garbage collected unreferenced objects", {{"deleted", n}});
      }
      if (iceberg_) {  // where the Iceberg tables live (the gateway's process in a deployment)
        const size_t n = iceberg_->CollectExpired(kGarbageMinAgeMs);
        if (n > 0) log::Info("iceberg metadata of expired versions removed", {{"deleted", n}});
      }
    } catch (const std::exception& e) {
      log::Warn("garbage collection failed", {{"error", e.what()}});
    }
  }

  Config config_;
  Role role_;
  bool owns_catalog_ = false;  //!< garbage collection and the shutdown checkpoint run here
  bool owns_ingest_ = false;   //!< automatic compaction runs here
  std::unique_ptr<storaged::ObjectStore> store_;
  std::unique_ptr<catalogd::Catalog> catalog_;
  std::unique_ptr<ingest::Ingestor> ingest_;
  std::unique_ptr<queryd::QueryEngine> query_;
  std::unique_ptr<aibridge::AiBridge> ai_;
  std::unique_ptr<search::SearchService> search_;  //!< uses ai_, catalog_, ingest_, query_
  std::shared_ptr<queryd::AiFunctionsLink> ai_functions_link_ = std::make_shared<queryd::AiFunctionsLink>();
  std::unique_ptr<queryd::AiFunctions> ai_functions_;  //!< uses search_, ai_
  std::unique_ptr<AiSupervisor> supervisor_;
  std::unique_ptr<iceberg::IcebergTables> iceberg_;
  std::unique_ptr<gateway::KeyStore> keys_;  //!< null when auth is off
  RemoteHealth remote_;                      //!< the services reached over gRPC (but queryd)
  //! One client per queryd replica, for /health (ReplicasHealth).
  std::vector<std::pair<std::string, std::unique_ptr<queryd::QueryEngine>>> replica_health_;
  std::thread iceberg_sync_thread_;
  std::thread ai_start_thread_;
  std::unique_ptr<PeriodicThread> gc_thread_;  //!< automatic compaction, garbage collection, Iceberg expiry
  std::mutex stop_mu_;
  bool stopped_ = false;
};

}  // namespace

std::string_view RoleName(Role role) {
  switch (role) {
    case Role::kEmbedded:
      return "serve";
    case Role::kGateway:
      return "gateway";
    case Role::kStoraged:
      return "storaged";
    case Role::kCatalogd:
      return "catalogd";
    case Role::kIngest:
      return "ingest";
    case Role::kQueryd:
      return "queryd";
    case Role::kAibridge:
      return "aibridge";
    case Role::kSearch:
      return "search";
  }
  return "?";
}

rpc::Security RpcSecurity(const Config& config) {
  rpc::Security security;
  security.service_token = config.service_token;
  security.tls_cert_file = config.rpc_tls_cert_file;
  security.tls_key_file = config.rpc_tls_key_file;
  security.tls_ca_file = config.rpc_tls_ca_file;
  return security;
}

std::unique_ptr<RunningServices> StartServices(const Config& config, Role role) {
  return std::make_unique<Services>(config, role);
}

}  // namespace lakehouse::app
