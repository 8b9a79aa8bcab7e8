#pragma once
// Route tests over both deployments (issue 9): the gateway's handlers talk to the real services
// either directly (embedded, `lakehouse serve`) or through gRPC (an rpc::Server over the same real
// services on 127.0.0.1 and the rpc clients, as in a multi-process deployment). A suite
// parameterized on Transport runs every test both ways.
#include <gtest/gtest.h>

#include <memory>
#include <ostream>
#include <string>

#include "lakehouse/catalogd/catalog.h"
#include "lakehouse/gateway/gateway.h"
#include "lakehouse/queryd/query.h"
#include "lakehouse/rpc/rpc.h"
#include "lakehouse/storaged/object_store.h"

namespace lakehouse::gateway::testing {

enum class Transport { kEmbedded, kGrpc };

inline std::string TransportName(const ::testing::TestParamInfo<Transport>& info) {
  return info.param == Transport::kEmbedded ? "Embedded" : "Grpc";
}

//! The services a gateway gets: the real ones, or gRPC clients of an rpc::Server over them.
class TransportServices {
 public:
  TransportServices(Transport transport, storaged::ObjectStore* store, catalogd::Catalog* catalog = nullptr,
                    queryd::QueryEngine* query = nullptr)
      : transport_(transport), store_(store), catalog_(catalog), query_(query) {
    if (transport == Transport::kEmbedded) return;
    server_ = std::make_unique<rpc::Server>(rpc::ServerOptions{},
                                            rpc::ServedServices{.store = store, .catalog = catalog, .query = query});
    server_->Start();
    if (store) store_client_ = rpc::ConnectStorage(Client("storaged"));
    if (catalog) catalog_client_ = rpc::ConnectCatalog(Client("catalogd"));
    if (query) query_client_ = rpc::ConnectQuery({Client("queryd")});
  }
  ~TransportServices() {
    if (server_) server_->Shutdown();
  }

  //! What the gateway's handlers call.
  storaged::ObjectStore* store() { return store_client_ ? store_client_.get() : store_; }
  catalogd::Catalog* catalog() { return catalog_client_ ? catalog_client_.get() : catalog_; }
  queryd::QueryEngine* query() { return query_client_ ? query_client_.get() : query_; }
  Transport transport() const { return transport_; }
  //! gRPC: stops serving (the services look down to the gateway).
  void StopServing() {
    if (server_) server_->Shutdown();
  }

 private:
  rpc::ClientOptions Client(const std::string& service) const {
    rpc::ClientOptions options;
    options.address = "127.0.0.1:" + std::to_string(server_->port());
    options.service = service;
    options.deadline_ms = 5000;
    return options;
  }

  Transport transport_;
  storaged::ObjectStore* store_;
  catalogd::Catalog* catalog_;
  queryd::QueryEngine* query_;
  std::unique_ptr<rpc::Server> server_;
  std::unique_ptr<storaged::ObjectStore> store_client_;
  std::unique_ptr<catalogd::Catalog> catalog_client_;
  std::unique_ptr<queryd::QueryEngine> query_client_;
};

}  // namespace lakehouse::gateway::testing
