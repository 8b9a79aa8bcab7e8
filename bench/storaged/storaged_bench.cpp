// storaged_bench: operation rates and streaming throughput of the object store backends.
//
//   storaged_bench local [DIR]            local filesystem backend (default: a temp dir)
//   storaged_bench s3 ENV_FILE            S3 backend, settings from scripts/rgw.sh's env file
//
// Bounded: a fixed number of operations per measurement, on 1 and 4 threads.
#include <fmt/format.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <random>
#include <thread>
#include <vector>

#include "lakehouse/shared/error.h"
#include "lakehouse/storaged/object_store.h"
#include "lakehouse/testing/s3.h"

using lakehouse::storaged::ObjectStore;

namespace {

double Seconds(const std::function<void()>& fn) {
  auto start = std::chrono::steady_clock::now();
  fn();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

//! Runs op(i) for i in [0, n) on `threads` threads; returns operations per second.
double Rate(int n, int threads, const std::function<void(int)>& op) {
  std::atomic<int> next{0};
  double s = Seconds([&] {
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t) {
      pool.emplace_back([&] {
        for (int i = next++; i < n; i = next++) op(i);
      });
    }
    for (auto& th : pool) th.join();
  });
  return n / s;
}

class ZeroSource final : public lakehouse::ByteSource {
 public:
  explicit ZeroSource(uint64_t size) : left_(size) {}
  size_t Read(char* buf, size_t n) override {
    size_t k = static_cast<size_t>(std::min<uint64_t>(n, left_));
    std::memset(buf, 'z', k);
    left_ -= k;
    return k;
  }

 private:
  uint64_t left_;
};

void Run(ObjectStore& store, const std::string& prefix) {
  constexpr int kOps = 2000;
  for (int threads : {1, 4}) {
    std::string p = fmt::format("{}t{}/", prefix, threads);
    double put = Rate(kOps, threads, [&](int i) { store.PutBytes(fmt::format("{}obj{}", p, i), "small object body"); });
    double pia = Rate(kOps, threads, [&](int i) { store.PutIfAbsent(fmt::format("{}pia{}", p, i), "{\"v\":1}"); });
    double head = Rate(kOps, threads, [&](int i) { store.Head(fmt::format("{}obj{}", p, i)); });
    double get = Rate(kOps, threads, [&](int i) { store.GetBytes(fmt::format("{}obj{}", p, i)); });
    double list = Seconds([&] { store.ListAll(p); });
    double del = Rate(kOps, threads, [&](int i) {
      store.Delete(fmt::format("{}obj{}", p, i));
      store.Delete(fmt::format("{}pia{}", p, i));
    });
    fmt::print(
        "{} threads={}: put {:.0f}/s  put-if-absent {:.0f}/s  head {:.0f}/s  get {:.0f}/s  "
        "list {} keys {:.0f} ms  delete(x2) {:.0f}/s\n",
        store.Kind(), threads, put, pia, head, get, 2 * kOps, list * 1000, del);
  }
  constexpr uint64_t kBig = 256ull << 20;
  ZeroSource source(kBig);
  double up = Seconds([&] { store.Put(prefix + "big", source); });
  uint64_t got = 0;
  double down = Seconds([&] {
    store.Get(prefix + "big", [&](std::string_view chunk) {
      got += chunk.size();
      return true;
    });
  });
  store.Delete(prefix + "big");
  fmt::print("{} 256 MiB object: put {:.0f} MB/s  get {:.0f} MB/s\n", store.Kind(), kBig / up / 1e6, got / down / 1e6);
}

}  // namespace

int main(int argc, char** argv) {
  try {
    std::string mode = argc > 1 ? argv[1] : "local";
    std::string prefix = fmt::format("bench-{:08x}/", std::random_device{}());
    if (mode == "local") {
      std::string dir =
          argc > 2 ? argv[2] : (std::filesystem::temp_directory_path() / ("lh-bench-" + prefix.substr(6, 8))).string();
      {
        auto store = lakehouse::storaged::MakeLocalStore({dir, ""});
        Run(*store, prefix);
      }
      if (argc <= 2) std::filesystem::remove_all(dir);
    } else if (mode == "s3" && argc > 2) {
      lakehouse::storaged::S3StoreOptions options = lakehouse::testing::S3OptionsFromEnvFile(argv[2]);
      options.bucket = "storaged-bench";
      auto store = lakehouse::storaged::MakeS3Store(options);
      Run(*store, prefix);
    } else {
      fmt::print(stderr, "usage: storaged_bench local [DIR] | storaged_bench s3 ENV_FILE\n");
      return 2;
    }
  } catch (const std::exception& e) {
    fmt::print(stderr, "storaged_bench: {}\n", e.what());
    return 1;
  }
  return 0;
}
