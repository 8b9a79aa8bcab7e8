#include "test_stores.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <stdexcept>

#include "lakehouse/shared/types.h"
#include "lakehouse/testing/s3.h"

namespace lakehouse::testing {

namespace fs = std::filesystem;

std::string MakeTempDir(const std::string& tag) {
  auto dir = fs::temp_directory_path() / ("lh-" + tag + "-" + RandomHexId().substr(0, 12));
  fs::create_directories(dir);
  return dir.string();
}

TestStore::~TestStore() {
  store.reset();
  if (!root.empty()) {
    std::error_code ec;
    fs::remove_all(root, ec);
  }
}

std::unique_ptr<storaged::ObjectStore> TestStore::Reopen() const {
  if (!root.empty()) return storaged::MakeLocalStore({root, "test-secret"});
  return storaged::MakeS3Store(s3);
}

bool S3Available() {
  const char* f = std::getenv("LAKEHOUSE_S3_ENV_FILE");
  return f != nullptr && *f != '\0';
}

std::unique_ptr<TestStore> MakeTestStore(const std::string& kind) {
  auto t = std::make_unique<TestStore>();
  if (kind == "local") {
    t->root = MakeTempDir("store");
    t->store = t->Reopen();
    return t;
  }
  std::optional<storaged::S3StoreOptions> s3 = S3OptionsFromEnv();
  if (!s3) throw std::runtime_error("LAKEHOUSE_S3_ENV_FILE is not set");
  t->s3 = *s3;
  t->s3.bucket = "test-" + RandomHexId().substr(0, 16);
  t->s3.create_bucket = true;
  t->store = storaged::MakeS3Store(t->s3);
  return t;
}

}  // namespace lakehouse::testing
