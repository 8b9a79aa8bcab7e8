#include "metadata.h"

#include <cstdint>

#include "lakehouse/arrow/c_data.h"

namespace lakehouse::flight {
namespace {

void NoRelease(ArrowSchema* /*schema*/) {}
void NoReleaseArray(ArrowArray* /*array*/) {}

//! The C data of one column; pointers into it stay valid while it lives (not moved).
struct ColumnData {
  std::vector<uint8_t> validity;
  std::vector<int32_t> offsets;
  std::string bytes;
  int64_t null_count = 0;
  const void* buffers[3] = {nullptr, nullptr, nullptr};
  ArrowSchema schema{};
  ArrowArray array{};
};

void Fill(const MetaColumn& column, ColumnData& d) {
  const size_t n = column.values.size();
  d.validity.assign((n + 7) / 8, 0);
  d.offsets.reserve(n + 1);
  d.offsets.push_back(0);
  for (size_t i = 0; i < n; ++i) {
    if (column.values[i]) {
      d.validity[i / 8] |= static_cast<uint8_t>(1u << (i % 8));
      d.bytes += *column.values[i];
    } else {
      ++d.null_count;
    }
    d.offsets.push_back(static_cast<int32_t>(d.bytes.size()));
  }
  d.buffers[0] = d.null_count > 0 ? d.validity.data() : nullptr;
  d.buffers[1] = d.offsets.data();
  d.buffers[2] = d.bytes.data();
  d.schema.format = column.binary ? "z" : "u";
  d.schema.name = column.name.c_str();
  d.schema.flags = column.nullable ? ARROW_FLAG_NULLABLE : 0;
  d.schema.release = NoRelease;
  d.array.length = static_cast<int64_t>(n);
  d.array.null_count = d.null_count;
  d.array.n_buffers = 3;
  d.array.buffers = d.buffers;
  d.array.release = NoReleaseArray;
}

}  // namespace

bool WriteMetaTable(const std::vector<MetaColumn>& columns, const arrow::IpcStreamWriter::Out& out, bool schema_only) {
  std::vector<ColumnData> data(columns.size());
  std::vector<ArrowSchema*> child_schemas;
  std::vector<ArrowArray*> child_arrays;
  for (size_t i = 0; i < columns.size(); ++i) {
    Fill(columns[i], data[i]);
    child_schemas.push_back(&data[i].schema);
    child_arrays.push_back(&data[i].array);
  }
  ArrowSchema schema{};
  schema.format = "+s";
  schema.name = "";
  schema.n_children = static_cast<int64_t>(columns.size());
  schema.children = child_schemas.data();
  schema.release = NoRelease;
  const void* no_validity[1] = {nullptr};
  ArrowArray batch{};
  batch.length = columns.empty() ? 0 : static_cast<int64_t>(columns[0].values.size());
  batch.n_buffers = 1;
  batch.buffers = no_validity;
  batch.n_children = static_cast<int64_t>(columns.size());
  batch.children = child_arrays.data();
  batch.release = NoReleaseArray;

  arrow::IpcStreamWriter writer(out);
  if (!writer.WriteSchema(schema)) return false;
  if (!schema_only && !writer.WriteBatch(batch)) return false;
  return writer.Finish();
}

bool LikeMatch(std::string_view text, std::string_view pattern) {
  // Tokens: a literal byte, '_' (one byte, kOne) or '%' (any run, kAny); then the classic greedy
  // match that backtracks only to the last '%': O(text * pattern), whatever the client sends.
  constexpr int kOne = 256;
  constexpr int kAny = 257;
  std::vector<int> tokens;
  for (size_t i = 0; i < pattern.size(); ++i) {
    const char c = pattern[i];
    if (c == '\\' && i + 1 < pattern.size()) {
      tokens.push_back(static_cast<unsigned char>(pattern[++i]));
    } else {
      tokens.push_back(c == '%' ? kAny : c == '_' ? kOne : static_cast<unsigned char>(c));
    }
  }
  size_t t = 0, p = 0, star = std::string_view::npos, resume = 0;
  while (t < text.size()) {
    if (p < tokens.size() && tokens[p] != kAny &&
        (tokens[p] == kOne || tokens[p] == static_cast<unsigned char>(text[t]))) {
      ++t;
      ++p;
    } else if (p < tokens.size() && tokens[p] == kAny) {
      star = p++;
      resume = t;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      t = ++resume;
    } else {
      return false;
    }
  }
  while (p < tokens.size() && tokens[p] == kAny) ++p;
  return p == tokens.size();
}

}  // namespace lakehouse::flight
