// The ObjectStore conformance suite: every test runs against the local filesystem backend
// (Local/...) and against S3 on a real Ceph radosgw (S3/..., needs the ctest fixture "rgw").
#include <gtest/gtest.h>

#include <atomic>
#include <barrier>
#include <set>
#include <thread>

#include "lakehouse/shared/error.h"
#include "lakehouse/storaged/object_store.h"
#include "lakehouse/storaged/sigv4.h"
#include "lakehouse/testing/errors.h"
#include "test_util.h"

namespace lakehouse::storaged {
namespace {

using testing::PatternSha256;
using testing::PatternSource;
using testing::PlainHttp;
using testing::RandomHex;
using testing::Sha256;

constexpr const char* kLocalSecret = "conformance-secret";

//! Runs `fn` and returns the ErrorCode of the lakehouse::Error it throws (fails if none).
using lakehouse::testing::CodeOf;

class StoreTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "local") {
      dir_ = std::make_unique<testing::TempDir>();
      store_ = MakeStore({});
    } else {
      auto options = testing::S3OptionsFromEnv();
      if (!options) GTEST_SKIP() << "LAKEHOUSE_S3_ENV_FILE is not set (ctest sets it through the rgw fixture)";
      store_ = MakeStore({});
    }
    // Every test works under its own prefix, so tests can share one bucket and run in parallel.
    prefix_ = "t-" + RandomHex(12) + "/";
  }

  void TearDown() override {
    if (store_ && GetParam() == "s3") {  // leave the shared bucket as we found it
      std::vector<ObjectInfo> objects = store_->ListAll(prefix_);
      std::atomic<size_t> next{0};
      std::vector<std::thread> deleters;
      for (int t = 0; t < 8; ++t) {
        deleters.emplace_back([&] {
          for (size_t i = next++; i < objects.size(); i = next++) store_->Delete(objects[i].key);
        });
      }
      for (auto& d : deleters) d.join();
    }
  }

  struct Overrides {
    std::optional<uint64_t> multipart_threshold;
    std::optional<std::string> secret;
    bool create_bucket = true;
  };
  static Overrides Threshold(uint64_t bytes) {
    Overrides o;
    o.multipart_threshold = bytes;
    return o;
  }
  static Overrides Secret(std::string secret, bool create_bucket = true) {
    Overrides o;
    o.secret = std::move(secret);
    o.create_bucket = create_bucket;
    return o;
  }

  std::unique_ptr<ObjectStore> MakeStore(const Overrides& o) {
    if (GetParam() == "local") {
      return MakeLocalStore({dir_->path() + "/root", o.secret.value_or(kLocalSecret)});
    }
    S3StoreOptions options = *testing::S3OptionsFromEnv();
    if (o.multipart_threshold) {
      options.multipart_threshold = *o.multipart_threshold;
      options.multipart_part_size = 5 << 20;
    }
    if (o.secret) options.secret_key = *o.secret;
    options.create_bucket = o.create_bucket;
    return MakeS3Store(options);
  }

  std::string Key(std::string_view name) const { return prefix_ + std::string(name); }
  bool IsLocal() const { return GetParam() == "local"; }

  std::unique_ptr<testing::TempDir> dir_;
  std::unique_ptr<ObjectStore> store_;
  std::string prefix_;
};

