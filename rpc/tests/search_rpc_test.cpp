// search over real gRPC on 127.0.0.1, in the deployed shape: the real search service (local object
// store, catalog, ingest, queryd's DuckDB) reaches the real models through aibridge served over
// gRPC (the bundled model server and the sidecar, started as the other AI suites start them), and
// is itself served by rpc::Server and reached through rpc::ConnectSearch.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>

#include "lakehouse/aibridge/aibridge.h"
#include "lakehouse/app/ai_test_children.h"
#include "lakehouse/catalogd/catalog.h"
#include "lakehouse/ingest/ingest.h"
#include "lakehouse/queryd/query.h"
#include "lakehouse/rpc/rpc.h"
#include "lakehouse/search/search.h"
#include "lakehouse/shared/error.h"
#include "lakehouse/shared/io.h"
#include "lakehouse/storaged/object_store.h"
#include "lakehouse/testing/errors.h"
#include "lakehouse/testing/gateway.h"
#include "rpc_test_util.h"

namespace lakehouse::rpc {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using lakehouse::testing::CodeOf;
using testing::AbandonedPort;
using testing::At;

class SearchOverGrpc : public app::BundledStackTest {
 protected:
  static void SetUpTestSuite() {
    BundledStackTest::SetUpTestSuite();
    dir_ = new lakehouse::testing::TempDir("rpc-search");
    fs::create_directories(dir_->path() + "/objects");
    fs::create_directories(dir_->path() + "/tmp");
    store_ = storaged::MakeLocalStore({dir_->path() + "/objects", ""}).release();
    catalog_ = catalogd::MakeCatalog(*store_).release();
    ingest::IngestOptions io;
    io.temp_dir = dir_->path() + "/tmp";
    ingest_ = ingest::MakeIngestor(*store_, *catalog_, io).release();
    queryd::QueryConfig qc;
    qc.temp_dir = dir_->path() + "/tmp";
    query_ = queryd::MakeQueryEngine(*catalog_, *store_, qc).release();

    ai_server_ = new Server(ServerOptions{}, ServedServices{.ai = bridge_});
    ai_server_->Start();
    ai_client_ = ConnectAi(At(ai_server_->port(), "aibridge")).release();
    search::SearchOptions so;
    so.temp_dir = dir_->path() + "/tmp/search";
    search_ = search::MakeSearchService(*catalog_, *ingest_, *query_, *ai_client_, *store_, so).release();
    search_server_ = new Server(ServerOptions{}, ServedServices{.search = search_});
    search_server_->Start();
    client_ = ConnectSearch(At(search_server_->port(), "search")).release();

    std::string ndjson;
    const std::vector<std::string> docs = {"The quarterly earnings report shows revenue growth of twelve percent.",
                                           "Our cat sleeps on the sofa all afternoon.",
                                           "Parquet is a columnar storage format used by analytical databases.",
                                           "The recipe needs flour, water, salt and yeast to bake bread.",
                                           "The football team won the championship final last night."};
    for (size_t i = 0; i < docs.size(); ++i) {
      ndjson += json{{"id", 100 + i}, {"body", docs[i]}, {"title", fmt::format("doc {}", i)}}.dump() + "\n";
    }
    ingest::IngestRequest r;
    r.dataset = "notes";
    r.format = ingest::Format::kNdjson;
    StringSource body(ndjson);
    ingest_->Ingest(r, body);
  }
  static void TearDownTestSuite() {
    delete client_;
    search_server_->Shutdown();
    delete search_server_;
    delete search_;
    delete ai_client_;
    ai_server_->Shutdown();
    delete ai_server_;
    delete query_;
    delete ingest_;
    delete catalog_;
    delete store_;
    delete dir_;
    BundledStackTest::TearDownTestSuite();
  }

