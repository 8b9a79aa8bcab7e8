// rpc::Server: one gRPC server per process, mounting an adapter for every service it is given, and
// grpc.health.v1 ("" for the process, one entry per service).
#include <grpcpp/health_check_service_interface.h>

#include <condition_variable>
#include <mutex>

#include "grpc_common.h"
#include "lakehouse/shared/logging.h"
#include "services.h"
#include "streams.h"

namespace lakehouse::rpc {

class Server::Impl {
 public:
  Impl(ServerOptions options, ServedServices services) : options_(std::move(options)), services_(services) {}

  void Start() {
    std::lock_guard lock(mu_);
    if (server_) return;
    const Security& sec = options_.security;
    auto add = [&](auto* target, std::string name, auto make) {
      if (target == nullptr) return;
      adapters_.push_back(make(*target, sec));
      names_.push_back(std::move(name));
    };
    add(services_.store, "lakehouse.v1.StorageService", detail::MakeStorageService);
    add(services_.catalog, "lakehouse.v1.CatalogService", detail::MakeCatalogService);
    add(services_.query, "lakehouse.v1.QueryService", detail::MakeQueryService);
    add(services_.ingest, "lakehouse.v1.IngestService", detail::MakeIngestService);
    add(services_.ai, "lakehouse.v1.AiService", detail::MakeAiService);
    add(services_.search, "lakehouse.v1.SearchService", detail::MakeSearchService);

    grpc::EnableDefaultHealthCheckService(true);
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort(options_.listen, detail::MakeServerCredentials(sec), &port);
    detail::ConfigureServer(builder, options_);
    for (auto& adapter : adapters_) builder.RegisterService(adapter.get());
    server_ = builder.BuildAndStart();
    if (!server_ || port == 0) {
      server_.reset();
      Fail(ErrorCode::kUnavailable, "cannot listen for gRPC on {}", options_.listen);
    }
    port_ = static_cast<uint16_t>(port);
    SetServing(true);
    log::Info("grpc server listening", {{"listen", options_.listen}, {"port", port_}, {"services", names_}});
  }

  uint16_t port() const { return port_; }

  void Shutdown() {
    std::unique_ptr<grpc::Server> server;
    {
      std::lock_guard lock(mu_);
      if (!server_ || shut_down_) return;
      shut_down_ = true;
      SetServing(false);
      server = std::move(server_);
    }
    // Long-lived watch streams end first; calls in flight then have drain_timeout_ms to finish.
    for (auto& adapter : adapters_) {
      if (auto* owner = dynamic_cast<detail::StreamOwner*>(adapter.get())) owner->EndStreams();
    }
    server->Shutdown(std::chrono::system_clock::now() + std::chrono::milliseconds(options_.drain_timeout_ms));
    {
      std::lock_guard lock(mu_);
      stopped_ = std::move(server);
    }
    done_cv_.notify_all();
  }

  void Wait() {
    std::unique_lock lock(mu_);
    done_cv_.wait(lock, [&] { return shut_down_ && stopped_ != nullptr; });
  }

  ~Impl() {
    Shutdown();
    if (stopped_) stopped_->Wait();
  }

 private:
  void SetServing(bool serving) {
    grpc::HealthCheckServiceInterface* health = server_->GetHealthCheckService();
    if (health == nullptr) return;
    health->SetServingStatus(serving);
    for (const auto& name : names_) health->SetServingStatus(name, serving);
  }

  ServerOptions options_;
  ServedServices services_;
  std::mutex mu_;
  std::condition_variable done_cv_;
  std::vector<std::unique_ptr<grpc::Service>> adapters_;
  std::vector<std::string> names_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<grpc::Server> stopped_;
  bool shut_down_ = false;
  uint16_t port_ = 0;
};

Server::Server(ServerOptions options, ServedServices services)
    : impl_(std::make_unique<Impl>(std::move(options), services)) {}
Server::~Server() = default;
void Server::Start() { impl_->Start(); }
uint16_t Server::port() const { return impl_->port(); }
void Server::Shutdown() { impl_->Shutdown(); }
void Server::Wait() { impl_->Wait(); }

}  // namespace lakehouse::rpc
