// Behaviour specific to one backend: the local store's files on disk, and S3 errors that need no
// server (an endpoint nobody listens on).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>

#include <ctime>

#include <filesystem>
#include <fstream>
#include <thread>

#include "lakehouse/shared/error.h"
#include "lakehouse/storaged/object_store.h"
#include "lakehouse/testing/errors.h"
#include "test_util.h"

namespace lakehouse::storaged {
namespace {

//! Whether `path` is gone within two seconds (the sweep of a new store runs in the background).
bool GoneWithinTwoSeconds(const std::string& path) {
  for (int i = 0; i < 200 && std::filesystem::exists(path); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return !std::filesystem::exists(path);
}

class LocalStoreTest : public ::testing::Test {
 protected:
  testing::TempDir dir_;
  std::string root_ = dir_.path() + "/objects";
  std::unique_ptr<ObjectStore> store_ = MakeLocalStore({root_, "s"});
};

TEST_F(LocalStoreTest, ObjectsAreFilesUnderTheRoot) {
  store_->PutBytes("ds/part-0.parquet", "PAR1");
  EXPECT_EQ(*store_->LocalPath("ds/part-0.parquet"), root_ + "/ds/part-0.parquet");
  std::ifstream in(root_ + "/ds/part-0.parquet");
  std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(content, "PAR1");
  // No temp files left behind.
  int entries = 0;
  for (auto& e : std::filesystem::recursive_directory_iterator(root_)) entries += e.is_regular_file() ? 1 : 0;
  EXPECT_EQ(entries, 1);
}

TEST_F(LocalStoreTest, TempFilesAreHiddenAndReserved) {
  store_->PutBytes("d/visible", "v");
  std::ofstream(root_ + "/d/.lh-tmp-0123456789abcdef") << "half-written";
  auto all = store_->ListAll("");
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].key, "d/visible");
  EXPECT_THROW(store_->PutBytes("d/.lh-tmp-x", "x"), Error);
  EXPECT_FALSE(store_->ListAll("d/.lh").size());
}

TEST_F(LocalStoreTest, StaleTempFilesAreSweptAtStart) {
  store_->PutBytes("d/e/visible", "v");
  std::string stale = root_ + "/d/e/.lh-tmp-stale", fresh = root_ + "/d/.lh-tmp-fresh";
  std::ofstream(stale) << "left by a crash";
  std::ofstream(fresh) << "an upload in progress";
  struct timespec times[2] = {{std::time(nullptr) - 7200, 0}, {std::time(nullptr) - 7200, 0}};
  ASSERT_EQ(::utimensat(AT_FDCWD, stale.c_str(), times, 0), 0);
  auto restarted = MakeLocalStore({root_, "s"});
  EXPECT_TRUE(GoneWithinTwoSeconds(stale)) << stale;
  EXPECT_TRUE(std::filesystem::exists(fresh));
  EXPECT_EQ(restarted->GetBytes("d/e/visible"), "v");
}

TEST_F(LocalStoreTest, TempFilesOfDeadWritersAreSweptAtOnce) {
  // Issue 14: 317 kill -9 restarts left 175 fresh temp files for an hour. A temp file names its
  // writer's pid; the sweep at start removes those of processes that are gone, however fresh.
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) ::_exit(0);
  ASSERT_EQ(::waitpid(child, nullptr, 0), child);
  store_->PutBytes("d/visible", "v");
  const std::string dead = fmt::format("{}/d/.lh-tmp-{}-0123456789abcdef", root_, child);
  const std::string live = fmt::format("{}/d/.lh-tmp-{}-0123456789abcdef", root_, ::getpid());
  std::ofstream(dead) << "left by a killed writer";
  std::ofstream(live) << "a write in progress";
  auto restarted = MakeLocalStore({root_, "s"});
  EXPECT_TRUE(GoneWithinTwoSeconds(dead)) << dead;
  EXPECT_TRUE(std::filesystem::exists(live));
  // The store's own temp names carry its pid.
  EXPECT_EQ(restarted->GetBytes("d/visible"), "v");
}