TEST_P(StoreTest, PutGetRoundtrip) {
  ObjectInfo put = store_->PutBytes(Key("hello.txt"), "hello, lakehouse");
  EXPECT_EQ(put.key, Key("hello.txt"));
  EXPECT_EQ(put.size, 16u);
  EXPECT_FALSE(put.etag.empty());
  EXPECT_EQ(store_->GetBytes(Key("hello.txt")), "hello, lakehouse");

  auto head = store_->Head(Key("hello.txt"));
  ASSERT_TRUE(head.has_value());
  EXPECT_EQ(head->size, 16u);
  EXPECT_EQ(head->etag, put.etag);
  EXPECT_GT(head->last_modified_ms, 1'600'000'000'000);

  // Replacing changes content and ETag.
  ObjectInfo replaced = store_->PutBytes(Key("hello.txt"), "bye");
  EXPECT_NE(replaced.etag, put.etag);
  EXPECT_EQ(store_->GetBytes(Key("hello.txt")), "bye");

  // Empty objects and keys with spaces and unicode.
  store_->PutBytes(Key("empty"), "");
  EXPECT_EQ(store_->Head(Key("empty"))->size, 0u);
  EXPECT_EQ(store_->GetBytes(Key("empty")), "");
  std::string odd = Key("dir with space/ünï+cødé=1&x.parquet");
  store_->PutBytes(odd, "odd");
  EXPECT_EQ(store_->GetBytes(odd), "odd");
  auto listed = store_->ListAll(Key("dir with space/"));
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0].key, odd);
}

TEST_P(StoreTest, StreamsMultiMegabyteObject) {
  constexpr uint64_t kSize = (24ull << 20) + 12345;
  PatternSource source(kSize, 7);
  ObjectInfo put = store_->Put(Key("big.bin"), source);
  EXPECT_EQ(put.size, kSize);

  Sha256 sha;
  uint64_t received = 0;
  size_t largest_chunk = 0;
  ObjectInfo got = store_->Get(Key("big.bin"), [&](std::string_view chunk) {
    sha.Update(chunk);
    received += chunk.size();
    largest_chunk = std::max(largest_chunk, chunk.size());
    return true;
  });
  EXPECT_EQ(received, kSize);
  EXPECT_EQ(got.size, kSize);
  EXPECT_EQ(sha.HexDigest(), PatternSha256(kSize, 7));
  EXPECT_LE(largest_chunk, 1u << 20) << "Get must stream in chunks, not hand over the object whole";
}

TEST_P(StoreTest, MultipartUpload) {
  // 5 MiB threshold and parts: 12 MiB + 123 bytes -> three parts on S3 (the last one short).
  auto store = MakeStore(Threshold(5 << 20));
  constexpr uint64_t kSize = (12ull << 20) + 123;
  PatternSource source(kSize, 11);
  ObjectInfo put = store->Put(Key("multi.bin"), source);
  EXPECT_EQ(put.size, kSize);
  EXPECT_FALSE(put.etag.empty());
  auto head = store->Head(Key("multi.bin"));
  ASSERT_TRUE(head.has_value());
  EXPECT_EQ(head->size, kSize);
  EXPECT_EQ(head->etag, put.etag);
  if (!IsLocal()) {
    EXPECT_NE(head->etag.find('-'), std::string::npos) << "a multipart ETag ends in -<parts>: " << head->etag;
  }
  Sha256 sha;
  store->Get(Key("multi.bin"), [&](std::string_view chunk) {
    sha.Update(chunk);
    return true;
  });
  EXPECT_EQ(sha.HexDigest(), PatternSha256(kSize, 11));

  // Exactly at the threshold: one plain PUT.
  PatternSource at_threshold(5 << 20, 12);
  EXPECT_EQ(store->Put(Key("exact.bin"), at_threshold).size, 5u << 20);
  EXPECT_EQ(store->Head(Key("exact.bin"))->size, 5u << 20);
}

TEST_P(StoreTest, RangeGet) {
  std::string data;
  for (int i = 0; i < 1000; ++i) data.push_back(static_cast<char>('a' + i % 26));
  store_->PutBytes(Key("range"), data);
  auto range = [&](uint64_t offset, uint64_t length) {
    std::string out;
    store_->GetRange(Key("range"), offset, length, [&](std::string_view chunk) {
      out.append(chunk);
      return true;
    });
    return out;
  };
  EXPECT_EQ(range(0, 10), data.substr(0, 10));
  EXPECT_EQ(range(100, 50), data.substr(100, 50));
  EXPECT_EQ(range(990, 100), data.substr(990)) << "clamped at the end";
  EXPECT_EQ(range(999, 1), data.substr(999));
  EXPECT_EQ(range(0, UINT64_MAX), data);
  EXPECT_EQ(range(1000, 10), "") << "starting at the end yields nothing";
  EXPECT_EQ(range(5000, 10), "");
  EXPECT_EQ(CodeOf([&] { store_->GetRange(Key("missing"), 0, 10, [](std::string_view) { return true; }); }),
            ErrorCode::kNotFound);
}

