// Embeddings as an Arrow IPC stream, through the project's one IPC writer (arrow/): the values
// are described as Arrow C data (FixedSizeList<float32>[dim], no nulls) and written as one batch.
#include <string>

#include "lakehouse/aibridge/arrow.h"
#include "lakehouse/arrow/ipc_writer.h"
#include "lakehouse/shared/error.h"

namespace lakehouse::aibridge {
namespace {

//! A non-nullable field with at most one child (ours to release: no release callback).
ArrowSchema FieldSchema(const char* format, const char* name, ArrowSchema** child) {
  ArrowSchema schema{};
  schema.format = format;
  schema.name = name;
  schema.n_children = child != nullptr ? 1 : 0;
  schema.children = child;
  return schema;
}

//! An array without nulls over borrowed buffers, with at most one child.
ArrowArray BorrowedArray(int64_t length, const void** buffers, int64_t n_buffers, ArrowArray** child) {
  ArrowArray array{};
  array.length = length;
  array.n_buffers = n_buffers;
  array.buffers = buffers;
  array.n_children = child != nullptr ? 1 : 0;
  array.children = child;
  return array;
}

}  // namespace

std::string EmbeddingsToArrowIpc(const Embeddings& e) {
  if (e.dim <= 0 || e.values.size() != e.count * static_cast<size_t>(e.dim)) {
    Fail(ErrorCode::kInternal, "embeddings of {} values do not form {} rows of {}", e.values.size(), e.count, e.dim);
  }
  // Arrow C data of one struct column "embedding": FixedSizeList<float32>[dim], no nulls.
  const std::string list_format = "+w:" + std::to_string(e.dim);
  ArrowSchema item_schema = FieldSchema("f", "item", nullptr);
  ArrowSchema* item_child = &item_schema;
  ArrowSchema list_schema = FieldSchema(list_format.c_str(), "embedding", &item_child);
  ArrowSchema* list_child = &list_schema;
  ArrowSchema root_schema = FieldSchema("+s", "", &list_child);

  const auto rows = static_cast<int64_t>(e.count);
  const void* item_buffers[2] = {nullptr, e.values.data()};
  const void* no_validity[1] = {nullptr};
  ArrowArray item = BorrowedArray(rows * e.dim, item_buffers, 2, nullptr);
  ArrowArray* item_child_array = &item;
  ArrowArray list = BorrowedArray(rows, no_validity, 1, &item_child_array);
  ArrowArray* list_child_array = &list;
  ArrowArray root = BorrowedArray(rows, no_validity, 1, &list_child_array);

  std::string out;
  arrow::IpcStreamWriter writer([&out](std::string_view bytes) {
    out.append(bytes);
    return true;
  });
  writer.WriteSchema(root_schema, {{"model", e.model}, {"dim", std::to_string(e.dim)}});
  writer.WriteBatch(root);
  writer.Finish();
  return out;
}

}  // namespace lakehouse::aibridge
