// Semantic search end to end over real services: a local object store, the catalog, ingest and
// queryd (DuckDB), the real bundled models through the sidecar (started by app's supervisor), and
// the search service handed to the gateway in Services; driven through HTTP.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <chrono>
#include <filesystem>
#include <map>
#include <thread>

#include "lakehouse/aibridge/aibridge.h"
#include "lakehouse/app/supervisor.h"
#include "lakehouse/catalogd/catalog.h"
#include "lakehouse/gateway/gateway.h"
#include "lakehouse/ingest/ingest.h"
#include "lakehouse/queryd/ai_functions.h"
#include "lakehouse/queryd/query.h"
#include "lakehouse/search/search.h"
#include "lakehouse/shared/error.h"
#include "lakehouse/shared/http_client.h"
#include "lakehouse/shared/io.h"
#include "lakehouse/shared/logging.h"
#include "lakehouse/storaged/object_store.h"
#include "lakehouse/testing/errors.h"
#include "lakehouse/testing/string_sink.h"

namespace lakehouse::search {
namespace {

using json = nlohmann::json;
namespace fs = std::filesystem;
using aibridge::AiBridge;
using app::AiSupervisor;
using lakehouse::testing::CodeOf;
using lakehouse::testing::StringSink;

class Semantic : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    log::Init(log::Level::kWarn);
    root_ = fs::temp_directory_path() / ("lakehouse-semantic-" + std::to_string(::getpid()));
    fs::remove_all(root_);
    fs::create_directories(root_ / "objects");
    fs::create_directories(root_ / "tmp");
    storaged::LocalStoreOptions local;
    local.root = (root_ / "objects").string();
    store_ = storaged::MakeLocalStore(local).release();
    catalog_ = catalogd::MakeCatalog(*store_).release();
    ingest::IngestOptions io;
    io.temp_dir = (root_ / "tmp").string();
    ingest_ = ingest::MakeIngestor(*store_, *catalog_, io).release();
    queryd::QueryConfig qc;
    qc.temp_dir = (root_ / "tmp").string();
    qc.ai_functions = link_;  // embed() & co. in SQL, linked to search below
    query_ = queryd::MakeQueryEngine(*catalog_, *store_, qc).release();

    app::SupervisorConfig sc;  // the AI home is found from this test binary's location
    sc.model_server = "bundled";
    sc.log_dir = (root_ / "logs").string();
    supervisor_ = new AiSupervisor(sc);
    supervisor_->Start();
    aibridge::AiConfig ac;
    ac.sidecar_url = supervisor_->sidecar_url();
    ai_ = aibridge::MakeAiBridge(ac).release();
    SearchOptions so;
    so.temp_dir = (root_ / "tmp" / "search").string();
    so.extension_dir = LAKEHOUSE_SOURCE_DIR "/search/.deps/duckdb_ext";  // scripts/setup.d/65-search.sh
    so.hnsw_min_rows = 200;  // the 300-row corpus below gets an HNSW index, the small ones do not
    search_ = MakeSearchService(*catalog_, *ingest_, *query_, *ai_, *store_, so).release();
    ai_functions_ = MakeAiFunctions(*search_, *ai_).release();
    link_->Set(ai_functions_);

    gateway::Services services;
    services.store = store_;
    services.catalog = catalog_;
    services.ingest = ingest_;
    services.query = query_;
    services.ai = ai_;
    services.search = search_;
    gateway::ServerOptions options;
    options.port = 0;
    server_ = new gateway::Server(options, gateway::BuildRouter(services), {});
    server_->Bind();
    url_ = "http://127.0.0.1:" + std::to_string(server_->port());
    thread_ = new std::thread([] { server_->Run(); });

    // The corpus: a dataset with an id and a text column (one null text).
    std::string ndjson;
    const std::vector<std::string> docs = {"The quarterly earnings report shows revenue growth of twelve percent.",
                                           "Our cat sleeps on the sofa all afternoon.",
                                           "Parquet is a columnar storage format used by analytical databases.",
                                           "The recipe needs flour, water, salt and yeast to bake bread.",
                                           "The football team won the championship final last night.",
                                           "Kubernetes schedules containers across a cluster of machines."};
    for (size_t i = 0; i < docs.size(); ++i) ndjson += json{{"id", 100 + i}, {"body", docs[i]}}.dump() + "\n";
    ndjson += R"({"id":200,"body":null})"
              "\n";
    IngestNdjson("notes", ndjson);
  }

  //! Ingests `ndjson` into `dataset` (created, or appended to with kAppend).
  static void IngestNdjson(const std::string& dataset, const std::string& ndjson,
                           catalogd::CommitOp op = catalogd::CommitOp::kCreate) {
    ingest::IngestRequest r;
    r.dataset = dataset;
    r.op = op;
    r.format = ingest::Format::kNdjson;
    StringSource src(ndjson);
    ingest_->Ingest(r, src);
  }
  static void TearDownTestSuite() {
    server_->Stop();
    thread_->join();
    delete thread_;
    delete server_;
    link_->Set(nullptr);
    delete ai_functions_;
    delete search_;
    delete ai_;
    delete supervisor_;
    delete query_;
    delete ingest_;
    delete catalog_;
    delete store_;
    fs::remove_all(root_);
  }

