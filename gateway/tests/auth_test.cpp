// Auth (gateway/src/auth*.cpp) over a real socket: every route of the table refuses a request
// without a key (but the public ones), keys live in object storage and are seen by a second key
// store, revocation/expiry, roles and grants on the path's dataset, Host/Origin/CORS checks.
#include <gtest/gtest.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>

#include "auth_guard.h"
#include "lakehouse/catalogd/catalog.h"
#include "lakehouse/gateway/auth.h"
#include "lakehouse/gateway/gateway.h"
#include "lakehouse/shared/clock.h"
#include "lakehouse/shared/hash.h"
#include "lakehouse/shared/http_client.h"
#include "lakehouse/shared/logging.h"
#include "lakehouse/shared/strings.h"
#include "lakehouse/storaged/object_store.h"
#include "lakehouse/testing/gateway.h"
#include "route_table.h"

namespace lakehouse::gateway {
namespace {

using json = nlohmann::json;

//! A concrete path for a route pattern: "{x}" -> "sales", "{x...}" -> "a/b".
std::string Concrete(std::string_view pattern) {
  std::string out;
  size_t i = 0;
  while (i < pattern.size()) {
    if (pattern[i] == '{') {
      size_t end = pattern.find('}', i);
      out += pattern.substr(i, end - i).ends_with("...") ? "a/b" : "sales";
      i = end + 1;
    } else {
      out += pattern[i++];
    }
  }
  return out;
}

class AuthTest : public ::testing::Test {
 protected:
  void SetUp() override { log::Init(log::Level::kWarn); }

  void Start(bool enabled = true) {
    Services services;
    services.store = store_.get();
    services.auth.enabled = enabled;
    services.auth.keys = &keys_;
    services.auth.scrape_token = "scrape-token-for-tests-0123456789";
    services.auth.allowed_origins = {"https://app.example.com"};
    gateway_ = std::make_unique<testing::InProcessGateway>(services);
  }

  HttpResponse Send(const std::string& method, const std::string& path, std::vector<std::string> headers = {},
                    std::string body = {}) {
    HttpRequest r;
    r.method = method;
    r.url = gateway_->url() + path;
    r.headers = std::move(headers);
    r.body = std::move(body);
    r.content_type = r.body.empty() ? "" : "application/json";
    HttpResponse response = client_.Send(r);
    EXPECT_EQ(response.transport_error, 0) << method << " " << path << ": " << response.error;
    return response;
  }
  static std::vector<std::string> Bearer(const std::string& token) { return {"Authorization: Bearer " + token}; }

