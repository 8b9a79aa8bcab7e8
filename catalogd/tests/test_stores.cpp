#include "test_stores.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <stdexcept>

#include "lakehouse/shared/types.h"

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
  if (!root.empty()) return storaged::MakeLocalStore({root, "test-secret", "http://127.0.0.1:1"});
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
  const char* path = std::getenv("LAKEHOUSE_S3_ENV_FILE");
  if (path == nullptr) throw std::runtime_error("LAKEHOUSE_S3_ENV_FILE is not set");
  std::ifstream in(path);
  if (!in) throw std::runtime_error(std::string("cannot read ") + path + " (is the rgw fixture up?)");
  std::map<std::string, std::string> env;
  for (std::string line; std::getline(in, line);) {
    auto eq = line.find('=');
    if (eq != std::string::npos) env[line.substr(0, eq)] = line.substr(eq + 1);
  }
  t->s3.endpoint = env["S3_ENDPOINT"];
  t->s3.region = env.count("S3_REGION") ? env["S3_REGION"] : "us-east-1";
  t->s3.access_key = env["S3_ACCESS_KEY"];
  t->s3.secret_key = env["S3_SECRET_KEY"];
  t->s3.bucket = "test-" + RandomHexId().substr(0, 16);
  t->s3.create_bucket = true;
  t->store = storaged::MakeS3Store(t->s3);
  return t;
}

}  // namespace lakehouse::testing
