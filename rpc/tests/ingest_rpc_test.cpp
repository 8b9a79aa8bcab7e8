// ingest over real gRPC on 127.0.0.1: the real ingestor (DuckDB, a local object store, the
// catalog) behind rpc::Server, reached through rpc::ConnectIngest, compared with the same calls
// in-process. Message limits are 1 MiB on both ends, so every body here needs many messages.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>

#include "grpc_common.h"  // kChunkBytes
#include "lakehouse/catalogd/catalog.h"
#include "lakehouse/ingest/ingest.h"
#include "lakehouse/rpc/rpc.h"
#include "lakehouse/shared/error.h"
#include "lakehouse/shared/io.h"
#include "lakehouse/storaged/object_store.h"
#include "lakehouse/testing/errors.h"
#include "lakehouse/testing/gateway.h"

namespace lakehouse::rpc {
namespace {

namespace fs = std::filesystem;
using lakehouse::testing::CodeOf;

constexpr uint64_t kMessageLimit = 1 << 20;

//! The real ingestor, telling the test how many body bytes it has read and when a server-side
//! Ingest call has ended (the server's handler may still run after a cancelled client returned).
class EndSignallingIngestor final : public ingest::Ingestor {
 public:
  explicit EndSignallingIngestor(ingest::Ingestor& real) : real_(real) {}
  ingest::IngestResult Ingest(const ingest::IngestRequest& request, ByteSource& body) override {
    struct Ended {
      EndSignallingIngestor* self;
      ~Ended() {
        std::lock_guard lock(self->mu_);
        ++self->ended_;
        self->cv_.notify_all();
      }
    } ended{this};
    struct Counted final : ByteSource {
      Counted(ByteSource& body, EndSignallingIngestor& self) : body(body), self(self) {}
      size_t Read(char* buf, size_t n) override {
        const size_t got = body.Read(buf, n);
        std::lock_guard lock(self.mu_);
        self.bytes_read_ += got;
        self.cv_.notify_all();
        return got;
      }
      ByteSource& body;
      EndSignallingIngestor& self;
    } counted(body, *this);
    return real_.Ingest(request, counted);
  }
  ingest::CompactionResult Compact(const std::string& dataset, const ingest::CompactionOptions& options) override {
    return real_.Compact(dataset, options);
  }
  ingest::CompactionOptions DefaultCompaction() const override { return real_.DefaultCompaction(); }
  size_t AutoCompact() override { return real_.AutoCompact(); }
  ingest::IngestResult Register(const ingest::RegisterRequest& request) override { return real_.Register(request); }
  std::string MemoryLimit() override { return real_.MemoryLimit(); }

  //! Waits (at most 60 s) until `n` Ingest calls have ended; false on timeout.
  bool WaitEnded(int n) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(60), [&] { return ended_ >= n; });
  }
  //! Waits (at most 60 s) until the ingestor has read `n` body bytes in all; false on timeout.
  bool WaitRead(uint64_t n) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(60), [&] { return bytes_read_ >= n; });
  }

 private:
  ingest::Ingestor& real_;
  std::mutex mu_;
  std::condition_variable cv_;
  int ended_ = 0;
  uint64_t bytes_read_ = 0;
};

//! `rows` CSV rows of poorly compressible text (random hex), so the Parquet is large too.
std::string MakeCsv(int rows) {
  std::mt19937_64 rng(42);
  std::string csv = "id,label,amount\n";
  for (int i = 0; i < rows; ++i) csv += fmt::format("{},{:016x}{:016x},{}.{}\n", i, rng(), rng(), i % 1000, i % 7);
  return csv;
}

//! Exactly `size` bytes of whole CSV rows, then throws as an HTTP body does when its client goes
//! away - but only once `before_throw` returned (the test waits there until the server has read
//! every byte). What the server read is valid CSV: only the missing end of the stream tells it is
//! incomplete.
class BrokenCsvSource final : public ByteSource {
 public:
  BrokenCsvSource(size_t size, std::function<void()> before_throw)
      : data_(MakeCsv(200000)), before_throw_(std::move(before_throw)) {
    data_.resize(data_.rfind('\n', size - 64) + 1);
    data_ += "0," + std::string(size - data_.size() - 5, 'x') + ",1\n";  // pads to exactly `size`
  }
  size_t Read(char* buf, size_t n) override {
    if (pos_ == data_.size()) {
      before_throw_();
      Fail(ErrorCode::kCancelled, "the HTTP client went away mid-upload");
    }
    const size_t take = std::min(n, data_.size() - pos_);
    std::memcpy(buf, data_.data() + pos_, take);
    pos_ += take;
    return take;
  }

