// The `lakehouse` binary: thin wiring. Reads the configuration, builds each service behind its
// interface, hands them to the gateway, and serves until SIGTERM/SIGINT.
#include <CLI/CLI.hpp>
#include <csignal>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "config.h"
#include "deploy.h"
#include "lakehouse/flight/flight.h"
#include "lakehouse/gateway/gateway.h"
#include "lakehouse/shared/error.h"
#include "lakehouse/shared/logging.h"
#include "lakehouse/shared/telemetry.h"
#include "services.h"

#ifndef LAKEHOUSE_VERSION
#define LAKEHOUSE_VERSION "0.0.0"
#endif

namespace lakehouse::app {
namespace {

int Serve(const Config& config, Role role = Role::kEmbedded) {
  log::Init(log::ParseLevel(config.log_level));
  // OTEL_EXPORTER_OTLP_ENDPOINT etc.; off without an endpoint
  telemetry::InitTracing(role == Role::kEmbedded ? "lakehouse" : "lakehouse-gateway");
  std::filesystem::create_directories(config.temp_dir());
  log::Info("starting", {{"version", LAKEHOUSE_VERSION},
                         {"listen", config.listen},
                         {"storage", config.storage},
                         {"data_dir", config.data_dir},
                         {"config_file", config.config_file}});

  gateway::ServerOptions options;
  options.host = config.listen_host();
  options.port = config.listen_port();
  options.io_threads = config.io_threads;
  options.worker_threads = config.worker_threads;
  options.max_body_bytes = config.max_body_bytes;
  options.idle_timeout_ms = config.idle_timeout_ms;
  options.drain_timeout_ms = config.drain_timeout_ms;
  options.max_body_read_ms = config.max_body_read_ms;
  options.min_upload_bytes_per_s = config.min_upload_bytes_per_s;
  options.max_connections = config.max_connections;
  options.version = LAKEHOUSE_VERSION;

  auto services = StartServices(config, role);
  gateway::Server server(options, gateway::BuildRouter(services->handles()), services->health_checks());
  server.Bind();
  // Arrow Flight SQL on its own port (flight.listen), over the same engine, catalog and API keys.
  std::unique_ptr<flight::FlightServer> flight_server;
  if (const auto handles = services->handles(); !config.flight_listen.empty()) {
    flight::FlightOptions flight_options;
    flight_options.listen = config.flight_listen;
    flight_options.auth_enabled = handles.auth.enabled;
    flight_options.keys = handles.auth.keys;
    flight_options.version = LAKEHOUSE_VERSION;
    flight_server = flight::StartFlightServer(flight_options, *handles.query, *handles.catalog);
  }
  server.Run();
  if (flight_server) flight_server->Shutdown();
  services->Stop();
  telemetry::ShutdownTracing();
  log::Info("shutdown complete");
  return 0;
}

}  // namespace
}  // namespace lakehouse::app

int main(int argc, char** argv) {
  using namespace lakehouse;
  std::signal(SIGPIPE, SIG_IGN);

  CLI::App cli{"Lakehouse: SQL over Parquet in object storage, with a catalog and AI behind one HTTP API.\n"};
  cli.require_subcommand(0, 1);
  cli.set_version_flag("--version", LAKEHOUSE_VERSION);
  cli.footer("Configuration precedence: built-in defaults < TOML file (--config) < environment < flags.\n" +
             app::ConfigLoader::Describe() + "`lakehouse serve --help` describes each flag.");

  app::ConfigLoader serve_config;
  auto* serve = cli.add_subcommand("serve", "run the HTTP server (default local filesystem storage under ./data)");
  serve_config.AddFlags(*serve);
  serve->footer(app::ConfigLoader::Describe());

  // ---- multi-process deployment (issue 9, docs/deploy.md) ----
  struct RoleCommand {
    app::Role role;
    const char* help;
    app::ConfigLoader config;
    CLI::App* cmd = nullptr;
  };
  RoleCommand roles[] = {
      {app::Role::kGateway, "the HTTP gateway of a multi-process deployment, calling the services over gRPC", {}},
      {app::Role::kStoraged, "serve object storage over gRPC (--listen HOST:PORT)", {}},
      {app::Role::kCatalogd, "serve the catalog over gRPC (--listen HOST:PORT)", {}},
      {app::Role::kIngest, "serve ingest (uploads, appends, compaction) over gRPC (--listen HOST:PORT)", {}},
      {app::Role::kQueryd, "serve SQL queries over gRPC: one replica (--listen HOST:PORT)", {}},
      {app::Role::kAibridge, "serve the AI bridge (and run its sidecar) over gRPC (--listen HOST:PORT)", {}},
      {app::Role::kSearch, "serve embedding jobs and semantic search over gRPC (--listen HOST:PORT)", {}},
  };
  for (auto& r : roles) {
    r.cmd = cli.add_subcommand(std::string(app::RoleName(r.role)), r.help);
    r.config.AddFlags(*r.cmd);
    r.cmd->footer(app::ConfigLoader::Describe());
  }
  app::ConfigLoader up_config;
  auto* up = cli.add_subcommand(
      "up", "start every process of a deployment file on this machine and keep them running (docs/deploy.md)");
  up_config.AddFlags(*up);
  // ---- end multi-process deployment ----

  app::ConfigLoader print_config;
  auto* config_cmd = cli.add_subcommand("config", "print the effective configuration as TOML (secrets masked)");
  print_config.AddFlags(*config_cmd);

  app::cli::ClientCommands client(cli);  // sql, datasets, describe, upload, download (over HTTP)

  try {
    cli.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return cli.exit(e);
  }

  try {
    if (config_cmd->parsed()) {
      std::cout << app::ToToml(print_config.Resolve());
      return 0;
    }
    if (serve->parsed()) return app::Serve(serve_config.Resolve());
    // ---- multi-process deployment ----
    if (up->parsed()) return app::RunUp(up_config, up_config.Resolve());
    for (auto& r : roles) {
      if (!r.cmd->parsed()) continue;
      app::Config config = r.config.Resolve();
      if (r.role == app::Role::kGateway) return app::Serve(config, app::Role::kGateway);
      return app::RunService(config, r.role, app::ServiceListen(r.config, config, r.role));
    }
    // ---- end multi-process deployment ----
    if (auto rc = client.Run()) return *rc;
    std::cout << cli.help();
    return 0;
  } catch (const Error& e) {
    std::cerr << "lakehouse: " << e.what() << "\n";
    log::Error("fatal", {{"error", e.what()}, {"code", CodeName(e.code())}});
    return e.code() == ErrorCode::kInvalidArgument ? 2 : 1;
  } catch (const std::exception& e) {
    std::cerr << "lakehouse: " << e.what() << "\n";
    log::Error("fatal", {{"error", e.what()}});
    return 1;
  }
}
