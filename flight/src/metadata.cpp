#include "metadata.h"

#include <cstdint>
#include <deque>

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

bool WriteSqlInfo(const std::vector<SqlInfoValue>& values, const arrow::IpcStreamWriter::Out& out, bool schema_only) {
  // Column data.
  std::vector<uint32_t> names;
  std::vector<int8_t> type_ids;
  std::vector<int32_t> offsets;
  std::vector<int32_t> string_offsets{0};
  std::string string_bytes;
  std::vector<uint8_t> bools(1, 0);
  int64_t bool_count = 0;
  std::vector<int32_t> ints;
  for (const auto& entry : schema_only ? std::vector<SqlInfoValue>{} : values) {
    names.push_back(entry.name);
    if (const auto* text = std::get_if<std::string>(&entry.value)) {
      type_ids.push_back(0);
      offsets.push_back(static_cast<int32_t>(string_offsets.size() - 1));
      string_bytes += *text;
      string_offsets.push_back(static_cast<int32_t>(string_bytes.size()));
    } else if (const auto* flag = std::get_if<bool>(&entry.value)) {
      type_ids.push_back(1);
      offsets.push_back(static_cast<int32_t>(bool_count));
      if (bools.size() * 8 <= static_cast<size_t>(bool_count)) bools.push_back(0);
      if (*flag) bools[static_cast<size_t>(bool_count / 8)] |= static_cast<uint8_t>(1u << (bool_count % 8));
      ++bool_count;
    } else {
      type_ids.push_back(3);
      offsets.push_back(static_cast<int32_t>(ints.size()));
      ints.push_back(std::get<int32_t>(entry.value));
    }
  }
  const int32_t zero_offset = 0;

  // The C data tree (deques keep addresses stable).
  std::deque<ArrowSchema> schemas;
  std::deque<ArrowArray> arrays;
  std::deque<std::vector<ArrowSchema*>> schema_children;
  std::deque<std::vector<ArrowArray*>> array_children;
  std::deque<std::vector<const void*>> buffers;
  struct Node {
    ArrowSchema* schema;
    ArrowArray* array;
  };
  const auto node = [&](const char* format, const char* name, bool nullable, int64_t length,
                        std::vector<const void*> bufs, const std::vector<Node>& children) {
    auto& sc = schema_children.emplace_back();
    auto& ac = array_children.emplace_back();
    for (const auto& c : children) {
      sc.push_back(c.schema);
      ac.push_back(c.array);
    }
    auto& b = buffers.emplace_back(std::move(bufs));
    ArrowSchema& schema = schemas.emplace_back();
    schema.format = format;
    schema.name = name;
    schema.flags = nullable ? ARROW_FLAG_NULLABLE : 0;
    schema.n_children = static_cast<int64_t>(sc.size());
    schema.children = sc.data();
    schema.release = NoRelease;
    ArrowArray& array = arrays.emplace_back();
    array.length = length;
    array.n_buffers = static_cast<int64_t>(b.size());
    array.buffers = b.data();
    array.n_children = static_cast<int64_t>(ac.size());
    array.children = ac.data();
    array.release = NoReleaseArray;
    return Node{&schema, &array};
  };
  const auto rows = static_cast<int64_t>(names.size());
  const Node info_name = node("I", "info_name", false, rows, {nullptr, names.data()}, {});
  const Node string_value = node("u", "string_value", true, static_cast<int64_t>(string_offsets.size() - 1),
                                 {nullptr, string_offsets.data(), string_bytes.data()}, {});
  const Node bool_value = node("b", "bool_value", true, bool_count, {nullptr, bools.data()}, {});
  const Node bigint_value = node("l", "bigint_value", true, 0, {nullptr, nullptr}, {});
  const Node int32_bitmask =
      node("i", "int32_bitmask", true, static_cast<int64_t>(ints.size()), {nullptr, ints.data()}, {});
  const Node string_item = node("u", "item", true, 0, {nullptr, &zero_offset, nullptr}, {});
  const Node string_list = node("+l", "string_list", true, 0, {nullptr, &zero_offset}, {string_item});
  const Node map_key = node("i", "key", false, 0, {nullptr, nullptr}, {});
  const Node int_item = node("i", "item", true, 0, {nullptr, nullptr}, {});
  const Node map_value = node("+l", "value", true, 0, {nullptr, &zero_offset}, {int_item});
  const Node entries = node("+s", "entries", false, 0, {nullptr}, {map_key, map_value});
  const Node map = node("+m", "int32_to_int32_list_map", true, 0, {nullptr, &zero_offset}, {entries});
  const Node value = node("+ud:0,1,2,3,4,5", "value", false, rows, {type_ids.data(), offsets.data()},
                          {string_value, bool_value, bigint_value, int32_bitmask, string_list, map});
  const Node root = node("+s", "", false, rows, {nullptr}, {info_name, value});

  arrow::IpcStreamWriter writer(out);
  if (!writer.WriteSchema(*root.schema)) return false;
  if (!schema_only && !writer.WriteBatch(*root.array)) return false;
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
