#pragma once
// flight: Arrow Flight SQL over gRPC (docs/adr/0019-flight-sql.md, docs/api.md "Arrow Flight SQL"),
// for ADBC, JDBC and pyarrow.flight clients. Statements run through the real queryd::QueryEngine
// (same sandbox, limits and grants as POST /api/v1/query); its Arrow IPC stream is cut into
// FlightData messages (data_header = the message flatbuffer, data_body = its body). Datasets are
// the tables of catalog "lakehouse", schema "main". Credentials are the HTTP API's keys.
// Deliberately free of gRPC headers: they stay in flight/src/.
#include <cstdint>
#include <memory>
#include <string>

namespace lakehouse::queryd {
class QueryEngine;
}
namespace lakehouse::catalogd {
class Catalog;
}
namespace lakehouse::gateway {
class KeyStore;
}

namespace lakehouse::flight {

struct FlightOptions {
  std::string listen = "127.0.0.1:0";  //!< HOST:PORT; port 0 picks a free one (FlightServer::port())
  //! API keys (`authorization: Bearer <key>`, or Basic with the key as password, also through
  //! Handshake). Off: every call is served without a credential, as with `--auth off`.
  bool auth_enabled = true;
  const gateway::KeyStore* keys = nullptr;  //!< required when auth_enabled
  std::string version = "0.0.0";            //!< reported by CommandGetSqlInfo (FLIGHT_SQL_SERVER_VERSION)
  int threads = 8;                          //!< most calls served at once (gRPC sync server threads)
};

class FlightServer {
 public:
  virtual ~FlightServer() = default;
  virtual uint16_t port() const = 0;
  //! Stops taking calls, cancels running queries and waits for their calls to end.
  virtual void Shutdown() = 0;
};

//! Binds and starts serving on background threads. The engine and catalog must outlive the server.
//! Throws Error(kUnavailable) when the address cannot be bound.
std::unique_ptr<FlightServer> StartFlightServer(const FlightOptions& options, queryd::QueryEngine& engine,
                                                catalogd::Catalog& catalog);

}  // namespace lakehouse::flight
