#include "deploy.h"

#include <fmt/format.h>
#include <signal.h>
#include <unistd.h>

#include <toml++/toml.h>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <thread>
#include <vector>

#include "lakehouse/app/supervisor.h"
#include "lakehouse/gateway/auth.h"
#include "lakehouse/gateway/gateway.h"
#include "lakehouse/rpc/rpc.h"
#include "lakehouse/shared/error.h"
#include "lakehouse/shared/hash.h"
#include "lakehouse/shared/logging.h"
#include "lakehouse/shared/telemetry.h"

namespace lakehouse::app {
namespace {

//! Blocks SIGTERM and SIGINT in this thread and every thread started after it, so WaitForStop()
//! receives them (call before any thread starts).
sigset_t BlockStopSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  return set;
}

int WaitForStop(const sigset_t& set) {
  int sig = 0;
  while (sigwait(&set, &sig) != 0) {
  }
  return sig;
}

//! The token of "Authorization: Bearer X" or "X-API-Key: X".
std::string Credential(const gateway::Request& req) {
  if (auto auth = req.Header("Authorization"); auth && auth->starts_with("Bearer ")) return auth->substr(7);
  if (auto key = req.Header("X-API-Key")) return *key;
  return "";
}

//! A service process's own HTTP listener: GET /metrics (its Prometheus metrics), /health and
//! /ready (its services, and those it reaches over gRPC). With auth on, /metrics and /ready take
//! the scrape token or an API key, as on the gateway.
class MetricsListener {
 public:
  MetricsListener(const Config& config, const RunningServices& services) {
    const gateway::Services handles = services.handles();
    if (config.auth_enabled && handles.store != nullptr) {
      keys_ = std::make_unique<gateway::KeyStore>(*handles.store, std::chrono::milliseconds(config.auth_refresh_ms));
    }
    gateway::Router router;
    router.Add("GET", "/metrics", [](gateway::Request&, gateway::Response& res) {
      res.Send(200, telemetry::metrics::Scrape(), "text/plain; version=0.0.4; charset=utf-8");
    });
    router.SetGuard([enabled = config.auth_enabled, token = config.scrape_token, keys = keys_.get()](
                        gateway::Request& req, const gateway::RouteRef& route) {
      gateway::GuardResult result;
      if (!enabled || route.pattern == "/health" || route.pattern.empty()) return result;
      const std::string credential = Credential(req);
      if (!credential.empty()) {
        if (!token.empty() && ConstantTimeEquals(credential, token)) return result;
        if (keys != nullptr && keys->Authenticate(credential) != nullptr) return result;
      }
      result.error = ErrorCode::kUnauthenticated;
      result.message = "this route needs the scrape token (auth.scrape_token) or an API key";
      result.headers.emplace_back("WWW-Authenticate", "Bearer");
      return result;
    });
    gateway::ServerOptions options;
    const auto colon = config.metrics_listen.rfind(':');
    if (colon == std::string::npos) {
      Fail(ErrorCode::kInvalidArgument, "deploy.metrics_listen '{}' must be HOST:PORT", config.metrics_listen);
    }
    options.host = config.metrics_listen.substr(0, colon);
    options.port = static_cast<uint16_t>(std::stoi(config.metrics_listen.substr(colon + 1)));
    options.io_threads = 1;
    options.worker_threads = 1;
    options.drain_timeout_ms = 1000;
    server_ = std::make_unique<gateway::Server>(options, std::move(router), services.health_checks());
    server_->Bind();
    thread_ = std::thread([this] { server_->Run(); });
  }
  ~MetricsListener() {
    server_->Stop();
    if (thread_.joinable()) thread_.join();
  }
  MetricsListener(const MetricsListener&) = delete;
  MetricsListener& operator=(const MetricsListener&) = delete;
  uint16_t port() const { return server_->port(); }

 private:
  std::unique_ptr<gateway::KeyStore> keys_;
  std::unique_ptr<gateway::Server> server_;
  std::thread thread_;
};

std::string SelfExe() {
  std::error_code ec;
  auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) Fail(ErrorCode::kInternal, "cannot find this binary (/proc/self/exe): {}", ec.message());
  return exe.string();
}

//! [deploy.metrics] of the deployment file: the metrics listener of each process, by role
//! (queryd: an array parallel to services.queryd).
std::vector<std::string> MetricsListens(const std::string& config_path, const std::string& role) {
  std::vector<std::string> out;
  if (config_path.empty()) return out;
  toml::table table = toml::parse_file(config_path);  // already parsed once by Resolve: valid
  auto node = table.at_path("deploy.metrics." + role);
  if (auto s = node.value<std::string>()) out.push_back(*s);
  if (const auto* array = node.as_array()) {
    for (const auto& item : *array) out.push_back(item.value<std::string>().value_or(""));
  }
  return out;
}

}  // namespace

std::string ServiceListen(const ConfigLoader& loader, const Config& config, Role role) {
  if (auto flag = loader.FlagValue("server.listen")) return *flag;
  std::string address;
  switch (role) {
    case Role::kStoraged:
      address = config.storaged_address;
      break;
    case Role::kCatalogd:
      address = config.catalogd_address;
      break;
    case Role::kIngest:
      address = config.ingest_address;
      break;
    case Role::kQueryd:
      if (auto replicas = config.queryd_replicas(); !replicas.empty()) address = replicas.front();
      break;
    case Role::kAibridge:
      address = config.aibridge_address;
      break;
    case Role::kSearch:
      address = config.search_address;
      break;
    default:
      break;
  }
  if (address.empty()) {
    Fail(ErrorCode::kInvalidArgument, "lakehouse {}: give --listen HOST:PORT (or services.{} in the config)",
         RoleName(role), RoleName(role));
  }
  return address;
}

