#pragma once
// rpc tests: real services (local store, catalog, DuckDB engine, ingest) behind a real rpc::Server
// on a 127.0.0.1 port, and the gRPC clients that reach them.
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "lakehouse/catalogd/catalog.h"
#include "lakehouse/ingest/ingest.h"
#include "lakehouse/queryd/query.h"
#include "lakehouse/rpc/rpc.h"
#include "lakehouse/storaged/object_store.h"
#include "lakehouse/testing/gateway.h"
#include "lakehouse/testing/string_sink.h"

namespace lakehouse::rpc::testing {

using lakehouse::testing::StringSink;

//! The real services of one deployment over one directory.
struct Services {
  lakehouse::testing::TempDir dir{"lh-rpc"};
  std::unique_ptr<storaged::ObjectStore> store;
  std::unique_ptr<catalogd::Catalog> catalog;
  std::unique_ptr<ingest::Ingestor> ingestor;

  Services();
  //! Creates (or appends to) `dataset` from CSV text through ingest and the given catalog.
  DatasetManifest Csv(const std::string& dataset, const std::string& csv,
                      catalogd::CommitOp op = catalogd::CommitOp::kCreate, catalogd::Catalog* via = nullptr);
};

//! An rpc::Server that can be stopped and started again on the same port.
class TestServer {
 public:
  TestServer(ServedServices services, ServerOptions options = {});
  ~TestServer();
  void Start();
  void Stop();
  uint16_t port() const { return port_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  ClientOptions Client(const std::string& service) const;

 private:
  ServedServices services_;
  ServerOptions options_;
  std::unique_ptr<Server> server_;
  uint16_t port_ = 0;
};

//! Client options for `service` at 127.0.0.1:`port` (the library's default deadline and retries).
ClientOptions At(uint16_t port, const std::string& service);

//! A port an rpc::Server just listened on and left: nothing listens there now.
uint16_t AbandonedPort();

//! Polls `condition` every 20 ms for up to `timeout`.
bool Eventually(const std::function<bool()>& condition, std::chrono::milliseconds timeout = std::chrono::seconds(10));

//! A CSV of `rows` rows: "id,name\n0,n0\n1,n1\n..."
std::string MakeCsv(int rows, int first = 0);

}  // namespace lakehouse::rpc::testing
