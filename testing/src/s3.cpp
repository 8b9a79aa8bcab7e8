#include "lakehouse/testing/s3.h"

#include <cstdlib>
#include <fstream>
#include <map>
#include <stdexcept>

namespace lakehouse::testing {

storaged::S3StoreOptions S3OptionsFromEnvFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot read the S3 env file " + path + " (is radosgw up? scripts/rgw.sh)");
  std::map<std::string, std::string> env;
  for (std::string line; std::getline(in, line);) {
    const size_t eq = line.find('=');
    if (eq != std::string::npos) env[line.substr(0, eq)] = line.substr(eq + 1);
  }
  storaged::S3StoreOptions options;
  options.endpoint = env["S3_ENDPOINT"];
  if (!env["S3_REGION"].empty()) options.region = env["S3_REGION"];
  options.access_key = env["S3_ACCESS_KEY"];
  options.secret_key = env["S3_SECRET_KEY"];
  return options;
}

std::optional<storaged::S3StoreOptions> S3OptionsFromEnv() {
  const char* file = std::getenv("LAKEHOUSE_S3_ENV_FILE");
  if (file == nullptr || *file == '\0') return std::nullopt;
  return S3OptionsFromEnvFile(file);
}

storaged::S3StoreOptions OfflineS3Options() {
  storaged::S3StoreOptions options;
  options.endpoint = "http://127.0.0.1:9";  // the discard port: nothing listens
  options.bucket = "bucket";
  options.access_key = "a";
  options.secret_key = "s";
  options.create_bucket = false;
  return options;
}

}  // namespace lakehouse::testing
