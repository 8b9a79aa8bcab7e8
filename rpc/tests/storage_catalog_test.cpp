// storaged and catalogd over real gRPC on 127.0.0.1: streaming, errors, deadlines, a service that
// is down and comes back, retries of idempotent calls only, the commit watch and its resume,
// service tokens and TLS.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <mutex>

#include "lakehouse/testing/errors.h"
#include "rpc_test_util.h"
#include "streams.h"

namespace lakehouse::rpc {
namespace {

using lakehouse::testing::CodeOf;
using testing::Eventually;
using testing::Services;
using testing::TestServer;

//! A real local store whose Head and PutIfAbsent can be made to fail or stall, counting calls.
class FaultyStore final : public storaged::ObjectStore {
 public:
  explicit FaultyStore(storaged::ObjectStore& inner) : inner_(inner) {}
  std::string Kind() const override { return inner_.Kind(); }
  std::string Bucket() const override { return inner_.Bucket(); }
  storaged::ObjectInfo Put(std::string_view key, ByteSource& source) override { return inner_.Put(key, source); }
  std::optional<storaged::ObjectInfo> PutIfAbsent(std::string_view key, std::string_view data) override {
    ++put_if_absent_calls;
    if (fail_put_if_absent) Fail(ErrorCode::kUnavailable, "the disk is gone");
    return inner_.PutIfAbsent(key, data);
  }
  storaged::ObjectInfo Get(std::string_view key, const ByteSink& sink) override { return inner_.Get(key, sink); }
  void GetRange(std::string_view key, uint64_t offset, uint64_t length, const ByteSink& sink) override {
    inner_.GetRange(key, offset, length, sink);
  }
  std::optional<storaged::ObjectInfo> Head(std::string_view key) override {
    ++head_calls;
    if (key.starts_with("code/")) {
      for (ErrorCode code : kAllErrorCodes) {
        if (key.substr(5) == CodeName(code)) throw Error(code, fmt::format("head of {} failed", key));
      }
    }
    if (key == "slow") std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    return inner_.Head(key);
  }
  storaged::ListPage List(std::string_view prefix, std::string_view token, size_t max_keys) override {
    return inner_.List(prefix, token, max_keys);
  }
  void Delete(std::string_view key) override { inner_.Delete(key); }
  storaged::PresignedObject Presign(storaged::PresignMethod method, std::string_view key, int64_t expires) override {
    return inner_.Presign(method, key, expires);
  }
  void VerifyPresigned(storaged::PresignMethod method, std::string_view key, int64_t expires,
                       std::string_view signature) const override {
    inner_.VerifyPresigned(method, key, expires, signature);
  }
  std::optional<std::string> LocalPath(std::string_view key) const override { return inner_.LocalPath(key); }

  std::atomic<int> head_calls{0};
  std::atomic<int> put_if_absent_calls{0};
  std::atomic<bool> fail_put_if_absent{false};

 private:
  storaged::ObjectStore& inner_;
};

//! A catalog whose storage is down: every call fails UNAVAILABLE, counted.
class UnavailableCatalog final : public catalogd::Catalog {
 public:
  void Rebuild() override { Down(); }
  std::vector<catalogd::DatasetSummary> List() override { Down(); }
  DatasetManifest Head(const std::string&) override {
    ++heads;
    Down();
  }
  DatasetManifest Get(const std::string&, uint64_t) override { Down(); }
  std::vector<catalogd::VersionSummary> Versions(const std::string&) override { Down(); }
  std::shared_ptr<const DatasetManifest> Commit(const catalogd::CommitRequest&) override {
    ++commits;
    Down();
  }
  void AddListener(catalogd::CommitListener) override {}
  catalogd::GcReport Collect(int64_t) override { Down(); }
  int64_t GcMinAgeMs() const override { return 0; }

  std::atomic<int> heads{0};
  std::atomic<int> commits{0};

 private:
  [[noreturn]] static void Down() { Fail(ErrorCode::kUnavailable, "object storage is unreachable"); }
};

//! A ByteSource of `size` bytes of a pattern, produced as read (never whole in memory).
class PatternSource final : public ByteSource {
 public:
  explicit PatternSource(uint64_t size) : size_(size) {}
  size_t Read(char* buf, size_t n) override {
    const size_t take = static_cast<size_t>(std::min<uint64_t>(n, size_ - pos_));
    for (size_t i = 0; i < take; ++i) buf[i] = static_cast<char>('a' + (pos_ + i) % 23);
    pos_ += take;
    return take;
  }

