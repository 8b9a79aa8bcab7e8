// The gateway's object routes (gateway/src/routes_objects.cpp) over a real socket: local presigned
// URLs used by plain HTTP requests, as a browser or `curl` would.
#include <curl/curl.h>
#include <gtest/gtest.h>

#include <map>
#include <thread>

#include "lakehouse/gateway/gateway.h"
#include "lakehouse/shared/error.h"
#include "lakehouse/shared/logging.h"
#include "lakehouse/storaged/object_store.h"
#include "test_util.h"

namespace lakehouse::storaged {
namespace {

struct Reply {
  long status = 0;
  std::string body;
  std::map<std::string, std::string> headers;  // lowercase names
};

size_t AppendBody(char* data, size_t size, size_t n, void* user) {
  static_cast<std::string*>(user)->append(data, size * n);
  return size * n;
}

size_t AppendHeader(char* data, size_t size, size_t n, void* user) {
  std::string line(data, size * n);
  size_t colon = line.find(':');
  if (colon != std::string::npos) {
    std::string name = line.substr(0, colon);
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    std::string value = line.substr(colon + 1);
    value.erase(0, value.find_first_not_of(' '));
    value.erase(value.find_last_not_of("\r\n ") + 1);
    (*static_cast<std::map<std::string, std::string>*>(user))[name] = value;
  }
  return size * n;
}

struct Upload {
  std::string_view data;
  size_t pos = 0;
};

size_t ReadUpload(char* buf, size_t size, size_t n, void* user) {
  auto* up = static_cast<Upload*>(user);
  size_t k = std::min(size * n, up->data.size() - up->pos);
  std::memcpy(buf, up->data.data() + up->pos, k);
  up->pos += k;
  return k;
}

Reply Http(const std::string& method, const std::string& url, std::string_view body = {},
           const std::string& header = {}) {
  CURL* h = curl_easy_init();
  Reply reply;
  Upload upload{body};
  curl_slist* headers = header.empty() ? nullptr : curl_slist_append(nullptr, header.c_str());
  curl_easy_setopt(h, CURLOPT_URL, url.c_str());
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, AppendBody);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &reply.body);
  curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, AppendHeader);
  curl_easy_setopt(h, CURLOPT_HEADERDATA, &reply.headers);
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 20000L);
  if (method == "PUT") {
    curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(body.size()));
    curl_easy_setopt(h, CURLOPT_READFUNCTION, ReadUpload);
    curl_easy_setopt(h, CURLOPT_READDATA, &upload);
  }
  CURLcode rc = curl_easy_perform(h);
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &reply.status);
  curl_slist_free_all(headers);
  curl_easy_cleanup(h);
  if (rc != CURLE_OK) ADD_FAILURE() << method << " " << url << ": " << curl_easy_strerror(rc);
  return reply;
}

class GatewayObjectsTest : public ::testing::Test {
 protected:
  void Start(ObjectStore* store) {
    log::Init(log::Level::kWarn);
    gateway::Services services;
    services.store = store;
    services.max_upload_bytes = 64 << 20;
    gateway::ServerOptions options;
    options.port = 0;
    options.worker_threads = 4;
    server_ =
        std::make_unique<gateway::Server>(options, gateway::BuildRouter(services), std::vector<gateway::HealthCheck>{});
    server_->Bind();
    base_ = "http://127.0.0.1:" + std::to_string(server_->port());
    thread_ = std::thread([this] { server_->Run(); });
  }
  void TearDown() override {
    if (server_) {
      server_->Stop();
      thread_.join();
    }
  }
  //! The store makes relative URLs (no public_base_url); the client puts the server in front.
  std::string Url(PresignMethod method, const std::string& key, int64_t seconds = 60) {
    return base_ + store_->Presign(method, key, seconds);
  }

  testing::TempDir dir_;
  std::unique_ptr<ObjectStore> store_ = MakeLocalStore({dir_.path(), "gateway-test-secret", ""});
  std::unique_ptr<gateway::Server> server_;
  std::thread thread_;
  std::string base_;
};

