// Search's own indexes without the AI services: the HNSW index answers the vector query itself
// (no scan of the table per query), and answers as brute force does on vectors with structure; an
// HNSW build runs with IndexOptions::hnsw_build_threads and gives search its own thread count back.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "index.h"
#include "vector_writer.h"

namespace lakehouse::search {
namespace {

using json = nlohmann::json;

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

//! The first value of `sql`'s first row on a connection of its own, as text.
std::string Scalar(SearchDb& db, const std::string& sql) {
  duckdb_connection con = nullptr;
  EXPECT_EQ(duckdb_connect(static_cast<duckdb_database>(db.handle()), &con), DuckDBSuccess);
  duckdb_result result;
  EXPECT_EQ(duckdb_query(con, sql.c_str(), &result), DuckDBSuccess) << duckdb_result_error(&result);
  char* text = duckdb_value_varchar(&result, 0, 0);
  std::string value = text != nullptr ? text : "";
  duckdb_free(text);
  duckdb_destroy_result(&result);
  duckdb_disconnect(&con);
  return value;
}

std::string Threads(SearchDb& db) { return Scalar(db, "SELECT current_setting('threads')"); }

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
    ASSERT_TRUE(hnsw->WaitHnsw()) << hnsw->hnsw_error();
    ASSERT_EQ(brute->hnsw_state(), Index::HnswState::kNone);

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
    ASSERT_TRUE(index->WaitHnsw()) << index->hnsw_error();
    EXPECT_EQ(index->hnsw_build_threads(), 3);
    EXPECT_GT(index->hnsw_build_seconds(), 0);
    EXPECT_EQ(Threads(db), "1");  // back to search's own count
    // The index built with three threads answers: a stored vector is its own nearest neighbour.
    EXPECT_EQ(index->Vector(vectors[17], 3)[0]["row"], 17);

    // One build thread, search's own count: nothing to change or restore.
    IndexSet one(db, IndexOptions{ext, 0, 4});
    auto single = one.Get("e", 1, KeyType::kNone, kDim, fill);
    ASSERT_TRUE(single->WaitHnsw()) << single->hnsw_error();
    EXPECT_EQ(single->hnsw_build_threads(), 1);
    EXPECT_EQ(Threads(db), "1");
  }
  std::filesystem::remove_all(dir);
}

