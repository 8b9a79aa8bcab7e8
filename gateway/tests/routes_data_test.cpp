// The dataset and query routes (routes_datasets.cpp, routes_query.cpp) over a real socket, run
// twice (transport.h): embedded, and with storaged + catalogd in one rpc::Server and queryd (its
// engine over its own gRPC clients of storaged and catalogd) in another, as a multi-process
// deployment wires them. The handlers are the same; the answers must be too.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "lakehouse/ingest/ingest.h"
#include "lakehouse/shared/http_client.h"
#include "lakehouse/shared/logging.h"
#include "lakehouse/testing/gateway.h"
#include "transport.h"

namespace lakehouse::gateway {
namespace {

using json = nlohmann::json;
using testing::Transport;

//! The real services, wired as the transport says.
struct Deployment {
  explicit Deployment(Transport transport) {
    store = storaged::MakeLocalStore({dir.path() + "/objects", "secret"});
    catalog = catalogd::MakeCatalog(*store);
    queryd::QueryConfig config;
    config.memory_limit = "512MB";
    config.threads = 1;
    if (transport == Transport::kEmbedded) {
      engine = queryd::MakeQueryEngine(*catalog, *store, config);
      gw_store = store.get();
      gw_catalog = catalog.get();
      gw_query = engine.get();
    } else {
      data = std::make_unique<rpc::Server>(rpc::ServerOptions{},
                                           rpc::ServedServices{.store = store.get(), .catalog = catalog.get()});
      data->Start();
      data_port = data->port();
      queryd_store = rpc::ConnectStorage(Client("storaged", data_port));
      queryd_catalog = rpc::ConnectCatalog(Client("catalogd", data_port));
      engine = queryd::MakeQueryEngine(*queryd_catalog, *queryd_store, config);
      queryd = std::make_unique<rpc::Server>(rpc::ServerOptions{}, rpc::ServedServices{.query = engine.get()});
      queryd->Start();
      store_client = rpc::ConnectStorage(Client("storaged", data_port));
      catalog_client = rpc::ConnectCatalog(Client("catalogd", data_port));
      query_client = rpc::ConnectQuery({Client("queryd", queryd->port())});
      gw_store = store_client.get();
      gw_catalog = catalog_client.get();
      gw_query = query_client.get();
    }
    ingest::IngestOptions options;
    options.temp_dir = dir.path();
    options.memory_limit = "256MB";
    options.threads = 1;
    ingestor = ingest::MakeIngestor(*gw_store, *gw_catalog, options);
    Services services;
    services.store = gw_store;
    services.catalog = gw_catalog;
    services.query = gw_query;
    services.ingest = ingestor.get();
    gateway = std::make_unique<lakehouse::testing::InProcessGateway>(services);
  }
  ~Deployment() {
    gateway.reset();
    if (queryd) queryd->Shutdown();
    if (data) data->Shutdown();
  }

  static rpc::ClientOptions Client(const std::string& service, uint16_t port) {
    rpc::ClientOptions options;
    options.address = "127.0.0.1:" + std::to_string(port);
    options.service = service;
    options.deadline_ms = 5000;
    return options;
  }

  HttpResponse Send(const std::string& method, const std::string& path, const std::string& body = {},
                    const std::string& content_type = "application/json") {
    HttpRequest r;
    r.method = method;
    r.url = gateway->url() + path;
    r.body = body;
    r.content_type = body.empty() ? "" : content_type;
    HttpResponse response = client.Send(r);
    EXPECT_EQ(response.transport_error, 0) << method << " " << path << ": " << response.error;
    return response;
  }
  HttpResponse Query(const std::string& sql, const std::string& format = "json") {
    return Send("POST", "/api/v1/query", json{{"sql", sql}, {"format", format}}.dump());
  }
  int64_t Count(const std::string& dataset) {
    HttpResponse r = Query("SELECT count(*) FROM " + dataset);
    EXPECT_EQ(r.status, 200) << r.body;
    return json::parse(r.body).at("rows").at(0).at(0).get<int64_t>();
  }

