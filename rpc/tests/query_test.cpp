// queryd over real gRPC on 127.0.0.1: results stream in chunks equal to the embedded engine's,
// cancellation when the receiver goes, may_read asked of the caller, commits made elsewhere seen
// at once, replicas round-robin with a down one skipped until healthy.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <nlohmann/json.hpp>

#include "lakehouse/testing/errors.h"
#include "rpc_test_util.h"
#include "streams.h"

namespace lakehouse::rpc {
namespace {

using lakehouse::testing::CodeOf;
using testing::Eventually;
using testing::Services;
using testing::StringSink;
using testing::TestServer;

queryd::QueryRequest Q(const std::string& sql, queryd::ResultFormat format = queryd::ResultFormat::kJson) {
  queryd::QueryRequest r;
  r.sql = sql;
  r.format = format;
  return r;
}

//! A JSON result's trailing stats carry the elapsed time: zero it before comparing bodies.
void Normalize(std::string& body) {
  const size_t at = body.rfind("\"elapsed_ms\":");
  if (at == std::string::npos) return;
  size_t end = at + 13;
  while (end < body.size() && std::isdigit(static_cast<unsigned char>(body[end]))) ++end;
  body.replace(at + 13, end - at - 13, "0");
}

//! The multi-process shape in one test: storaged + catalogd in one server, queryd in another
//! whose engine reaches both through gRPC clients, and the "gateway" side's clients.
struct Deployment {
  Services s;
  std::unique_ptr<TestServer> data;  // storaged + catalogd
  std::unique_ptr<storaged::ObjectStore> queryd_store;
  std::unique_ptr<catalogd::Catalog> queryd_catalog;
  std::unique_ptr<queryd::QueryEngine> engine;
  std::unique_ptr<TestServer> queryd;
  std::unique_ptr<catalogd::Catalog> catalog;  // the gateway's
  std::unique_ptr<queryd::QueryEngine> query;  // the gateway's

  Deployment() {
    data = std::make_unique<TestServer>(ServedServices{.store = s.store.get(), .catalog = s.catalog.get()});
    queryd_store = ConnectStorage(data->Client("storaged"));
    queryd_catalog = ConnectCatalog(data->Client("catalogd"));
    queryd::QueryConfig config;
    config.memory_limit = "512MB";
    config.threads = 1;
    engine = queryd::MakeQueryEngine(*queryd_catalog, *queryd_store, config);
    queryd = std::make_unique<TestServer>(ServedServices{.query = engine.get()});
    catalog = ConnectCatalog(data->Client("catalogd"));
    query = ConnectQuery({queryd->Client("queryd")});
    EXPECT_TRUE(detail::WaitCatalogWatchSynced(*queryd_catalog, 10000));
  }

