#include "test_util.h"

#include <curl/curl.h>
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

#include "lakehouse/storaged/sigv4.h"

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

Sha256::Sha256() : ctx_(EVP_MD_CTX_new()) { EVP_DigestInit_ex(static_cast<EVP_MD_CTX*>(ctx_), EVP_sha256(), nullptr); }
Sha256::~Sha256() { EVP_MD_CTX_free(static_cast<EVP_MD_CTX*>(ctx_)); }
void Sha256::Update(std::string_view data) {
  EVP_DigestUpdate(static_cast<EVP_MD_CTX*>(ctx_), data.data(), data.size());
}
std::string Sha256::HexDigest() {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(static_cast<EVP_MD_CTX*>(ctx_), digest, &len);
  return HexEncode(std::string_view(reinterpret_cast<const char*>(digest), len));
}

namespace {
struct UploadState {
  std::string_view data;
  size_t pos = 0;
};
size_t CollectBody(char* data, size_t size, size_t n, void* user) {
  static_cast<std::string*>(user)->append(data, size * n);
  return size * n;
}
size_t ReadBody(char* buf, size_t size, size_t n, void* user) {
  auto* st = static_cast<UploadState*>(user);
  size_t k = std::min(size * n, st->data.size() - st->pos);
  std::memcpy(buf, st->data.data() + st->pos, k);
  st->pos += k;
  return k;
}
}  // namespace

HttpResult PlainHttp(const std::string& method, const std::string& url, std::string_view body) {
  CURL* h = curl_easy_init();
  HttpResult result;
  UploadState upload{body};
  curl_easy_setopt(h, CURLOPT_URL, url.c_str());
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, CollectBody);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &result.body);
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 20000L);
  if (method == "PUT") {
    curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(body.size()));
    curl_easy_setopt(h, CURLOPT_READFUNCTION, ReadBody);
    curl_easy_setopt(h, CURLOPT_READDATA, &upload);
  } else if (method != "GET") {
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method.c_str());
  }
  CURLcode rc = curl_easy_perform(h);
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &result.status);
  curl_easy_cleanup(h);
  if (rc != CURLE_OK) throw std::runtime_error(std::string("HTTP request failed: ") + curl_easy_strerror(rc));
  return result;
}

std::optional<S3StoreOptions> S3OptionsFromEnv() {
  const char* file = std::getenv("LAKEHOUSE_S3_ENV_FILE");
  if (file == nullptr || *file == '\0') return std::nullopt;
  std::ifstream in(file);
  if (!in) throw std::runtime_error(std::string("cannot read LAKEHOUSE_S3_ENV_FILE ") + file);
  std::map<std::string, std::string> env;
  std::string line;
  while (std::getline(in, line)) {
    size_t eq = line.find('=');
    if (eq != std::string::npos) env[line.substr(0, eq)] = line.substr(eq + 1);
  }
  S3StoreOptions options;
  options.endpoint = env["S3_ENDPOINT"];
  options.region = env["S3_REGION"];
  options.access_key = env["S3_ACCESS_KEY"];
  options.secret_key = env["S3_SECRET_KEY"];
  options.bucket = "storaged-conformance";
  options.timeout_ms = 10000;
  return options;
}

TempDir::TempDir() {
  const char* base = std::getenv("TMPDIR");
  std::string tmpl = std::string(base != nullptr && *base != '\0' ? base : "/tmp") + "/lh-storaged-XXXXXX";
  if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::string RandomHex(size_t chars) {
  static thread_local std::mt19937_64 rng(std::random_device{}());
  std::string out;
  while (out.size() < chars) out += fmt::format("{:016x}", rng());
  return out.substr(0, chars);
}

}  // namespace lakehouse::storaged::testing