  static HttpResponse Call(const std::string& method, const std::string& path, const json& body = nullptr) {
    HttpRequest r;
    r.method = method;
    r.url = url_ + path;
    if (!body.is_null()) r.body = body.dump();
    r.timeout_ms = 120000;
    HttpClient client;
    return client.Send(r);
  }

  //! Creates or refreshes the embeddings of articles.body, waits for the job and returns it.
  static json EmbedArticlesBody() {
    auto r = Call("POST", "/api/v1/datasets/articles/embeddings", {{"column", "body"}, {"wait", true}});
    EXPECT_EQ(r.status, 200) << r.body;
    return json::parse(r.body);
  }

  //! Ingests one NDJSON row into articles with `op`, then embeds articles.body; returns the job.
  static json IngestAndEmbedArticle(const std::string& row, catalogd::CommitOp op) {
    IngestNdjson("articles", row + "\n", op);
    return EmbedArticlesBody();
  }

  static json WaitJob(const std::string& id) {
    json job;
    for (int i = 0; i < 600; ++i) {
      auto r = Call("GET", "/api/v1/ai/jobs/" + id);
      EXPECT_EQ(r.status, 200) << r.body;
      job = json::parse(r.body);
      if (job["state"] != "running" && job["state"] != "queued") break;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return job;
  }

  static inline fs::path root_;
  static inline storaged::ObjectStore* store_ = nullptr;
  static inline catalogd::Catalog* catalog_ = nullptr;
  static inline ingest::Ingestor* ingest_ = nullptr;
  static inline queryd::QueryEngine* query_ = nullptr;
  static inline AiSupervisor* supervisor_ = nullptr;
  static inline AiBridge* ai_ = nullptr;
  static inline SearchService* search_ = nullptr;
  static inline std::shared_ptr<queryd::AiFunctionsLink> link_ = std::make_shared<queryd::AiFunctionsLink>();
  static inline queryd::AiFunctions* ai_functions_ = nullptr;
  static inline gateway::Server* server_ = nullptr;
  static inline std::thread* thread_ = nullptr;
  static inline std::string url_;
};

TEST_F(Semantic, EmbedColumnThenSearchFindsTheRelevantRowFirst) {
  auto r = Call("POST", "/api/v1/datasets/notes/embeddings", {{"column", "body"}, {"key", "id"}});
  ASSERT_EQ(r.status, 202) << r.body;
  json job = WaitJob(json::parse(r.body)["id"]);
  ASSERT_EQ(job["state"], "succeeded") << job.dump();
  EXPECT_EQ(job["rows_done"], 6);  // the null text is skipped
  EXPECT_EQ(job["target"], "notes_body_emb");

  DatasetManifest m = catalog_->Head("notes_body_emb");
  EXPECT_EQ(m.properties["embedding.model"], "all-minilm:l6-v2-int8");
  EXPECT_EQ(m.properties["embedding.dim"], "384");
  EXPECT_EQ(m.properties["embedding.source_dataset"], "notes");
  EXPECT_EQ(m.row_count(), 6u);
  // Rows went in as values: an integer key stays BIGINT, vectors are lists of 384 FLOATs.
  std::map<std::string, std::string> types;
  for (const auto& c : m.schema) types[c.name] = c.type;
  EXPECT_EQ(types["row"], "BIGINT");
  EXPECT_EQ(types["key"], "BIGINT");
  EXPECT_EQ(types["text"], "VARCHAR");
  EXPECT_EQ(types["embedding"], "FLOAT[]");  // Parquet has no fixed-size list: search reads FLOAT[384]

  r = Call("POST", "/api/v1/search",
           {{"dataset", "notes_body_emb"}, {"query", "file formats for analytics"}, {"k", 3}, {"mode", "vector"}});
  ASSERT_EQ(r.status, 200) << r.body;
  json s = json::parse(r.body);
  ASSERT_EQ(s["results"].size(), 3u);
  EXPECT_EQ(s["results"][0]["key"], 102) << s.dump();
  EXPECT_EQ(s["results"][0]["row"], 2);
  EXPECT_GT(s["results"][0]["score"].get<double>(), s["results"][1]["score"].get<double>());
  EXPECT_EQ(s["dim"], 384);
  EXPECT_EQ(s["results"][0]["scores"]["vector"], s["results"][0]["score"]);
  // Each result carries its source row, joined back through its position in the embedded version.
  EXPECT_EQ(s["results"][0]["values"], json({{"id", 102}, {"body", s["results"][0]["text"]}})) << s.dump();
  for (const auto& x : s["results"]) EXPECT_EQ(x["values"]["id"], x["key"]) << s.dump();

  r = Call("POST", "/api/v1/search",
           {{"dataset", "notes_body_emb"}, {"query", "a pet resting at home"}, {"k", 2}, {"rerank", true}});
  ASSERT_EQ(r.status, 200) << r.body;
  s = json::parse(r.body);
  EXPECT_TRUE(s["reranked"].get<bool>());
  EXPECT_EQ(s["results"][0]["key"], 101) << s.dump();
  EXPECT_TRUE(s["results"][0].contains("rerank_score"));
  EXPECT_EQ(s["results"][0]["scores"]["rerank"], s["results"][0]["rerank_score"]);
  EXPECT_TRUE(s["results"][0]["scores"].contains("vector"));
  EXPECT_EQ(s["results"][0]["values"]["id"], 101) << s.dump();

  // Same model again: a new version of the same dataset (wait=true runs it in the request).
  r = Call("POST", "/api/v1/datasets/notes/embeddings", {{"column", "body"}, {"key", "id"}, {"wait", true}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(json::parse(r.body)["version"], 2);

  // Another model never lands in the same vectors dataset.
  r = Call("POST", "/api/v1/datasets/notes/embeddings", {{"column", "body"}, {"model", "other-model"}});
  EXPECT_EQ(r.status, 409) << r.body;
  EXPECT_NE(r.body.find("never mixed"), std::string::npos) << r.body;
}

TEST_F(Semantic, KeysOfOtherTypesAreCarriedAsTextAndVectorsKeepTheirValues) {
  auto r = Call("POST", "/api/v1/datasets/notes/embeddings",
                {{"column", "body"}, {"key", "body"}, {"target", "notes_by_text"}, {"wait", true}});
  ASSERT_EQ(r.status, 200) << r.body;
  json job = json::parse(r.body);
  EXPECT_EQ(job["state"], "succeeded") << job.dump();
  EXPECT_EQ(job["rows_done"], 6);
  // The stored vector is the model's float32 vector exactly (no text round trip).
  aibridge::Embeddings direct = ai_->Embed({"Our cat sleeps on the sofa all afternoon."});
  r = Call("POST", "/api/v1/query",
           {{"sql", "SELECT key, embedding[1] AS first, len(embedding) AS n FROM notes_by_text WHERE row = 1"},
            {"format", "ndjson"}});
  ASSERT_EQ(r.status, 200) << r.body;
  json row = json::parse(r.body.substr(0, r.body.find('\n')));
  EXPECT_EQ(row["key"], "Our cat sleeps on the sofa all afternoon.");
  EXPECT_EQ(row["n"], 384);
  EXPECT_FLOAT_EQ(row["first"].get<float>(), direct.values[0]);
}

TEST_F(Semantic, SearchTheSourceDatasetFindsItsVectors) {
  // Before any embedding: one clear 400 naming the endpoint to call with this dataset's name.
  const std::string ndjson = R"({"id":1,"title":"Cooking pasta","body":"Boil the water and add salt."})"
                             "\n"
                             R"({"id":2,"title":"Compilers","body":"A parser builds a syntax tree."})"
                             "\n";
  IngestNdjson("articles", ndjson);
  auto r = Call("POST", "/api/v1/search", {{"dataset", "articles"}, {"query", "syntax"}});
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_NE(r.body.find("POST /api/v1/datasets/articles/embeddings"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("search dataset articles again"), std::string::npos) << r.body;

  EmbedArticlesBody();
  r = Call("POST", "/api/v1/search", {{"dataset", "articles"}, {"query", "how to parse source code"}, {"k", 1}});
  ASSERT_EQ(r.status, 200) << r.body;
  json s = json::parse(r.body);
  EXPECT_EQ(s["dataset"], "articles_body_emb");
  EXPECT_EQ(s["source_dataset"], "articles");
  EXPECT_EQ(s["stale"], false);
  EXPECT_EQ(s["mode"], "hybrid");  // the default
  EXPECT_EQ(s["stages"], json::array({"vector", "text", "fusion"}));
  EXPECT_EQ(s["results"][0]["row"], 1) << s.dump();

  // Two embedded columns: the request must say which; then each is found.
  ASSERT_EQ(Call("POST", "/api/v1/datasets/articles/embeddings", {{"column", "title"}, {"wait", true}}).status, 200);
  r = Call("POST", "/api/v1/search", {{"dataset", "articles"}, {"query", "food"}});
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_NE(r.body.find("several embedded columns"), std::string::npos) << r.body;
  r = Call("POST", "/api/v1/search",
           {{"dataset", "articles"}, {"column", "title"}, {"query", "food"}, {"k", 1}, {"rerank", true}});
  ASSERT_EQ(r.status, 200) << r.body;
  s = json::parse(r.body);
  EXPECT_EQ(s["dataset"], "articles_title_emb");
  EXPECT_EQ(s["stages"], json::array({"vector", "text", "fusion", "rerank"}));
  EXPECT_EQ(s["results"][0]["row"], 0) << s.dump();

  // The source changes: the vectors are flagged stale.
  IngestNdjson("articles",
               R"({"id":3,"title":"Gardening","body":"Water the roses."})"
               "\n",
               catalogd::CommitOp::kAppend);
  r = Call("POST", "/api/v1/search", {{"dataset", "articles"}, {"column", "body"}, {"query", "roses"}});
  ASSERT_EQ(r.status, 200) << r.body;
  s = json::parse(r.body);
  EXPECT_EQ(s["stale"], true) << s.dump();
  EXPECT_EQ(s["embedded_version"], 1);
  EXPECT_EQ(s["source_version"], 2);
  // Searched as of the embedded version: the new row is not there, the rows are those of version 1.
  for (const auto& x : s["results"]) EXPECT_NE(x["values"]["id"], 3) << s.dump();

  // Only the columns asked for; an unknown one is a 400 naming the columns there are.
  r = Call("POST", "/api/v1/search",
           {{"dataset", "articles"}, {"column", "body"}, {"query", "parser"}, {"k", 1}, {"columns", {"title"}}});
  ASSERT_EQ(r.status, 200) << r.body;
  s = json::parse(r.body);
  EXPECT_EQ(s["results"][0]["values"], json({{"title", "Compilers"}})) << s.dump();
  r = Call("POST", "/api/v1/search",
           {{"dataset", "articles"}, {"column", "body"}, {"query", "parser"}, {"columns", {"nope"}}});
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_NE(
      json::parse(r.body)["error"]["message"].get<std::string>().find(R"(no column "nope" (columns: id, title, body))"),
      std::string::npos)
      << r.body;

  // refresh: the source is re-embedded first (its version now has two objects); the new row is
  // found and every row joins back to the source row its vector was made from.
  r = Call(
      "POST", "/api/v1/search",
      {{"dataset", "articles"}, {"column", "body"}, {"query", "roses in the garden"}, {"k", 3}, {"refresh", true}});
  ASSERT_EQ(r.status, 200) << r.body;
  s = json::parse(r.body);
  EXPECT_EQ(s["stale"], false) << s.dump();
  EXPECT_EQ(s["refreshed"], true) << s.dump();
  EXPECT_EQ(s["embedded_version"], 2);
  ASSERT_EQ(s["results"].size(), 3u) << s.dump();
  EXPECT_EQ(s["results"][0]["values"]["id"], 3) << s.dump();
  for (const auto& x : s["results"]) EXPECT_EQ(x["values"]["body"], x["text"]) << s.dump();
  // Incremental: the refresh embedded only the appended row, appended to the vectors.
  DatasetManifest v = catalog_->Head("articles_body_emb");
  EXPECT_EQ(v.operation, "append");
  EXPECT_EQ(v.row_count(), 3u);
  EXPECT_EQ(v.properties["embedding.source_version"], "2");

  // Another append: the job embeds the one new row; a replaced source is embedded in full.
  json job = IngestAndEmbedArticle(R"({"id":4,"title":"Sailing","body":"Trim the sails in a strong wind."})",
                                   catalogd::CommitOp::kAppend);
  EXPECT_EQ(job["incremental"], true) << job.dump();
  EXPECT_EQ(job["rows_already_embedded"], 3);
  EXPECT_EQ(job["rows_done"], 1);
  r = Call("POST", "/api/v1/search",
           {{"dataset", "articles"}, {"column", "body"}, {"query", "boats and wind"}, {"k", 4}, {"mode", "vector"}});
  ASSERT_EQ(r.status, 200) << r.body;
  s = json::parse(r.body);
  EXPECT_EQ(s["stale"], false);
  ASSERT_EQ(s["results"].size(), 4u) << s.dump();
  EXPECT_EQ(s["results"][0]["values"]["id"], 4) << s.dump();
  for (const auto& x : s["results"]) EXPECT_EQ(x["values"]["body"], x["text"]) << s.dump();
  job = IngestAndEmbedArticle(R"({"id":5,"title":"Chess","body":"The knight moves in an L shape."})",
                              catalogd::CommitOp::kReplace);
  EXPECT_FALSE(job.contains("incremental")) << job.dump();
  EXPECT_EQ(job["rows_done"], 1);
  EXPECT_EQ(catalog_->Head("articles_body_emb").row_count(), 1u);
}

TEST_F(Semantic, TextVectorAndHybridModes) {
  ASSERT_EQ(Call("POST", "/api/v1/datasets/notes/embeddings",
                 {{"column", "body"}, {"key", "id"}, {"target", "notes_modes"}, {"wait", true}})
                .status,
            200);
  // text: BM25 over the embedded text (stemmed: "containers" matches "container"); only rows
  // holding a query term are ranked.
  auto r = Call("POST", "/api/v1/search", {{"dataset", "notes_modes"}, {"query", "container"}, {"mode", "text"}});
  ASSERT_EQ(r.status, 200) << r.body;
  json s = json::parse(r.body);
  EXPECT_EQ(s["stages"], json::array({"text"}));
  EXPECT_EQ(s["index"]["kind"], "brute_force");  // 6 rows: below hnsw_min_rows
  ASSERT_EQ(s["results"].size(), 1u) << s.dump();
  EXPECT_EQ(s["results"][0]["key"], 105);
  EXPECT_GT(s["results"][0]["scores"]["text"].get<double>(), 0);
  EXPECT_EQ(s["results"][0]["values"]["id"], 105);

  // hybrid: both stages' scores fused (0.9 * cosine + 0.1 * the BM25 score's share of the best
  // possible one, ADR 0023); each result keeps the scores it got.
  r = Call("POST", "/api/v1/search", {{"dataset", "notes_modes"}, {"query", "bread recipe"}, {"k", 3}});
  ASSERT_EQ(r.status, 200) << r.body;
  s = json::parse(r.body);
  EXPECT_EQ(s["mode"], "hybrid");
  EXPECT_EQ(s["stages"], json::array({"vector", "text", "fusion"}));
  ASSERT_EQ(s["results"].size(), 3u);
  const json& top = s["results"][0];
  EXPECT_EQ(top["key"], 103) << s.dump();
  EXPECT_TRUE(top["scores"].contains("vector") && top["scores"].contains("text")) << s.dump();
  // A text match adds to 0.9 * its similarity, at most 0.1 (all of the query's terms matched).
  const double vector_part = 0.9 * top["scores"]["vector"].get<double>();
  EXPECT_GT(top["score"].get<double>(), vector_part) << s.dump();
  EXPECT_LE(top["score"].get<double>(), vector_part + 0.1 + 1e-9) << s.dump();
  EXPECT_EQ(top["scores"]["fusion"], top["score"]);
  EXPECT_EQ(s["fusion"], "scores");
  EXPECT_LT(s["results"][1]["score"].get<double>(), top["score"].get<double>());

  // "fusion": "rrf": reciprocal rank fusion (k = 60): a row both rankings hold scores the sum of
  // 1 / (60 + rank) over them.
  r = Call("POST", "/api/v1/search",
           {{"dataset", "notes_modes"}, {"query", "bread recipe"}, {"k", 3}, {"fusion", "rrf"}});
  ASSERT_EQ(r.status, 200) << r.body;
  s = json::parse(r.body);
  EXPECT_EQ(s["fusion"], "rrf");
  EXPECT_EQ(s["stages"], json::array({"vector", "text", "fusion"}));
  ASSERT_EQ(s["results"].size(), 3u);
  EXPECT_EQ(s["results"][0]["key"], 103) << s.dump();
  EXPECT_TRUE(s["results"][0]["scores"].contains("vector") && s["results"][0]["scores"].contains("text")) << s.dump();
  EXPECT_NEAR(s["results"][0]["score"].get<double>(), 2.0 / 61, 1e-9) << s.dump();  // first in both
  for (const auto& [body, needle] :
       {std::pair{json{{"dataset", "notes_modes"}, {"query", "x"}, {"fusion", "max"}}, "reciprocal rank fusion"},
        std::pair{json{{"dataset", "notes_modes"}, {"query", "x"}, {"mode", "vector"}, {"fusion", "rrf"}}, "hybrid"}}) {
    r = Call("POST", "/api/v1/search", body);
    EXPECT_EQ(r.status, 400) << r.body;
    EXPECT_NE(r.body.find(needle), std::string::npos) << r.body;
  }

  r = Call("POST", "/api/v1/search", {{"dataset", "notes_modes"}, {"query", "x"}, {"mode", "fuzzy"}});
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_NE(r.body.find("hybrid"), std::string::npos) << r.body;
}

TEST_F(Semantic, HnswIndexAnswersAsBruteForceDoes) {
  // 300 distinct sentences: above hnsw_min_rows, so vector search goes through the HNSW index.
  static const char* kTopics[] = {"weather",   "cooking",   "football", "databases", "music",
                                  "gardening", "astronomy", "finance",  "travel",    "medicine"};
  std::string ndjson;
  for (int i = 0; i < 300; ++i) {
    ndjson += json{{"id", i}, {"t", fmt::format("note {} about {} and {}", i, kTopics[i % 10], kTopics[(i / 10) % 10])}}
                  .dump() +
              "\n";
  }
  IngestNdjson("corpus", ndjson);
  ASSERT_EQ(Call("POST", "/api/v1/datasets/corpus/embeddings", {{"column", "t"}, {"wait", true}}).status, 200);
  const std::string query = "stars and planets in the night sky";
  // The first search builds the table and starts the HNSW build in the background (answered by
  // brute force meanwhile, saying so); 300 rows take milliseconds: later searches use the index.
  auto r = Call("POST", "/api/v1/search", {{"dataset", "corpus"}, {"query", query}, {"k", 5}, {"mode", "vector"}});
  ASSERT_EQ(r.status, 200) << r.body;
  json s = json::parse(r.body);
  for (int i = 0; i < 300 && s["index"]["kind"] != "hnsw"; ++i) {
    EXPECT_EQ(s["index"]["kind"], "brute_force") << s.dump();
    EXPECT_EQ(s["index"]["hnsw"], "building") << s.dump();
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    r = Call("POST", "/api/v1/search", {{"dataset", "corpus"}, {"query", query}, {"k", 5}, {"mode", "vector"}});
    ASSERT_EQ(r.status, 200) << r.body;
    s = json::parse(r.body);
  }
  EXPECT_EQ(s["index"]["kind"], "hnsw") << s.dump();
  EXPECT_FALSE(s["index"].contains("hnsw")) << s.dump();
  EXPECT_EQ(s["index"]["rows"], 300);
  ASSERT_EQ(s["results"].size(), 5u);
  // The exact answer, brute force through queryd.
  aibridge::Embeddings q = ai_->Embed({query});
  std::string vec;
  for (int i = 0; i < q.dim; ++i) vec += fmt::format("{}{}", i ? "," : "", q.values[i]);
  r = Call("POST", "/api/v1/query",
           {{"sql", fmt::format("SELECT row FROM corpus_t_emb ORDER BY array_cosine_similarity(CAST(embedding AS "
                                "FLOAT[384]), [{}]::FLOAT[384]) DESC LIMIT 5",
                                vec)},
            {"format", "ndjson"}});
  ASSERT_EQ(r.status, 200) << r.body;
  std::vector<int64_t> exact, got;
  for (size_t p = 0, nl; (nl = r.body.find('\n', p)) != std::string::npos; p = nl + 1) {
    exact.push_back(json::parse(r.body.substr(p, nl - p))["row"].get<int64_t>());
  }
  for (const auto& x : s["results"]) got.push_back(x["row"].get<int64_t>());
  EXPECT_EQ(got, exact) << s.dump();
  EXPECT_NE(s["results"][0]["values"]["t"].get<std::string>().find("astronomy"), std::string::npos) << s.dump();
}

TEST_F(Semantic, JobsAreListedAndCancelled) {
  // A column of 3000 texts takes a while to embed: cancel it while it runs.
  std::string ndjson;
  for (int i = 0; i < 3000; ++i)
    ndjson += json{{"t", fmt::format("sentence number {} about the weather", i)}}.dump() + "\n";
  IngestNdjson("many", ndjson);
  auto r = Call("POST", "/api/v1/datasets/many/embeddings", {{"column", "t"}});
  ASSERT_EQ(r.status, 202) << r.body;
  const std::string id = json::parse(r.body)["id"];
  r = Call("GET", "/api/v1/ai/jobs");
  ASSERT_EQ(r.status, 200) << r.body;
  bool listed = false;
  const json list = json::parse(r.body);
  for (const auto& j : list["jobs"]) listed = listed || j["id"] == id;
  EXPECT_TRUE(listed) << id << " not in " << r.body;
  r = Call("DELETE", "/api/v1/ai/jobs/" + id);
  ASSERT_EQ(r.status, 202) << r.body;
  json job = WaitJob(id);
  EXPECT_EQ(job["state"], "cancelled") << job.dump();
  EXPECT_LT(job["rows_done"].get<int>(), 3000);
  EXPECT_THROW(catalog_->Head("many_t_emb"), Error);                 // nothing committed
  EXPECT_TRUE(store_->ListAll(catalogd::kSearchJobPrefix).empty());  // a cancelled job is not resumed
  EXPECT_EQ(Call("DELETE", "/api/v1/ai/jobs/" + id).status, 409);    // already finished
  EXPECT_EQ(Call("DELETE", "/api/v1/ai/jobs/emb-999").status, 404);
}

TEST_F(Semantic, AnUnfinishedJobIsResumedByTheNextServer) {
  std::string ndjson;
  for (int i = 0; i < 1500; ++i) ndjson += json{{"t", fmt::format("entry {} of the ship's log", i)}}.dump() + "\n";
  IngestNdjson("logbook", ndjson);
  SearchOptions so;
  so.temp_dir = (root_ / "tmp" / "search-durable").string();
  auto first = MakeSearchService(*catalog_, *ingest_, *query_, *ai_, *store_, so);
  const std::string id = first->StartEmbedding({"logbook", "t", "", "", ""}).id;
  for (int i = 0; i < 600 && first->Job(id).rows_done == 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  ASSERT_GT(first->Job(id).rows_done, 0u);
  EXPECT_EQ(store_->ListAll(catalogd::kSearchJobPrefix).size(), 1u);
  first.reset();  // the server stops while the job runs: nothing is committed, its record stays
  EXPECT_THROW(catalog_->Head("logbook_t_emb"), Error);
  ASSERT_EQ(store_->ListAll(catalogd::kSearchJobPrefix).size(), 1u);
  EXPECT_EQ(store_->ListAll(catalogd::kSearchJobPrefix)[0].key, catalogd::SearchJobKey(id));

  auto second = MakeSearchService(*catalog_, *ingest_, *query_, *ai_, *store_, so);  // resumes it, same id
  JobStatus job = second->Job(id);
  for (int i = 0; i < 1200 && !IsFinished(job.state); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    job = second->Job(id);
  }
  EXPECT_EQ(job.state, JobState::kSucceeded) << ToJson(job).dump();
  EXPECT_EQ(job.rows_done, 1500u);
  EXPECT_EQ(catalog_->Head("logbook_t_emb").row_count(), 1500u);
  EXPECT_TRUE(store_->ListAll(catalogd::kSearchJobPrefix).empty());  // the record goes with the job

  // This service has no extension folder: vector search is brute force through queryd, the
  // default mode runs the vector stage alone and says why, text asked for is a 503 naming it.
  SearchRequest q;
  q.dataset = "logbook";
  q.query = "entry 7";
  json s = second->Search(q);
  EXPECT_EQ(s["mode"], "vector") << s.dump();
  EXPECT_EQ(s["stages"], json::array({"vector"}));
  EXPECT_EQ(s["index"]["kind"], "none");
  EXPECT_NE(s["index"]["reason"].get<std::string>().find("extension_dir"), std::string::npos) << s.dump();
  q.mode = "text";  // without the fts extension
  std::string message;
  EXPECT_EQ(CodeOf([&] { second->Search(q); }, &message), ErrorCode::kUnavailable);
  EXPECT_NE(message.find("full-text index"), std::string::npos) << message;
}

TEST_F(Semantic, VectorsLargerThanSearchsMemoryAreScannedThroughQueryd) {
  std::string ndjson;
  for (int i = 0; i < 40; ++i) {
    ndjson +=
        json{{"t", fmt::format("harbour log {}: {}", i, i == 17 ? "a storm broke the mast" : "calm sea")}}.dump() +
        "\n";
  }
  IngestNdjson("harbour", ndjson);
  ASSERT_EQ(Call("POST", "/api/v1/datasets/harbour/embeddings", {{"column", "t"}, {"wait", true}}).status, 200);
  SearchRequest q;
  q.dataset = "harbour";
  q.query = "the storm damaged the ship";
  q.k = 3;
  q.mode = "vector";
  const json indexed = search_->Search(q);
  ASSERT_EQ(indexed["index"]["kind"], "brute_force") << indexed.dump();  // 40 rows: below hnsw_min_rows

  // search.memory_limit too small for the vectors (DuckDB's appender needs 3 MiB blocks): the index
  // is not built, vector search scans the vectors through queryd (same answer), hybrid says why,
  // and text asked for is a 503 naming the setting.
  SearchOptions so;
  so.temp_dir = (root_ / "tmp" / "search-small").string();
  so.extension_dir = LAKEHOUSE_SOURCE_DIR "/search/.deps/duckdb_ext";
  so.own_memory_limit = "2MB";
  auto small = MakeSearchService(*catalog_, *ingest_, *query_, *ai_, *store_, so);
  EXPECT_EQ(small->MemoryLimit().substr(0, 3), "1.9") << small->MemoryLimit();
  json s = small->Search(q);
  EXPECT_EQ(s["index"]["kind"], "none") << s.dump();
  EXPECT_NE(s["index"]["reason"].get<std::string>().find("search.memory_limit"), std::string::npos) << s.dump();
  ASSERT_EQ(s["results"].size(), 3u) << s.dump();
  for (size_t i = 0; i < 3; ++i) EXPECT_EQ(s["results"][i]["row"], indexed["results"][i]["row"]) << s.dump();
  q.mode.clear();  // hybrid, the default: the vector stage alone, again without reading the vectors twice
  s = small->Search(q);
  EXPECT_EQ(s["mode"], "vector") << s.dump();
  EXPECT_EQ(s["results"][0]["row"], 17) << s.dump();
  q.mode = "text";  // without its index
  std::string message;
  EXPECT_EQ(CodeOf([&] { small->Search(q); }, &message), ErrorCode::kUnavailable);
  EXPECT_NE(message.find("search.memory_limit"), std::string::npos) << message;
}

TEST_F(Semantic, FailedJobLeavesNothingRegistered) {
  auto r = Call("POST", "/api/v1/datasets/notes/embeddings",
                {{"column", "body"}, {"model", "no-such-model"}, {"target", "notes_broken"}});
  ASSERT_EQ(r.status, 202) << r.body;
  json job = WaitJob(json::parse(r.body)["id"]);
  EXPECT_EQ(job["state"], "failed");
  EXPECT_EQ(job["error"]["code"], "not_found") << job.dump();
  EXPECT_THROW(catalog_->Head("notes_broken"), Error);
}

TEST_F(Semantic, UserErrors) {
  EXPECT_EQ(Call("POST", "/api/v1/datasets/notes/embeddings", {{"column", "nope"}}).status, 400);
  EXPECT_EQ(Call("POST", "/api/v1/datasets/missing/embeddings", {{"column", "body"}}).status, 404);
  auto r = Call("POST", "/api/v1/search", {{"dataset", "notes"}, {"query", "x"}});
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("has no embeddings yet"), std::string::npos) << r.body;
  EXPECT_EQ(Call("POST", "/api/v1/search", {{"dataset", "notes"}, {"query", "x"}, {"k", 0}}).status, 400);
  EXPECT_EQ(Call("GET", "/api/v1/ai/jobs/emb-999").status, 404);
  EXPECT_EQ(Call("POST", "/api/v1/datasets/notes/embeddings", {{"column", "body"}, {"wait", "yes"}}).status, 400);
  r = Call("POST", "/api/v1/datasets/notes/embeddings", {{"column", "id"}});
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_NE(r.body.find("not text"), std::string::npos) << r.body;
  r = Call("POST", "/api/v1/search", {{"dataset", "notes"}, {"query", std::string(9000, 'x')}});
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_NE(r.body.find("the limit is 8192"), std::string::npos) << r.body;
  EXPECT_EQ(Call("POST", "/api/v1/search", {{"dataset", "missing"}, {"query", "x"}}).status, 404);
}

//! The NDJSON rows of `sql` run through the gateway's query route (HTTP status checked).
std::vector<json> SqlRows(const std::string& url, const std::string& sql, int status = 200) {
  HttpRequest r;
  r.method = "POST";
  r.url = url + "/api/v1/query";
  r.body = json{{"sql", sql}, {"format", "ndjson"}}.dump();
  r.timeout_ms = 120000;
  HttpClient client;
  HttpResponse res = client.Send(r);
  EXPECT_EQ(res.status, status) << sql << ": " << res.body;
  std::vector<json> rows;
  if (res.status != 200) return {json::parse(res.body)};
  for (size_t p = 0, nl; (nl = res.body.find('\n', p)) != std::string::npos; p = nl + 1) {
    rows.push_back(json::parse(res.body.substr(p, nl - p)));
  }
  return rows;
}

TEST_F(Semantic, AiFunctionsInSql) {
  std::string ndjson;
  const std::vector<std::string> docs = {"Sourdough bread needs flour, water, salt and a starter.",
                                         "The striker scored twice in the cup final.",
                                         "Kubernetes schedules containers across a cluster of machines.",
                                         "Tomatoes grow best in full sun with regular watering."};
  for (size_t i = 0; i < docs.size(); ++i) {
    ndjson += json{{"id", 10 + i}, {"body", docs[i]}, {"lang", "en"}}.dump() + "\n";
  }
  IngestNdjson("sqldocs", ndjson);
  ASSERT_EQ(Call("POST", "/api/v1/datasets/sqldocs/embeddings", {{"column", "body"}, {"wait", true}}).status, 200);

  // semantic_search(dataset, query, k): the source rows themselves, typed, best first.
  auto rows = SqlRows(url_, "SELECT _rank, _score, id, body, lang FROM semantic_search('sqldocs', 'baking a loaf', 2)");
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0]["id"], 10) << rows[0].dump();  // an integer column stays an integer
  EXPECT_EQ(rows[0]["_rank"], 1);
  EXPECT_EQ(rows[0]["lang"], "en");
  EXPECT_GE(rows[0]["_score"].get<double>(), rows[1]["_score"].get<double>());

  // hybrid_search(dataset, column, query, k) in a CTE joined to the dataset.
  rows = SqlRows(url_,
                 "WITH s AS (SELECT id, _rank FROM hybrid_search('sqldocs', 'body', 'container cluster', 3)) "
                 "SELECT d.id, s._rank FROM sqldocs d JOIN s USING (id) ORDER BY s._rank");
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0]["id"], 12) << rows[0].dump();

