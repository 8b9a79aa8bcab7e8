#include "config.h"

#include <fmt/format.h>

#include <toml++/toml.h>
#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <functional>

#include "lakehouse/shared/error.h"
#include "lakehouse/shared/strings.h"

namespace lakehouse::app {
namespace {

using Setter = std::function<void(Config&, const std::string&)>;
using Getter = std::function<std::string(const Config&)>;

struct Setting {
  const char* key;   //!< TOML key, "section.name"
  const char* env;   //!< environment variable
  const char* flag;  //!< command-line flag (without dashes)
  const char* help;
  Setter set;
  Getter get;
  bool secret = false;
};

int64_t ParseInt(const std::string& key, const std::string& value) {
  try {
    size_t pos = 0;
    long long v = std::stoll(value, &pos);
    if (pos == value.size()) return v;
  } catch (...) {
  }
  Fail(ErrorCode::kInvalidArgument, "setting {}: '{}' is not an integer", key, value);
}

bool ParseBool(const std::string& key, const std::string& value) {
  if (value == "true" || value == "1" || value == "yes" || value == "on") return true;
  if (value == "false" || value == "0" || value == "no" || value == "off") return false;
  Fail(ErrorCode::kInvalidArgument, "setting {}: '{}' is not a boolean (true/false)", key, value);
}

#define STR(field) [](Config& c, const std::string& v) { c.field = v; }, [](const Config& c) { return c.field; }
#define INT(field, key)                                                                                \
  [](Config& c, const std::string& v) { c.field = static_cast<decltype(c.field)>(ParseInt(key, v)); }, \
      [](const Config& c) { return std::to_string(c.field); }
#define BOOL(field, key)                                                \
  [](Config& c, const std::string& v) { c.field = ParseBool(key, v); }, \
      [](const Config& c) { return std::string(c.field ? "true" : "false"); }

const std::vector<Setting>& Settings() {
  static const std::vector<Setting> settings = {
      {"server.listen", "LAKEHOUSE_LISTEN", "listen", "HOST:PORT to serve HTTP on", STR(listen)},
      {"server.io_threads", "LAKEHOUSE_IO_THREADS", "io-threads", "threads running network I/O",
       INT(io_threads, "server.io_threads")},
      {"server.worker_threads", "LAKEHOUSE_WORKER_THREADS", "worker-threads",
       "threads running blocking handlers (queries, uploads)", INT(worker_threads, "server.worker_threads")},
      {"server.max_body_bytes", "LAKEHOUSE_MAX_BODY_BYTES", "max-body-bytes",
       "body limit of JSON requests (413 beyond)", INT(max_body_bytes, "server.max_body_bytes")},
      {"server.max_upload_bytes", "LAKEHOUSE_MAX_UPLOAD_BYTES", "max-upload-bytes",
       "body limit of dataset uploads (413 beyond)", INT(max_upload_bytes, "server.max_upload_bytes")},
      {"server.idle_timeout_ms", "LAKEHOUSE_IDLE_TIMEOUT_MS", "idle-timeout-ms",
       "close keep-alive connections idle this long", INT(idle_timeout_ms, "server.idle_timeout_ms")},
      {"server.drain_timeout_ms", "LAKEHOUSE_DRAIN_TIMEOUT_MS", "drain-timeout-ms",
       "on SIGTERM, how long in-flight requests may finish", INT(drain_timeout_ms, "server.drain_timeout_ms")},
      {"server.public_url", "LAKEHOUSE_PUBLIC_URL", "public-url",
       "base URL clients reach the server at (presigned links); default http://<listen>", STR(public_url)},
      {"server.ui_dir", "LAKEHOUSE_UI_DIR", "ui-dir",
       "built web UI served at /; default ui/dist found above the binary", STR(ui_dir)},
      {"storage.data_dir", "LAKEHOUSE_DATA_DIR", "data-dir", "directory for local objects and scratch files",
       STR(data_dir)},
      {"storage.backend", "LAKEHOUSE_STORAGE", "storage", "object store: local | s3", STR(storage)},
      {"storage.s3.endpoint", "LAKEHOUSE_S3_ENDPOINT", "s3-endpoint", "S3 endpoint URL, e.g. http://127.0.0.1:7480",
       STR(s3_endpoint)},
      {"storage.s3.region", "LAKEHOUSE_S3_REGION", "s3-region", "S3 region used in signatures", STR(s3_region)},
      {"storage.s3.bucket", "LAKEHOUSE_S3_BUCKET", "s3-bucket", "S3 bucket (created when missing)", STR(s3_bucket)},
      {"storage.s3.access_key", "LAKEHOUSE_S3_ACCESS_KEY", "s3-access-key", "S3 access key id", STR(s3_access_key)},
      {"storage.s3.secret_key", "LAKEHOUSE_S3_SECRET_KEY", "s3-secret-key", "S3 secret access key", STR(s3_secret_key),
       true},
      {"storage.s3.multipart_threshold_mb", "LAKEHOUSE_S3_MULTIPART_THRESHOLD_MB", "s3-multipart-threshold-mb",
       "uploads above this size use multipart", INT(s3_multipart_threshold_mb, "storage.s3.multipart_threshold_mb")},
      {"storage.presign_secret", "LAKEHOUSE_PRESIGN_SECRET", "presign-secret",
       "HMAC key for local presigned URLs (default: generated once, kept in <data_dir>/presign.key)",
       STR(presign_secret), true},
      {"query.memory_limit", "LAKEHOUSE_QUERY_MEMORY_LIMIT", "query-memory-limit",
       "DuckDB memory budget of the process (queries 11/16, ingest 1/4, search 1/16), e.g. 1GB",
       STR(query_memory_limit)},
      {"query.threads", "LAKEHOUSE_QUERY_THREADS", "query-threads", "DuckDB worker threads",
       INT(query_threads, "query.threads")},
      {"query.temp_dir", "LAKEHOUSE_QUERY_TEMP_DIR", "query-temp-dir",
       "DuckDB spill directory (default <data_dir>/tmp/query)", STR(query_temp_dir)},
      {"query.timeout_ms", "LAKEHOUSE_QUERY_TIMEOUT_MS", "query-timeout-ms", "default query timeout",
       INT(query_timeout_ms, "query.timeout_ms")},
      {"query.max_timeout_ms", "LAKEHOUSE_QUERY_MAX_TIMEOUT_MS", "query-max-timeout-ms",
       "largest timeout a request may ask for", INT(query_max_timeout_ms, "query.max_timeout_ms")},
      {"query.streaming_buffer_bytes", "LAKEHOUSE_QUERY_STREAMING_BUFFER_BYTES", "query-streaming-buffer-bytes",
       "how far DuckDB's threads may run ahead of a streamed result, per query (default 4 MiB)",
       INT(query_streaming_buffer_bytes, "query.streaming_buffer_bytes")},
      {"limits.max_connections", "LAKEHOUSE_MAX_CONNECTIONS", "max-connections",
       "open connections beyond this get 503 (lowered to fit the open-file limit, which is raised at start)",
       INT(max_connections, "limits.max_connections")},
      {"limits.max_body_read_ms", "LAKEHOUSE_MAX_BODY_READ_MS", "max-body-read-ms",
       "a JSON body must arrive within this; an upload read stalled this long ends the upload",
       INT(max_body_read_ms, "limits.max_body_read_ms")},
      {"limits.min_upload_bytes_per_s", "LAKEHOUSE_MIN_UPLOAD_BYTES_PER_S", "min-upload-bytes-per-s",
       "after max_body_read_ms, slower uploads are cut off (408)",
       INT(min_upload_bytes_per_s, "limits.min_upload_bytes_per_s")},
      {"limits.max_concurrent_queries", "LAKEHOUSE_MAX_CONCURRENT_QUERIES", "max-concurrent-queries",
       "queries reading tables that run at once (others queue)",
       INT(max_concurrent_queries, "limits.max_concurrent_queries")},
      {"limits.max_queued_queries", "LAKEHOUSE_MAX_QUEUED_QUERIES", "max-queued-queries",
       "queries that may wait for a turn (429 beyond)", INT(max_queued_queries, "limits.max_queued_queries")},
      {"limits.max_queue_wait_ms", "LAKEHOUSE_MAX_QUEUE_WAIT_MS", "max-queue-wait-ms",
       "longest wait in the query queue (503 after)", INT(max_queue_wait_ms, "limits.max_queue_wait_ms")},
      {"limits.max_json_depth", "LAKEHOUSE_MAX_JSON_DEPTH", "max-json-depth",
       "deepest JSON nesting accepted in uploads and SQL JSON functions", INT(max_json_depth, "limits.max_json_depth")},
      {"limits.max_memory", "LAKEHOUSE_MAX_MEMORY", "max-memory",
       "process memory (RSS) above which running queries are cancelled (503), e.g. 2GB", STR(max_memory)},
      {"limits.max_spill_per_query", "LAKEHOUSE_MAX_SPILL_PER_QUERY", "max-spill-per-query",
       "disk one query may spill to, e.g. 4GB", STR(max_spill_per_query)},
      {"limits.max_spill_total", "LAKEHOUSE_MAX_SPILL_TOTAL", "max-spill-total",
       "disk all queries together may spill to (DuckDB max_temp_directory_size)", STR(max_spill_total)},
      {"ingest.max_partitions", "LAKEHOUSE_INGEST_MAX_PARTITIONS", "ingest-max-partitions",
       "most partitions (objects) one upload to a partitioned dataset may write",
       INT(ingest_max_partitions, "ingest.max_partitions")},
      {"compaction.target_mb", "LAKEHOUSE_COMPACTION_TARGET_MB", "compaction-target-mb",
       "compaction rewrites objects below this size into objects of about this size",
       INT(compaction_target_mb, "compaction.target_mb")},
      {"compaction.auto_min_small_objects", "LAKEHOUSE_COMPACTION_AUTO_MIN_SMALL_OBJECTS",
       "compaction-auto-min-small-objects",
       "compact a dataset automatically (every 10 minutes) when a partition has more than this many small objects; "
       "0 = never",
       INT(compaction_auto_min_small_objects, "compaction.auto_min_small_objects")},
      {"retention.keep_versions", "LAKEHOUSE_RETENTION_KEEP_VERSIONS", "retention-keep-versions",
       "default retention: versions kept per dataset (0 = all); a dataset's own setting overrides it",
       INT(retention_keep_versions, "retention.keep_versions")},
      {"retention.keep_days", "LAKEHOUSE_RETENTION_KEEP_DAYS", "retention-keep-days",
       "default retention: days old versions are kept (0 = forever); a version expires only when both rules agree",
       INT(retention_keep_days, "retention.keep_days")},
      {"ai.enabled", "LAKEHOUSE_AI", "ai", "start the AI sidecar (true/false)", BOOL(ai_enabled, "ai.enabled")},
      {"ai.sidecar_url", "LAKEHOUSE_SIDECAR_URL", "sidecar-url", "use this running sidecar instead of starting one",
       STR(ai_sidecar_url)},
      {"ai.home", "LAKEHOUSE_AI_HOME", "ai-home",
       "folder holding sidecar/ and modelserver/ (default: <bindir>/../share/lakehouse, else the checkout "
       "holding the binary)",
       STR(ai_home)},
      {"ai.python", "LAKEHOUSE_AI_PYTHON", "ai-python",
       "Python with the sidecar's packages (default <ai.home>/.venv/bin/python)", STR(ai_python)},
      {"ai.ollama_host", "OLLAMA_HOST", "ollama-host", "Ollama API the sidecar talks to", STR(ai_ollama_host)},
      {"ai.model_server", "LAKEHOUSE_MODEL_SERVER", "model-server",
       "bundled model server: auto (when no Ollama answers) | always | never", STR(ai_model_server)},
      {"ai.timeout_ms", "LAKEHOUSE_AI_TIMEOUT_MS", "ai-timeout-ms", "timeout of one sidecar call",
       INT(ai_timeout_ms, "ai.timeout_ms")},
      {"search.memory_limit", "LAKEHOUSE_SEARCH_MEMORY_LIMIT", "search-memory-limit",
       "memory of search's own DuckDB, which holds every searched vectors dataset with its BM25 and HNSW indexes "
       "(about 1.6 KB per 384-d vector plus its text), e.g. 4GB; default: 1/16 of query.memory_limit",
       STR(search_memory_limit)},
      {"iceberg.enabled", "LAKEHOUSE_ICEBERG", "iceberg",
       "write Iceberg metadata for every commit and serve the Iceberg REST catalog at /iceberg (true/false)",
       BOOL(iceberg_enabled, "iceberg.enabled")},
      {"auth.enabled", "LAKEHOUSE_AUTH", "auth",
       "require API keys (true/false); off is refused unless the server listens on a loopback address",
       BOOL(auth_enabled, "auth.enabled")},
      {"auth.scrape_token", "LAKEHOUSE_SCRAPE_TOKEN", "scrape-token",
       "a token /ready and /metrics accept besides API keys (for monitoring)", STR(scrape_token), true},
      {"auth.allowed_hosts", "LAKEHOUSE_ALLOWED_HOSTS", "allowed-hosts",
       "comma-separated Host names served besides localhost, 127.0.0.1, ::1, the listen host and public_url's host "
       "(* for any)",
       STR(allowed_hosts)},
      {"auth.allowed_origins", "LAKEHOUSE_ALLOWED_ORIGINS", "allowed-origins",
       "comma-separated origins (https://app.example.com) allowed to call the API from a browser (CORS)",
       STR(allowed_origins)},
      {"auth.refresh_ms", "LAKEHOUSE_AUTH_REFRESH_MS", "auth-refresh-ms",
       "how often API keys are re-read from storage: a key revoked by another process stops working within this",
       INT(auth_refresh_ms, "auth.refresh_ms")},
      {"flight.listen", "LAKEHOUSE_FLIGHT_LISTEN", "flight-listen",
       "HOST:PORT to serve Arrow Flight SQL on (ADBC, JDBC, pyarrow.flight; same API keys); empty = off",
       STR(flight_listen)},
      {"log.level", "LAKEHOUSE_LOG_LEVEL", "log-level", "debug | info | warn | error", STR(log_level)},
      // ---- multi-process deployment (issue 9, docs/deploy.md) ----
      {"services.storaged", "LAKEHOUSE_STORAGED_ADDRESS", "storaged-address",
       "gRPC address of the storaged process (empty: the store is opened in this process)", STR(storaged_address)},
      {"services.catalogd", "LAKEHOUSE_CATALOGD_ADDRESS", "catalogd-address",
       "gRPC address of the catalogd process (empty: the catalog runs in this process)", STR(catalogd_address)},
      {"services.queryd", "LAKEHOUSE_QUERYD_ADDRESSES", "queryd-addresses",
       "gRPC addresses of the queryd replicas, comma-separated (empty: queries run in this process)",
       STR(queryd_addresses)},
      {"services.ingest", "LAKEHOUSE_INGEST_ADDRESS", "ingest-address",
       "gRPC address of the ingest process (empty: ingest runs in this process)", STR(ingest_address)},
      {"services.aibridge", "LAKEHOUSE_AIBRIDGE_ADDRESS", "aibridge-address",
       "gRPC address of the aibridge process (empty: the AI bridge and its sidecar run in this process)",
       STR(aibridge_address)},
      {"services.search", "LAKEHOUSE_SEARCH_ADDRESS", "search-address",
       "gRPC address of the search process (empty: search runs in this process)", STR(search_address)},
      {"rpc.service_token", "LAKEHOUSE_SERVICE_TOKEN", "service-token",
       "shared secret every gRPC call between the processes carries (and every process requires)", STR(service_token),
       true},
      {"rpc.tls_cert_file", "LAKEHOUSE_RPC_TLS_CERT_FILE", "rpc-tls-cert-file",
       "PEM certificate a service process serves gRPC with (TLS on when set)", STR(rpc_tls_cert_file)},
      {"rpc.tls_key_file", "LAKEHOUSE_RPC_TLS_KEY_FILE", "rpc-tls-key-file", "PEM private key of rpc.tls_cert_file",
       STR(rpc_tls_key_file)},
      {"rpc.tls_ca_file", "LAKEHOUSE_RPC_TLS_CA_FILE", "rpc-tls-ca-file",
       "PEM CA that clients trust for gRPC (TLS on when set)", STR(rpc_tls_ca_file)},
      {"rpc.deadline_ms", "LAKEHOUSE_RPC_DEADLINE_MS", "rpc-deadline-ms",
       "deadline of one gRPC call (a stream: until its first message)", INT(rpc_deadline_ms, "rpc.deadline_ms")},
      {"deploy.metrics_listen", "LAKEHOUSE_METRICS_LISTEN", "metrics-listen",
       "HOST:PORT of a service process's own HTTP listener for /metrics and /health (empty: none)",
       STR(metrics_listen)},
      {"deploy.restart_backoff_ms", "LAKEHOUSE_RESTART_BACKOFF_MS", "restart-backoff-ms",
       "`lakehouse up`: delay before restarting a process that exited (doubles up to 30 s)",
       INT(restart_backoff_ms, "deploy.restart_backoff_ms")},
      // ---- end multi-process deployment ----
  };
  return settings;
}

#undef STR
#undef INT
#undef BOOL

std::optional<std::string> TomlValueAsString(const toml::node& node) {
  if (auto s = node.value<std::string>()) return *s;
  if (node.is_boolean()) return node.value<bool>().value() ? "true" : "false";
  if (node.is_integer()) return std::to_string(node.value<int64_t>().value());
  if (node.is_floating_point()) return fmt::format("{}", node.value<double>().value());
  if (const auto* array = node.as_array()) {  // a list setting (services.queryd): comma-separated
    std::string joined;
    for (const auto& item : *array) {
      auto text = item.value<std::string>();
      if (!text) return std::nullopt;
      joined += (joined.empty() ? "" : ",") + *text;
    }
    return joined;
  }
  return std::nullopt;
}

void Validate(const Config& c) {
  (void)c.listen_port();
  if (c.storage != "local" && c.storage != "s3") {
    Fail(ErrorCode::kInvalidArgument, "storage.backend must be 'local' or 's3', not '{}'", c.storage);
  }
  if (c.storage == "s3") {
    if (c.s3_endpoint.empty())
      Fail(ErrorCode::kInvalidArgument,
           "storage.backend = s3 needs storage.s3.endpoint (LAKEHOUSE_S3_ENDPOINT, --s3-endpoint)");
    if (c.s3_access_key.empty() || c.s3_secret_key.empty()) {
      Fail(ErrorCode::kInvalidArgument, "storage.backend = s3 needs storage.s3.access_key and storage.s3.secret_key");
    }
  }
  if (c.ai_model_server != "auto" && c.ai_model_server != "always" && c.ai_model_server != "never") {
    Fail(ErrorCode::kInvalidArgument, "ai.model_server must be auto, always or never, not '{}'", c.ai_model_server);
  }
  if (c.ingest_max_partitions < 1) Fail(ErrorCode::kInvalidArgument, "ingest.max_partitions must be at least 1");
  if (c.compaction_target_mb < 1) Fail(ErrorCode::kInvalidArgument, "compaction.target_mb must be at least 1");
  if (c.io_threads < 1 || c.worker_threads < 1 || c.query_threads < 1) {
    Fail(ErrorCode::kInvalidArgument, "thread counts must be at least 1");
  }
  if (c.max_connections < 1 || c.max_concurrent_queries < 1 || c.max_queued_queries < 0 || c.max_json_depth < 1 ||
      c.max_body_read_ms < 1 || c.max_queue_wait_ms < 0) {
    Fail(ErrorCode::kInvalidArgument,
         "limits.max_connections, max_concurrent_queries, max_json_depth and max_body_read_ms must be at least 1; "
         "max_queued_queries and max_queue_wait_ms at least 0");
  }
  if (c.query_timeout_ms < 1 || c.query_max_timeout_ms < c.query_timeout_ms) {
    Fail(ErrorCode::kInvalidArgument,
         "query.timeout_ms ({}) must be positive and at most query.max_timeout_ms ({}); raise query.max_timeout_ms",
         c.query_timeout_ms, c.query_max_timeout_ms);
  }
  ParseBytes("limits.max_memory", c.max_memory);
  ParseBytes("limits.max_spill_per_query", c.max_spill_per_query);
  ParseBytes("limits.max_spill_total", c.max_spill_total);
  if (!c.auth_enabled && !c.listens_on_loopback()) {
    Fail(ErrorCode::kInvalidArgument,
         "auth.enabled = false is refused when listening on {} (not a loopback address): anyone who can reach the "
         "port could read and delete every dataset. Keep auth on, or listen on 127.0.0.1",
         c.listen);
  }
  if (!c.flight_listen.empty() && !c.auth_enabled) {
    Config flight = c;
    flight.listen = c.flight_listen;
    if (!flight.listens_on_loopback()) {
      Fail(ErrorCode::kInvalidArgument, "auth.enabled = false is refused when Flight SQL listens on {} (not loopback)",
           c.flight_listen);
    }
  }
  if (c.auth_refresh_ms < 100) Fail(ErrorCode::kInvalidArgument, "auth.refresh_ms must be at least 100");
  if (c.rpc_deadline_ms < 1 || c.restart_backoff_ms < 0) {
    Fail(ErrorCode::kInvalidArgument, "rpc.deadline_ms must be positive and deploy.restart_backoff_ms at least 0");
  }
  if (c.query_streaming_buffer_bytes < 1) {
    Fail(ErrorCode::kInvalidArgument, "query.streaming_buffer_bytes must be positive, got {}",
         c.query_streaming_buffer_bytes);
  }
}

}  // namespace

std::string Config::listen_host() const {
  auto colon = listen.rfind(':');
  if (colon == std::string::npos) Fail(ErrorCode::kInvalidArgument, "listen address '{}' must be HOST:PORT", listen);
  return listen.substr(0, colon);
}

uint16_t Config::listen_port() const {
  auto colon = listen.rfind(':');
  if (colon == std::string::npos) Fail(ErrorCode::kInvalidArgument, "listen address '{}' must be HOST:PORT", listen);
  int64_t port = ParseInt("server.listen", listen.substr(colon + 1));
  if (port < 0 || port > 65535) Fail(ErrorCode::kInvalidArgument, "listen port {} is out of range", port);
  return static_cast<uint16_t>(port);
}

uint64_t ParseBytes(const std::string& key, const std::string& value) {
  size_t pos = 0;
  double number = 0;
  try {
    number = std::stod(value, &pos);
  } catch (...) {
    pos = 0;
  }
  std::string unit = value.substr(pos);
  unit.erase(std::remove(unit.begin(), unit.end(), ' '), unit.end());
  std::transform(unit.begin(), unit.end(), unit.begin(), [](unsigned char ch) { return std::tolower(ch); });
  static const std::pair<const char*, double> kUnits[] = {
      {"", 1},      {"b", 1},        {"kb", 1e3},        {"mb", 1e6},      {"gb", 1e9},
      {"tb", 1e12}, {"kib", 1024.0}, {"mib", 1048576.0}, {"gib", 1 << 30}, {"tib", 1099511627776.0}};
  for (const auto& [name, factor] : kUnits) {
    if (pos > 0 && number >= 0 && unit == name) return static_cast<uint64_t>(number * factor);
  }
  Fail(ErrorCode::kInvalidArgument, "setting {}: '{}' is not a size (e.g. 512MB, 2GB, 1GiB)", key, value);
}

bool Config::listens_on_loopback() const {
  std::string host = listen_host();
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  return host == "localhost" || host == "::1" || host.starts_with("127.");
}

std::vector<std::string> Config::queryd_replicas() const { return SplitList(queryd_addresses); }

std::string Config::objects_dir() const { return data_dir + "/objects"; }
std::string Config::temp_dir() const { return data_dir + "/tmp"; }

void ConfigLoader::AddFlags(CLI::App& cmd) {
  cmd.add_option("-c,--config", config_path_, "TOML configuration file (env LAKEHOUSE_CONFIG)");
  const Config defaults;
  for (const auto& s : Settings()) {
    std::string value = s.get(defaults);
    std::string shown = value.empty() ? "" : fmt::format(" (default {})", value);
    auto* opt = cmd.add_option(fmt::format("--{}", s.flag), flag_values_[s.key],
                               fmt::format("{}{} [env {}, toml {}]", s.help, shown, s.env, s.key));
    options_.emplace_back(s.key, opt);
  }
}

std::string ConfigLoader::ConfigPath() const {
  if (!config_path_.empty()) return config_path_;
  const char* env = std::getenv("LAKEHOUSE_CONFIG");
  return env != nullptr ? env : "";
}

std::optional<std::string> ConfigLoader::FlagValue(const std::string& key) const {
  for (const auto& [k, opt] : options_) {
    if (k == key && opt->count() > 0) return flag_values_.at(key);
  }
  return std::nullopt;
}

std::vector<std::string> ConfigLoader::GivenFlags(const std::vector<std::string>& skip) const {
  std::vector<std::string> out;
  for (const auto& s : Settings()) {
    if (std::find(skip.begin(), skip.end(), s.key) != skip.end()) continue;
    if (auto value = FlagValue(s.key)) {
      out.push_back(fmt::format("--{}", s.flag));
      out.push_back(*value);
    }
  }
  return out;
}

Config ConfigLoader::Resolve() const {
  Config config;
  std::string path = ConfigPath();
  if (!path.empty()) {
    toml::table table;
    try {
      table = toml::parse_file(path);
    } catch (const toml::parse_error& e) {
      Fail(ErrorCode::kInvalidArgument, "cannot read config file {}: {} (line {})", path, e.description(),
           e.source().begin.line);
    }
    for (const auto& s : Settings()) {
      auto node = table.at_path(s.key);
      if (!node) continue;
      auto text = TomlValueAsString(*node.node());
      if (!text) Fail(ErrorCode::kInvalidArgument, "config file {}: {} has an unsupported type", path, s.key);
      s.set(config, *text);
    }
    config.config_file = path;
  }
  for (const auto& s : Settings()) {
    if (const char* env = std::getenv(s.env); env != nullptr && *env != '\0') s.set(config, env);
  }
  for (const auto& [key, opt] : options_) {
    if (opt->count() == 0) continue;
    for (const auto& s : Settings()) {
      if (key == s.key) s.set(config, flag_values_.at(key));
    }
  }
  Validate(config);
  return config;
}

std::string ConfigLoader::Describe() {
  std::string out = "Settings (TOML key / environment variable / flag):\n";
  for (const auto& s : Settings()) out += fmt::format("  {:34} {:36} --{}\n", s.key, s.env, s.flag);
  return out;
}

std::string ToToml(const Config& config) {
  std::string out;
  std::string section;
  for (const auto& s : Settings()) {
    std::string key = s.key;
    auto dot = key.rfind('.');
    std::string sec = key.substr(0, dot);
    if (sec != section) {
      out += fmt::format("{}[{}]\n", out.empty() ? "" : "\n", sec);
      section = sec;
    }
    std::string value = s.get(config);
    if (s.secret && !value.empty()) value = "********";
    bool quoted = !(value == "true" || value == "false" ||
                    (!value.empty() && value.find_first_not_of("-0123456789") == std::string::npos));
    out += fmt::format("{} = {}\n", key.substr(dot + 1), quoted ? fmt::format("\"{}\"", value) : value);
  }
  return out;
}

}  // namespace lakehouse::app
