// Commits/s through catalogd over gRPC against the embedded catalog, in one invocation (run by
// bench/grpc_commits.sh):
//   grpc_commit_bench --dir D [--threads T] [--seconds S]
// Both runs commit the same way to the same kind of store (a fresh local store each): T threads,
// each creating datasets and appending to them, for S seconds. The gRPC run serves the catalog
// with rpc::Server on 127.0.0.1 and commits through rpc::ConnectCatalog (one client shared by the
// threads, as the gateway shares one). Prints "RESULT name=value" lines and the ratio.
#include <CLI/CLI.hpp>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <thread>

#include "lakehouse/catalogd/catalog.h"
#include "lakehouse/rpc/rpc.h"
#include "lakehouse/shared/logging.h"
#include "lakehouse/storaged/object_store.h"

namespace {

using namespace lakehouse;
using Clock = std::chrono::steady_clock;

double Since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

//! Commits per second by `threads` writers through `catalog` for `seconds`.
double Rate(catalogd::Catalog& catalog, const std::string& bucket, int threads, double seconds) {
  std::atomic<uint64_t> total{0};
  std::atomic<bool> stop{false};
  const auto start = Clock::now();
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      for (int d = 0; !stop; ++d) {
        const std::string name = "bench_t" + std::to_string(t) + "_" + std::to_string(d);
        for (int i = 0; i < 50 && !stop; ++i) {
          catalogd::CommitRequest r;
          r.dataset = name;
          r.op = i == 0 ? catalogd::CommitOp::kCreate : catalogd::CommitOp::kAppend;
          r.schema = {{"id", "BIGINT", true}, {"label", "VARCHAR", true}};
          // A pointer never read: commits are measured alone.
          r.objects = {DataObject{ObjectRef{bucket, catalogd::NewDataKey(name), 123456, "etag"}, 1000}};
          catalog.Commit(r);
          ++total;
          if (Since(start) > seconds) stop = true;
        }
      }
    });
  }
  for (auto& th : pool) th.join();
  return static_cast<double>(total.load()) / Since(start);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"commits/s over gRPC vs embedded"};
  std::string dir;
  int threads = 1;
  double seconds = 3;
  app.add_option("--dir", dir, "scratch directory")->required();
  app.add_option("--threads", threads, "writer threads");
  app.add_option("--seconds", seconds, "seconds per run");
  CLI11_PARSE(app, argc, argv);
  log::Init(log::Level::kWarn);

  double embedded = 0;
  {
    auto store = storaged::MakeLocalStore({dir + "/embedded", "bench"});
    auto catalog = catalogd::MakeCatalog(*store);
    catalog->Rebuild();
    embedded = Rate(*catalog, store->Bucket(), threads, seconds);
  }
  double grpc = 0;
  {
    auto store = storaged::MakeLocalStore({dir + "/grpc", "bench"});
    auto catalog = catalogd::MakeCatalog(*store);
    catalog->Rebuild();
    rpc::Server server(rpc::ServerOptions{}, rpc::ServedServices{.catalog = catalog.get()});
    server.Start();
    rpc::ClientOptions options;
    options.address = "127.0.0.1:" + std::to_string(server.port());
    options.service = "catalogd";
    auto client = rpc::ConnectCatalog(options);
    grpc = Rate(*client, store->Bucket(), threads, seconds);
    server.Shutdown();
  }
  std::printf("commits/s with %d writer(s): embedded %.0f, over gRPC %.0f (%.2fx)\n", threads, embedded, grpc,
              grpc / embedded);
  std::printf("RESULT commits_per_s_embedded_t%d=%.0f\n", threads, embedded);
  std::printf("RESULT commits_per_s_grpc_t%d=%.0f\n", threads, grpc);
  std::printf("RESULT grpc_vs_embedded_t%d=%.3f\n", threads, grpc / embedded);
  return 0;
}
