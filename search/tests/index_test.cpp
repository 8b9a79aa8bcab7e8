// Search's own indexes without the AI services: the HNSW index answers the vector query itself
// (no scan of the table per query), and answers as brute force does on vectors with structure; an
// HNSW build runs with IndexOptions::hnsw_build_threads and gives search its own thread count back.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "index.h"
#include "vector_writer.h"

namespace lakehouse::search {
namespace {

//! `rows` vectors of `dim` i.i.d. normal components, the same for the same seed.
std::vector<std::vector<float>> GaussianVectors(int rows, int dim, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal;
  std::vector<std::vector<float>> vectors(static_cast<size_t>(rows), std::vector<float>(static_cast<size_t>(dim)));
  for (auto& v : vectors) {
    for (auto& x : v) x = normal(rng);
  }
  return vectors;
}

std::string Threads(SearchDb& db) {
  duckdb_connection con = nullptr;
  EXPECT_EQ(duckdb_connect(static_cast<duckdb_database>(db.handle()), &con), DuckDBSuccess);
  duckdb_result result;
  EXPECT_EQ(duckdb_query(con, "SELECT current_setting('threads')", &result), DuckDBSuccess);
  char* text = duckdb_value_varchar(&result, 0, 0);
  std::string value = text != nullptr ? text : "";
  duckdb_free(text);
  duckdb_destroy_result(&result);
  duckdb_disconnect(&con);
  return value;
}

TEST(Index, HnswAnswersWithTheIndexAloneAndAsBruteForceDoes) {
  const auto dir = std::filesystem::temp_directory_path() / ("lakehouse-index-test-" + std::to_string(::getpid()));
  {
    SearchDb db(dir.string(), "512MB", 1);
    constexpr int kDim = 16;
    constexpr int kRows = 600;
    const auto vectors = GaussianVectors(kRows, kDim, 7);
    auto fill = [&](VectorWriter& w) {
      for (int i = 0; i < kRows; ++i) w.Add(i, nullptr, "text " + std::to_string(i), vectors[static_cast<size_t>(i)]);
    };
    const std::string ext = LAKEHOUSE_SOURCE_DIR "/search/.deps/duckdb_ext";
    IndexSet brute_set(db, IndexOptions{ext, kRows + 1, 2});
    IndexSet hnsw_set(db, IndexOptions{ext, 0, 2});
    ASSERT_TRUE(hnsw_set.available()) << hnsw_set.unavailable_reason();
    auto brute = brute_set.Get("b", 1, KeyType::kNone, kDim, fill);
    auto hnsw = hnsw_set.Get("h", 1, KeyType::kNone, kDim, fill);
    ASSERT_TRUE(hnsw->hnsw());
    ASSERT_FALSE(brute->hnsw());

    const std::vector<float>& q = vectors[42];
    const std::string plan = hnsw->ExplainVector(q, 5);
    EXPECT_NE(plan.find("HNSW_INDEX_SCAN"), std::string::npos) << plan;
    // DuckDB's late materialization would join the index's row ids back to a full scan of the table.
    EXPECT_EQ(plan.find("SEQ_SCAN"), std::string::npos) << plan;
    EXPECT_EQ(plan.find("HASH_JOIN"), std::string::npos) << plan;
    EXPECT_NE(brute->ExplainVector(q, 5).find("SEQ_SCAN"), std::string::npos);

    // The query vector is bound, not printed: repeated and different queries reuse the statement.
    for (int i : {42, 7, 42, 599}) {
      auto exact = brute->Vector(vectors[static_cast<size_t>(i)], 5);
      auto approx = hnsw->Vector(vectors[static_cast<size_t>(i)], 5);
      ASSERT_EQ(exact.size(), 5u);
      ASSERT_EQ(approx.size(), 5u);
      EXPECT_EQ(exact[0]["row"], i);  // a stored vector is its own nearest neighbour
      EXPECT_EQ(approx[0]["row"], i);
      EXPECT_EQ(approx[0]["text"], "text " + std::to_string(i));
      EXPECT_NEAR(approx[0]["score"].get<double>(), 1.0, 1e-5);
    }
    EXPECT_EQ(hnsw->Vector(q, 3).size(), 3u);  // another k: another statement
  }
  std::filesystem::remove_all(dir);
}

TEST(IndexBuild, UsesTheBuildThreadsAndRestoresSearchsOwn) {
  const auto dir =
      std::filesystem::temp_directory_path() / ("lakehouse-index-build-test-" + std::to_string(::getpid()));
  {
    SearchDb db(dir.string(), "256MB", 1);
    constexpr int kDim = 8;
    constexpr int kRows = 300;
    const auto vectors = GaussianVectors(kRows, kDim, 3);
    auto fill = [&](VectorWriter& w) {
      for (int i = 0; i < kRows; ++i) w.Add(i, nullptr, "t", vectors[static_cast<size_t>(i)]);
    };
    const std::string ext = LAKEHOUSE_SOURCE_DIR "/search/.deps/duckdb_ext";
    IndexOptions options{ext, 0, 4};
    EXPECT_EQ(options.hnsw_build_threads, 1);  // the default: search's own thread (ADR 0022)
    options.hnsw_build_threads = 3;
    IndexSet set(db, options);
    ASSERT_TRUE(set.available()) << set.unavailable_reason();
    auto index = set.Get("d", 1, KeyType::kNone, kDim, fill);
    ASSERT_TRUE(index->hnsw());
    EXPECT_EQ(index->hnsw_build_threads, 3);
    EXPECT_GT(index->hnsw_build_seconds, 0);
    EXPECT_EQ(Threads(db), "1");  // back to search's own count
    // The index built with three threads answers: a stored vector is its own nearest neighbour.
    EXPECT_EQ(index->Vector(vectors[17], 3)[0]["row"], 17);

    // One build thread, search's own count: nothing to change or restore.
    IndexSet one(db, IndexOptions{ext, 0, 4});
    auto single = one.Get("e", 1, KeyType::kNone, kDim, fill);
    EXPECT_EQ(single->hnsw_build_threads, 1);
    EXPECT_EQ(Threads(db), "1");
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace lakehouse::search
