#pragma once
// rpc: the services over gRPC (issue 9, docs/adr/0017-grpc.md). For every service interface a
// server adapter over the real implementation and a client that implements the same C++
// interface, so callers (the gateway's handlers, ingest, search) do not change whether a service
// is in-process or in another process. proto/lakehouse/v1/*.proto is the single definition of the
// RPCs. Deliberately free of gRPC headers: they stay in rpc/src/.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace lakehouse::storaged {
class ObjectStore;
}
namespace lakehouse::catalogd {
class Catalog;
}
namespace lakehouse::ingest {
class Ingestor;
}
namespace lakehouse::queryd {
class QueryEngine;
}
namespace lakehouse::aibridge {
class AiBridge;
}
namespace lakehouse::search {
class SearchService;
}

namespace lakehouse::rpc {

//! Transport security and service identity, the same on both ends of every call.
struct Security {
  std::string service_token;  //!< shared secret every call carries (metadata); empty = none
  std::string tls_cert_file;  //!< PEM; server: its certificate, client: unused
  std::string tls_key_file;   //!< PEM; server only
  std::string tls_ca_file;    //!< PEM; client: the CA it trusts (TLS on when set)
};

//! How a client reaches one service.
struct ClientOptions {
  std::string address;          //!< "host:port"
  std::string service;          //!< its name in errors ("catalogd", "queryd", ...)
  int64_t deadline_ms = 30000;  //!< per call (streams: until the first message)
  int max_attempts = 3;         //!< idempotent calls only, with exponential backoff
  uint64_t max_message_bytes = 64ull << 20;
  Security security{};
};

// Clients. Each implements the service's C++ interface over a channel; a call to a service that is
// down throws Error(kUnavailable) naming it ("catalogd at 127.0.0.1:7001 is unavailable: ..."),
// and the next call reconnects by itself.
std::unique_ptr<storaged::ObjectStore> ConnectStorage(const ClientOptions& options);
//! AddListener listeners are fed by a server-streaming watch of commits that resumes from the
//! last version seen after a reconnect.
std::unique_ptr<catalogd::Catalog> ConnectCatalog(const ClientOptions& options);
//! One or more replicas: round-robin over the healthy ones (grpc.health.v1).
std::unique_ptr<queryd::QueryEngine> ConnectQuery(const std::vector<ClientOptions>& replicas);
std::unique_ptr<ingest::Ingestor> ConnectIngest(const ClientOptions& options);
std::unique_ptr<aibridge::AiBridge> ConnectAi(const ClientOptions& options);
std::unique_ptr<search::SearchService> ConnectSearch(const ClientOptions& options);

//! What one process serves: every non-null service gets its adapter, and the process always
//! serves grpc.health.v1 (one entry per service, plus "" for the process).
struct ServedServices {
  storaged::ObjectStore* store = nullptr;
  catalogd::Catalog* catalog = nullptr;
  ingest::Ingestor* ingest = nullptr;
  queryd::QueryEngine* query = nullptr;
  aibridge::AiBridge* ai = nullptr;
  search::SearchService* search = nullptr;
};

struct ServerOptions {
  std::string listen = "127.0.0.1:0";  //!< port 0 picks a free one (see Server::port)
  uint64_t max_message_bytes = 64ull << 20;
  int64_t drain_timeout_ms = 30000;  //!< Shutdown: in-flight calls may finish for this long
  Security security{};
};

class Server {
 public:
  Server(ServerOptions options, ServedServices services);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;
  //! Binds and starts serving (throws Error(kUnavailable) naming the address on failure).
  void Start();
  uint16_t port() const;
  //! Marks every service NOT_SERVING, lets in-flight calls finish (drain_timeout_ms), then stops.
  void Shutdown();
  //! Blocks until Shutdown.
  void Wait();

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace lakehouse::rpc
