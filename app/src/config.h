#pragma once
// The effective configuration of `lakehouse serve`. Sources, lowest to highest precedence:
//   built-in defaults < TOML file (--config FILE or LAKEHOUSE_CONFIG) < environment < flags.
// Every setting has one TOML key, one environment variable and one flag (see kSettings in
// config.cpp, and `lakehouse serve --help`).
#include <CLI/CLI.hpp>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace lakehouse::app {

struct Config {
  // [server]
  std::string listen = "127.0.0.1:8080";
  int io_threads = 2;
  int worker_threads = 32;
  uint64_t max_body_bytes = 1ull << 20;
  uint64_t max_upload_bytes = 64ull << 30;
  int64_t idle_timeout_ms = 60000;
  int64_t drain_timeout_ms = 30000;
  std::string public_url;  //!< base URL in presigned links; default http://<listen>
  std::string ui_dir;      //!< built web UI; default: ui/dist found above the binary
  // [storage]
  std::string data_dir = "./data";
  std::string storage = "local";  //!< "local" or "s3"
  std::string s3_endpoint;
  std::string s3_region = "us-east-1";
  std::string s3_bucket = "lakehouse";
  std::string s3_access_key;
  std::string s3_secret_key;
  uint64_t s3_multipart_threshold_mb = 64;
  std::string presign_secret;  //!< HMAC key of local presigned URLs; default: kept in <data_dir>/presign.key
  // [query]
  std::string query_memory_limit = "1GB";
  int query_threads = 2;
  std::string query_temp_dir;  //!< default <data_dir>/tmp/query
  int64_t query_timeout_ms = 60000;
  int64_t query_max_timeout_ms = 120000;
  int64_t query_streaming_buffer_bytes = 4ll << 20;
  // [limits]: what one request, or all of them together, may use (README "Operator limits")
  int max_connections = 10000;
  int64_t max_body_read_ms = 10000;
  uint64_t min_upload_bytes_per_s = 16 << 10;
  int max_concurrent_queries = 4;
  int max_queued_queries = 16;
  int64_t max_queue_wait_ms = 10000;
  int max_json_depth = 256;
  std::string max_memory = "2GB";  //!< the process's memory (RSS) above which running queries are cancelled
  std::string max_spill_per_query = "4GB";
  std::string max_spill_total = "16GB";
  // [ingest]
  uint64_t ingest_max_partitions = 1000;  //!< partition value sets (objects) one upload may write
  // [compaction] and [retention] (issue 13; docs/api/datasets.md)
  uint64_t compaction_target_mb = 128;
  uint64_t compaction_auto_min_small_objects = 0;  //!< 0: no automatic compaction
  uint64_t retention_keep_versions = 0;            //!< 0: no limit
  uint64_t retention_keep_days = 0;                //!< 0: no limit
  // [ai]
  bool ai_enabled = true;
  std::string ai_sidecar_url;  //!< when set, use this sidecar instead of starting one
  std::string ai_home;         //!< folder holding sidecar/ and modelserver/; default: found from the binary
  std::string ai_python;       //!< Python with the sidecar's packages; default <ai_home>/.venv/bin/python
  std::string ai_ollama_host = "http://127.0.0.1:11434";
  std::string ai_model_server =
      "auto";  //!< "auto": start the bundled model server when no Ollama answers; "never"; "always"
  int64_t ai_timeout_ms = 60000;
  // [search]
  std::string search_memory_limit;  //!< search's own DuckDB budget (its indexes); empty: 1/16 of query.memory_limit
  // [iceberg]
  bool iceberg_enabled = true;  //!< Iceberg metadata per commit + the REST catalog at /iceberg
  // [auth] (docs/api/auth.md)
  bool auth_enabled = true;        //!< API keys on every route but /health and the UI's files
  std::string scrape_token;        //!< also accepted by /ready and /metrics
  std::string allowed_hosts;       //!< Host names served besides loopback, the listen host, public_url's host
  std::string allowed_origins;     //!< cross-origin (CORS) origins allowed besides the server's own
  int64_t auth_refresh_ms = 5000;  //!< keys are re-read from storage this often (revocation bound)
  // [flight] Arrow Flight SQL (docs/adr/0019-flight-sql.md)
  std::string flight_listen;  //!< HOST:PORT to serve Flight SQL on; empty = off
  // [log]
  std::string log_level = "info";
  // ---- multi-process deployment (issue 9, docs/deploy.md) ----
  // [services]: where the other processes of a deployment listen (gRPC, "host:port"). Read by
  // `lakehouse gateway` and the service roles; an empty address means "in this process". `lakehouse
  // serve` (embedded) ignores them.
  std::string storaged_address;
  std::string catalogd_address;
  std::string queryd_addresses;  //!< comma-separated replicas (TOML: an array or a string)
  std::string ingest_address;
  std::string aibridge_address;
  std::string search_address;
  // [rpc]
  std::string service_token;  //!< shared secret every gRPC call carries
  std::string rpc_tls_cert_file;
  std::string rpc_tls_key_file;
  std::string rpc_tls_ca_file;
  int64_t rpc_deadline_ms = 30000;
  // [deploy]
  std::string metrics_listen;        //!< a service process's own /metrics + /health HTTP listener
  int64_t restart_backoff_ms = 500;  //!< `lakehouse up`: first restart delay of a crashed process
  // ---- end multi-process deployment ----

  std::string config_file;  //!< the TOML file that was read, if any

  std::string listen_host() const;
  uint16_t listen_port() const;
  std::string objects_dir() const;  //!< <data_dir>/objects: the local object store's root
  std::string temp_dir() const;     //!< <data_dir>/tmp
  bool listens_on_loopback() const;
  std::vector<std::string> queryd_replicas() const;  //!< services.queryd split at commas
};

//! "2GB", "512MiB", "1000000" -> bytes (KB/MB/GB/TB are powers of 1000, KiB/MiB/GiB/TiB of 1024,
//! as in DuckDB's memory_limit). Throws Error(kInvalidArgument) naming `key`.
uint64_t ParseBytes(const std::string& key, const std::string& value);

//! Registers every setting as a flag on `cmd`. After parsing, call Resolve.
class ConfigLoader {
 public:
  void AddFlags(CLI::App& cmd);
  //! Applies defaults < TOML < env < flags; validates; throws lakehouse::Error(kInvalidArgument).
  Config Resolve() const;
  //! The settings table as text (for docs and --help footers).
  static std::string Describe();
  //! The value of a setting's flag when it was given on the command line (not TOML or env).
  std::optional<std::string> FlagValue(const std::string& key) const;
  //! Every setting flag given on the command line as "--flag" "value" pairs, except `skip` keys
  //! (`lakehouse up` hands them to each process it starts).
  std::vector<std::string> GivenFlags(const std::vector<std::string>& skip = {}) const;
  //! --config as given (else LAKEHOUSE_CONFIG, else empty).
  std::string ConfigPath() const;

 private:
  std::string config_path_;
  std::map<std::string, std::string> flag_values_;
  std::vector<std::pair<std::string, CLI::Option*>> options_;
};

//! The effective configuration as TOML text, secrets masked (`lakehouse config`).
std::string ToToml(const Config& config);

}  // namespace lakehouse::app