  // A search's hits are found while its statement is planned: that plan is never reused
  // (queryd/src/plan_cache.h), so every run searches again.
  const auto plans = [&] { return query_->Health()["plans"]; };
  const uint64_t uncacheable = plans()["uncacheable"];
  for (int i = 0; i < 3; ++i) {
    rows = SqlRows(url_, "SELECT id FROM semantic_search('sqldocs', 'baking a loaf', 1)");
    ASSERT_EQ(rows.size(), 1u);
    EXPECT_EQ(rows[0]["id"], 10) << rows[0].dump();
  }
  EXPECT_EQ(plans()["uncacheable"], uncacheable + 2);  // the second and third run (the first plans as usual)

  // embed(): FLOAT[dim] from the model, batched per chunk; the same text gives the same vector.
  rows = SqlRows(url_,
                 "SELECT len(embed('bread')) AS n, array_cosine_similarity(embed('bread'), embed('bread')) AS same, "
                 "embed(NULL) IS NULL AS null_stays_null");
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0]["n"], 384) << rows[0].dump();
  EXPECT_NEAR(rows[0]["same"].get<double>(), 1.0, 1e-5);
  EXPECT_EQ(rows[0]["null_stays_null"], true);
  rows = SqlRows(url_,
                 "SELECT id FROM sqldocs ORDER BY array_cosine_similarity(embed(body), embed('football match')) DESC "
                 "LIMIT 1");
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0]["id"], 11);

  // Bad input: k out of range (400), an unknown dataset (404), a dataset without embeddings.
  auto err = SqlRows(url_, "SELECT * FROM semantic_search('sqldocs', 'x', 0)", 400);
  EXPECT_NE(err[0].dump().find("k must be between 1 and 1000"), std::string::npos) << err[0].dump();
  SqlRows(url_, "SELECT * FROM semantic_search('nothing_here', 'x', 3)", 404);
  err = SqlRows(url_, "SELECT * FROM hybrid_search('notes', 'x', 3)", 400);
  EXPECT_NE(err[0].dump().find("embeddings"), std::string::npos) << err[0].dump();

  // Grants: a caller who may not read the dataset is refused before anything is searched.
  queryd::QueryRequest q;
  q.sql = "SELECT * FROM semantic_search('sqldocs', 'bread', 1)";
  q.may_read = [](std::string_view dataset) { return dataset != "sqldocs"; };
  q.principal = "API key test";
  StringSink sink;
  try {
    query_->Execute(q, sink);
    ADD_FAILURE() << "a dataset the caller may not read was searched: " << sink.body;
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kPermissionDenied) << e.what();
    EXPECT_NE(std::string(e.what()).find("sqldocs"), std::string::npos) << e.what();
  }
  // Nor can the search reach a source the caller may not read through a vectors dataset it may.
  q.sql = "SELECT * FROM semantic_search('sqldocs_body_emb', 'bread', 1)";
  try {
    query_->Execute(q, sink);
    ADD_FAILURE() << "the source rows of a dataset the caller may not read were returned: " << sink.body;
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kPermissionDenied) << e.what();
  }

  // Without the AI side linked (a server without AI): 503 naming it, for every function.
  queryd::QueryConfig plain;
  plain.temp_dir = (root_ / "tmp").string();
  auto engine = queryd::MakeQueryEngine(*catalog_, *store_, plain);
  for (const char* sql : {"SELECT embed('x')", "SELECT * FROM hybrid_search('sqldocs', 'x', 1)"}) {
    queryd::QueryRequest p;
    p.sql = sql;
    try {
      engine->Execute(p, sink);
      ADD_FAILURE() << sql << " ran without the AI services";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kUnavailable) << sql << ": " << e.what();
    }
  }
}

TEST(SearchRoutes, WithoutTheSearchServiceAnswer503NamingIt) {
  log::Init(log::Level::kWarn);
  gateway::ServerOptions options;
  options.port = 0;
  gateway::Server server(options, gateway::BuildRouter(gateway::Services{}), {});
  server.Bind();
  std::thread thread([&] { server.Run(); });
  HttpClient client;
  HttpRequest r;
  r.method = "POST";
  r.url = "http://127.0.0.1:" + std::to_string(server.port()) + "/api/v1/search";
  r.body = R"({"dataset":"d","query":"q"})";
  HttpResponse res = client.Send(r);
  server.Stop();
  thread.join();
  EXPECT_EQ(res.status, 503) << res.body;
  EXPECT_NE(res.body.find("search service"), std::string::npos) << res.body;
}

}  // namespace
}  // namespace lakehouse::search