  std::string Run(queryd::QueryEngine& e, const std::string& sql,
                  queryd::ResultFormat format = queryd::ResultFormat::kJson) {
    StringSink sink;
    e.Execute(Q(sql, format), sink);
    return sink.body;
  }
  int64_t Count(const std::string& dataset) {
    auto rows = nlohmann::json::parse(Run(*query, "SELECT count(*) AS n FROM " + dataset));
    return rows.at("rows").at(0).at(0).get<int64_t>();
  }
};

TEST(RpcQuery, ResultsStreamInChunksAndEqualTheEmbeddedEngine) {
  Deployment d;
  d.s.Csv("big", testing::MakeCsv(60000), catalogd::CommitOp::kCreate, d.catalog.get());
  queryd::QueryConfig config;
  config.memory_limit = "256MB";
  config.threads = 1;
  auto local = queryd::MakeQueryEngine(*d.s.catalog, *d.s.store, config);
  for (auto format : {queryd::ResultFormat::kJson, queryd::ResultFormat::kCsv, queryd::ResultFormat::kArrow,
                      queryd::ResultFormat::kNdjson}) {
    StringSink remote;
    StringSink embedded;
    const std::string sql = "SELECT id, name FROM big ORDER BY id";
    const queryd::QueryStats stats = d.query->Execute(Q(sql, format), remote);
    local->Execute(Q(sql, format), embedded);
    EXPECT_EQ(remote.content_type, embedded.content_type);
    EXPECT_EQ(stats.bytes, remote.body.size());
    Normalize(remote.body);
    Normalize(embedded.body);
    // (not EXPECT_EQ: gtest's diff of two large bodies takes minutes)
    const auto diff = std::mismatch(remote.body.begin(), remote.body.end(), embedded.body.begin(), embedded.body.end());
    EXPECT_TRUE(remote.body == embedded.body)
        << queryd::FormatName(format) << ": " << remote.body.size() << " vs " << embedded.body.size()
        << " bytes, first difference at " << (diff.first - remote.body.begin()) << ": "
        << std::string(diff.first, remote.body.end()).substr(0, 80) << " | "
        << std::string(diff.second, embedded.body.end()).substr(0, 80);
    EXPECT_EQ(stats.rows, 60000u);
    EXPECT_GT(remote.writes, 2) << "one big message instead of a stream";
  }
  std::string message;
  EXPECT_EQ(CodeOf([&] { d.Run(*d.query, "SELECT * FROM nope"); }, &message), ErrorCode::kNotFound);
  EXPECT_EQ(CodeOf([&] { d.Run(*d.query, "SELEKT 1"); }), ErrorCode::kInvalidArgument);
}

TEST(RpcQuery, ClientGoneCancelsTheQuery) {
  Deployment d;
  d.s.Csv("big", testing::MakeCsv(60000), catalogd::CommitOp::kCreate, d.catalog.get());
  StringSink sink;
  sink.fail_after_writes = 1;
  EXPECT_EQ(CodeOf([&] { d.query->Execute(Q("SELECT a.id FROM big a, big b", queryd::ResultFormat::kCsv), sink); }),
            ErrorCode::kCancelled);
  EXPECT_TRUE(Eventually([&] { return d.engine->Health().at("active_queries").get<int64_t>() == 0; }));

  // Gone while the query produces nothing yet (ClientGone polled).
  StringSink idle;
  idle.gone = true;
  EXPECT_EQ(CodeOf([&] { d.query->Execute(Q("SELECT count(*) FROM big a, big b", queryd::ResultFormat::kCsv), idle); }),
            ErrorCode::kCancelled);
  EXPECT_TRUE(Eventually([&] { return d.engine->Health().at("active_queries").get<int64_t>() == 0; }));
}

TEST(RpcQuery, MayReadIsTheCallersPredicate) {
  Deployment d;
  d.s.Csv("sales_eu", testing::MakeCsv(3), catalogd::CommitOp::kCreate, d.catalog.get());
  d.s.Csv("secret", testing::MakeCsv(3), catalogd::CommitOp::kCreate, d.catalog.get());
  std::atomic<int> asked{0};
  queryd::QueryRequest request;
  request.may_read = [&](std::string_view dataset) {
    ++asked;
    return dataset.starts_with("sales_");
  };
  request.principal = "API key abcd";
  request.sql = "SELECT count(*) FROM sales_eu";
  StringSink ok;
  d.query->Execute(request, ok);
  EXPECT_NE(ok.body.find("3"), std::string::npos);
  EXPECT_GE(asked.load(), 1);
  request.sql = "WITH x AS (SELECT * FROM secret) SELECT count(*) FROM x";
  StringSink denied;
  std::string message;
  EXPECT_EQ(CodeOf([&] { d.query->Execute(request, denied); }, &message), ErrorCode::kPermissionDenied);
  EXPECT_NE(message.find("secret"), std::string::npos) << message;
  EXPECT_NE(message.find("API key abcd"), std::string::npos) << message;
}

TEST(RpcQuery, CommitsThroughAnotherCatalogClientAreAnsweredAtOnce) {
  Deployment d;
  d.s.Csv("t", testing::MakeCsv(3), catalogd::CommitOp::kCreate, d.catalog.get());
  EXPECT_EQ(d.Count("t"), 3);  // queryd caches the head now
  for (int i = 1; i <= 5; ++i) {
    d.s.Csv("t", testing::MakeCsv(1, 100 + i), catalogd::CommitOp::kAppend, d.catalog.get());
    EXPECT_EQ(d.Count("t"), 3 + i);  // immediately: read-your-writes
  }
}

TEST(RpcQuery, TheWatchInvalidatesQuerydsCacheForCommitsMadeElsewhere) {
  Deployment d;
  d.s.Csv("w", testing::MakeCsv(3));  // in catalogd itself: no client of this process committed it
  EXPECT_TRUE(Eventually([&] {
    try {
      return d.Count("w") == 3;
    } catch (const Error&) {
      return false;
    }
  }));
  d.s.Csv("w", testing::MakeCsv(4, 3), catalogd::CommitOp::kAppend);
  EXPECT_TRUE(Eventually([&] { return d.Count("w") == 7; }));  // only the watch can tell queryd
}

TEST(RpcQuery, ALakehousePathWhileTheCatalogIsDownIs503NotAUserMistake) {
  // queryd never resolved "p": its objects' paths are looked up in the catalog on first use. With
  // catalogd down that lookup failed, and the path was answered 400 "not an object of any dataset".
  Deployment d;
  d.s.Csv("p", testing::MakeCsv(3));
  const std::string key = d.s.catalog->Head("p").objects.at(0).ref.key;
  d.data->Stop();
  std::string message;
  EXPECT_EQ(CodeOf([&] { d.Run(*d.engine, "SELECT count(*) FROM read_parquet('lakehouse://" + key + "')"); }, &message),
            ErrorCode::kUnavailable)
      << message;
  EXPECT_NE(message.find("catalogd"), std::string::npos) << message;
}

//! Counts the queries an engine ran.
class CountingEngine final : public queryd::QueryEngine {
 public:
  explicit CountingEngine(queryd::QueryEngine& inner) : inner_(inner) {}
  queryd::QueryStats Execute(const queryd::QueryRequest& r, queryd::ResultSink& sink) override {
    ++count;
    return inner_.Execute(r, sink);
  }
  nlohmann::json Health() override { return inner_.Health(); }
  std::atomic<int> count{0};

