// The SQL sandbox: any text sent as a query must end in rows or a clean lakehouse::Error within
// its timeout, never a crash, and never touch a file (the engine has no datasets here, so every
// table reference is unknown).
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>

#include "lakehouse/catalogd/catalog.h"
#include "lakehouse/queryd/query.h"
#include "lakehouse/shared/error.h"
#include "lakehouse/shared/logging.h"
#include "lakehouse/storaged/object_store.h"

using namespace lakehouse;

namespace {
class NullSink final : public queryd::ResultSink {
 public:
  void Begin(std::string_view) override {}
  bool Write(std::string_view) override { return true; }
  bool ClientGone() override { return false; }
};

struct World {
  std::unique_ptr<storaged::ObjectStore> store;
  std::unique_ptr<catalogd::Catalog> catalog;
  std::unique_ptr<queryd::QueryEngine> engine;
  World() {
    log::Init(log::Level::kError);
    const auto dir = std::filesystem::temp_directory_path() / ("lh-fuzz-sql-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir / "spill");
    store = storaged::MakeLocalStore({(dir / "objects").string(), ""});
    catalog = catalogd::MakeCatalog(*store);
    catalog->Rebuild();
    queryd::QueryConfig config;
    config.memory_limit = "256MB";
    config.threads = 1;
    config.temp_dir = (dir / "spill").string();
    config.max_spill_total_bytes = 64ull << 20;
    engine = queryd::MakeQueryEngine(*catalog, *store, config);
  }
};
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static World world;
  if (size > 4096) return 0;
  queryd::QueryRequest request;
  request.sql.assign(reinterpret_cast<const char*>(data), size);
  request.limit = 100;
  request.timeout_ms = 2000;
  NullSink sink;
  try {
    world.engine->Execute(request, sink);
  } catch (const Error&) {
  }
  return 0;
}