 private:
  uint64_t size_;
  uint64_t pos_ = 0;
};

TEST(RpcStorage, StreamsObjectsLargerThanTheMessageLimitBothWays) {
  Services s;
  ServerOptions server_options;
  server_options.max_message_bytes = 1 << 20;
  TestServer server({.store = s.store.get()}, server_options);
  ClientOptions options = server.Client("storaged");
  options.max_message_bytes = 1 << 20;
  auto store = ConnectStorage(options);

  constexpr uint64_t kSize = 5 * (1 << 20) + 123;
  PatternSource source(kSize);
  const storaged::ObjectInfo info = store->Put("big/object.bin", source);
  EXPECT_EQ(info.size, kSize);
  uint64_t received = 0;
  size_t chunks = 0;
  bool same = true;
  const storaged::ObjectInfo got = store->Get("big/object.bin", [&](std::string_view chunk) {
    for (size_t i = 0; i < chunk.size(); ++i) same = same && chunk[i] == static_cast<char>('a' + (received + i) % 23);
    received += chunk.size();
    ++chunks;
    return true;
  });
  EXPECT_EQ(received, kSize);
  EXPECT_TRUE(same);
  EXPECT_GT(chunks, 5u);
  EXPECT_EQ(got.size, kSize);
  EXPECT_EQ(got.etag, info.etag);

  std::string range;
  store->GetRange("big/object.bin", 10, 5, [&](std::string_view c) {
    range.append(c);
    return true;
  });
  EXPECT_EQ(range, s.store->GetBytes("big/object.bin").substr(10, 5));

  // The rest of the interface, against the real store's answers.
  EXPECT_EQ(store->Kind(), "local");
  EXPECT_EQ(store->Bucket(), s.store->Bucket());
  EXPECT_TRUE(store->PutIfAbsent("once", "1").has_value());
  EXPECT_FALSE(store->PutIfAbsent("once", "2").has_value());
  store->PutBytes("empty", "");
  EXPECT_EQ(s.store->Head("empty")->size, 0u);
  EXPECT_EQ(store->Head("once")->size, 1u);
  EXPECT_FALSE(store->Head("missing").has_value());
  EXPECT_EQ(store->ListAll("").size(), 3u);
  const storaged::ListPage page = store->List("", "", 2);
  EXPECT_EQ(page.objects.size(), 2u);
  EXPECT_FALSE(page.next_token.empty());
  const auto grant = store->Presign(storaged::PresignMethod::kGet, "once", 60);
  store->VerifyPresigned(grant.method, grant.key, grant.expires, grant.signature);
  EXPECT_EQ(CodeOf([&] { store->VerifyPresigned(grant.method, grant.key, grant.expires, "00"); }),
            ErrorCode::kPermissionDenied);
  EXPECT_FALSE(store->LocalPath("once").has_value());  // remote: never a path
  store->Delete("once");
  EXPECT_FALSE(s.store->Head("once").has_value());
  EXPECT_EQ(CodeOf([&] { store->GetBytes("missing"); }), ErrorCode::kNotFound);
  EXPECT_EQ(CodeOf([&] { store->Head("../escape"); }), ErrorCode::kInvalidArgument);
}

TEST(RpcErrors, EveryCodeAndMessageCrossTheWire) {
  Services s;
  FaultyStore faulty(*s.store);
  TestServer server({.store = &faulty});
  ClientOptions options = server.Client("storaged");
  options.max_attempts = 1;
  auto store = ConnectStorage(options);
  for (ErrorCode code : kAllErrorCodes) {
    const std::string key = fmt::format("code/{}", CodeName(code));
    std::string message;
    EXPECT_EQ(CodeOf([&] { store->Head(key); }, &message), code) << CodeName(code);
    EXPECT_EQ(message, fmt::format("head of {} failed", key));
  }
}

TEST(RpcErrors, DeadlineExceededIsUnavailableNamingTheService) {
  Services s;
  FaultyStore faulty(*s.store);
  TestServer server({.store = &faulty});
  ClientOptions options = server.Client("storaged");
  options.deadline_ms = 200;
  auto store = ConnectStorage(options);
  std::string message;
  EXPECT_EQ(CodeOf([&] { store->Head("slow"); }, &message), ErrorCode::kUnavailable);
  EXPECT_NE(message.find("storaged at " + server.address() + " is unavailable"), std::string::npos) << message;
  EXPECT_EQ(faulty.head_calls.load(), 1);  // a deadline is not retried
}

TEST(RpcErrors, DownServiceIsUnavailableAndRecoversWhenItComesBack) {
  Services s;
  TestServer server({.catalog = s.catalog.get()});
  auto catalog = ConnectCatalog(server.Client("catalogd"));
  EXPECT_TRUE(catalog->List().empty());
  server.Stop();
  std::string message;
  EXPECT_EQ(CodeOf([&] { catalog->List(); }, &message), ErrorCode::kUnavailable);
  EXPECT_NE(message.find("catalogd at " + server.address() + " is unavailable: "), std::string::npos) << message;
  s.Csv("back", testing::MakeCsv(3));
  server.Start();  // the same port
  EXPECT_TRUE(Eventually([&] {
    try {
      return catalog->List().size() == 1;
    } catch (const Error&) {
      return false;
    }
  }));
}

TEST(RpcServer, ShutdownLetsCallsInFlightFinishThenRefuses) {
  Services s;
  FaultyStore faulty(*s.store);
  s.store->PutBytes("slow", "x");
  TestServer server({.store = &faulty});
  auto store = ConnectStorage(server.Client("storaged"));
  std::optional<storaged::ObjectInfo> in_flight;
  std::thread call([&] { in_flight = store->Head("slow"); });  // takes 1.5 s in the store
  EXPECT_TRUE(Eventually([&] { return faulty.head_calls.load() == 1; }));
  server.Stop();  // drains (TestServer: up to 2 s)
  call.join();
  ASSERT_TRUE(in_flight.has_value()) << "the call in flight was cut off";
  EXPECT_EQ(in_flight->size, 1u);
  EXPECT_EQ(CodeOf([&] { store->Head("slow"); }), ErrorCode::kUnavailable);
}

TEST(RpcRetries, IdempotentCallsAreRetriedOthersNever) {
  Services s;
  FaultyStore faulty(*s.store);
  auto catalog = catalogd::MakeCatalog(faulty);
  TestServer server({.store = &faulty, .catalog = catalog.get()});
  ClientOptions options = server.Client("storaged");
  options.max_attempts = 3;
  auto store = ConnectStorage(options);

  EXPECT_EQ(CodeOf([&] { store->Head("code/unavailable"); }), ErrorCode::kUnavailable);
  EXPECT_EQ(faulty.head_calls.load(), 3);  // Head is idempotent: every attempt reached the store

  faulty.fail_put_if_absent = true;
  EXPECT_EQ(CodeOf([&] { store->PutIfAbsent("k", "v"); }), ErrorCode::kUnavailable);
  EXPECT_EQ(faulty.put_if_absent_calls.load(), 1);

  // A commit that fails UNAVAILABLE is sent once; a read of the catalog is retried.
  UnavailableCatalog unavailable;
  TestServer catalogd({.catalog = &unavailable});
  auto remote = ConnectCatalog(catalogd.Client("catalogd"));
  catalogd::CommitRequest commit;
  commit.dataset = "never_twice";
  EXPECT_EQ(CodeOf([&] { remote->Commit(commit); }), ErrorCode::kUnavailable);
  EXPECT_EQ(unavailable.commits.load(), 1);
  EXPECT_EQ(CodeOf([&] { remote->Head("x"); }), ErrorCode::kUnavailable);
  EXPECT_EQ(unavailable.heads.load(), 3);
}

TEST(RpcCatalog, EveryMethodMatchesTheEmbeddedCatalog) {
  Services s;
  TestServer server({.store = s.store.get(), .catalog = s.catalog.get()});
  auto catalog = ConnectCatalog(server.Client("catalogd"));
  const DatasetManifest v1 = s.Csv("sales", testing::MakeCsv(10), catalogd::CommitOp::kCreate, catalog.get());
  s.Csv("sales", testing::MakeCsv(5, 10), catalogd::CommitOp::kAppend, catalog.get());
  EXPECT_EQ(catalog->Head("sales"), s.catalog->Head("sales"));
  EXPECT_EQ(catalog->Get("sales", 1), v1);
  EXPECT_EQ(catalog->Versions("sales").size(), 2u);
  EXPECT_EQ(catalog->List().size(), 1u);
  EXPECT_EQ(catalog->List()[0].rows, 15u);
  EXPECT_EQ(catalog->GcMinAgeMs(), s.catalog->GcMinAgeMs());
  catalog->Checkpoint();
  catalog->Rebuild();
  EXPECT_EQ(catalog->Collect(catalog->GcMinAgeMs()).objects_deleted, 0u);
  std::string message;
  EXPECT_EQ(CodeOf([&] { catalog->Head("nope"); }, &message), ErrorCode::kNotFound);
  EXPECT_EQ(CodeOf([&] { s.Csv("sales", testing::MakeCsv(1), catalogd::CommitOp::kCreate, catalog.get()); }),
            ErrorCode::kConflict);
  catalogd::CommitRequest props;
  props.dataset = "sales";
  props.op = catalogd::CommitOp::kSetProperties;
  props.properties = {{"keep_versions", "5"}};
  props.expected_version = 2;
  EXPECT_EQ(catalog->Commit(props)->properties.at("keep_versions"), "5");
  props.expected_version = 2;
  EXPECT_EQ(CodeOf([&] { catalog->Commit(props); }), ErrorCode::kConflict);
}

//! Records what a catalog client's listener receives.
struct Recorder {
  std::mutex mu;
  std::vector<std::pair<std::string, uint64_t>> seen;
  void Add(const DatasetManifest& m) {
    std::lock_guard lock(mu);
    seen.emplace_back(m.dataset, m.version);
  }
  bool Has(const std::string& dataset, uint64_t version) {
    std::lock_guard lock(mu);
    return std::find(seen.begin(), seen.end(), std::make_pair(dataset, version)) != seen.end();
  }
  size_t size() {
    std::lock_guard lock(mu);
    return seen.size();
  }
};

TEST(RpcCatalog, WatchFeedsListenersAndResumesAfterCatalogdRestarts) {
  Services s;
  s.Csv("before", testing::MakeCsv(2));  // before the watch: not an event
  auto server = std::make_unique<TestServer>(ServedServices{.catalog = s.catalog.get()});
  auto watching = ConnectCatalog(server->Client("catalogd"));
  Recorder recorder;
  watching->AddListener([&](const DatasetManifest& m) { recorder.Add(m); });
  ASSERT_TRUE(detail::WaitCatalogWatchSynced(*watching, 10000));

  s.Csv("t", testing::MakeCsv(2));  // committed in "catalogd" itself
  EXPECT_TRUE(Eventually([&] { return recorder.Has("t", 1); }));
  EXPECT_FALSE(recorder.Has("before", 1));

  // catalogd goes away; commits happen meanwhile (another catalogd over the same storage), then
  // it comes back as a new process would: a new catalog rebuilt from storage, on the same port.
  const uint16_t port = server->port();
  server.reset();
  auto other = catalogd::MakeCatalog(*s.store);
  other->Rebuild();
  s.Csv("t", testing::MakeCsv(2, 2), catalogd::CommitOp::kAppend, other.get());
  s.Csv("new_one", testing::MakeCsv(2), catalogd::CommitOp::kCreate, other.get());
  auto rebuilt = catalogd::MakeCatalog(*s.store);
  rebuilt->Rebuild();
  ServerOptions same_port;
  same_port.listen = "127.0.0.1:" + std::to_string(port);
  server = std::make_unique<TestServer>(ServedServices{.catalog = rebuilt.get()}, same_port);
  EXPECT_TRUE(Eventually([&] { return recorder.Has("t", 2) && recorder.Has("new_one", 1); }));
  // And the resumed watch carries new commits too.
  s.Csv("t", testing::MakeCsv(2, 4), catalogd::CommitOp::kAppend, rebuilt.get());
  EXPECT_TRUE(Eventually([&] { return recorder.Has("t", 3); }));
  EXPECT_EQ(recorder.size(), 4u);  // each version once
}

TEST(RpcSecurity, ServiceTokenIsRequired) {
  Services s;
  ServerOptions options;
  options.security.service_token = "s3cret-token";
  TestServer server({.catalog = s.catalog.get()}, options);
  ClientOptions good = server.Client("catalogd");
  EXPECT_TRUE(ConnectCatalog(good)->List().empty());
  ClientOptions none = good;
  none.security.service_token.clear();
  std::string message;
  EXPECT_EQ(CodeOf([&] { ConnectCatalog(none)->List(); }, &message), ErrorCode::kUnauthenticated);
  EXPECT_EQ(message, "the call carries no service token");
  ClientOptions wrong = good;
  wrong.security.service_token = "s3cret-tokem";
  EXPECT_EQ(CodeOf([&] { ConnectCatalog(wrong)->List(); }), ErrorCode::kUnauthenticated);
}

TEST(RpcSecurity, TlsWithACertificateMadeForTheTest) {
  Services s;
  const std::string cert = s.dir.path() + "/cert.pem";
  const std::string key = s.dir.path() + "/key.pem";
  const std::string command = fmt::format(
      "openssl req -x509 -newkey rsa:2048 -nodes -keyout {} -out {} -days 1 -subj /CN=localhost "
      "-addext subjectAltName=IP:127.0.0.1,DNS:localhost >/dev/null 2>&1",
      key, cert);
  ASSERT_EQ(std::system(command.c_str()), 0) << command;
  ServerOptions options;
  options.security = {.service_token = "t", .tls_cert_file = cert, .tls_key_file = key, .tls_ca_file = ""};
  TestServer server({.catalog = s.catalog.get()}, options);
  ClientOptions tls = server.Client("catalogd");
  tls.security = {.service_token = "t", .tls_cert_file = "", .tls_key_file = "", .tls_ca_file = cert};
  s.Csv("secure", testing::MakeCsv(1));
  EXPECT_EQ(ConnectCatalog(tls)->List().size(), 1u);
  ClientOptions plain = tls;
  plain.security.tls_ca_file.clear();
  plain.deadline_ms = 1000;
  EXPECT_EQ(CodeOf([&] { ConnectCatalog(plain)->List(); }), ErrorCode::kUnavailable);
}

}  // namespace
}  // namespace lakehouse::rpc
