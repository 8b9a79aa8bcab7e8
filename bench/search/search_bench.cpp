// Vector search latency: the HNSW index (DuckDB vss) against brute force over the same N random
// 384-d vectors, in search's own DuckDB through the search service's Index class (the SQL the
// service runs). Prints index build times, p50/p99 per-query latency of both, the ratio, and the
// recall@10 of HNSW against the exact (brute force) answer. Bounded: N and the query count are
// arguments; everything is in memory under a temporary folder. Latency is wall time per query
// and, beside it, the process's CPU time per query (which a loaded shared machine inflates less).
//   search_bench [N=200000] [QUERIES=100] [DIM=384] [MEMORY_LIMIT=6GB] [EF_SEARCH=200[,400,...]] [M=16]
//                [EF_CONSTRUCTION=64] [DATA=gaussian|lowrank] [BUILD_THREADS=1; 0: every core]
// Queries run on one thread, as the search service runs them; the HNSW build uses BUILD_THREADS
// (IndexOptions::hnsw_build_threads). The vectors are generated again for each table (same seed)
// rather than kept, so memory holds the two tables and the index, not a third copy.
// EF_SEARCH may be a comma-separated list: the index is built once (with the first) and the HNSW
// queries run again at each ef_search (vss's query-time setting), a line each: one build gives the
// recall / latency curve.
// DATA=gaussian: i.i.d. normal components (the worst case for HNSW: no structure at all);
// DATA=lowrank: vectors on a random 32-dimensional subspace plus 10% noise, queries likewise (the
// shape of real sentence embeddings, whose intrinsic dimension is far below 384).
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <random>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "index.h"
#include "vector_writer.h"

namespace {

using lakehouse::search::Index;
using lakehouse::search::IndexOptions;
using lakehouse::search::IndexSet;
using lakehouse::search::KeyType;
using lakehouse::search::SearchDb;
using lakehouse::search::VectorWriter;
using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point since) { return std::chrono::duration<double>(Clock::now() - since).count(); }

double CpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

std::string LoadAverage() {
  double load[3] = {-1, -1, -1};
  getloadavg(load, 3);
  return fmt::format("{:.2f} {:.2f} {:.2f}", load[0], load[1], load[2]);
}

double Percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

}  // namespace

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // each line as it comes (a long build may hit the cap)
  const uint64_t n = argc > 1 ? std::stoull(argv[1]) : 200000;
  const int queries = argc > 2 ? std::stoi(argv[2]) : 100;
  const int dim = argc > 3 ? std::stoi(argv[3]) : 384;
  const std::string memory = argc > 4 ? argv[4] : "6GB";
  std::vector<int> efs;
  if (argc > 5) {
    for (size_t at = 0, comma = 0; at <= std::strlen(argv[5]); at = comma + 1) {
      comma = std::string_view(argv[5]).find(',', at);
      if (comma == std::string_view::npos) comma = std::strlen(argv[5]);
      efs.push_back(std::stoi(std::string(argv[5] + at, argv[5] + comma)));
    }
  } else {
    efs.push_back(IndexOptions{}.hnsw_ef_search);
  }
  const int ef = efs.front();
  const int m = argc > 6 ? std::stoi(argv[6]) : IndexOptions{}.hnsw_m;
  const int efc = argc > 7 ? std::stoi(argv[7]) : IndexOptions{}.hnsw_ef_construction;
  const std::string data = argc > 8 ? argv[8] : "gaussian";
  const int build_threads = argc > 9 ? std::stoi(argv[9]) : IndexOptions{}.hnsw_build_threads;
  if (data != "gaussian" && data != "lowrank") {
    fmt::print(stderr, "DATA must be gaussian or lowrank, got {}\n", data);
    return 2;
  }
  constexpr int kK = 10;
  const auto dir = std::filesystem::temp_directory_path() / fmt::format("lakehouse-search-bench-{}", ::getpid());
  std::filesystem::create_directories(dir);
  fmt::print(
      "search bench: {} {} {}-d vectors, {} queries, k={}, M={}, ef_construction={}, ef_search={}, {} cores, load "
      "average {}\n",
      n, data, dim, queries, kK, m, efc, fmt::join(efs, ","), std::thread::hardware_concurrency(), LoadAverage());
  {
    SearchDb db(dir.string(), memory, 1);  // one thread, as the search service runs it
    constexpr int kRank = 32;
    std::vector<float> basis(static_cast<size_t>(kRank * dim));
    {
      std::mt19937 seed_rng(7);
      std::normal_distribution<float> normal;
      for (auto& x : basis) x = normal(seed_rng);
    }
    std::normal_distribution<float> normal;
    auto make = [&](std::mt19937& rng, std::vector<float>& v) {
      if (data == "gaussian") {
        for (auto& x : v) x = normal(rng);
        return;
      }
      float z[kRank];
      for (auto& x : z) x = normal(rng);
      for (int d = 0; d < dim; ++d) {
        float x = 0;
        for (int r = 0; r < kRank; ++r) x += z[r] * basis[static_cast<size_t>(r * dim + d)];
        v[static_cast<size_t>(d)] = x + 0.1F * std::sqrt(static_cast<float>(kRank)) * normal(rng);
      }
    };
    auto fill = [&](VectorWriter& w) {  // the same N vectors every time (same seed)
      std::mt19937 rng(42);
      normal.reset();
      std::vector<float> v(static_cast<size_t>(dim));
      for (uint64_t i = 0; i < n; ++i) {
        make(rng, v);
        w.Add(static_cast<int64_t>(i), nullptr, "", v);
      }
    };
    const std::string ext = LAKEHOUSE_SOURCE_DIR "/search/.deps/duckdb_ext";
    IndexOptions options{ext, n + 1, 4, ef, m, efc, build_threads};
    IndexSet brute_set(db, options);
    options.hnsw_min_rows = 0;
    IndexSet hnsw_set(db, options);
    if (!brute_set.available()) {
      fmt::print(stderr, "{}\n", brute_set.unavailable_reason());
      return 1;
    }
    // Brute force first (its table, then every query), printed before the HNSW build starts: the
    // exact answers are kept for the recall, and a build cut by the time cap leaves these figures.
    auto brute = brute_set.Get("brute", 1, KeyType::kNone, dim, fill);
    fmt::print("build: table + BM25 {:.1f} s (brute force)\n", brute->build_seconds);
    std::mt19937 rng(4242);  // queries: other draws of the same distribution
    std::vector<std::vector<float>> query_set(static_cast<size_t>(queries) + 1, std::vector<float>(dim));
    for (auto& q : query_set) make(rng, q);
    const std::vector<float>& warm = query_set.back();
    if (std::getenv("SEARCH_BENCH_PLAN") != nullptr) fmt::print("{}\n", brute->ExplainVector(warm, kK));
    brute->Vector(warm, kK);  // warm: the statements are prepared once per index and k
    std::vector<double> t_brute, c_brute;
    std::vector<std::set<int64_t>> truths;
    for (int q = 0; q < queries; ++q) {
      const auto start = Clock::now();
      const double cpu = CpuSeconds();
      auto exact = brute->Vector(query_set[static_cast<size_t>(q)], kK);
      t_brute.push_back(Seconds(start) * 1000);
      c_brute.push_back((CpuSeconds() - cpu) * 1000);
      std::set<int64_t> truth;
      for (const auto& x : exact) truth.insert(x["row"].get<int64_t>());
      truths.push_back(std::move(truth));
    }
    const double b50 = Percentile(t_brute, 0.5), b99 = Percentile(t_brute, 0.99);
    const double cb50 = Percentile(c_brute, 0.5), cb99 = Percentile(c_brute, 0.99);
    fmt::print("brute force: wall p50 {:.2f} ms, p99 {:.2f} ms; CPU p50 {:.2f} ms, p99 {:.2f} ms\n", b50, b99, cb50,
               cb99);

    auto hnsw = hnsw_set.Get("hnsw", 1, KeyType::kNone, dim, fill);
    if (!hnsw->WaitHnsw()) {  // the service answers brute force meanwhile; the bench waits for it
      fmt::print(stderr, "the HNSW build failed: {}\n", hnsw->hnsw_error());
      return 1;
    }
    fmt::print("build: table + BM25 {:.1f} s; HNSW index {:.1f} s on {} threads (load average now {})\n",
               hnsw->build_seconds, hnsw->hnsw_build_seconds(), hnsw->hnsw_build_threads(), LoadAverage());
    const std::string plan = hnsw->ExplainVector(warm, kK);
    const bool scan = plan.find("HNSW_INDEX_SCAN") != std::string::npos;
    fmt::print("HNSW plan: {}\n", scan ? "HNSW_INDEX_SCAN" : "NO HNSW_INDEX_SCAN (the index is not used)");
    if (std::getenv("SEARCH_BENCH_PLAN") != nullptr) fmt::print("{}\n", plan);
    for (const int ef_search : efs) {
      if (ef_search != ef) hnsw->SetEfSearch(ef_search);
      hnsw->Vector(warm, kK);
      std::vector<double> t_hnsw, c_hnsw;
      double recall = 0;
      for (int q = 0; q < queries; ++q) {
        const auto start = Clock::now();
        const double cpu = CpuSeconds();
        auto approx = hnsw->Vector(query_set[static_cast<size_t>(q)], kK);
        t_hnsw.push_back(Seconds(start) * 1000);
        c_hnsw.push_back((CpuSeconds() - cpu) * 1000);
        int hit = 0;
        for (const auto& x : approx) hit += truths[static_cast<size_t>(q)].count(x["row"].get<int64_t>()) ? 1 : 0;
        recall += static_cast<double>(hit) / kK;
      }
      recall /= queries;
      const double h50 = Percentile(t_hnsw, 0.5), h99 = Percentile(t_hnsw, 0.99);
      const double ch50 = Percentile(c_hnsw, 0.5), ch99 = Percentile(c_hnsw, 0.99);
      fmt::print("HNSW ef_search={}: wall p50 {:.2f} ms, p99 {:.2f} ms; CPU p50 {:.2f} ms, p99 {:.2f} ms\n", ef_search,
                 h50, h99, ch50, ch99);
      fmt::print(
          "  ratio HNSW / brute force: wall p50 {:.3f}, p99 {:.3f}; CPU p50 {:.3f} (HNSW {:.1f}x faster by CPU)\n",
          h50 / b50, h99 / b99, ch50 / cb50, cb50 / ch50);
      fmt::print("  recall@10 of HNSW against brute force: {:.3f} (target >= 0.95); p50 target <= 20 ms\n", recall);
    }
  }
  std::filesystem::remove_all(dir);
  return 0;
}