 private:
  std::string data_;
  std::function<void()> before_throw_;
  size_t pos_ = 0;
};

class IngestOverGrpc : public ::testing::Test {
 protected:
  void SetUp() override {
    fs::create_directories(dir_.path() + "/objects");
    fs::create_directories(temp_);
    store_ = storaged::MakeLocalStore({dir_.path() + "/objects", ""});
    catalog_ = catalogd::MakeCatalog(*store_);
    ingest::IngestOptions options;
    options.temp_dir = temp_;
    options.memory_limit = "512MB";
    ingest_ = ingest::MakeIngestor(*store_, *catalog_, options);
    served_ = std::make_unique<EndSignallingIngestor>(*ingest_);
    ServerOptions so;
    so.max_message_bytes = kMessageLimit;
    ServedServices services;
    services.ingest = served_.get();
    server_ = std::make_unique<Server>(so, services);
    server_->Start();
    client_ = ConnectIngest(Options(server_->port()));
  }
  void TearDown() override {
    client_.reset();
    server_->Shutdown();
  }

  static ClientOptions Options(uint16_t port) {
    ClientOptions o;
    o.address = fmt::format("127.0.0.1:{}", port);
    o.service = "ingest";
    o.max_message_bytes = kMessageLimit;
    return o;
  }

  static ingest::IngestRequest Create(const std::string& dataset, std::optional<ingest::Format> format) {
    ingest::IngestRequest r;
    r.dataset = dataset;
    r.format = format;
    r.properties = {{"origin", "test"}};
    return r;
  }

  std::string ReadObject(const std::string& key) {
    std::string out;
    store_->Get(key, [&](std::string_view chunk) {
      out.append(chunk);
      return true;
    });
    return out;
  }

  //! Every file left under the ingestor's temp dir.
  std::vector<std::string> TempFiles() const {
    std::vector<std::string> files;
    for (const auto& e : fs::recursive_directory_iterator(temp_)) {
      if (e.is_regular_file()) files.push_back(e.path().string());
    }
    return files;
  }

  lakehouse::testing::TempDir dir_{"rpc-ingest"};
  const std::string temp_ = dir_.path() + "/tmp";
  std::unique_ptr<storaged::ObjectStore> store_;
  std::unique_ptr<catalogd::Catalog> catalog_;
  std::unique_ptr<ingest::Ingestor> ingest_;
  std::unique_ptr<EndSignallingIngestor> served_;
  std::unique_ptr<Server> server_;
  std::unique_ptr<ingest::Ingestor> client_;
};