TEST_P(StoreTest, MissingObjects) {
  EXPECT_FALSE(store_->Head(Key("nope")).has_value());
  EXPECT_FALSE(store_->Head(Key("no/such/folder/x")).has_value());
  EXPECT_EQ(CodeOf([&] { store_->GetBytes(Key("nope")); }), ErrorCode::kNotFound);
  store_->PutBytes(Key("folder/inner"), "x");
  EXPECT_FALSE(store_->Head(Key("folder")).has_value()) << "a folder is not an object";
  EXPECT_EQ(CodeOf([&] { store_->GetBytes(Key("folder")); }), ErrorCode::kNotFound);
}

TEST_P(StoreTest, ListPrefixAndPaging) {
  constexpr int kKeys = 2500;
  std::vector<std::thread> writers;
  std::atomic<int> next{0};
  for (int t = 0; t < 8; ++t) {
    writers.emplace_back([&] {
      for (int i = next++; i < kKeys; i = next++) store_->PutBytes(Key(fmt::format("list/k{:05d}", i)), "v");
    });
  }
  for (auto& w : writers) w.join();
  store_->PutBytes(Key("list2/x"), "not under list/");
  store_->PutBytes(Key("other/y"), "not under list/");

  std::vector<std::string> keys;
  std::string token;
  int pages = 0;
  do {
    ListPage page = store_->List(Key("list/"), token, 1000);
    ++pages;
    EXPECT_LE(page.objects.size(), 1000u);
    for (const auto& info : page.objects) {
      keys.push_back(info.key);
      EXPECT_EQ(info.size, 1u);
      EXPECT_FALSE(info.etag.empty());
    }
    token = page.next_token;
  } while (!token.empty() && pages < 10);
  EXPECT_EQ(pages, 3);
  ASSERT_EQ(keys.size(), static_cast<size_t>(kKeys));
  for (int i = 0; i < kKeys; ++i) ASSERT_EQ(keys[i], Key(fmt::format("list/k{:05d}", i)));

  // A prefix that ends inside a name.
  auto partial = store_->ListAll(Key("list/k0001"));
  ASSERT_EQ(partial.size(), 10u);
  EXPECT_EQ(partial.front().key, Key("list/k00010"));
  EXPECT_EQ(partial.back().key, Key("list/k00019"));
  // The folder prefix without '/' also matches the sibling "list2/".
  EXPECT_EQ(store_->ListAll(Key("list")).size(), static_cast<size_t>(kKeys + 1));
  EXPECT_EQ(store_->ListAll(Key("")).size(), static_cast<size_t>(kKeys + 2));
  EXPECT_TRUE(store_->ListAll(Key("zzz")).empty());
  // Small pages.
  ListPage small = store_->List(Key("list/k0000"), "", 3);
  ASSERT_EQ(small.objects.size(), 3u);
  EXPECT_EQ(small.objects[2].key, Key("list/k00002"));
  ListPage rest = store_->List(Key("list/k0000"), small.next_token, 1000);
  ASSERT_EQ(rest.objects.size(), 7u);
  EXPECT_EQ(rest.objects[0].key, Key("list/k00003"));
  EXPECT_TRUE(rest.next_token.empty());
}

