// Catalog and ingest measurements (bench/catalog.sh runs them and prints the figures):
//   catalog_bench commits --dir D [--threads T] [--seconds S]       commits/s on the local store
//   catalog_bench commits --s3-env FILE [--threads T] [--seconds S] commits/s on an S3 server
//   catalog_bench rebuild --dir D [--datasets N]                    index rebuild time for N datasets
//   catalog_bench ingest --dir D [--rows N]                         ingest MB/s vs DuckDB's own COPY
// Every run is bounded by --seconds or by its sizes. Results are printed as "RESULT name=value".
#include <duckdb.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <thread>

#include "lakehouse/catalogd/catalog.h"
#include "lakehouse/ingest/ingest.h"
#include "lakehouse/shared/logging.h"
#include "lakehouse/storaged/object_store.h"
#include "lakehouse/testing/s3.h"

namespace {

using namespace lakehouse;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

double Since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

std::unique_ptr<storaged::ObjectStore> OpenStore(const std::string& dir, const std::string& s3_env) {
  if (s3_env.empty()) return storaged::MakeLocalStore({dir, "bench"});
  storaged::S3StoreOptions o = lakehouse::testing::S3OptionsFromEnvFile(s3_env);
  o.bucket = "bench-" + RandomHexId().substr(0, 12);
  return storaged::MakeS3Store(o);
}

DataObject FakeObject(const storaged::ObjectStore& store, const std::string& dataset) {
  // Commits are measured alone: the object is a pointer that is never read.
  return DataObject{ObjectRef{store.Bucket(), catalogd::NewDataKey(dataset), 123456, "etag"}, 1000};
}

Schema BenchSchema() { return {{"id", "BIGINT", true}, {"price", "DOUBLE", true}, {"label", "VARCHAR", true}}; }

//! Each thread commits to its own datasets: a create, then appends, rolling to a new dataset
//! every `per_dataset` commits so manifests stay a realistic size.
int Commits(const std::string& dir, const std::string& s3_env, int threads, double seconds, int per_dataset) {
  auto store = OpenStore(dir, s3_env);
  auto catalog = catalogd::MakeCatalog(*store);
  catalog->Rebuild();
  std::atomic<uint64_t> total{0};
  std::atomic<bool> stop{false};
  std::vector<double> worst(threads, 0);
  auto start = Clock::now();
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      for (int d = 0; !stop; ++d) {
        std::string name = "bench_t" + std::to_string(t) + "_" + std::to_string(d) + "_" + RandomHexId().substr(0, 6);
        for (int i = 0; i < per_dataset && !stop; ++i) {
          catalogd::CommitRequest r;
          r.dataset = name;
          r.op = i == 0 ? catalogd::CommitOp::kCreate : catalogd::CommitOp::kAppend;
          r.schema = BenchSchema();
          r.objects = {FakeObject(*store, name)};
          auto t0 = Clock::now();
          catalog->Commit(r);
          worst[t] = std::max(worst[t], Since(t0));
          ++total;
          if (Since(start) > seconds) stop = true;
        }
      }
    });
  }
  for (auto& th : pool) th.join();
  double elapsed = Since(start);
  double max_ms = 0;
  for (double w : worst) max_ms = std::max(max_ms, w * 1000);
  std::string kind = store->Kind();
  std::printf("commits on %s, %d thread(s): %llu commits in %.2f s = %.0f commits/s (slowest %.1f ms)\n", kind.c_str(),
              threads, static_cast<unsigned long long>(total.load()), elapsed, total / elapsed, max_ms);
  std::printf("RESULT commits_per_s_%s_t%d=%.0f\n", kind.c_str(), threads, total / elapsed);
  return 0;
}