TEST_F(IngestOverGrpc, LargeCsvAndParquetBodiesCommitAsInProcess) {
  const std::string csv = MakeCsv(100000);
  ASSERT_GT(csv.size(), 4 * kMessageLimit);

  StringSource local_body(csv);
  const ingest::IngestResult local = ingest_->Ingest(Create("local_csv", std::nullopt), local_body);
  StringSource remote_body(csv);
  const ingest::IngestResult remote = client_->Ingest(Create("remote_csv", std::nullopt), remote_body);

  EXPECT_EQ(remote.format, ingest::Format::kCsv);
  EXPECT_EQ(remote.bytes_received, csv.size());
  EXPECT_EQ(remote.manifest->dataset, "remote_csv");
  EXPECT_EQ(remote.manifest->version, 1u);
  EXPECT_EQ(remote.manifest->row_count(), 100000u);
  EXPECT_EQ(remote.manifest->schema, local.manifest->schema);
  EXPECT_EQ(remote.manifest->fingerprint, local.manifest->fingerprint);
  EXPECT_EQ(remote.manifest->properties, local.manifest->properties);
  ASSERT_EQ(remote.objects.size(), 1u);
  EXPECT_EQ(remote.object, remote.objects[0]);
  EXPECT_EQ(remote.object.row_count, local.object.row_count);
  EXPECT_EQ(remote.object.stats, local.object.stats);         // min/max/nulls per column: the same rows
  EXPECT_EQ(*remote.manifest, catalog_->Head("remote_csv"));  // what the client got is what was committed

  // Parquet is stored as uploaded: the bytes that went through the stream are the object's.
  const std::string parquet = ReadObject(local.object.ref.key);
  ASSERT_GT(parquet.size(), kMessageLimit);
  StringSource parquet_body(parquet);
  const ingest::IngestResult remote_parquet =
      client_->Ingest(Create("remote_parquet", ingest::Format::kParquet), parquet_body);
  EXPECT_EQ(remote_parquet.format, ingest::Format::kParquet);
  EXPECT_EQ(remote_parquet.manifest->row_count(), 100000u);
  EXPECT_EQ(remote_parquet.manifest->schema, local.manifest->schema);
  EXPECT_EQ(ReadObject(remote_parquet.object.ref.key), parquet);

  // Append and partition options travel too.
  ingest::IngestRequest append = Create("remote_csv", ingest::Format::kCsv);
  append.op = catalogd::CommitOp::kAppend;
  append.expected_version = 1;
  StringSource small("id,label,amount\n7,x,1.5\n");
  const ingest::IngestResult appended = client_->Ingest(append, small);
  EXPECT_EQ(appended.manifest->version, 2u);
  EXPECT_EQ(appended.manifest->row_count(), 100001u);

  ingest::IngestRequest partitioned = Create("parts", ingest::Format::kCsv);
  partitioned.partition_by = std::vector<std::string>{"k"};
  StringSource parts_body("k,v\na,1\nb,2\na,3\n");
  const ingest::IngestResult parts = client_->Ingest(partitioned, parts_body);
  EXPECT_EQ(parts.manifest->partition_by, std::vector<std::string>{"k"});
  EXPECT_EQ(parts.objects.size(), 2u);
  EXPECT_EQ(*parts.manifest, catalog_->Head("parts"));
}

TEST_F(IngestOverGrpc, BadBodiesFailWithTheInProcessError) {
  const std::vector<std::pair<std::string, std::optional<ingest::Format>>> bodies = {
      {"a,b\n1,2\n3\n4,5,6\n", ingest::Format::kCsv},  // ragged CSV
      {"", std::nullopt},                              // empty body
      {"PAR1 not really parquet", ingest::Format::kParquet},
      {"{\"a\": [1, 2", ingest::Format::kJson},
  };
  for (const auto& [body, format] : bodies) {
    std::string local_message, remote_message;
    StringSource local_body(body);
    const ErrorCode local = CodeOf([&] { ingest_->Ingest(Create("bad", format), local_body); }, &local_message);
    StringSource remote_body(body);
    const ErrorCode remote = CodeOf([&] { client_->Ingest(Create("bad", format), remote_body); }, &remote_message);
    EXPECT_EQ(remote, local) << body;
    EXPECT_EQ(remote_message, local_message) << body;
  }
  // A request the ingestor refuses before reading the body (an invalid name) comes back the same.
  std::string local_message, remote_message;
  StringSource b1("a\n1\n"), b2("a\n1\n");
  EXPECT_EQ(CodeOf([&] { ingest_->Ingest(Create("Bad-Name", std::nullopt), b1); }, &local_message),
            CodeOf([&] { client_->Ingest(Create("Bad-Name", std::nullopt), b2); }, &remote_message));
  EXPECT_EQ(remote_message, local_message);
  EXPECT_TRUE(catalog_->List().empty());
}

