#pragma once
// Helpers shared by the storaged tests: deterministic streams, hashing, a plain HTTP client
// (no signing: what a browser or `curl URL` would do) and the radosgw connection settings.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "lakehouse/shared/hash.h"
#include "lakehouse/shared/io.h"
#include "lakehouse/storaged/object_store.h"
#include "lakehouse/testing/gateway.h"
#include "lakehouse/testing/s3.h"

namespace lakehouse::storaged::testing {

//! `size` pseudo-random bytes from `seed`, produced as they are read (never held whole).
class PatternSource final : public ByteSource {
 public:
  PatternSource(uint64_t size, uint64_t seed) : left_(size), state_(seed * 0x9E3779B97F4A7C15ull + 1) {}
  size_t Read(char* buf, size_t n) override;

 private:
  uint64_t left_;
  uint64_t state_;
};

//! SHA-256 (hex) of a PatternSource's whole output.
std::string PatternSha256(uint64_t size, uint64_t seed);

//! Incremental SHA-256 (the shared one).
using lakehouse::Sha256;

struct HttpResult {
  long status = 0;
  std::string body;
};
//! One unsigned HTTP request with libcurl (method GET or PUT).
HttpResult PlainHttp(const std::string& method, const std::string& url, std::string_view body = {});

//! S3 settings from the env file named by LAKEHOUSE_S3_ENV_FILE (written by scripts/rgw.sh);
//! nullopt when the variable is unset.
std::optional<S3StoreOptions> S3OptionsFromEnv();

//! A fresh directory, removed by the destructor (the testing library's).
using lakehouse::testing::TempDir;

//! S3 options for a server that is not there (127.0.0.1:9): offline error handling.
using lakehouse::testing::OfflineS3Options;

//! Random lowercase hex.
std::string RandomHex(size_t chars);

}  // namespace lakehouse::storaged::testing
