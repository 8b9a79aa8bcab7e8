#pragma once
// The project's one Arrow IPC streaming format writer (queryd's results, aibridge's embeddings;
// https://arrow.apache.org/docs/format/Columnar.html#ipc-streaming-format): a Schema message, one RecordBatch message
// per batch, then the end-of-stream marker. Metadata is flatbuffers (arrow_ipc.fbs); bodies are the C data interface
// buffers, 8-byte aligned, no compression, little-endian, metadata version V5.
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "lakehouse/arrow/arrow_type.h"

namespace lakehouse::arrow {

class IpcStreamWriter {
 public:
  //! `out` receives the stream's bytes; returning false stops the writer (client gone).
  using Out = std::function<bool(std::string_view)>;
  explicit IpcStreamWriter(Out out) : out_(std::move(out)) {}

  //! Schema-level key/value metadata.
  using Metadata = std::vector<std::pair<std::string, std::string>>;
  //! `schema` is a struct ("+s") whose children are the columns (what DuckDB exports).
  bool WriteSchema(const ArrowSchema& schema, const Metadata& metadata = {});
  //! `batch` is a struct array whose children are the columns, matching the schema.
  bool WriteBatch(const ArrowArray& batch);
  //! Writes the end-of-stream marker.
  bool Finish();

  const std::vector<ArrowType>& columns() const { return columns_; }

 private:
  struct Piece {
    const void* data;
    int64_t length;
  };
  struct Node {
    int64_t length;
    int64_t null_count;
  };
  void Collect(const ArrowType& type, const ArrowArray& array, std::vector<Node>& nodes, std::vector<Piece>& pieces);
  const void* Bitmap(const ArrowArray& array, const void* bits, int64_t length);
  bool WriteMessage(const uint8_t* metadata, size_t size, const std::vector<Piece>& body);

  Out out_;
  std::vector<ArrowType> columns_;
  std::vector<std::string> owned_;  //!< bitmaps re-aligned for arrays with a non-zero offset
  bool ok_ = true;
};

}  // namespace lakehouse::arrow
