#include "rpc_test_util.h"

#include <fmt/format.h>

namespace lakehouse::rpc::testing {

Services::Services() {
  store = storaged::MakeLocalStore({.root = dir.path() + "/objects", .presign_secret = "test-secret"});
  catalog = catalogd::MakeCatalog(*store);
  ingest::IngestOptions options;
  options.temp_dir = dir.path();
  options.memory_limit = "256MB";
  options.threads = 1;
  ingestor = ingest::MakeIngestor(*store, *catalog, options);
}

DatasetManifest Services::Csv(const std::string& dataset, const std::string& csv, catalogd::CommitOp op,
                              catalogd::Catalog* via) {
  ingest::IngestRequest request;
  request.dataset = dataset;
  request.op = op;
  request.format = ingest::Format::kCsv;
  StringSource body(csv);
  if (via == nullptr) return *ingestor->Ingest(request, body).manifest;
  ingest::IngestOptions options;
  options.temp_dir = dir.path();
  options.memory_limit = "256MB";
  options.threads = 1;
  return *ingest::MakeIngestor(*store, *via, options)->Ingest(request, body).manifest;
}

TestServer::TestServer(ServedServices services, ServerOptions options)
    : services_(services), options_(std::move(options)) {
  Start();
}

TestServer::~TestServer() { Stop(); }

void TestServer::Start() {
  ServerOptions options = options_;
  if (port_ != 0) options.listen = "127.0.0.1:" + std::to_string(port_);
  options.drain_timeout_ms = 2000;
  server_ = std::make_unique<Server>(options, services_);
  server_->Start();
  port_ = server_->port();
}

void TestServer::Stop() {
  if (!server_) return;
  server_->Shutdown();
  server_.reset();
}

ClientOptions TestServer::Client(const std::string& service) const {
  ClientOptions options;
  options.address = address();
  options.service = service;
  options.deadline_ms = 5000;
  options.security = options_.security;
  return options;
}

ClientOptions At(uint16_t port, const std::string& service) {
  ClientOptions o;
  o.address = "127.0.0.1:" + std::to_string(port);
  o.service = service;
  return o;
}

uint16_t AbandonedPort() {
  lakehouse::testing::TempDir dir("rpc-down");
  auto store = storaged::MakeLocalStore({dir.path(), ""});
  Server server(ServerOptions{}, ServedServices{.store = store.get()});
  server.Start();
  const uint16_t port = server.port();
  server.Shutdown();
  return port;
}

bool Eventually(const std::function<bool()>& condition, std::chrono::milliseconds timeout) {
  const auto end = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < end) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return condition();
}

std::string MakeCsv(int rows, int first) {
  std::string out = "id,name\n";
  for (int i = first; i < first + rows; ++i) out += fmt::format("{},n{}\n", i, i);
  return out;
}

}  // namespace lakehouse::rpc::testing