int Rebuild(const std::string& dir, const std::string& s3_env, int datasets) {
  auto store = OpenStore(dir, s3_env);
  {
    auto catalog = catalogd::MakeCatalog(*store);
    catalog->Rebuild();
    size_t have = catalog->List().size();
    if (have < static_cast<size_t>(datasets)) {
      auto start = Clock::now();
      std::atomic<int> next{static_cast<int>(have)};
      std::vector<std::thread> pool;
      for (int t = 0; t < 4; ++t) {
        pool.emplace_back([&] {
          for (int i = next++; i < datasets; i = next++) {
            std::string name = "ds" + std::to_string(i);
            catalog->Commit(
                {name, catalogd::CommitOp::kCreate, BenchSchema(), {FakeObject(*store, name)}, false, {}, {}});
          }
        });
      }
      for (auto& th : pool) th.join();
      std::printf("created %d datasets in %.2f s\n", datasets - static_cast<int>(have), Since(start));
    }
  }
  // Best of three rebuilds by a fresh catalog each (the OS page cache is warm): first without a
  // checkpoint (one manifest read per dataset), then from a checkpoint (_catalog/_snapshot.json).
  auto measure = [&](size_t& found) {
    double best = 1e9;
    for (int run = 0; run < 3; ++run) {
      auto catalog = catalogd::MakeCatalog(*store);
      auto start = Clock::now();
      catalog->Rebuild();
      best = std::min(best, Since(start));
      found = catalog->List().size();
    }
    return best;
  };
  store->Delete("_catalog/_snapshot.json");
  size_t found = 0;
  double cold = measure(found);
  {
    auto catalog = catalogd::MakeCatalog(*store);
    catalog->Rebuild();
    catalog->Checkpoint();
  }
  size_t found_snap = 0;
  double snap = measure(found_snap);
  std::string kind = store->Kind();
  std::printf(
      "rebuild of %zu datasets on %s: %.3f s reading every head manifest, %.3f s from a checkpoint (best of 3)\n",
      found, kind.c_str(), cold, snap);
  std::printf("RESULT rebuild_s_%s_%zu=%.3f\n", kind.c_str(), found, cold);
  std::printf("RESULT rebuild_snapshot_s_%s_%zu=%.3f\n", kind.c_str(), found_snap, snap);
  return found >= static_cast<size_t>(datasets) ? 0 : 1;
}

void DuckRun(duckdb_connection con, const std::string& sql) {
  duckdb_result r;
  if (duckdb_query(con, sql.c_str(), &r) != DuckDBSuccess) {
    std::string e = duckdb_result_error(&r);
    duckdb_destroy_result(&r);
    throw std::runtime_error(e);
  }
  duckdb_destroy_result(&r);
}

