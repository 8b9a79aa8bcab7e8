// The gateway's object routes (gateway/src/routes_objects.cpp) over a real socket: local presigned
// URLs (built and parsed by gateway/src/presign.cpp) used by plain HTTP requests, as a browser or
// `curl` would. Each test runs twice: the store in-process, and the store behind gRPC (transport.h).
#include <gtest/gtest.h>

#include <map>
#include <thread>

#include "lakehouse/gateway/gateway.h"
#include "lakehouse/shared/error.h"
#include "lakehouse/shared/http_client.h"
#include "lakehouse/shared/logging.h"
#include "lakehouse/storaged/object_store.h"
#include "lakehouse/testing/errors.h"
#include "presign.h"
#include "test_util.h"
#include "transport.h"

namespace lakehouse::storaged {
namespace {

struct Reply {
  long status = 0;
  std::string body;
  std::map<std::string, std::string> headers;  // lowercase names
};

//! One plain request (no signing), as a browser or `curl URL` would send it.
Reply Http(const std::string& method, const std::string& url, std::string_view body = {},
           const std::string& header = {}) {
  static HttpClient client;
  std::vector<std::string> headers;
  if (!header.empty()) headers.push_back(header);
  HttpResponse response = client.Send(method, url, std::string(body), headers);
  if (response.transport_error != 0) ADD_FAILURE() << method << " " << url << ": " << response.error;
  return Reply{response.status, std::move(response.body), std::move(response.headers)};
}

class GatewayObjectsTest : public ::testing::TestWithParam<gateway::testing::Transport> {
 protected:
  void Start(ObjectStore* store) {
    log::Init(log::Level::kWarn);
    transport_ = std::make_unique<gateway::testing::TransportServices>(GetParam(), store);
    gateway::Services services;
    services.store = transport_->store();
    services.max_upload_bytes = 64 << 20;
    gateway_ = std::make_unique<lakehouse::testing::InProcessGateway>(services);
    base_ = gateway_->url();
  }
  std::string Url(PresignMethod method, const std::string& key, int64_t seconds = 60) {
    return gateway::PresignUrl(*transport_->store(), base_, method, key, seconds);
  }

  testing::TempDir dir_;
  std::unique_ptr<ObjectStore> store_ = MakeLocalStore({dir_.path(), "gateway-test-secret"});
  std::unique_ptr<gateway::testing::TransportServices> transport_;
  std::unique_ptr<lakehouse::testing::InProcessGateway> gateway_;
  std::string base_;
};

TEST_P(GatewayObjectsTest, PresignedPutThenGet) {
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

TEST_P(GatewayObjectsTest, BadUrlsAreRefused) {
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

TEST_P(GatewayObjectsTest, UrlsAreBuiltAndParsedHere) {
  // The URL format of docs/api/objects.md: base + /api/v1/objects/{key}?method=&expires=&signature=.
  const std::string url = gateway::PresignUrl(*store_, "http://gw:8080/", PresignMethod::kPut, "ds/a b", 10);
  const std::string prefix = "http://gw:8080/api/v1/objects/ds/a%20b?method=PUT&expires=";
  ASSERT_EQ(url.rfind(prefix, 0), 0u) << url;
  const int64_t expires = std::stoll(url.substr(prefix.size()));
  const std::string signature = url.substr(url.find("&signature=") + 11);
  EXPECT_NO_THROW(store_->VerifyPresigned(PresignMethod::kPut, "ds/a b", expires, signature));
  const std::string query = url.substr(url.find('?') + 1);
  EXPECT_EQ(gateway::VerifyPresignedRequest(*store_, "PUT", "/api/v1/objects/ds/a b", query), "ds/a b");
  EXPECT_EQ(gateway::PresignUrl(*store_, "", PresignMethod::kGet, "k", 10).rfind("/api/v1/objects/k?method=GET&", 0),
            0u)
      << "no base: a URL relative to this server";

  using lakehouse::testing::CodeOf;
  std::string why;
  EXPECT_EQ(CodeOf([&] { gateway::VerifyPresignedRequest(*store_, "PUT", "/api/v1/datasets/ds/a b", query); }, &why),
            ErrorCode::kPermissionDenied);
  EXPECT_NE(why.find("not an object URL"), std::string::npos) << why;
  EXPECT_EQ(CodeOf([&] { gateway::VerifyPresignedRequest(*store_, "GET", "/api/v1/objects/ds/a b", query); }, &why),
            ErrorCode::kPermissionDenied);
  EXPECT_NE(why.find("signed for PUT, not GET"), std::string::npos) << why;
  EXPECT_EQ(
      CodeOf([&] { gateway::VerifyPresignedRequest(*store_, "PUT", "/api/v1/objects/ds/a b", "method=PUT"); }, &why),
      ErrorCode::kPermissionDenied);
  EXPECT_NE(why.find("method, expires and signature"), std::string::npos) << why;
  EXPECT_EQ(CodeOf(
                [&] {
                  gateway::VerifyPresignedRequest(*store_, "PUT", "/api/v1/objects/ds/a b",
                                                  "method=PUT&expires=12x&signature=" + signature);
                },
                &why),
            ErrorCode::kPermissionDenied);
  EXPECT_NE(why.find("not a unix time"), std::string::npos) << why;
  EXPECT_EQ(CodeOf([&] { gateway::VerifyPresignedRequest(*store_, "PUT", "/api/v1/objects/a/../b", query); }),
            ErrorCode::kInvalidArgument);

  // The S3 backend's URLs are the S3 server's own.
  auto s3 = MakeS3Store(testing::OfflineS3Options());
  EXPECT_EQ(gateway::PresignUrl(*s3, "http://gw:8080", PresignMethod::kGet, "a b", 60).find("/api/v1/"),
            std::string::npos);
}

TEST_P(GatewayObjectsTest, S3BackendAnswers404) {
  auto s3 = MakeS3Store(testing::OfflineS3Options());
  Start(s3.get());
  Reply reply = Http("GET", base_ + "/api/v1/objects/k?method=GET&expires=1&signature=00");
  EXPECT_EQ(reply.status, 404);
  EXPECT_NE(reply.body.find("S3"), std::string::npos) << reply.body;
}

INSTANTIATE_TEST_SUITE_P(Transports, GatewayObjectsTest,
                         ::testing::Values(gateway::testing::Transport::kEmbedded, gateway::testing::Transport::kGrpc),
                         gateway::testing::TransportName);

}  // namespace
}  // namespace lakehouse::storaged