  testing::TempDir dir_;
  std::unique_ptr<storaged::ObjectStore> store_ = storaged::MakeLocalStore({dir_.path(), "secret"});
  KeyStore keys_{*store_, std::chrono::milliseconds(200)};
  std::unique_ptr<testing::InProcessGateway> gateway_;
  HttpClient client_;
};

TEST_F(AuthTest, EveryRouteOfTheTableNeedsAKeyButThePublicOnes) {
  Start();
  size_t checked = 0;
  for (const auto& route : RouteTable()) {
    const std::string path = Concrete(route.path);
    HttpResponse r = Send(std::string(route.method), path);
    if (route.permission == Permission::kPublic) {
      EXPECT_NE(r.status, 401) << route.method << " " << path << " is public";
      continue;
    }
    ++checked;
    EXPECT_EQ(r.status, 401) << route.method << " " << path << ": " << r.body;
    EXPECT_EQ(r.headers["www-authenticate"], R"(Bearer realm="lakehouse")") << route.method << " " << path;
    if (route.method != "HEAD") {
      json j = json::parse(r.body);
      EXPECT_EQ(j["error"]["code"], "unauthenticated");
      EXPECT_FALSE(j["error"]["request_id"].get<std::string>().empty());
    }
  }
  EXPECT_GT(checked, 40u);
  // A route table entry must name its permission: /health and the UI's files are the public ones.
  for (const auto& route : RouteTable()) {
    if (route.permission == Permission::kPublic) {
      EXPECT_TRUE(route.area == "ui" || route.area == "objects" || route.path == "/health") << route.path;
    }
  }
}

TEST_F(AuthTest, KeysAreStoredHashedAndSeenByAnotherStore) {
  auto created = keys_.Create(Role::kReader, {"sales"}, std::nullopt, "analyst");
  ASSERT_TRUE(created.token.starts_with("lh_" + created.info.id + "_"));
  ASSERT_EQ(created.token.size(), 3 + 16 + 1 + 64u);
  const std::string stored = store_->GetBytes(catalogd::ApiKeyObjectKey(created.info.id));
  const std::string secret = created.token.substr(3 + 16 + 1);
  EXPECT_EQ(stored.find(secret), std::string::npos) << "the secret itself must never be stored";
  EXPECT_NE(stored.find(Sha256Hex(secret)), std::string::npos);

  // A second process over the same storage (a restart, another gateway) accepts it ...
  KeyStore other(*store_, std::chrono::milliseconds(100));
  auto p = other.Authenticate(created.token);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->key_id, created.info.id);
  EXPECT_TRUE(p->MayRead("sales"));
  EXPECT_FALSE(p->MayRead("salesx"));
  EXPECT_FALSE(p->MayWrite("sales"));
  // ... and refuses it within its refresh bound once this one revokes it.
  keys_.Revoke(created.info.id);
  AuthFailure why = AuthFailure::kNone;
  EXPECT_FALSE(keys_.Authenticate(created.token, &why));
  EXPECT_EQ(why, AuthFailure::kRevoked);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (other.Authenticate(created.token) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_FALSE(other.Authenticate(created.token, &why));
  EXPECT_EQ(why, AuthFailure::kRevoked);

  // A wrong secret for a real id, a malformed token, an unknown id.
  auto live = keys_.Create(Role::kWriter, {"web_*"}, std::nullopt);
  std::string wrong = live.token;
  wrong.back() = wrong.back() == 'a' ? 'b' : 'a';
  EXPECT_FALSE(keys_.Authenticate(wrong, &why));
  EXPECT_EQ(why, AuthFailure::kUnknown);
  EXPECT_FALSE(keys_.Authenticate("lh_nothex", &why));
  EXPECT_EQ(why, AuthFailure::kMalformed);
  EXPECT_TRUE(keys_.Authenticate(live.token));
}

TEST_F(AuthTest, OfProcessesStartingTogetherExactlyOneMakesTheFirstAdminKey) {
  // Two gateways on empty storage both find no key: each used to make an admin key (and the
  // admin.key file kept whichever was written last).
  KeyStore other(*store_, std::chrono::milliseconds(100));
  std::optional<KeyStore::Created> a, b;
  std::thread ta([&] { a = keys_.CreateFirstAdmin("first"); });
  std::thread tb([&] { b = other.CreateFirstAdmin("first"); });
  ta.join();
  tb.join();
  ASSERT_NE(a.has_value(), b.has_value()) << "exactly one of them";
  const auto& winner = a ? *a : *b;
  EXPECT_EQ(winner.info.role, Role::kAdmin);
  other.Refresh();
  keys_.Refresh();
  for (const KeyStore* store : {&keys_, &other}) {
    auto p = store->Authenticate(winner.token);
    ASSERT_TRUE(p);
    EXPECT_TRUE(p->MayWrite("anything"));
    EXPECT_EQ(store->List().size(), 1u);
  }
  EXPECT_FALSE(keys_.CreateFirstAdmin("again")) << "once made, never again";
}

TEST_F(AuthTest, GrantsMatchNamesAndPrefixes) {
  EXPECT_TRUE(GrantMatches("sales", "sales"));
  EXPECT_FALSE(GrantMatches("sales", "sales_eu"));
  EXPECT_TRUE(GrantMatches("sales_*", "sales_eu"));
  EXPECT_FALSE(GrantMatches("sales_*", "sale"));
  EXPECT_TRUE(GrantMatches("*", "anything"));
  EXPECT_EQ(ParseGrants(" sales, web_* ,"), (std::vector<std::string>{"sales", "web_*"}));
  EXPECT_EQ(SplitList(" a.example, ,b:8080 ,"), (std::vector<std::string>{"a.example", "b:8080"}));
  EXPECT_EQ(SplitList(""), std::vector<std::string>{});
  EXPECT_THROW(ParseGrants("Sales"), Error);
  EXPECT_THROW(ParseGrants("a*b*"), Error);
  EXPECT_THROW(ParseGrants("../x"), Error);
  EXPECT_EQ(ParseDurationMs("30d"), 30LL * 86400 * 1000);
  EXPECT_THROW(ParseDurationMs("30"), Error);
  EXPECT_THROW(ParseDurationMs("-1d"), Error);
}

TEST_F(AuthTest, RolesGrantsExpiryAndScrapeToken) {
  Start();
  auto admin = keys_.Create(Role::kAdmin, {}, std::nullopt);
  auto reader = keys_.Create(Role::kReader, {"sales"}, std::nullopt);
  const int64_t expires_ms = NowMs() + 3000;  // generous: the first check below must come before it
  auto expiring = keys_.Create(Role::kAdmin, {}, expires_ms);

  // Admin API: an admin creates a key; a reader may not.
  auto r = Send("POST", "/api/v1/keys", Bearer(admin.token), R"({"role":"writer","datasets":"web_*"})");
  ASSERT_EQ(r.status, 201) << r.body;
  const std::string writer = json::parse(r.body)["key"];
  EXPECT_EQ(r.headers["cache-control"], "no-store");
  r = Send("POST", "/api/v1/keys", Bearer(reader.token), R"({"role":"admin"})");
  EXPECT_EQ(r.status, 403) << r.body;
  EXPECT_NE(r.body.find(reader.info.id), std::string::npos);
  r = Send("GET", "/api/v1/keys", {"X-API-Key: " + admin.token});
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.body.find(admin.token.substr(20)), std::string::npos) << "a listing never shows a secret";
  EXPECT_EQ(r.body.find("secret_sha256"), std::string::npos);