TEST_P(StoreTest, DeleteIsIdempotent) {
  store_->PutBytes(Key("a/b/c"), "x");
  store_->Delete(Key("a/b/c"));
  EXPECT_FALSE(store_->Head(Key("a/b/c")).has_value());
  EXPECT_NO_THROW(store_->Delete(Key("a/b/c")));
  EXPECT_NO_THROW(store_->Delete(Key("never/existed")));
  EXPECT_TRUE(store_->ListAll(Key("a/")).empty());
  // The key can be written again after a delete (the local store removed the empty folders).
  store_->PutBytes(Key("a/b/c"), "again");
  EXPECT_EQ(store_->GetBytes(Key("a/b/c")), "again");
}

TEST_P(StoreTest, PutIfAbsentHasExactlyOneWinner) {
  constexpr int kThreads = 8;
  for (int round = 0; round < 3; ++round) {
    const std::string key = Key(fmt::format("_catalog/ds/{}.json", round));
    std::atomic<int> winners{0};
    std::vector<int> won(kThreads, 0);
    std::barrier start(kThreads);
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        start.arrive_and_wait();
        auto info = store_->PutIfAbsent(key, fmt::format("writer {}", t));
        if (info) {
          ++winners;
          won[t] = 1;
        }
      });
    }
    for (auto& th : threads) th.join();
    ASSERT_EQ(winners.load(), 1) << "round " << round;
    int winner = static_cast<int>(std::find(won.begin(), won.end(), 1) - won.begin());
    EXPECT_EQ(store_->GetBytes(key), fmt::format("writer {}", winner));
    EXPECT_FALSE(store_->PutIfAbsent(key, "late").has_value());
  }
  // Only the objects themselves are visible (no temp files).
  EXPECT_EQ(store_->ListAll(Key("_catalog/")).size(), 3u);
}

TEST_P(StoreTest, ReadersNeverSeeAPartialObject) {
  constexpr size_t kSize = 1 << 20;
  store_->PutBytes(Key("atomic"), std::string(kSize, 'a'));
  std::atomic<bool> stop{false};
  std::atomic<int> bad{0}, reads{0};
  std::thread writer([&] {
    for (char c = 'b'; c <= 'k'; ++c) store_->PutBytes(Key("atomic"), std::string(kSize, c));
    stop = true;
  });
  std::vector<std::thread> readers;
  for (int r = 0; r < 2; ++r) {
    readers.emplace_back([&] {
      while (!stop) {
        std::string data = store_->GetBytes(Key("atomic"));
        ++reads;
        if (data.size() != kSize || data.find_first_not_of(data[0]) != std::string::npos) ++bad;
      }
    });
  }
  writer.join();
  for (auto& r : readers) r.join();
  EXPECT_EQ(bad.load(), 0) << "of " << reads.load() << " reads";
  EXPECT_EQ(store_->GetBytes(Key("atomic")), std::string(kSize, 'k'));
}

TEST_P(StoreTest, BadKeysAreRejected) {
  const std::vector<std::string> bad = {"",     "/abs/key",  "a/../b",
                                        "..",   "../escape", "a/..",
                                        ".",    "a//b",      "a/",
                                        "./a",  "a/./b",     std::string("a\0b", 3),
                                        "a\nb", "tab\there", std::string(1025, 'k')};
  for (const std::string& key : bad) {
    SCOPED_TRACE("key: '" + key + "'");
    EXPECT_EQ(CodeOf([&] { store_->PutBytes(key, "x"); }), ErrorCode::kInvalidArgument);
    EXPECT_EQ(CodeOf([&] { store_->PutIfAbsent(key, "x"); }), ErrorCode::kInvalidArgument);
    EXPECT_EQ(CodeOf([&] { store_->GetBytes(key); }), ErrorCode::kInvalidArgument);
    EXPECT_EQ(CodeOf([&] { store_->Head(key); }), ErrorCode::kInvalidArgument);
    EXPECT_EQ(CodeOf([&] { store_->Delete(key); }), ErrorCode::kInvalidArgument);
    EXPECT_EQ(CodeOf([&] { store_->Presign(PresignMethod::kGet, key, 60); }), ErrorCode::kInvalidArgument);
  }
  try {
    store_->PutBytes("a/../../etc/passwd", "x");
    FAIL() << "accepted a traversal key";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(".."), std::string::npos) << e.what();
  }
  EXPECT_NO_THROW(store_->PutBytes(Key("a..b/..c/d.."), "dots inside names are fine"));
  std::string longest = prefix_;  // 1024 bytes in segments of at most 200 (filesystems allow 255)
  while (longest.size() < 1024) {
    if (longest.back() != '/') longest += '/';
    longest += std::string(std::min<size_t>(200, 1024 - longest.size()), 'k');
  }
  ASSERT_EQ(longest.size(), 1024u);
  EXPECT_NO_THROW(store_->PutBytes(longest, "1024 bytes is the limit"));
  EXPECT_EQ(store_->GetBytes(longest), "1024 bytes is the limit");
}