  lakehouse::testing::TempDir dir{"lh-gw-data"};
  std::unique_ptr<storaged::ObjectStore> store;
  std::unique_ptr<catalogd::Catalog> catalog;
  std::unique_ptr<rpc::Server> data;
  uint16_t data_port = 0;
  std::unique_ptr<storaged::ObjectStore> queryd_store;
  std::unique_ptr<catalogd::Catalog> queryd_catalog;
  std::unique_ptr<queryd::QueryEngine> engine;
  std::unique_ptr<rpc::Server> queryd;
  std::unique_ptr<storaged::ObjectStore> store_client;
  std::unique_ptr<catalogd::Catalog> catalog_client;
  std::unique_ptr<queryd::QueryEngine> query_client;
  storaged::ObjectStore* gw_store = nullptr;
  catalogd::Catalog* gw_catalog = nullptr;
  queryd::QueryEngine* gw_query = nullptr;
  std::unique_ptr<ingest::Ingestor> ingestor;
  std::unique_ptr<lakehouse::testing::InProcessGateway> gateway;
  HttpClient client;
};

class DataRoutesTest : public ::testing::TestWithParam<Transport> {
 protected:
  void SetUp() override { log::Init(log::Level::kWarn); }
};

TEST_P(DataRoutesTest, UploadListQueryPreviewAndDelete) {
  Deployment d(GetParam());
  HttpResponse r = d.Send("POST", "/api/v1/datasets/sales", "id,amount\n1,10\n2,20\n3,30\n", "text/csv");
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(json::parse(r.body).at("version"), 1);
  EXPECT_EQ(d.Count("sales"), 3);
  // Read-your-writes: the next query sees the append at once, over gRPC too.
  r = d.Send("POST", "/api/v1/datasets/sales/append", "id,amount\n4,40\n5,50\n", "text/csv");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(d.Count("sales"), 5);

  r = d.Send("GET", "/api/v1/datasets");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_NE(r.body.find("\"sales\""), std::string::npos) << r.body;
  r = d.Send("GET", "/api/v1/datasets/sales");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(json::parse(r.body).at("version"), 2);
  r = d.Send("GET", "/api/v1/datasets/sales/versions");
  ASSERT_EQ(r.status, 200) << r.body;
  r = d.Send("GET", "/api/v1/datasets/sales/versions/1");
  ASSERT_EQ(r.status, 200) << r.body;

  r = d.Query("SELECT sum(amount) AS s FROM sales", "csv");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body, "s\r\n150\r\n");
  EXPECT_NE(r.headers["content-type"].find("text/csv"), std::string::npos);
  r = d.Query("SELECT * FROM sales", "arrow");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.headers["content-type"], "application/vnd.apache.arrow.stream");
  EXPECT_GT(r.body.size(), 100u);
  r = d.Query("SELECT * FROM dataset_version('sales', 1) ORDER BY id");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(json::parse(r.body).at("rows").size(), 3u);
  r = d.Send("GET", "/api/v1/datasets/sales/preview?limit=2");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(json::parse(r.body).at("rows").size(), 2u);
  r = d.Send("GET", "/api/v1/datasets/sales/data");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(json::parse(r.body).at("dataset"), "sales") << r.body;

  r = d.Send("DELETE", "/api/v1/datasets/sales");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(d.Send("GET", "/api/v1/datasets/sales").status, 404);
  r = d.Query("SELECT count(*) FROM sales");
  EXPECT_GE(r.status, 400) << r.body;
  EXPECT_LT(r.status, 500) << r.body;
}

TEST_P(DataRoutesTest, ErrorsAreTheSameJson) {
  Deployment d(GetParam());
  ASSERT_EQ(d.Send("POST", "/api/v1/datasets/t", "a\n1\n", "text/csv").status, 201);
  HttpResponse r = d.Send("POST", "/api/v1/datasets/t", "a\n1\n", "text/csv");
  EXPECT_EQ(r.status, 409) << r.body;
  r = d.Send("GET", "/api/v1/datasets/nope");
  EXPECT_EQ(r.status, 404) << r.body;
  EXPECT_NE(r.body.find("nope"), std::string::npos) << r.body;
  r = d.Send("POST", "/api/v1/datasets/t/append", "b,c\nx,y\n", "text/csv");
  EXPECT_EQ(r.status, 409) << r.body;
  r = d.Query("SELEKT 1");
  EXPECT_EQ(r.status, 400) << r.body;
  r = d.Query("SELECT * FROM read_csv('/etc/passwd')");
  EXPECT_EQ(r.status, 400) << r.body;
  r = d.Send("GET", "/api/v1/datasets/t/versions/9");
  EXPECT_EQ(r.status, 404) << r.body;
}

TEST_P(DataRoutesTest, ADownServiceIs503NamingItAndRecovers) {
  if (GetParam() == Transport::kEmbedded) GTEST_SKIP() << "nothing to take down in one process";
  Deployment d(GetParam());
  ASSERT_EQ(d.Send("POST", "/api/v1/datasets/t", "a\n1\n", "text/csv").status, 201);
  d.data->Shutdown();
  HttpResponse r = d.Send("GET", "/api/v1/datasets");
  EXPECT_EQ(r.status, 503) << r.body;
  EXPECT_NE(r.body.find("catalogd at 127.0.0.1:" + std::to_string(d.data_port) + " is unavailable"), std::string::npos)
      << r.body;
  // catalogd comes back on the same port (a new server over the same services, as a restart).
  rpc::ServerOptions same_port;
  same_port.listen = "127.0.0.1:" + std::to_string(d.data_port);
  d.data =
      std::make_unique<rpc::Server>(same_port, rpc::ServedServices{.store = d.store.get(), .catalog = d.catalog.get()});
  d.data->Start();
  int status = 0;
  for (int i = 0; i < 100 && status != 200; ++i) {
    status = d.Send("GET", "/api/v1/datasets").status;
    if (status != 200) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(status, 200);
  EXPECT_EQ(d.Count("t"), 1);

  d.queryd->Shutdown();
  r = d.Query("SELECT 1");
  EXPECT_EQ(r.status, 503) << r.body;
  EXPECT_NE(r.body.find("queryd at 127.0.0.1:"), std::string::npos) << r.body;
}

INSTANTIATE_TEST_SUITE_P(Transports, DataRoutesTest, ::testing::Values(Transport::kEmbedded, Transport::kGrpc),
                         testing::TransportName);

}  // namespace
}  // namespace lakehouse::gateway