  // The dataset in the path: a reader of sales may read sales, not web_a; never write.
  EXPECT_EQ(Send("GET", "/api/v1/datasets/web_a", Bearer(reader.token)).status, 403);
  EXPECT_NE(Send("GET", "/api/v1/datasets/sales", Bearer(reader.token)).status, 403);
  r = Send("DELETE", "/api/v1/datasets/sales", Bearer(reader.token));
  EXPECT_EQ(r.status, 403);
  EXPECT_NE(r.body.find("reader key"), std::string::npos) << r.body;
  EXPECT_EQ(Send("DELETE", "/api/v1/datasets/sales", Bearer(writer)).status, 403);  // not granted sales
  EXPECT_NE(Send("DELETE", "/api/v1/datasets/web_a", Bearer(writer)).status, 403);  // granted: 503, no catalog
  EXPECT_EQ(Send("GET", "/iceberg/v1/namespaces/default/tables/web_a", Bearer(reader.token)).status, 403);

  // /ready: any key or the scrape token; the scrape token opens nothing else.
  EXPECT_EQ(Send("GET", "/ready", Bearer("scrape-token-for-tests-0123456789")).status, 200);
  EXPECT_EQ(Send("GET", "/ready", Bearer(reader.token)).status, 200);
  EXPECT_EQ(Send("GET", "/api/v1/datasets", Bearer("scrape-token-for-tests-0123456789")).status, 401);

