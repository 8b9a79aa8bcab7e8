// Tables that stay fast as they grow (issue 13); bench/tables_growth.sh runs these and prints the ratios:
//   tables_bench history --dir D [--versions N] [--samples S]
//       commit latency of appends at version ~10 vs at version ~N (history built through the
//       catalog library directly, with pointer-only objects), cold resolve of the version before the head at both,
//       and the stored manifest size of the last append
//   tables_bench gc --dir D [--objects N]
//       a collection over N data objects (half referenced by a live version, half expired or
//       orphaned), its time against a plain listing of the same objects
// Every run is bounded by its sizes. Results are printed as "RESULT name=value".
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <vector>

#include "lakehouse/catalogd/catalog.h"
#include "lakehouse/shared/logging.h"
#include "lakehouse/storaged/object_store.h"

namespace {

using namespace lakehouse;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

double Since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

Schema BenchSchema() { return {{"id", "BIGINT", true}, {"price", "DOUBLE", true}, {"label", "VARCHAR", true}}; }

DataObject Pointer(const std::string& bucket, const std::string& dataset) {
  return DataObject{ObjectRef{bucket, catalogd::NewDataKey(dataset), 123456, "etag"}, 1000};
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

struct Latency {
  double median = 0;
  double mean = 0;
};

//! Appends `samples` versions to `dataset`, timing each commit.
Latency TimeAppends(catalogd::Catalog& catalog, const std::string& bucket, const std::string& dataset, int samples) {
  std::vector<double> times;
  for (int i = 0; i < samples; ++i) {
    catalogd::CommitRequest r;
    r.dataset = dataset;
    r.op = catalogd::CommitOp::kAppend;
    r.schema = BenchSchema();
    r.objects = {Pointer(bucket, dataset)};
    auto t0 = Clock::now();
    catalog.Commit(r);
    times.push_back(Since(t0));
  }
  double sum = 0;
  for (double t : times) sum += t;
  return {Median(times), sum / static_cast<double>(times.size())};
}

//! Builds a dataset to `versions` versions without timing (the history).
void Grow(catalogd::Catalog& catalog, const std::string& bucket, const std::string& dataset, int versions) {
  for (int v = 1; v <= versions; ++v) {
    catalogd::CommitRequest r;
    r.dataset = dataset;
    r.op = v == 1 ? catalogd::CommitOp::kCreate : catalogd::CommitOp::kAppend;
    r.schema = BenchSchema();
    r.objects = {Pointer(bucket, dataset)};
    catalog.Commit(r);
  }
}

//! A fresh catalog's time to resolve `version` of `dataset` from storage (a version that is not
//! the head: its manifest, the newest checkpoint below it and the deltas in between are read).
double ColdResolve(storaged::ObjectStore& store, const std::string& dataset, uint64_t version) {
  auto catalog = catalogd::MakeCatalog(store);
  catalog->Rebuild();
  std::vector<double> times;
  for (int i = 0; i < 5; ++i) {
    auto t0 = Clock::now();
    auto m = catalog->Get(dataset, version);
    times.push_back(Since(t0));
    if (m.version != version) std::abort();
  }
  return Median(times);
}

int History(const std::string& dir, int versions, int samples) {
  fs::remove_all(dir);
  auto store = storaged::MakeLocalStore({dir, "bench"});
  auto catalog = catalogd::MakeCatalog(*store);
  catalog->Rebuild();
  const std::string bucket = store->Bucket();
  // Short history: measure the appends that take it from version 10 on.
  Grow(*catalog, bucket, "short", 10);
  // Long history: grow to `versions`, then measure the same number of appends.
  auto t0 = Clock::now();
  Grow(*catalog, bucket, "long", versions);
  const double grow_s = Since(t0);
  // Interleave the samples in rounds so both see the same machine load (2 shared cores).
  std::vector<double> short_med, long_med, short_mean, long_mean;
  const int rounds = 5;
  for (int round = 0; round < rounds; ++round) {
    auto s = TimeAppends(*catalog, bucket, "short", samples / rounds);
    auto l = TimeAppends(*catalog, bucket, "long", samples / rounds);
    short_med.push_back(s.median);
    long_med.push_back(l.median);
    short_mean.push_back(s.mean);
    long_mean.push_back(l.mean);
  }
  const double s_med = Median(short_med), l_med = Median(long_med);
  const double s_mean = Median(short_mean), l_mean = Median(long_mean);
  const auto short_head = catalog->Head("short").version;
  const auto long_head = catalog->Head("long").version;
  const double s_resolve = ColdResolve(*store, "short", short_head - 1);
  const double l_resolve = ColdResolve(*store, "long", long_head - 1);
  const auto manifest_bytes = store->Head(catalogd::ManifestKey("long", long_head))->size;
  const auto short_manifest_bytes = store->Head(catalogd::ManifestKey("short", short_head))->size;
  std::printf("history: %d versions built in %.1f s (%.0f commits/s)\n", versions, grow_s, versions / grow_s);
  std::printf(
      "append commit latency, median of %d rounds of %d: at version ~10: %.3f ms (mean %.3f), at version ~%d: "
      "%.3f ms (mean %.3f)\n",
      rounds, samples / rounds, s_med * 1e3, s_mean * 1e3, versions, l_med * 1e3, l_mean * 1e3);
  std::printf("stored append manifest: %llu bytes at version %llu, %llu bytes at version %llu\n",
              static_cast<unsigned long long>(short_manifest_bytes), static_cast<unsigned long long>(short_head),
              static_cast<unsigned long long>(manifest_bytes), static_cast<unsigned long long>(long_head));
  std::printf(
      "cold resolve of the version before the head (fresh catalog, from storage): %.2f ms at version %llu, "
      "%.2f ms at version %llu (%llu objects: its checkpoint lists them all)\n",
      s_resolve * 1e3, static_cast<unsigned long long>(short_head - 1), l_resolve * 1e3,
      static_cast<unsigned long long>(long_head - 1), static_cast<unsigned long long>(long_head - 1));
  std::printf("RESULT commit_latency_ratio_v%d_vs_v10=%.3f\n", versions, l_med / s_med);
  std::printf("RESULT commit_latency_mean_ratio_v%d_vs_v10=%.3f\n", versions, l_mean / s_mean);
  std::printf("RESULT append_manifest_bytes_ratio=%.3f\n",
              static_cast<double>(manifest_bytes) / static_cast<double>(short_manifest_bytes));
  std::printf("RESULT cold_resolve_ms_v10=%.2f\nRESULT cold_resolve_ms_v%d=%.2f\n", s_resolve * 1e3, versions,
              l_resolve * 1e3);
  return 0;
}

int Gc(const std::string& dir, int objects) {
  fs::remove_all(dir);
  auto store = storaged::MakeLocalStore({dir, "bench"});
  catalogd::CatalogOptions options;
  options.retention.keep_versions = 1;
  auto catalog = catalogd::MakeCatalog(*store, options);
  catalog->Rebuild();
  // Objects are written as files directly (the local store's layout: <root>/<key>): the puts are
  // not what is measured. A quarter are referenced by the live version, a quarter by an old
  // version that expires, half by nothing (orphans).
  auto write = [&](const std::string& key) {
    fs::path p = fs::path(dir) / key;
    fs::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << "x";
  };
  auto t0 = Clock::now();
  auto batch = [&](int n) {
    std::vector<DataObject> out;
    for (int i = 0; i < n; ++i) {
      out.push_back(DataObject{ObjectRef{store->Bucket(), catalogd::NewDataKey("gc"), 1, "e"}, 1});
      write(out.back().ref.key);
    }
    return out;
  };
  catalogd::CommitRequest r;
  r.dataset = "gc";
  r.op = catalogd::CommitOp::kCreate;
  r.schema = BenchSchema();
  r.objects = batch(objects / 4);
  catalog->Commit(r);
  r.op = catalogd::CommitOp::kReplace;
  r.objects = batch(objects / 4);
  catalog->Commit(r);
  for (int i = 0; i < objects / 2; ++i) write(catalogd::NewDataKey("gc"));
  const double setup_s = Since(t0);
  std::vector<double> list_times;
  for (int i = 0; i < 3; ++i) {
    auto t = Clock::now();
    auto listed = store->ListAll(catalogd::kDataPrefix);
    list_times.push_back(Since(t));
    if (listed.size() != static_cast<size_t>(objects / 4 * 2 + objects / 2)) std::abort();
  }
  auto t = Clock::now();
  auto report = catalog->Collect(-1);
  const double gc_s = Since(t);
  const double list_s = Median(list_times);
  std::printf(
      "gc: %d objects set up in %.1f s; collection %.2f s (listing alone %.2f s): %llu versions expired, "
      "%llu objects deleted (%llu orphans), %llu kept\n",
      objects, setup_s, gc_s, list_s, static_cast<unsigned long long>(report.versions_expired),
      static_cast<unsigned long long>(report.objects_deleted), static_cast<unsigned long long>(report.orphans_deleted),
      static_cast<unsigned long long>(report.objects_kept));
  if (report.objects_kept != static_cast<uint64_t>(objects / 4)) std::abort();
  std::printf("RESULT gc_seconds_%d_objects=%.2f\n", objects, gc_s);
  std::printf("RESULT gc_vs_listing_ratio=%.2f\n", gc_s / list_s);
  std::printf("RESULT gc_objects_deleted_per_s=%.0f\n", static_cast<double>(report.objects_deleted) / gc_s);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"tables benchmarks (issue 13)"};
  app.require_subcommand(1);
  std::string dir;
  int versions = 10000, samples = 200, objects = 100000;
  auto* history = app.add_subcommand("history", "commit latency at version 10 vs a long history");
  history->add_option("--dir", dir)->required();
  history->add_option("--versions", versions);
  history->add_option("--samples", samples);
  auto* gc = app.add_subcommand("gc", "garbage collection of many objects");
  gc->add_option("--dir", dir)->required();
  gc->add_option("--objects", objects);
  CLI11_PARSE(app, argc, argv);
  log::Init(log::Level::kWarn);
  if (history->parsed()) return History(dir, versions, std::max(samples, 5));
  return Gc(dir, objects);
}