int Ingest(const std::string& dir, int64_t rows, int threads) {
  fs::create_directories(dir);
  const std::string csv = dir + "/input.csv";
  const std::string parquet = dir + "/input.parquet";
  const std::string baseline = dir + "/baseline.parquet";
  duckdb_database db;
  duckdb_connection con;
  duckdb_config config;
  duckdb_create_config(&config);
  duckdb_set_config(config, "threads", std::to_string(threads).c_str());
  duckdb_set_config(config, "memory_limit", "1GB");
  duckdb_set_config(config, "autoinstall_known_extensions", "false");
  duckdb_set_config(config, "autoload_known_extensions", "false");
  duckdb_open_ext(nullptr, &db, config, nullptr);
  duckdb_destroy_config(&config);
  duckdb_connect(db, &con);
  std::string gen =
      "SELECT range AS id, (range % 1000) * 0.25 AS price, 'customer_' || (range % 50000) AS customer, "
      "DATE '2024-01-01' + CAST(range % 365 AS INTEGER) AS day, range % 7 = 0 AS flag FROM range(" +
      std::to_string(rows) + ")";
  if (!fs::exists(csv)) DuckRun(con, "COPY (" + gen + ") TO '" + csv + "' (HEADER, DELIMITER ',')");
  // The Parquet upload is made of poorly compressible columns so that its size is realistic.
  std::string gen_random =
      "SELECT range AS id, random() AS score, md5(range::VARCHAR) AS digest, "
      "hash(range) AS h FROM range(" +
      std::to_string(rows) + ")";
  if (!fs::exists(parquet)) {
    DuckRun(con, "COPY (" + gen_random + ") TO '" + parquet + "' (FORMAT parquet, COMPRESSION zstd)");
  }
  double csv_mb = static_cast<double>(fs::file_size(csv)) / 1e6;
  double parquet_mb = static_cast<double>(fs::file_size(parquet)) / 1e6;

  auto store = OpenStore(dir + "/store", "");
  auto catalog = catalogd::MakeCatalog(*store);
  catalog->Rebuild();
  auto ingestor = ingest::MakeIngestor(*store, *catalog, {dir + "/tmp", "1GB", threads});

  auto run_ingest = [&](const std::string& path, ingest::Format format) {
    FileSource body(path);
    ingest::IngestRequest r;
    r.dataset = "bench_" + RandomHexId().substr(0, 8);
    r.format = format;
    auto t0 = Clock::now();
    ingestor->Ingest(r, body);
    return Since(t0);
  };
  // Interleave the runs so both sides see the same machine conditions (the 2 cores are shared):
  // best of 5 for the throughputs, and the median of the 5 pairwise ratios (each pair run back to
  // back, alternating which goes first) for the comparison.
  double best_parquet = 1e9, best_csv = 1e9, best_copy = 1e9;
  std::vector<double> ratios;
  auto run_copy = [&] {
    fs::remove(baseline);
    auto t0 = Clock::now();
    DuckRun(con,
            "COPY (SELECT * FROM read_csv('" + csv + "')) TO '" + baseline + "' (FORMAT parquet, COMPRESSION zstd)");
    return Since(t0);
  };
  for (int run = 0; run < 5; ++run) {
    best_parquet = std::min(best_parquet, run_ingest(parquet, ingest::Format::kParquet));
    double ours = 0, theirs = 0;
    if (run % 2 == 0) {
      ours = run_ingest(csv, ingest::Format::kCsv);
      theirs = run_copy();
    } else {
      theirs = run_copy();
      ours = run_ingest(csv, ingest::Format::kCsv);
    }
    best_csv = std::min(best_csv, ours);
    best_copy = std::min(best_copy, theirs);
    ratios.push_back(theirs / ours);
  }
  std::sort(ratios.begin(), ratios.end());
  const double median_ratio = ratios[ratios.size() / 2];
  duckdb_disconnect(&con);
  duckdb_close(&db);

  std::printf("ingest Parquet upload: %.1f MB in %.3f s = %.0f MB/s\n", parquet_mb, best_parquet,
              parquet_mb / best_parquet);
  std::printf("ingest CSV -> Parquet: %.1f MB in %.3f s = %.1f MB/s\n", csv_mb, best_csv, csv_mb / best_csv);
  std::printf("DuckDB COPY CSV -> Parquet (same file, same threads): %.3f s = %.1f MB/s\n", best_copy,
              csv_mb / best_copy);
  std::printf("ratio ingest / DuckDB COPY throughput: %.2fx median of pairs (%.2fx .. %.2fx), %.2fx best vs best\n",
              median_ratio, ratios.front(), ratios.back(), best_copy / best_csv);
  std::printf("RESULT ingest_parquet_mb_per_s=%.0f\n", parquet_mb / best_parquet);
  std::printf("RESULT ingest_csv_mb_per_s=%.1f\n", csv_mb / best_csv);
  std::printf("RESULT duckdb_copy_csv_mb_per_s=%.1f\n", csv_mb / best_copy);
  std::printf("RESULT csv_ingest_vs_copy_ratio=%.2f\n", median_ratio);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"catalog and ingest benchmarks"};
  app.require_subcommand(1);
  std::string dir, s3_env;
  int threads = 1, datasets = 10000, per_dataset = 100;
  double seconds = 3;
  int64_t rows = 2'000'000;

  auto* commits = app.add_subcommand("commits", "commits/s");
  commits->add_option("--dir", dir, "local store directory");
  commits->add_option("--s3-env", s3_env, "env file of an S3 server (S3_ENDPOINT, ...)");
  commits->add_option("--threads", threads);
  commits->add_option("--seconds", seconds);
  commits->add_option("--per-dataset", per_dataset, "commits per dataset before moving to a new one");
  auto* rebuild = app.add_subcommand("rebuild", "rebuild time");
  rebuild->add_option("--dir", dir, "local store directory");
  rebuild->add_option("--s3-env", s3_env, "env file of an S3 server");
  rebuild->add_option("--datasets", datasets);
  auto* ingest_cmd = app.add_subcommand("ingest", "ingest throughput");
  ingest_cmd->add_option("--dir", dir)->required();
  ingest_cmd->add_option("--rows", rows);
  ingest_cmd->add_option("--threads", threads);
  CLI11_PARSE(app, argc, argv);
  log::Init(std::getenv("BENCH_VERBOSE") ? log::Level::kInfo : log::Level::kWarn);

  try {
    if (*commits) {
      if (dir.empty() && s3_env.empty()) throw std::runtime_error("commits needs --dir or --s3-env");
      return Commits(dir, s3_env, threads, seconds, per_dataset);
    }
    if (*rebuild) {
      if (dir.empty() && s3_env.empty()) throw std::runtime_error("rebuild needs --dir or --s3-env");
      return Rebuild(dir, s3_env, datasets);
    }
    if (*ingest_cmd) return Ingest(dir, rows, std::max(threads, 2));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "catalog_bench: %s\n", e.what());
    return 1;
  }
  return 2;
}