TEST_F(IngestOverGrpc, ClientGoingAwayMidUploadCommitsNothing) {
  const size_t size = 12 * detail::kChunkBytes;  // whole chunks: the client sends every byte before the throw
  BrokenCsvSource body(size, [&] { EXPECT_TRUE(served_->WaitRead(size)) << "the server never read the whole body"; });
  std::string message;
  EXPECT_EQ(CodeOf([&] { client_->Ingest(Create("cancelled", ingest::Format::kCsv), body); }, &message),
            ErrorCode::kCancelled);
  EXPECT_EQ(message, "the HTTP client went away mid-upload");  // the body's own error, not the transport's
  ASSERT_TRUE(served_->WaitEnded(1)) << "the server never ended the cancelled Ingest";
  EXPECT_TRUE(catalog_->List().empty());
  EXPECT_EQ(CodeOf([&] { catalog_->Head("cancelled"); }), ErrorCode::kNotFound);
  EXPECT_TRUE(store_->List("data/", "", 100).objects.empty());
  EXPECT_TRUE(TempFiles().empty());

  // The server is still there for the next upload.
  StringSource good("a\n1\n");
  EXPECT_EQ(client_->Ingest(Create("after", ingest::Format::kCsv), good).manifest->version, 1u);
}

TEST_F(IngestOverGrpc, CompactRegisterAndSettingsMatchInProcess) {
  EXPECT_EQ(client_->MemoryLimit(), ingest_->MemoryLimit());
  const ingest::CompactionOptions defaults = client_->DefaultCompaction();
  EXPECT_EQ(defaults.target_bytes, ingest_->DefaultCompaction().target_bytes);
  EXPECT_EQ(defaults.row_group_rows, ingest_->DefaultCompaction().row_group_rows);

  for (int i = 0; i < 3; ++i) {
    ingest::IngestRequest r = Create("small", ingest::Format::kCsv);
    if (i > 0) r.op = catalogd::CommitOp::kAppend;
    const std::string csv = fmt::format("id,v\n{},{}\n", i, i * 10);  // outlives the source's view of it
    StringSource body(csv);
    client_->Ingest(r, body);
  }
  ingest::CompactionOptions options = defaults;
  options.target_bytes = 1 << 20;
  const ingest::CompactionResult compacted = client_->Compact("small", options);
  EXPECT_TRUE(compacted.compacted);
  EXPECT_EQ(compacted.objects_before, 3u);
  EXPECT_EQ(compacted.objects_after, 1u);
  EXPECT_EQ(compacted.manifest, catalog_->Head("small"));
  EXPECT_EQ(client_->AutoCompact(), 0u);  // the policy is off (auto_min_small_objects = 0)

  // Register the compacted object under a new dataset; then refuse a missing key as in-process.
  ingest::RegisterRequest reg;
  reg.dataset = "registered";
  reg.keys = {compacted.manifest.objects.at(0).ref.key};
  std::string local_message, remote_message;
  EXPECT_EQ(CodeOf([&] { client_->Register(reg); }, &remote_message), ErrorCode::kInvalidArgument)
      << "another dataset's data prefix is refused";
  EXPECT_EQ(CodeOf([&] { ingest_->Register(reg); }, &local_message), ErrorCode::kInvalidArgument);
  EXPECT_EQ(remote_message, local_message);

  const std::string parquet = ReadObject(compacted.manifest.objects.at(0).ref.key);
  StringSource copy(parquet);
  store_->Put("uploads/mine.parquet", copy);
  reg.keys = {"uploads/mine.parquet"};
  const ingest::IngestResult registered = client_->Register(reg);
  EXPECT_EQ(registered.manifest->row_count(), 3u);
  EXPECT_EQ(*registered.manifest, catalog_->Head("registered"));
}

TEST_F(IngestOverGrpc, ServiceDownFailsUnavailableNamingIt) {
  server_->Shutdown();
  const std::string address = Options(server_->port()).address;
  std::string message;
  EXPECT_EQ(CodeOf([&] { client_->MemoryLimit(); }, &message), ErrorCode::kUnavailable);
  EXPECT_NE(message.find("ingest at " + address), std::string::npos) << message;
  StringSource body("a\n1\n");
  EXPECT_EQ(CodeOf([&] { client_->Ingest(Create("never", ingest::Format::kCsv), body); }, &message),
            ErrorCode::kUnavailable);
  EXPECT_NE(message.find("ingest at " + address), std::string::npos) << message;
}

}  // namespace
}  // namespace lakehouse::rpc