TEST(IndexBuild, AnswersExactlyWhileTheHnswIndexIsBuiltThenUsesIt) {
  const auto dir =
      std::filesystem::temp_directory_path() / ("lakehouse-index-background-test-" + std::to_string(::getpid()));
  {
    SearchDb db(dir.string(), "512MB", 1);
    // Large enough that the HNSW build (ef_construction 200) takes a second or so, against
    // milliseconds for the table: the first queries come while it runs.
    constexpr int kDim = 32;
    constexpr int kRows = 8000;
    const auto vectors = GaussianVectors(kRows, kDim, 11);
    std::atomic<int> fills = 0;
    auto fill = [&](VectorWriter& w) {
      ++fills;
      for (int i = 0; i < kRows; ++i) w.Add(i, nullptr, "t", vectors[static_cast<size_t>(i)]);
    };
    const std::string ext = LAKEHOUSE_SOURCE_DIR "/search/.deps/duckdb_ext";
    IndexOptions options{ext, 0, 4};
    options.hnsw_ef_construction = 200;
    IndexSet set(db, options);
    IndexSet exact_set(db, IndexOptions{ext, kRows + 1, 4});
    ASSERT_TRUE(set.available()) << set.unavailable_reason();
    // Two requests for the same version at once: one builds, the other waits for it.
    std::shared_ptr<const Index> index, again;
    std::thread other([&] { again = set.Get("d", 1, KeyType::kNone, kDim, fill); });
    index = set.Get("d", 1, KeyType::kNone, kDim, fill);
    other.join();
    EXPECT_EQ(index, again);
    EXPECT_EQ(fills.load(), 1);
    ASSERT_EQ(index->hnsw_state(), Index::HnswState::kBuilding);  // Get did not wait for the graph
    auto exact = exact_set.Get("d", 1, KeyType::kNone, kDim, fill);
    const std::vector<float>& q = vectors[123];
    // Meanwhile: a scan of the table, the exact answer.
    const std::string plan = index->ExplainVector(q, 5);
    const json during = index->Vector(q, 5);
    if (index->hnsw_state() == Index::HnswState::kBuilding) {
      EXPECT_EQ(plan.find("HNSW_INDEX_SCAN"), std::string::npos) << plan;
      EXPECT_EQ(during, exact->Vector(q, 5));
    } else {
      ADD_FAILURE() << "the HNSW build ended before the first query: the test's build is too small";
    }
    // Once built, the same (prepared) query goes through the index.
    ASSERT_TRUE(index->WaitHnsw()) << index->hnsw_error();
    EXPECT_NE(index->ExplainVector(q, 5).find("HNSW_INDEX_SCAN"), std::string::npos);
    EXPECT_EQ(index->Vector(q, 5)[0]["row"], 123);

    // An index dropped while its HNSW graph is being built stops the build and goes.
    auto dropped = set.Get("e", 1, KeyType::kNone, kDim, fill);
    ASSERT_EQ(dropped->hnsw_state(), Index::HnswState::kBuilding);
    auto small = [&](VectorWriter& w) {
      for (int i = 0; i < 10; ++i) w.Add(i, nullptr, "t", vectors[static_cast<size_t>(i)]);
    };
    auto newer = set.Get("e", 2, KeyType::kNone, kDim, small);  // replaces version 1 in the set
    const auto start = std::chrono::steady_clock::now();
    dropped.reset();  // the last holder: the build is interrupted
    std::printf("dropping the index mid-build returned in %.3f s\n",
                std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    ASSERT_TRUE(newer->WaitHnsw()) << newer->hnsw_error();
    // The abandoned build's thread drops its table when vss returns: d, d's exact copy and e@2 stay.
    std::string tables;
    for (int i = 0; i < 600 && tables != "3"; ++i) {
      if (i > 0) std::this_thread::sleep_for(std::chrono::milliseconds(50));
      tables = Scalar(db, "SELECT count(*) FROM duckdb_tables() WHERE schema_name = 'main'");
    }
    EXPECT_EQ(tables, "3");
  }
  std::filesystem::remove_all(dir);
}

TEST(IndexSet, VectorsThatDoNotFitAreRefusedOnceAndRemembered) {
  const auto dir = std::filesystem::temp_directory_path() / ("lakehouse-index-fit-test-" + std::to_string(::getpid()));
  {
    SearchDb db(dir.string(), "2MB", 1);  // DuckDB's appender alone needs 3 MiB blocks
    constexpr int kDim = 384;
    const auto vectors = GaussianVectors(1000, kDim, 5);
    int fills = 0;
    auto fill = [&](VectorWriter& w) {
      ++fills;
      for (int i = 0; i < 1000; ++i) w.Add(i, nullptr, "t", vectors[static_cast<size_t>(i)]);
    };
    IndexSet set(db, IndexOptions{LAKEHOUSE_SOURCE_DIR "/search/.deps/duckdb_ext", 0, 4});
    ASSERT_TRUE(set.available()) << set.unavailable_reason();
    for (int attempt = 0; attempt < 2; ++attempt) {
      try {
        set.Get("big", 3, KeyType::kNone, kDim, fill);
        ADD_FAILURE() << "1000 vectors of 384 floats fit in 2MB";
      } catch (const IndexDoesNotFit& e) {
        EXPECT_EQ(e.code(), ErrorCode::kUnavailable);
        const std::string message = e.what();
        EXPECT_NE(message.find("big (version 3)"), std::string::npos) << message;
        EXPECT_NE(message.find("search.memory_limit"), std::string::npos) << message;
      }
    }
    EXPECT_EQ(fills, 1);  // the second call did not read the vectors again
    EXPECT_EQ(Scalar(db, "SELECT count(*) FROM duckdb_tables()"), "0");  // nothing half-built is left
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace lakehouse::search
