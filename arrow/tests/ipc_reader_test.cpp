// The Arrow IPC stream reader against the writer: a stream written by IpcStreamWriter reads back
// as the same typed values, whatever the size of the pieces it arrives in; damaged or truncated
// streams are errors.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "lakehouse/arrow/c_data.h"
#include "lakehouse/arrow/ipc_reader.h"
#include "lakehouse/arrow/ipc_writer.h"
#include "lakehouse/shared/error.h"

namespace lakehouse::arrow {
namespace {

//! A three-row batch: id BIGINT, name VARCHAR (one null), score DOUBLE.
struct Batch {
  int64_t ids[3] = {7, -1, 1LL << 40};
  int32_t offsets[4] = {0, 5, 5, 8};
  char chars[8] = {'a', 'l', 'i', 'c', 'e', 'b', 'o', 'b'};
  uint8_t name_valid = 0b101;
  double scores[3] = {0.5, -2.25, 1e300};

  const void* id_buffers[2] = {nullptr, ids};
  const void* name_buffers[3] = {&name_valid, offsets, chars};
  const void* score_buffers[2] = {nullptr, scores};
  ArrowArray id{3, 0, 0, 2, 0, id_buffers, nullptr, nullptr, nullptr, nullptr};
  ArrowArray name{3, 1, 0, 3, 0, name_buffers, nullptr, nullptr, nullptr, nullptr};
  ArrowArray score{3, 0, 0, 2, 0, score_buffers, nullptr, nullptr, nullptr, nullptr};
  ArrowArray* columns[3] = {&id, &name, &score};
  const void* struct_buffers[1] = {nullptr};
  ArrowArray root{3, 0, 0, 1, 3, struct_buffers, columns, nullptr, nullptr, nullptr};

  ArrowSchema id_schema{"l", "id", nullptr, 0, 0, nullptr, nullptr, nullptr, nullptr};
  ArrowSchema name_schema{"u", "name", nullptr, ARROW_FLAG_NULLABLE, 0, nullptr, nullptr, nullptr, nullptr};
  ArrowSchema score_schema{"g", "score", nullptr, 0, 0, nullptr, nullptr, nullptr, nullptr};
  ArrowSchema* fields[3] = {&id_schema, &name_schema, &score_schema};
  ArrowSchema schema{"+s", "", nullptr, 0, 3, fields, nullptr, nullptr, nullptr};
};

std::string WriteStream(int batches) {
  Batch b;
  std::string out;
  IpcStreamWriter writer([&](std::string_view bytes) {
    out.append(bytes);
    return true;
  });
  EXPECT_TRUE(writer.WriteSchema(b.schema));
  for (int i = 0; i < batches; ++i) EXPECT_TRUE(writer.WriteBatch(b.root));
  EXPECT_TRUE(writer.Finish());
  return out;
}

struct Row {
  int64_t id;
  bool name_null;
  std::string name;
  double score;
};

std::vector<Row> ReadStream(const std::string& stream, size_t piece) {
  std::vector<Row> rows;
  IpcStreamReader reader([&](const RowBatch& batch) {
    EXPECT_EQ(batch.columns.size(), 3u);
    EXPECT_EQ(batch.columns[0].name(), "id");
    EXPECT_EQ(batch.columns[1].kind(), ColumnView::Kind::kUtf8);
    for (int64_t r = 0; r < batch.rows; ++r) {
      const bool null = batch.columns[1].IsNull(r);
      rows.push_back({batch.columns[0].Int(r), null, null ? "" : std::string(batch.columns[1].Str(r)),
                      batch.columns[2].Double(r)});
    }
  });
  for (size_t at = 0; at < stream.size(); at += piece) reader.Write(std::string_view(stream).substr(at, piece));
  reader.Finish();
  return rows;
}

TEST(IpcStreamReader, ReadsWhatTheWriterWroteInPiecesOfAnySize) {
  const std::string stream = WriteStream(2);
  for (size_t piece : {size_t{1}, size_t{7}, size_t{64}, stream.size()}) {
    SCOPED_TRACE("piece " + std::to_string(piece));
    const std::vector<Row> rows = ReadStream(stream, piece);
    ASSERT_EQ(rows.size(), 6u);
    EXPECT_EQ(rows[0].id, 7);
    EXPECT_EQ(rows[0].name, "alice");
    EXPECT_EQ(rows[0].score, 0.5);
    EXPECT_EQ(rows[1].id, -1);
    EXPECT_TRUE(rows[1].name_null);
    EXPECT_EQ(rows[2].id, 1LL << 40);
    EXPECT_EQ(rows[2].name, "bob");
    EXPECT_EQ(rows[2].score, 1e300);
    EXPECT_EQ(rows[5].name, "bob");
  }
}

TEST(IpcStreamReader, TruncatedOrDamagedStreamsAreErrors) {
  const std::string stream = WriteStream(1);
  // Cut before the end-of-stream marker: every batch before it arrives, Finish refuses.
  EXPECT_THROW(ReadStream(stream.substr(0, stream.size() - 8), 64), Error);
  // Damaged metadata: the flatbuffer does not verify.
  std::string damaged = stream;
  for (size_t i = 8; i < 40 && i < damaged.size(); ++i) damaged[i] = '\xff';
  EXPECT_THROW(ReadStream(damaged, 64), Error);
}

// The splitter hands over each message whole (metadata, body), whatever the pieces: framing them
// again gives back the exact stream (Arrow Flight sends them as FlightData).
TEST(IpcMessageSplitter, CutsAStreamIntoItsMessagesInPiecesOfAnySize) {
  const std::string stream = WriteStream(2);
  for (size_t piece : {size_t{1}, size_t{7}, size_t{64}, stream.size()}) {
    std::string framed;
    int messages = 0;
    IpcMessageSplitter splitter([&](std::string_view metadata, std::string& body) {
      const uint32_t prefix[2] = {0xFFFFFFFFu, static_cast<uint32_t>(metadata.size())};
      framed.append(reinterpret_cast<const char*>(prefix), sizeof(prefix));
      framed.append(metadata);
      framed.append(body);
      body.clear();  // the callback may take the body
      ++messages;
      return true;
    });
    for (size_t i = 0; i < stream.size(); i += piece) {
      ASSERT_TRUE(splitter.Write(std::string_view(stream).substr(i, piece)));
    }
    EXPECT_TRUE(splitter.ended()) << piece;
    EXPECT_EQ(messages, 3) << piece;  // schema + 2 batches
    const uint32_t end[2] = {0xFFFFFFFFu, 0};
    framed.append(reinterpret_cast<const char*>(end), sizeof(end));
    EXPECT_EQ(framed, stream) << piece;
  }
}

TEST(IpcMessageSplitter, StopsWhenTheCallbackDoesAndRejectsDamage) {
  const std::string stream = WriteStream(3);
  int messages = 0;
  IpcMessageSplitter stopping([&](std::string_view, std::string&) { return ++messages < 2; });
  EXPECT_FALSE(stopping.Write(stream));
  EXPECT_EQ(messages, 2);
  std::string damaged = stream;
  for (size_t i = 8; i < 40; ++i) damaged[i] = '\xff';  // the schema's flatbuffer does not verify
  IpcMessageSplitter splitter([](std::string_view, std::string&) { return true; });
  EXPECT_THROW(splitter.Write(damaged), Error);
}

}  // namespace
}  // namespace lakehouse::arrow