 private:
  queryd::QueryEngine& inner_;
};

TEST(RpcQuery, ReplicasRoundRobinAndADownOneIsSkippedUntilHealthy) {
  Deployment d;
  d.s.Csv("r", testing::MakeCsv(2), catalogd::CommitOp::kCreate, d.catalog.get());
  CountingEngine a(*d.engine);
  CountingEngine b(*d.engine);
  TestServer ra({.query = &a});
  TestServer rb({.query = &b});
  auto query = ConnectQuery({ra.Client("queryd"), rb.Client("queryd")});
  for (int i = 0; i < 4; ++i) d.Run(*query, "SELECT 1");
  EXPECT_EQ(a.count.load(), 2);
  EXPECT_EQ(b.count.load(), 2);

  ra.Stop();
  for (int i = 0; i < 4; ++i) EXPECT_EQ(d.Run(*query, "SELECT 42 AS x").find("42") != std::string::npos, true);
  EXPECT_EQ(b.count.load(), 6);

  rb.Stop();
  std::string message;
  EXPECT_EQ(CodeOf([&] { d.Run(*query, "SELECT 1"); }, &message), ErrorCode::kUnavailable);
  EXPECT_NE(message.find("queryd at " + ra.address() + ", " + rb.address() + " is unavailable"), std::string::npos)
      << message;

  ra.Start();
  EXPECT_TRUE(Eventually([&] {
    try {
      d.Run(*query, "SELECT 1");
      return true;
    } catch (const Error&) {
      return false;
    }
  }));
  EXPECT_GE(a.count.load(), 3);
}

}  // namespace
}  // namespace lakehouse::rpc