  static inline lakehouse::testing::TempDir* dir_ = nullptr;
  static inline storaged::ObjectStore* store_ = nullptr;
  static inline catalogd::Catalog* catalog_ = nullptr;
  static inline ingest::Ingestor* ingest_ = nullptr;
  static inline queryd::QueryEngine* query_ = nullptr;
  static inline Server* ai_server_ = nullptr;
  static inline aibridge::AiBridge* ai_client_ = nullptr;
  static inline search::SearchService* search_ = nullptr;
  static inline Server* search_server_ = nullptr;
  static inline search::SearchService* client_ = nullptr;
};

TEST_F(SearchOverGrpc, EmbeddingJobsAndSearchAnswerAsInProcess) {
  search::EmbedColumnRequest embed;
  embed.dataset = "notes";
  embed.column = "body";
  embed.key = "id";
  const search::JobStatus run = client_->RunEmbedding(embed);
  EXPECT_EQ(run.state, search::JobState::kSucceeded) << run.error_message;
  EXPECT_EQ(run.request.target, "notes_body_emb");
  EXPECT_EQ(run.rows_done, 5u);
  EXPECT_GT(run.dim, 0);
  EXPECT_EQ(run.version, 1u);

  search::SearchRequest q;
  q.dataset = "notes_body_emb";
  q.query = "columnar file format for analytics";
  q.k = 3;
  q.mode = "vector";
  const json remote = client_->Search(q);
  ASSERT_EQ(remote["results"].size(), 3u) << remote.dump();
  EXPECT_EQ(remote["results"][0]["key"], 102) << remote.dump();
  const json local = search_->Search(q);
  EXPECT_EQ(remote, local);

  // A queued job, followed through Job and Jobs; a finished job cannot be cancelled.
  embed.column = "title";
  const search::JobStatus started = client_->StartEmbedding(embed);
  EXPECT_EQ(started.request.target, "notes_title_emb");
  search::JobStatus job = started;
  for (int i = 0; i < 600 && !search::IsFinished(job.state); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    job = client_->Job(started.id);
  }
  EXPECT_EQ(job.state, search::JobState::kSucceeded) << job.error_message;
  EXPECT_EQ(job.rows_done, 5u);
  const std::vector<search::JobStatus> jobs = client_->Jobs();
  ASSERT_EQ(jobs.size(), search_->Jobs().size());
  EXPECT_EQ(search::ToJson(jobs.back()), search::ToJson(search_->Jobs().back()));

  std::string local_message, remote_message;
  EXPECT_EQ(CodeOf([&] { client_->Cancel(started.id); }, &remote_message), ErrorCode::kConflict);
  EXPECT_EQ(CodeOf([&] { search_->Cancel(started.id); }, &local_message), ErrorCode::kConflict);
  EXPECT_EQ(remote_message, local_message);
  EXPECT_EQ(CodeOf([&] { client_->Job("nope"); }), ErrorCode::kNotFound);
  q.dataset = "missing";
  EXPECT_EQ(CodeOf([&] { client_->Search(q); }, &remote_message), ErrorCode::kNotFound);
  EXPECT_EQ(CodeOf([&] { search_->Search(q); }, &local_message), ErrorCode::kNotFound);
  EXPECT_EQ(remote_message, local_message);
  EXPECT_EQ(client_->MemoryLimit(), search_->MemoryLimit());
}

TEST(SearchServiceDown, CallsFailUnavailableNamingIt) {
  ClientOptions o = At(AbandonedPort(), "search");
  o.max_attempts = 2;
  auto client = ConnectSearch(o);
  std::string message;
  EXPECT_EQ(CodeOf([&] { client->Jobs(); }, &message), ErrorCode::kUnavailable);
  EXPECT_NE(message.find("search at " + o.address), std::string::npos) << message;
  search::EmbedColumnRequest embed;
  embed.dataset = "notes";
  embed.column = "body";
  EXPECT_EQ(CodeOf([&] { client->StartEmbedding(embed); }, &message), ErrorCode::kUnavailable);
  EXPECT_NE(message.find("search at " + o.address), std::string::npos) << message;
}

}  // namespace
}  // namespace lakehouse::rpc
