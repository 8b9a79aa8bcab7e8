#include "test_util.h"

#include <openssl/evp.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <stdexcept>

#include <fmt/format.h>

#include "lakehouse/shared/http_client.h"
#include "lakehouse/storaged/sigv4.h"
#include "lakehouse/testing/s3.h"

namespace lakehouse::storaged::testing {

size_t PatternSource::Read(char* buf, size_t n) {
  size_t k = static_cast<size_t>(std::min<uint64_t>(n, left_));
  for (size_t i = 0; i < k; ++i) {
    state_ ^= state_ << 13;
    state_ ^= state_ >> 7;
    state_ ^= state_ << 17;
    buf[i] = static_cast<char>(state_ >> 56);
  }
  left_ -= k;
  return k;
}

std::string PatternSha256(uint64_t size, uint64_t seed) {
  PatternSource source(size, seed);
  Sha256 sha;
  std::string buf(1 << 20, '\0');
  while (size_t n = source.Read(buf.data(), buf.size())) sha.Update(std::string_view(buf.data(), n));
  return sha.HexDigest();
}

HttpResult PlainHttp(const std::string& method, const std::string& url, std::string_view body) {
  static HttpClient client;
  HttpResponse response = client.Send(method, url, std::string(body));
  if (response.transport_error != 0) throw std::runtime_error("HTTP request failed: " + response.error);
  return HttpResult{response.status, std::move(response.body)};
}

std::optional<S3StoreOptions> S3OptionsFromEnv() {
  std::optional<S3StoreOptions> options = lakehouse::testing::S3OptionsFromEnv();
  if (!options) return std::nullopt;
  options->bucket = "storaged-conformance";
  options->timeout_ms = 10000;
  return options;
}

std::string RandomHex(size_t chars) {
  static thread_local std::mt19937_64 rng(std::random_device{}());
  std::string out;
  while (out.size() < chars) out += fmt::format("{:016x}", rng());
  return out.substr(0, chars);
}

}  // namespace lakehouse::storaged::testing
