#include "lakehouse/testing/gateway.h"

#include <stdlib.h>

#include <cstdlib>
#include <filesystem>
#include <stdexcept>

namespace lakehouse::testing {

gateway::ServerOptions InProcessGateway::Options() {
  gateway::ServerOptions options;
  options.host = "127.0.0.1";
  options.port = 0;
  options.worker_threads = 4;
  return options;
}

InProcessGateway::InProcessGateway(const gateway::Services& services, gateway::ServerOptions options,
                                   std::vector<gateway::HealthCheck> checks)
    : server_(std::make_unique<gateway::Server>(options, gateway::BuildRouter(services), std::move(checks))) {
  server_->Bind();
  url_ = "http://127.0.0.1:" + std::to_string(server_->port());
  thread_ = std::thread([this] { server_->Run(); });
}

InProcessGateway::~InProcessGateway() {
  server_->Stop();
  thread_.join();
}

TempDir::TempDir(const std::string& prefix) {
  const char* base = std::getenv("TMPDIR");
  std::string tmpl = std::string(base != nullptr && *base != '\0' ? base : "/tmp") + "/" + prefix + "-XXXXXX";
  if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed for " + tmpl);
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

}  // namespace lakehouse::testing
