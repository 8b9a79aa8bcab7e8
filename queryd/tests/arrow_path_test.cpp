// The result path's batches made on the pipeline's threads (ADR 0012, sixth session): a streaming
// result's chunks are converted to Arrow there, several batches apart, and still sent whole and in
// order; limits, a client that leaves and errors behave as when the query thread converted.
#include <gtest/gtest.h>

#include <malloc.h>

#include <chrono>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "duckdb.hpp"
#include "duckdb/common/arrow/arrow_appender.hpp"
#include "duckdb/common/arrow/arrow_converter.hpp"
#include "encoders.h"
#include "lakehouse/arrow/ipc_reader.h"
#include "lakehouse/testing/errors.h"
#include "output.h"
#include "pipeline.h"
#include "query_test_util.h"

namespace lakehouse::queryd::testing {
namespace {

using lakehouse::testing::CodeOf;

//! Reads an Arrow result back: checks each row's id is the next one, and the name that goes with it.
struct ArrowRows {
  int64_t rows = 0;
  int batches = 0;
  explicit ArrowRows(const std::string& body) {
    arrow::IpcStreamReader reader([&](const arrow::RowBatch& batch) {
      ++batches;
      for (int64_t r = 0; r < batch.rows; ++r, ++rows) {
        ASSERT_EQ(batch.columns[0].Int(r), rows) << "batch " << batches << " row " << r;
        ASSERT_EQ(batch.columns[1].Str(r), "name" + std::to_string(rows));
        ASSERT_DOUBLE_EQ(batch.columns[2].Double(r), static_cast<double>(rows) / 2);
      }
    });
    reader.Write(body);
    reader.Finish();
  }
};

class ArrowPathTest : public ::testing::Test {
 protected:
  static constexpr int64_t kRows = 1000000;
  static constexpr int64_t kBatchRows = 65536;
  void SetUp() override {
    stack_ = Stack::Make("local");
    // Several Parquet row groups: DuckDB's workers scan them in parallel, its collector keeps order.
    stack_->Commit("big", "SELECT range AS id, 'name' || range AS name FROM range(1000000)");
  }
  QueryStats Run(RecordingSink& sink, ResultFormat format, std::optional<uint64_t> limit = std::nullopt) {
    QueryRequest request;
    request.sql = "SELECT id, name, id / 2 AS half FROM big";
    request.format = format;
    request.limit = limit;
    return stack_->engine->Execute(request, sink);
  }
  std::unique_ptr<Stack> stack_;
};

TEST_F(ArrowPathTest, ManyBatchesConvertedOffTheQueryThreadArriveWholeAndInOrder) {
  RecordingSink sink;
  const auto stats = Run(sink, ResultFormat::kArrow);
  EXPECT_EQ(stats.rows, static_cast<uint64_t>(kRows));
  EXPECT_FALSE(stats.truncated);
  const ArrowRows read(sink.body);
  EXPECT_EQ(read.rows, kRows);
  EXPECT_EQ(read.batches, (kRows + kBatchRows - 1) / kBatchRows);  // batches end where they ended before
  EXPECT_TRUE(sink.writers.size() > 1 || !sink.writers.contains(std::this_thread::get_id()));
}

TEST_F(ArrowPathTest, ALimitCutsABatchInTheMiddle) {
  const uint64_t limit = (3 * kBatchRows) + 1234;
  RecordingSink sink;
  const auto stats = Run(sink, ResultFormat::kArrow, limit);
  EXPECT_EQ(stats.rows, limit);
  EXPECT_TRUE(stats.truncated);
  const ArrowRows read(sink.body);
  EXPECT_EQ(read.rows, static_cast<int64_t>(limit));
  EXPECT_EQ(read.batches, 4);
  // The same cut in a text format: the last line is the limit's.
  RecordingSink csv;
  EXPECT_EQ(Run(csv, ResultFormat::kCsv, limit).rows, limit);
  const std::string last = std::to_string(limit - 1) + ",name" + std::to_string(limit - 1) + ",";
  EXPECT_NE(csv.body.find("\r\n" + last), std::string::npos);
  EXPECT_EQ(csv.body.find("\r\n" + std::to_string(limit) + ",name"), std::string::npos);
}

TEST_F(ArrowPathTest, AClientThatLeavesMidStreamCancelsTheQuery) {
  for (const auto format : {ResultFormat::kArrow, ResultFormat::kCsv}) {
    RecordingSink sink;
    sink.fail_after_writes = 6;  // past the first batch: the pipeline's threads are converting
    EXPECT_EQ(CodeOf([&] { Run(sink, format); }), ErrorCode::kCancelled);
  }
  // The engine serves the next query whole.
  RecordingSink sink;
  EXPECT_EQ(Run(sink, ResultFormat::kArrow).rows, static_cast<uint64_t>(kRows));
  EXPECT_EQ(ArrowRows(sink.body).rows, kRows);
}

TEST_F(ArrowPathTest, AnErrorMidStreamIsReportedAndThePipelineStopped) {
  QueryRequest request;
  request.sql = "SELECT id, CASE WHEN id < 900000 THEN name ELSE error('boom at ' || id) END AS name FROM big";
  request.format = ResultFormat::kArrow;
  RecordingSink sink;
  std::string message;
  EXPECT_NE(CodeOf([&] { stack_->engine->Execute(request, sink); }, &message), ErrorCode::kCancelled);
  EXPECT_NE(message.find("boom at"), std::string::npos) << message;
  RecordingSink next;
  EXPECT_EQ(Run(next, ResultFormat::kArrow).rows, static_cast<uint64_t>(kRows));
}

// Result buffers are not mapped afresh for every batch (arrow_memory.h): in a process with a query
// engine, a freed 24 MiB block comes back from malloc's heap, not from a new mapping.
TEST_F(ArrowPathTest, ResultBuffersStayMappedBetweenBatches) {
#if defined(__SANITIZE_ADDRESS__)
  GTEST_SKIP() << "ASan's allocator has no mmap threshold";
#else
  RecordingSink sink;
  Run(sink, ResultFormat::kArrow, 100000);
  const size_t mapped = mallinfo2().hblks;
  const std::unique_ptr<void, decltype(&std::free)> block(std::malloc(size_t{24} << 20), &std::free);
  ASSERT_NE(block, nullptr);
  EXPECT_EQ(mallinfo2().hblks, mapped) << "a 24 MiB block was mmap'ed (glibc's default threshold: 128 KiB)";
#endif
}

// ---- BatchPipeline with batches made on its threads -------------------------------------------

constexpr int64_t kPieceRows = 1000;

//! A batch of ids [first, first + kPieceRows) made on a pipeline thread, after `delay` (batches
//! finish out of order), or a failure.
class RangeSource final : public BatchSource {
 public:
  RangeSource(int64_t first, std::chrono::milliseconds delay, bool fail, const duckdb::ClientProperties& properties,
              std::mutex& mu, std::set<std::thread::id>& makers)
      : first_(first), delay_(delay), fail_(fail), properties_(properties), mu_(mu), makers_(makers) {}
  void Make(ArrowArray& batch) override {
    {
      std::lock_guard lock(mu_);
      makers_.insert(std::this_thread::get_id());
    }
    std::this_thread::sleep_for(delay_);
    if (fail_) throw std::runtime_error("conversion failed");
    const duckdb::vector<duckdb::LogicalType> types{duckdb::LogicalType::BIGINT};
    duckdb::DataChunk chunk;
    chunk.Initialize(duckdb::Allocator::DefaultAllocator(), types);
    const auto rows = static_cast<duckdb::idx_t>(kPieceRows);
    for (duckdb::idx_t i = 0; i < rows; ++i)
      chunk.SetValue(0, i, duckdb::Value::BIGINT(first_ + static_cast<int64_t>(i)));
    chunk.SetCardinality(rows);
    duckdb::ArrowAppender appender(types, rows, properties_, {});
    appender.Append(chunk, 0, rows, rows);
    batch = appender.Finalize();
  }