TEST_F(LocalStoreTest, KeyCannotBeBothObjectAndFolder) {
  store_->PutBytes("a", "file");
  EXPECT_EQ(lakehouse::testing::CodeOf([&] { store_->PutBytes("a/b", "x"); }), ErrorCode::kConflict);
  store_->PutBytes("c/d", "x");
  EXPECT_EQ(lakehouse::testing::CodeOf([&] { store_->PutBytes("c", "x"); }), ErrorCode::kConflict);
  EXPECT_FALSE(store_->PutIfAbsent("c", "x").has_value()) << "a folder counts as taken";
  EXPECT_EQ(store_->GetBytes("a"), "file");
}

TEST_F(LocalStoreTest, DeleteRacingWithPutsLosesNothing) {
  // Delete removes emptied folders; a concurrent Put into the same folder must still land.
  std::atomic<bool> stop{false};
  std::thread deleter([&] {
    while (!stop) {
      store_->PutBytes("race/tmp", "x");
      store_->Delete("race/tmp");
    }
  });
  for (int i = 0; i < 300; ++i) store_->PutBytes(fmt::format("race/k{}", i), "v");
  stop = true;
  deleter.join();
  EXPECT_EQ(store_->ListAll("race/k").size(), 300u);
}

TEST_F(LocalStoreTest, ListPrefixCannotEscapeTheRoot) {
  std::ofstream(dir_.path() + "/outside") << "secret";
  store_->PutBytes("in", "x");
  EXPECT_TRUE(store_->ListAll("../").empty());
  EXPECT_TRUE(store_->ListAll("../out").empty());
  EXPECT_TRUE(store_->ListAll("/").empty());
  EXPECT_EQ(store_->ListAll("").size(), 1u);
}

TEST_F(LocalStoreTest, PresignSignsMethodKeyAndExpiryOnly) {
  // No URL: the gateway builds those (gateway/src/presign.cpp).
  PresignedObject grant = store_->Presign(PresignMethod::kPut, "ds/a b", 10);
  EXPECT_TRUE(grant.url.empty());
  EXPECT_EQ(grant.key, "ds/a b");
  EXPECT_EQ(grant.method, PresignMethod::kPut);
  EXPECT_EQ(grant.signature.size(), 64u);
  EXPECT_NO_THROW(store_->VerifyPresigned(PresignMethod::kPut, "ds/a b", grant.expires, grant.signature));
  EXPECT_THROW(store_->VerifyPresigned(PresignMethod::kPut, "ds/a c", grant.expires, grant.signature), Error);
  EXPECT_THROW(store_->VerifyPresigned(PresignMethod::kPut, "ds/a b", grant.expires + 1, grant.signature), Error);
  EXPECT_THROW(store_->Presign(PresignMethod::kGet, "k", 0), Error);
}

TEST(S3OfflineTest, UnreachableEndpointIsUnavailable) {
  S3StoreOptions options;
  options.endpoint = "http://127.0.0.1:9";  // discard port: nothing listens
  options.bucket = "b-offline";
  options.access_key = "a";
  options.secret_key = "s";
  options.timeout_ms = 2000;
  try {
    MakeS3Store(options);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kUnavailable);
    EXPECT_NE(std::string(e.what()).find("127.0.0.1:9"), std::string::npos) << e.what();
  }
  options.create_bucket = false;
  auto store = MakeS3Store(options);
  EXPECT_EQ(store->Kind(), "s3");
  try {
    store->Head("x");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kUnavailable) << e.what();
  }
  // Presigning needs no server.
  EXPECT_EQ(store->Presign(PresignMethod::kGet, "a b", 60).url.rfind("http://127.0.0.1:9/b-offline/a%20b?X-Amz-", 0),
            0u);
}

TEST(S3OfflineTest, BadOptionsAreUserErrors) {
  S3StoreOptions options = testing::OfflineS3Options();
  options.endpoint = "127.0.0.1:7480";
  EXPECT_THROW(MakeS3Store(options), Error);
  options.endpoint = "http://127.0.0.1:7480";
  options.multipart_part_size = 1 << 20;
  EXPECT_THROW(MakeS3Store(options), Error);
}

}  // namespace
}  // namespace lakehouse::storaged