TEST_P(StoreTest, PresignedGetAndPut) {
  const std::string key = Key("presigned/data file.parquet");
  if (IsLocal()) {
    // The local store signs (method, key, expires); the gateway builds and serves the URL
    // (gateway/tests/objects_test.cpp goes through it).
    PresignedObject get = store_->Presign(PresignMethod::kGet, key, 60);
    EXPECT_TRUE(get.url.empty());
    EXPECT_NO_THROW(store_->VerifyPresigned(PresignMethod::kGet, key, get.expires, get.signature));
    EXPECT_EQ(CodeOf([&] { store_->VerifyPresigned(PresignMethod::kPut, key, get.expires, get.signature); }),
              ErrorCode::kPermissionDenied)
        << "a GET grant must not allow PUT";
    std::string tampered = get.signature;
    tampered.back() = tampered.back() == '0' ? '1' : '0';
    EXPECT_EQ(CodeOf([&] { store_->VerifyPresigned(PresignMethod::kGet, key, get.expires, tampered); }),
              ErrorCode::kPermissionDenied);
    EXPECT_EQ(
        CodeOf([&] { store_->VerifyPresigned(PresignMethod::kGet, prefix_ + "other", get.expires, get.signature); }),
        ErrorCode::kPermissionDenied)
        << "the signature covers the key";
    EXPECT_EQ(CodeOf([&] { store_->VerifyPresigned(PresignMethod::kGet, key, get.expires + 1, get.signature); }),
              ErrorCode::kPermissionDenied)
        << "the signature covers the expiry";
    // The documented scheme, recomputed here: HMAC-SHA256(secret, "METHOD\nkey\nexpires").
    auto sign = [&](std::string_view method, int64_t expires) {
      return HexEncode(HmacSha256(kLocalSecret, fmt::format("{}\n{}\n{}", method, key, expires)));
    };
    EXPECT_EQ(get.signature, sign("GET", get.expires));
    int64_t now = std::time(nullptr);
    EXPECT_NO_THROW(store_->VerifyPresigned(PresignMethod::kPut, key, now + 30, sign("PUT", now + 30)));
    try {
      store_->VerifyPresigned(PresignMethod::kGet, key, now - 5, sign("GET", now - 5));
      FAIL() << "accepted an expired grant";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kPermissionDenied);
      EXPECT_NE(std::string(e.what()).find("expired"), std::string::npos) << e.what();
    }
    return;
  }
  // S3: plain, unsigned HTTP requests on the presigned URLs, straight to radosgw.
  std::string put_url = store_->Presign(PresignMethod::kPut, key, 300).url;
  auto put = PlainHttp("PUT", put_url, "uploaded through a presigned URL");
  ASSERT_EQ(put.status, 200) << put.body;
  EXPECT_EQ(store_->GetBytes(key), "uploaded through a presigned URL");

  std::string get_url = store_->Presign(PresignMethod::kGet, key, 300).url;
  auto get = PlainHttp("GET", get_url);
  EXPECT_EQ(get.status, 200) << get.body;
  EXPECT_EQ(get.body, "uploaded through a presigned URL");

  // Altered signature, or a GET URL used to PUT: refused.
  std::string tampered = get_url;
  tampered.back() = tampered.back() == '0' ? '1' : '0';
  EXPECT_EQ(PlainHttp("GET", tampered).status, 403);
  EXPECT_EQ(PlainHttp("PUT", get_url, "overwrite").status, 403);
  EXPECT_EQ(store_->GetBytes(key), "uploaded through a presigned URL");
  // An unsigned request is refused (the bucket is private).
  EXPECT_EQ(PlainHttp("GET", get_url.substr(0, get_url.find('?'))).status, 403);
}

