#include "lakehouse/arrow/ipc_writer.h"

#include <flatbuffers/flatbuffers.h>

#include <bit>
#include <cstring>

#include "arrow_ipc_generated.h"
#include "lakehouse/shared/error.h"

namespace lakehouse::arrow {
namespace fb = org::apache::arrow::flatbuf;
namespace {

constexpr int64_t Pad8(int64_t n) { return (n + 7) & ~int64_t{7}; }
constexpr char kZeros[8] = {0, 0, 0, 0, 0, 0, 0, 0};

fb::TimeUnit ToFb(TimeUnit unit) { return static_cast<fb::TimeUnit>(static_cast<int>(unit)); }

int64_t CountNulls(const ArrowArray& array) {
  if (array.null_count >= 0) return array.null_count;
  if (array.n_buffers == 0 || array.buffers[0] == nullptr) return 0;
  const auto* bits = static_cast<const uint8_t*>(array.buffers[0]);
  int64_t valid = 0;
  for (int64_t i = 0; i < array.length; ++i) {
    const int64_t bit = array.offset + i;
    valid += (bits[bit >> 3] >> (bit & 7)) & 1;
  }
  return array.length - valid;
}

flatbuffers::Offset<fb::Field> BuildField(flatbuffers::FlatBufferBuilder& b, const ArrowType& t) {
  std::vector<flatbuffers::Offset<fb::Field>> children;
  for (const auto& c : t.children) children.push_back(BuildField(b, c));
  fb::Type type_type = fb::Type_NONE;
  flatbuffers::Offset<void> type;
  switch (t.kind) {
    case Kind::kNull:
      type_type = fb::Type_Null;
      type = fb::CreateNull(b).Union();
      break;
    case Kind::kBool:
      type_type = fb::Type_Bool;
      type = fb::CreateBool(b).Union();
      break;
    case Kind::kInt:
      type_type = fb::Type_Int;
      type = fb::CreateInt(b, t.bit_width, t.is_signed).Union();
      break;
    case Kind::kFloat:
      type_type = fb::Type_FloatingPoint;
      type = fb::CreateFloatingPoint(b, t.bit_width == 32 ? fb::Precision_SINGLE : fb::Precision_DOUBLE).Union();
      break;
    case Kind::kDecimal:
      type_type = fb::Type_Decimal;
      type = fb::CreateDecimal(b, t.precision, t.scale, t.bit_width).Union();
      break;
    case Kind::kUtf8:
      type_type = fb::Type_Utf8;
      type = fb::CreateUtf8(b).Union();
      break;
    case Kind::kLargeUtf8:
      type_type = fb::Type_LargeUtf8;
      type = fb::CreateLargeUtf8(b).Union();
      break;
    case Kind::kBinary:
      type_type = fb::Type_Binary;
      type = fb::CreateBinary(b).Union();
      break;
    case Kind::kLargeBinary:
      type_type = fb::Type_LargeBinary;
      type = fb::CreateLargeBinary(b).Union();
      break;
    case Kind::kFixedBinary:
      type_type = fb::Type_FixedSizeBinary;
      type = fb::CreateFixedSizeBinary(b, t.fixed_size).Union();
      break;
    case Kind::kDate32:
      type_type = fb::Type_Date;
      type = fb::CreateDate(b, fb::DateUnit_DAY).Union();
      break;
    case Kind::kDate64:
      type_type = fb::Type_Date;
      type = fb::CreateDate(b, fb::DateUnit_MILLISECOND).Union();
      break;
    case Kind::kTime32:
    case Kind::kTime64:
      type_type = fb::Type_Time;
      type = fb::CreateTime(b, ToFb(t.unit), t.kind == Kind::kTime32 ? 32 : 64).Union();
      break;
    case Kind::kTimestamp: {
      auto tz = t.timezone.empty() ? flatbuffers::Offset<flatbuffers::String>() : b.CreateString(t.timezone);
      type_type = fb::Type_Timestamp;
      type = fb::CreateTimestamp(b, ToFb(t.unit), tz).Union();
      break;
    }
    case Kind::kDuration:
      type_type = fb::Type_Duration;
      type = fb::CreateDuration(b, ToFb(t.unit)).Union();
      break;
    case Kind::kIntervalMonths:
      type_type = fb::Type_Interval;
      type = fb::CreateInterval(b, fb::IntervalUnit_YEAR_MONTH).Union();
      break;
    case Kind::kIntervalDayTime:
      type_type = fb::Type_Interval;
      type = fb::CreateInterval(b, fb::IntervalUnit_DAY_TIME).Union();
      break;
    case Kind::kIntervalMonthDayNano:
      type_type = fb::Type_Interval;
      type = fb::CreateInterval(b, fb::IntervalUnit_MONTH_DAY_NANO).Union();
      break;
    case Kind::kList:
      type_type = fb::Type_List;
      type = fb::CreateList(b).Union();
      break;
    case Kind::kLargeList:
      type_type = fb::Type_LargeList;
      type = fb::CreateLargeList(b).Union();
      break;
    case Kind::kFixedList:
      type_type = fb::Type_FixedSizeList;
      type = fb::CreateFixedSizeList(b, t.fixed_size).Union();
      break;
    case Kind::kStruct:
      type_type = fb::Type_Struct_;
      type = fb::CreateStruct_(b).Union();
      break;
    case Kind::kMap:
      type_type = fb::Type_Map;
      type = fb::CreateMap(b, t.keys_sorted).Union();
      break;
    case Kind::kDenseUnion: {
      auto ids = b.CreateVector(t.type_ids);
      type_type = fb::Type_Union;
      type = fb::CreateUnion(b, fb::UnionMode_Dense, ids).Union();
      break;
    }
  }
  auto name = b.CreateString(t.name);
  auto kids = b.CreateVector(children);
  return fb::CreateField(b, name, t.nullable, type_type, type, 0, kids);
}

int FixedWidthBytes(const ArrowType& t) {
  switch (t.kind) {
    case Kind::kInt:
    case Kind::kFloat:
    case Kind::kDecimal:
      return t.bit_width / 8;
    case Kind::kFixedBinary:
      return t.fixed_size;
    case Kind::kDate32:
    case Kind::kTime32:
    case Kind::kIntervalMonths:
      return 4;
    case Kind::kDate64:
    case Kind::kTime64:
    case Kind::kTimestamp:
    case Kind::kDuration:
    case Kind::kIntervalDayTime:
      return 8;
    case Kind::kIntervalMonthDayNano:
      return 16;
    default:
      return 0;
  }
}

}  // namespace

bool IpcStreamWriter::WriteSchema(const ArrowSchema& schema, const Metadata& metadata) {
  const ArrowType root = ParseArrowType(schema);
  if (root.kind != Kind::kStruct) Fail(ErrorCode::kInternal, "Arrow result schema is not a struct");
  columns_ = root.children;
  flatbuffers::FlatBufferBuilder b(1024);
  std::vector<flatbuffers::Offset<fb::Field>> fields;
  for (const auto& c : columns_) fields.push_back(BuildField(b, c));
  auto fields_vec = b.CreateVector(fields);
  std::vector<flatbuffers::Offset<fb::KeyValue>> pairs;
  for (const auto& [key, value] : metadata) {
    pairs.push_back(fb::CreateKeyValue(b, b.CreateString(key), b.CreateString(value)));
  }
  auto schema_off = fb::CreateSchema(b, fb::Endianness_Little, fields_vec, pairs.empty() ? 0 : b.CreateVector(pairs));
  auto message = fb::CreateMessage(b, fb::MetadataVersion_V5, fb::MessageHeader_Schema, schema_off.Union(), 0);
  b.Finish(message);
  return WriteMessage(b.GetBufferPointer(), b.GetSize(), {});
}

const void* IpcStreamWriter::Bitmap(const ArrowArray& array, const void* bits, int64_t length) {
  if (array.offset % 8 == 0) return static_cast<const uint8_t*>(bits) + array.offset / 8;
  std::string& copy = owned_.emplace_back(static_cast<size_t>((length + 7) / 8), '\0');
  const auto* src = static_cast<const uint8_t*>(bits);
  for (int64_t i = 0; i < length; ++i) {
    const int64_t bit = array.offset + i;
    if ((src[bit >> 3] >> (bit & 7)) & 1) {
      auto& byte = copy[static_cast<size_t>(i >> 3)];
      byte = static_cast<char>(static_cast<unsigned char>(byte) | (1u << (i & 7)));
    }
  }
  return copy.data();
}

void IpcStreamWriter::Collect(const ArrowType& t, const ArrowArray& a, std::vector<Node>& nodes,
                              std::vector<Piece>& pieces) {
  const int64_t n = a.length;
  if (t.kind == Kind::kNull) {
    nodes.push_back({n, n});
    return;
  }
  if (t.kind == Kind::kDenseUnion) {  // no validity bitmap: type ids (int8), offsets (int32), children
    if (a.offset != 0) Fail(ErrorCode::kInternal, "union array with an offset");
    nodes.push_back({n, 0});
    pieces.push_back({a.buffers[0], n});
    pieces.push_back({a.buffers[1], n * 4});
    for (size_t i = 0; i < t.children.size(); ++i) Collect(t.children[i], *a.children[i], nodes, pieces);
    return;
  }
  const int64_t nulls = CountNulls(a);
  nodes.push_back({n, nulls});
  // Validity bitmap (every remaining layout starts with one).
  if (nulls == 0 || a.buffers[0] == nullptr) {
    pieces.push_back({nullptr, 0});
  } else {
    pieces.push_back({Bitmap(a, a.buffers[0], n), (n + 7) / 8});
  }
  switch (t.kind) {
    case Kind::kBool:
      pieces.push_back({Bitmap(a, a.buffers[1], n), (n + 7) / 8});
      return;
    case Kind::kUtf8:
    case Kind::kBinary:
    case Kind::kLargeUtf8:
    case Kind::kLargeBinary: {
      const bool large = t.kind == Kind::kLargeUtf8 || t.kind == Kind::kLargeBinary;
      const int width = large ? 8 : 4;
      const auto* offsets = static_cast<const uint8_t*>(a.buffers[1]) + a.offset * width;
      int64_t end = 0;
      if (large) {
        std::memcpy(&end, offsets + n * 8, 8);
      } else {
        int32_t e32 = 0;
        std::memcpy(&e32, offsets + n * 4, 4);
        end = e32;
      }
      pieces.push_back({offsets, (n + 1) * width});
      pieces.push_back({a.buffers[2], end});
      return;
    }
    case Kind::kList:
    case Kind::kLargeList:
    case Kind::kMap: {
      const int width = t.kind == Kind::kLargeList ? 8 : 4;
      pieces.push_back({static_cast<const uint8_t*>(a.buffers[1]) + a.offset * width, (n + 1) * width});
      Collect(t.children[0], *a.children[0], nodes, pieces);
      return;
    }
    case Kind::kFixedList:
      if (a.offset != 0) Fail(ErrorCode::kInternal, "fixed-size list array with an offset");
      Collect(t.children[0], *a.children[0], nodes, pieces);
      return;
    case Kind::kStruct:
      if (a.offset != 0) Fail(ErrorCode::kInternal, "struct array with an offset");
      for (size_t i = 0; i < t.children.size(); ++i) Collect(t.children[i], *a.children[i], nodes, pieces);
      return;
    default: {
      const int width = FixedWidthBytes(t);
      pieces.push_back({static_cast<const uint8_t*>(a.buffers[1]) + a.offset * width, n * width});
      return;
    }
  }
}

bool IpcStreamWriter::WriteBatch(const ArrowArray& batch) {
  if (!ok_) return false;
  owned_.clear();
  std::vector<Node> nodes;
  std::vector<Piece> pieces;
  if (batch.n_children != static_cast<int64_t>(columns_.size())) {
    Fail(ErrorCode::kInternal, "Arrow batch has {} columns, schema has {}", batch.n_children, columns_.size());
  }
  for (size_t i = 0; i < columns_.size(); ++i) Collect(columns_[i], *batch.children[i], nodes, pieces);

  std::vector<fb::FieldNode> fb_nodes;
  fb_nodes.reserve(nodes.size());
  for (const auto& node : nodes) fb_nodes.emplace_back(node.length, node.null_count);
  std::vector<fb::Buffer> fb_buffers;
  fb_buffers.reserve(pieces.size());
  int64_t offset = 0;
  for (const auto& piece : pieces) {
    fb_buffers.emplace_back(offset, piece.length);
    offset += Pad8(piece.length);
  }
  flatbuffers::FlatBufferBuilder b(512 + 32 * pieces.size());
  auto record = fb::CreateRecordBatchDirect(b, batch.length, &fb_nodes, &fb_buffers);
  auto message = fb::CreateMessage(b, fb::MetadataVersion_V5, fb::MessageHeader_RecordBatch, record.Union(), offset);
  b.Finish(message);
  return WriteMessage(b.GetBufferPointer(), b.GetSize(), pieces);
}

bool IpcStreamWriter::WriteMessage(const uint8_t* metadata, size_t size, const std::vector<Piece>& body) {
  if (!ok_) return false;
  // <continuation 0xFFFFFFFF><int32 metadata length incl. padding><flatbuffer><padding><body>
  const int64_t padded = Pad8(static_cast<int64_t>(size) + 8) - 8;
  uint32_t prefix[2] = {0xFFFFFFFFu, static_cast<uint32_t>(padded)};
  std::string head(reinterpret_cast<const char*>(prefix), sizeof(prefix));
  head.append(reinterpret_cast<const char*>(metadata), size);
  head.append(static_cast<size_t>(padded) - size, '\0');
  ok_ = out_(head);
  for (const auto& piece : body) {
    if (!ok_) break;
    if (piece.length > 0)
      ok_ = out_(std::string_view(static_cast<const char*>(piece.data), static_cast<size_t>(piece.length)));
    const int64_t pad = Pad8(piece.length) - piece.length;
    if (ok_ && pad > 0) ok_ = out_(std::string_view(kZeros, static_cast<size_t>(pad)));
  }
  return ok_;
}

bool IpcStreamWriter::Finish() {
  if (!ok_) return false;
  const uint32_t eos[2] = {0xFFFFFFFFu, 0};
  ok_ = out_(std::string_view(reinterpret_cast<const char*>(eos), sizeof(eos)));
  return ok_;
}

}  // namespace lakehouse::arrow