int RunService(Config config, Role role, const std::string& listen) {
  const sigset_t stop_signals = BlockStopSignals();
  log::Init(log::ParseLevel(config.log_level));
  const std::string name(RoleName(role));
  telemetry::InitTracing("lakehouse-" + name);  // OTEL_SERVICE_NAME overrides
  config.listen = listen;                       // this process's address (its scratch folders)
  std::filesystem::create_directories(config.temp_dir());
  log::Info("starting", {{"role", name},
                         {"listen", listen},
                         {"storage", config.storage},
                         {"data_dir", config.data_dir},
                         {"config_file", config.config_file}});

  auto services = StartServices(config, role);
  rpc::ServerOptions options;
  options.listen = listen;
  options.drain_timeout_ms = config.drain_timeout_ms;
  options.security = RpcSecurity(config);
  rpc::Server server(options, services->served());
  server.Start();
  std::unique_ptr<MetricsListener> metrics;
  if (!config.metrics_listen.empty()) metrics = std::make_unique<MetricsListener>(config, *services);
  log::Info(
      "serving",
      {{"role", name}, {"listen", listen}, {"port", server.port()}, {"metrics_port", metrics ? metrics->port() : 0}});

  const int sig = WaitForStop(stop_signals);
  log::Info("draining", {{"role", name}, {"signal", sig}, {"drain_timeout_ms", config.drain_timeout_ms}});
  server.Shutdown();
  metrics.reset();
  services->Stop();
  telemetry::ShutdownTracing();
  log::Info("shutdown complete", {{"role", name}});
  return 0;
}

int RunUp(const ConfigLoader& loader, const Config& config) {
  const sigset_t stop_signals = BlockStopSignals();
  log::Init(log::ParseLevel(config.log_level));
  if (config.catalogd_address.empty() || config.queryd_replicas().empty()) {
    Fail(ErrorCode::kInvalidArgument,
         "lakehouse up needs a deployment: services.catalogd and services.queryd at least (docs/deploy.md)");
  }
  const std::string path = loader.ConfigPath();
  const std::string exe = SelfExe();
  // Every process gets the settings `up` was given on its command line; its own --listen and
  // --metrics-listen come from the deployment.
  const std::vector<std::string> given = loader.GivenFlags({"server.listen", "deploy.metrics_listen"});
  const char* service_env = std::getenv("OTEL_SERVICE_NAME");
  const std::string service_base = service_env != nullptr && *service_env != '\0' ? service_env : "lakehouse";

  std::vector<ProcessSpec> specs;
  auto add = [&](Role role, const std::string& name, const std::string& listen, const std::string& metrics) {
    ProcessSpec spec;
    spec.name = name;
    spec.argv = {exe, std::string(RoleName(role))};
    if (!path.empty()) spec.argv.insert(spec.argv.end(), {"--config", path});
    spec.argv.insert(spec.argv.end(), given.begin(), given.end());
    spec.argv.insert(spec.argv.end(), {"--listen", listen});
    if (!metrics.empty()) spec.argv.insert(spec.argv.end(), {"--metrics-listen", metrics});
    spec.env["OTEL_SERVICE_NAME"] = service_base + "-" + std::string(RoleName(role));
    spec.ready_address = listen;
    specs.push_back(std::move(spec));
  };
  auto metrics_of = [&](const char* role, size_t i = 0) {
    auto all = MetricsListens(path, role);
    return i < all.size() ? all[i] : std::string();
  };
  if (!config.storaged_address.empty())
    add(Role::kStoraged, "storaged", config.storaged_address, metrics_of("storaged"));
  add(Role::kCatalogd, "catalogd", config.catalogd_address, metrics_of("catalogd"));
  if (!config.ingest_address.empty()) add(Role::kIngest, "ingest", config.ingest_address, metrics_of("ingest"));
  const auto replicas = config.queryd_replicas();
  for (size_t i = 0; i < replicas.size(); ++i) {
    add(Role::kQueryd, replicas.size() == 1 ? "queryd" : fmt::format("queryd-{}", i + 1), replicas[i],
        metrics_of("queryd", i));
  }
  if (config.ai_enabled && !config.aibridge_address.empty()) {
    add(Role::kAibridge, "aibridge", config.aibridge_address, metrics_of("aibridge"));
  }
  if (config.ai_enabled && !config.search_address.empty()) {
    add(Role::kSearch, "search", config.search_address, metrics_of("search"));
  }
  add(Role::kGateway, "gateway", config.listen, "");

  ProcessSupervisorOptions options;
  options.restart_backoff_ms = config.restart_backoff_ms;
  options.stop_timeout_ms = config.drain_timeout_ms + 5000;
  ProcessSupervisor supervisor(options);
  std::vector<std::string> names;
  for (const auto& s : specs) names.push_back(s.name);
  log::Info("deployment starting", {{"processes", names}, {"config_file", path}, {"gateway", config.listen}});
  std::thread starter([&supervisor, specs = std::move(specs)]() mutable {
    try {
      if (supervisor.Start(std::move(specs))) log::Info("deployment up");
    } catch (const std::exception& e) {
      log::Error("deployment did not come up whole; its processes are restarted while they exit",
                 {{"error", e.what()}});
    }
  });
  const int sig = WaitForStop(stop_signals);
  log::Info("deployment stopping", {{"signal", sig}});
  supervisor.Stop();  // Start() returns once stopping
  starter.join();
  log::Info("deployment stopped");
  return 0;
}

}  // namespace lakehouse::app