TEST_P(StoreTest, WrongSecretIsRefused) {
  if (IsLocal()) {
    auto other = MakeStore(Secret("another-secret"));
    PresignedObject grant = other->Presign(PresignMethod::kGet, Key("x"), 60);
    EXPECT_NO_THROW(other->VerifyPresigned(PresignMethod::kGet, Key("x"), grant.expires, grant.signature));
    EXPECT_EQ(CodeOf([&] { store_->VerifyPresigned(PresignMethod::kGet, Key("x"), grant.expires, grant.signature); }),
              ErrorCode::kPermissionDenied);
    return;
  }
  auto bad = MakeStore(Secret("not-the-secret", false));
  try {
    bad->PutBytes(Key("x"), "x");
    FAIL() << "radosgw accepted a request signed with the wrong secret";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kUnavailable) << e.what();
    EXPECT_NE(std::string(e.what()).find("SignatureDoesNotMatch"), std::string::npos) << e.what();
  }
  EXPECT_EQ(CodeOf([&] { bad->GetBytes(Key("x")); }), ErrorCode::kUnavailable);
  EXPECT_EQ(CodeOf([&] { bad->List(Key(""), "", 10); }), ErrorCode::kUnavailable);
  EXPECT_EQ(CodeOf([&] { MakeStore(Secret("not-the-secret")); }), ErrorCode::kUnavailable)
      << "creating the bucket at start fails too";
  EXPECT_FALSE(store_->Head(Key("x")).has_value()) << "nothing was written";
}

TEST_P(StoreTest, SinkCanStopTheTransfer) {
  PatternSource source(4 << 20, 3);
  store_->Put(Key("stop.bin"), source);
  int calls = 0;
  EXPECT_EQ(CodeOf([&] { store_->Get(Key("stop.bin"), [&](std::string_view) { return ++calls < 2; }); }),
            ErrorCode::kCancelled);
  EXPECT_EQ(calls, 2);
  // The store is still usable afterwards (the handle/connection was recycled cleanly).
  EXPECT_EQ(store_->Head(Key("stop.bin"))->size, 4u << 20);
  EXPECT_EQ(store_->GetBytes(Key("stop.bin")).size(), 4u << 20);
}

TEST_P(StoreTest, LocalPathOnlyForLocal) {
  store_->PutBytes(Key("p/file"), "on disk");
  auto path = store_->LocalPath(Key("p/file"));
  if (IsLocal()) {
    ASSERT_TRUE(path.has_value());
    FileSource file(*path);
    char buf[16];
    EXPECT_EQ(std::string(buf, file.Read(buf, sizeof buf)), "on disk");
    EXPECT_EQ(store_->Kind(), "local");
  } else {
    EXPECT_FALSE(path.has_value());
    EXPECT_EQ(store_->Kind(), "s3");
    EXPECT_EQ(store_->Bucket(), "storaged-conformance");
    EXPECT_EQ(CodeOf([&] { store_->VerifyPresigned(PresignMethod::kGet, "x", 0, ""); }), ErrorCode::kNotFound);
  }
}

INSTANTIATE_TEST_SUITE_P(Local, StoreTest, ::testing::Values("local"));
INSTANTIATE_TEST_SUITE_P(S3, StoreTest, ::testing::Values("s3"));

}  // namespace
}  // namespace lakehouse::storaged
