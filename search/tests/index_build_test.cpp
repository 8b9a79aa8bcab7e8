// How search builds an HNSW index: with the threads IndexOptions::hnsw_build_threads gives DuckDB
// for the build, and search's own thread count back afterwards.
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

TEST(IndexBuild, UsesTheBuildThreadsAndRestoresSearchsOwn) {
  const auto dir =
      std::filesystem::temp_directory_path() / ("lakehouse-index-build-test-" + std::to_string(::getpid()));
  {
    SearchDb db(dir.string(), "256MB", 1);
    constexpr int kDim = 8;
    constexpr int kRows = 300;
    std::mt19937 rng(3);
    std::normal_distribution<float> normal;
    std::vector<std::vector<float>> vectors(kRows, std::vector<float>(kDim));
    for (auto& v : vectors) {
      for (auto& x : v) x = normal(rng);
    }
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
