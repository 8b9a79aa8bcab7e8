#pragma once
// gateway: HTTP ingress. Routing, request ids, access logs, limits, graceful shutdown, and the
// health/readiness endpoints. Services are reached only through their C++ interfaces (Services),
// so they can live in-process or behind gRPC without touching the handlers.
#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "lakehouse/gateway/auth.h"
#include "lakehouse/gateway/http.h"

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
namespace lakehouse::iceberg {
class IcebergTables;
}

namespace lakehouse::gateway {

class QueryAdmission;  // admission.h

//! The services the handlers call. Any of them may be null when not configured; handlers that
//! need a missing one answer 503 naming it.
struct Services {
  storaged::ObjectStore* store = nullptr;
  catalogd::Catalog* catalog = nullptr;
  ingest::Ingestor* ingest = nullptr;
  queryd::QueryEngine* query = nullptr;
  aibridge::AiBridge* ai = nullptr;
  search::SearchService* search = nullptr;    //!< embedding jobs and semantic search
  iceberg::IcebergTables* iceberg = nullptr;  //!< the Iceberg REST catalog (/iceberg)
  uint64_t max_upload_bytes = 64ull << 30;    //!< body limit of upload routes
  //! Base URL clients reach this server at (e.g. "http://127.0.0.1:8080"): the front of the
  //! presigned URLs it serves for the local backend. Empty: those URLs are relative.
  std::string public_base_url{};
  std::string ui_dir{};  //!< built web UI (ui/dist); empty: found next to the binary
  //! Admission control of queries (POST /api/v1/query, previews): at most this many run at once
  //! in the heavy lane (queries that read a table) ...
  int max_concurrent_queries = 4;
  //! ... this many wait for a turn (429 beyond) ...
  int max_queued_queries = 16;
  //! ... for at most this long (503 after). Queries that read no table (SELECT 1) have their own
  //! light lane of 2 slots, so they are never stuck behind heavy ones.
  int64_t max_queue_wait_ms = 10000;
  //! The admission lanes the query routes share; BuildRouter makes them from the settings above.
  std::shared_ptr<QueryAdmission> admission{};
  //! API keys, Host and Origin checks (lakehouse/gateway/auth.h): BuildRouter installs the guard.
  AuthOptions auth{};
};

//! A cheap, non-blocking probe: returns {"status": "ok" | "starting" | "down", ...details}.
//! Components that need I/O to know their health cache it themselves.
struct HealthCheck {
  std::string name;
  std::function<nlohmann::json()> probe;
};

struct ServerOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 8080;  //!< 0 picks a free port (see Server::port())
  int io_threads = 2;
  int worker_threads = 32;               //!< threads running blocking handlers (queries, uploads)
  uint64_t max_body_bytes = 1ull << 20;  //!< default request body limit -> 413 beyond it
  uint64_t max_header_bytes = 16 << 10;
  int64_t idle_timeout_ms = 60000;  //!< keep-alive connections idle longer are closed
  //! A JSON body (a route whose limit is at most max_body_bytes) must arrive whole within this
  //! time; it is read on the I/O threads, so a slow client never holds a worker. An upload read
  //! that makes no progress for this long ends the upload (408).
  int64_t max_body_read_ms = 10000;
  //! After max_body_read_ms, an upload slower than this on average is cut off (408).
  uint64_t min_upload_bytes_per_s = 16 << 10;
  //! Open connections beyond this are answered 503 and closed. The process's open-file limit is
  //! raised to its hard limit at start, and the cap lowered to fit under it (see Server::Run).
  int max_connections = 10000;
  int64_t drain_timeout_ms = 30000;  //!< on SIGTERM, how long in-flight requests may finish
  std::string version = "0.0.0";
};

//! All routes of the HTTP API (docs/api.md), built over the given services.
Router BuildRouter(const Services& services);

class Server {
 public:
  Server(ServerOptions options, Router router, std::vector<HealthCheck> checks);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  //! Binds the listening socket (throws Error(kUnavailable) naming the address on failure).
  void Bind();
  //! The bound port (after Bind).
  uint16_t port() const;
  //! Serves until Stop() or SIGTERM/SIGINT, then drains in-flight requests and returns.
  void Run();
  //! Asks Run() to drain and return; safe from any thread.
  void Stop();

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace lakehouse::gateway