TEST_F(GatewayObjectsTest, PresignedPutThenGet) {
  Start(store_.get());
  const std::string key = "uploads/part 0.parquet";
  std::string big(3 << 20, '\0');
  testing::PatternSource(big.size(), 5).Read(big.data(), big.size());

  Reply put = Http("PUT", Url(PresignMethod::kPut, key), big);
  ASSERT_EQ(put.status, 200) << put.body;
  EXPECT_NE(put.body.find("\"size\":3145728"), std::string::npos) << put.body;
  EXPECT_TRUE(store_->GetBytes(key) == big);

  Reply get = Http("GET", Url(PresignMethod::kGet, key));  // > 1 MiB: streamed in chunks
  ASSERT_EQ(get.status, 200) << get.body;
  EXPECT_EQ(get.body.size(), big.size());
  EXPECT_TRUE(get.body == big);
  EXPECT_EQ(get.headers["etag"], "\"" + store_->Head(key)->etag + "\"");
  EXPECT_EQ(get.headers["x-object-size"], "3145728");

  store_->PutBytes("small.txt", "hello world");
  Reply small = Http("GET", Url(PresignMethod::kGet, "small.txt"));
  EXPECT_EQ(small.status, 200);
  EXPECT_EQ(small.body, "hello world");
  EXPECT_EQ(small.headers["content-length"], "11");

  Reply range = Http("GET", Url(PresignMethod::kGet, "small.txt"), {}, "Range: bytes=6-");
  EXPECT_EQ(range.status, 206);
  EXPECT_EQ(range.body, "world");
  EXPECT_EQ(range.headers["content-range"], "bytes 6-10/11");
  Reply suffix = Http("GET", Url(PresignMethod::kGet, key), {}, "Range: bytes=-4");
  EXPECT_EQ(suffix.status, 206);
  EXPECT_EQ(suffix.body, big.substr(big.size() - 4));
  Reply past = Http("GET", Url(PresignMethod::kGet, "small.txt"), {}, "Range: bytes=11-20");
  EXPECT_EQ(past.status, 416);
}

TEST_F(GatewayObjectsTest, BadUrlsAreRefused) {
  Start(store_.get());
  store_->PutBytes("k", "secret data");
  std::string get_url = Url(PresignMethod::kGet, "k");

  Reply wrong_method = Http("PUT", get_url, "overwrite");
  EXPECT_EQ(wrong_method.status, 403) << wrong_method.body;
  EXPECT_NE(wrong_method.body.find("permission_denied"), std::string::npos) << wrong_method.body;
  EXPECT_EQ(store_->GetBytes("k"), "secret data");

  std::string tampered = get_url;
  tampered.back() = tampered.back() == '0' ? '1' : '0';
  EXPECT_EQ(Http("GET", tampered).status, 403);
  EXPECT_EQ(Http("GET", get_url.substr(0, get_url.find('?'))).status, 403) << "no signature";
  std::string other_key = get_url;
  other_key.replace(other_key.find("/objects/k?"), 11, "/objects/j?");
  EXPECT_EQ(Http("GET", other_key).status, 403) << "the signature covers the key";

  Reply missing = Http("GET", Url(PresignMethod::kGet, "not/there"));
  EXPECT_EQ(missing.status, 404) << missing.body;
  EXPECT_EQ(Http("GET", base_ + "/api/v1/objects/..%2Fescape?method=GET&expires=9999999999&signature=00").status, 400);
}

TEST_F(GatewayObjectsTest, S3BackendAnswers404) {
  S3StoreOptions options;
  options.endpoint = "http://127.0.0.1:9";
  options.bucket = "bucket";
  options.access_key = "a";
  options.secret_key = "s";
  options.create_bucket = false;
  auto s3 = MakeS3Store(options);
  Start(s3.get());
  Reply reply = Http("GET", base_ + "/api/v1/objects/k?method=GET&expires=1&signature=00");
  EXPECT_EQ(reply.status, 404);
  EXPECT_NE(reply.body.find("S3"), std::string::npos) << reply.body;
}

}  // namespace
}  // namespace lakehouse::storaged
