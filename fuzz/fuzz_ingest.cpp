// The ingest conversions: the first byte picks the declared format (sniffed, Parquet, CSV, JSON,
// NDJSON), the rest is the upload body. Any input must end in a committed version or a clean
// lakehouse::Error, never a crash; each version is deleted again so the catalog stays small.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

#include "lakehouse/catalogd/catalog.h"
#include "lakehouse/ingest/ingest.h"
#include "lakehouse/shared/error.h"
#include "lakehouse/shared/io.h"
#include "lakehouse/shared/logging.h"
#include "lakehouse/storaged/object_store.h"

using namespace lakehouse;

namespace {
struct World {
  std::string dir;
  std::unique_ptr<storaged::ObjectStore> store;
  std::unique_ptr<catalogd::Catalog> catalog;
  std::unique_ptr<ingest::Ingestor> ingestor;
  World() {
    log::Init(log::Level::kError);
    dir = (std::filesystem::temp_directory_path() / ("lh-fuzz-ingest-" + std::to_string(::getpid()))).string();
    std::filesystem::create_directories(dir + "/tmp");
    store = storaged::MakeLocalStore({dir + "/objects", ""});
    catalog = catalogd::MakeCatalog(*store);
    catalog->Rebuild();
    ingestor = ingest::MakeIngestor(*store, *catalog, ingest::IngestOptions{dir + "/tmp", "256MB", 1});
  }
};
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static World world;
  if (size == 0) return 0;
  static const std::optional<ingest::Format> kFormats[] = {std::nullopt, ingest::Format::kParquet, ingest::Format::kCsv,
                                                           ingest::Format::kJson, ingest::Format::kNdjson};
  ingest::IngestRequest request;
  request.dataset = "fuzz";
  request.op = catalogd::CommitOp::kCreate;
  request.format = kFormats[data[0] % 5];
  StringSource body(std::string_view(reinterpret_cast<const char*>(data) + 1, size - 1));
  try {
    world.ingestor->Ingest(request, body);
    catalogd::CommitRequest drop;
    drop.dataset = "fuzz";
    drop.op = catalogd::CommitOp::kDelete;
    world.catalog->Commit(drop);
    world.catalog->CollectGarbage(0);
  } catch (const Error&) {
  }
  return 0;
}