  // Expiry and revocation: 401 saying so, with the invalid_token challenge.
  EXPECT_EQ(Send("GET", "/api/v1/whoami", Bearer(expiring.token)).status, 200);
  while (NowMs() <= expires_ms + 10) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  r = Send("GET", "/api/v1/whoami", Bearer(expiring.token));
  EXPECT_EQ(r.status, 401);
  EXPECT_NE(r.body.find("expired"), std::string::npos);
  EXPECT_EQ(r.headers["www-authenticate"], R"(Bearer realm="lakehouse", error="invalid_token")");
  ASSERT_EQ(Send("DELETE", "/api/v1/keys/" + reader.info.id, Bearer(admin.token)).status, 200);
  r = Send("GET", "/api/v1/whoami", Bearer(reader.token));
  EXPECT_EQ(r.status, 401);
  EXPECT_NE(r.body.find("revoked"), std::string::npos);
  EXPECT_EQ(r.body.find(reader.token.substr(20)), std::string::npos) << "an error never repeats the key";
}

TEST_F(AuthTest, MalformedAndHostileCredentials) {
  Start();
  auto admin = keys_.Create(Role::kAdmin, {}, std::nullopt);
  const std::string secret_part = admin.token.substr(20);
  for (const std::vector<std::string>& headers : std::vector<std::vector<std::string>>{
           {"Authorization: Basic " + admin.token},
           {"Authorization: Bearer " + admin.token + "x"},
           {"Authorization: Bearer " + std::string(100000, 'a')},
           {"X-API-Key: " + std::string(600, 'k')},
           {"Authorization: Bearer lh_0000000000000000_" + std::string(64, '0')},
           {"Authorization: Bearer " + admin.token.substr(0, 40) + "%0d%0aX-Admin: 1"},
       }) {
    HttpResponse r = Send("GET", "/api/v1/keys", headers);
    EXPECT_TRUE(r.status == 401 || r.status == 400 || r.status == 431) << headers[0].substr(0, 60) << " " << r.status;
    EXPECT_EQ(r.body.find(secret_part), std::string::npos);
  }
  // The server still serves everyone else.
  EXPECT_EQ(Send("GET", "/api/v1/keys", Bearer(admin.token)).status, 200);
}

TEST_F(AuthTest, HostAndOriginChecksAndCors) {
  Start(/*enabled=*/false);  // they apply with auth off too: that is when they matter most
  // DNS rebinding: another site's name pointing at 127.0.0.1.
  HttpResponse r = Send("GET", "/api/v1/datasets", {"Host: attacker.example"});
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("attacker.example"), std::string::npos);
  EXPECT_EQ(Send("GET", "/health", {"Host: attacker.example:8080"}).status, 400);
  EXPECT_EQ(Send("GET", "/health", {"Host: localhost:1234"}).status, 200);

  // A cross-site text/plain POST (no preflight in a browser) is refused before anything runs.
  r = Send("POST", "/api/v1/datasets/evil", {"Origin: http://evil.example", "Content-Type: text/plain"}, "a,b\n1,2\n");
  EXPECT_EQ(r.status, 403);
  EXPECT_NE(r.body.find("evil.example"), std::string::npos);
  EXPECT_FALSE(store_->Head(catalogd::ManifestKey("evil", 1)));
  // The server's own origin (the UI) passes; a listed origin gets CORS headers and a preflight.
  const std::string own = gateway_->url();
  EXPECT_NE(Send("DELETE", "/api/v1/datasets/x", {"Origin: " + own}).status, 403);
  r = Send("OPTIONS", "/api/v1/query",
           {"Origin: https://app.example.com", "Access-Control-Request-Method: POST",
            "Access-Control-Request-Headers: authorization, content-type"});
  EXPECT_EQ(r.status, 204);
  EXPECT_EQ(r.headers["access-control-allow-origin"], "https://app.example.com");
  EXPECT_NE(r.headers["access-control-allow-headers"].find("Authorization"), std::string::npos);
  r = Send("GET", "/health", {"Origin: https://app.example.com"});
  EXPECT_EQ(r.headers["access-control-allow-origin"], "https://app.example.com");
  r = Send("OPTIONS", "/api/v1/query", {"Origin: http://evil.example", "Access-Control-Request-Method: POST"});
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(r.headers.count("access-control-allow-origin"), 0u);
  // An unlisted origin's GET is answered without CORS headers (the browser hides the body).
  r = Send("GET", "/health", {"Origin: http://evil.example"});
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.headers.count("access-control-allow-origin"), 0u);
}

}  // namespace
}  // namespace lakehouse::gateway