 private:
  int64_t first_;
  std::chrono::milliseconds delay_;
  bool fail_;
  const duckdb::ClientProperties& properties_;
  std::mutex& mu_;
  std::set<std::thread::id>& makers_;
};

//! Runs `batches` RangeSources through a CSV pipeline of 2 threads; the one at `fail_at` throws.
//! Returns the CSV rows sent (the header and the first batch are not part of it).
std::string RunPipeline(int batches, int fail_at, std::set<std::thread::id>& makers, std::string* error) {
  RecordingSink sink;
  Output out(sink, 4096);
  auto encoder = MakeEncoder(ResultFormat::kCsv, out);
  duckdb::DuckDB db(nullptr);
  duckdb::Connection con(db);
  auto properties = con.context->GetClientProperties();
  ArrowSchema schema{};
  duckdb::ArrowConverter::ToArrowSchema(&schema, {duckdb::LogicalType::BIGINT}, {"n"}, properties);
  encoder->Start({{"n", "BIGINT"}}, schema);
  schema.release(&schema);
  out.Flush();
  const size_t header = sink.body.size();
  std::mutex mu;
  {
    BatchPipeline pipeline(*encoder, out, true, 2, true);
    for (int b = 0; b < batches; ++b) {
      const auto delay = std::chrono::milliseconds(b % 2 == 0 ? 3 : 0);
      if (!pipeline.Push(
              std::make_unique<RangeSource>(int64_t{b} * kPieceRows, delay, b == fail_at, properties, mu, makers)))
        break;
    }
    try {
      pipeline.Finish();
    } catch (const std::exception& e) {
      *error = e.what();
    }
  }
  out.Flush();
  return sink.body.substr(header);
}

TEST(BatchPipelineSources, BatchesMadeOnItsThreadsAreSentInOrder) {
  std::set<std::thread::id> makers;
  std::string error;
  const std::string rows = RunPipeline(40, -1, makers, &error);
  EXPECT_EQ(error, "");
  std::string expected;
  for (int64_t i = 0; i < int64_t{40} * kPieceRows; ++i) expected += std::to_string(i) + "\r\n";
  EXPECT_EQ(rows, expected);
  EXPECT_FALSE(makers.contains(std::this_thread::get_id()));
  EXPECT_EQ(makers.size(), 2u);  // both threads made batches
}

TEST(BatchPipelineSources, AFailedBatchStopsThePipelineAndNothingAfterItIsSent) {
  std::set<std::thread::id> makers;
  std::string error;
  const std::string rows = RunPipeline(40, 5, makers, &error);
  EXPECT_EQ(error, "conversion failed");
  // What was sent is a prefix of batches 0..4, in order; nothing of batch 5 or later.
  std::string before;
  for (int64_t i = 0; i < int64_t{5} * kPieceRows; ++i) before += std::to_string(i) + "\r\n";
  EXPECT_EQ(before.compare(0, rows.size(), rows), 0) << rows.substr(0, 200);
  EXPECT_LE(rows.size(), before.size());
}

}  // namespace
}  // namespace lakehouse::queryd::testing
