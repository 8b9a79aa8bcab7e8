// Reads an Arrow IPC stream (https://arrow.apache.org/docs/format/Columnar.html#ipc-streaming-format):
// <0xFFFFFFFF><int32 metadata length><Message flatbuffer><body>, a Schema message first, then one
// RecordBatch message per batch, then <0xFFFFFFFF><0>. The flatbuffer accessors are generated from
// this library's Arrow metadata schema (src/arrow_ipc.fbs), as its writer (ipc_writer.cpp) uses them.
#include "lakehouse/arrow/ipc_reader.h"

#include <arrow_ipc_generated.h>

#include <algorithm>
#include <cstring>

#include "lakehouse/shared/error.h"

namespace lakehouse::arrow {
namespace {

namespace fb = org::apache::arrow::flatbuf;

template <typename T>
T Load(const uint8_t* base, int64_t index) {
  T value;
  std::memcpy(&value, base + index * static_cast<int64_t>(sizeof(T)), sizeof(T));  // no alignment assumed
  return value;
}

}  // namespace

bool ColumnView::IsNull(int64_t row) const {
  return validity_ != nullptr && (validity_[row >> 3] & (1u << (row & 7))) == 0;
}

int64_t ColumnView::Int(int64_t row) const {
  switch (bit_width_) {
    case 8:
      return Load<int8_t>(values_, row);
    case 16:
      return Load<int16_t>(values_, row);
    case 32:
      return Load<int32_t>(values_, row);
    default:
      return Load<int64_t>(values_, row);
  }
}

double ColumnView::Double(int64_t row) const {
  if (kind_ == Kind::kInt) return static_cast<double>(Int(row));
  return bit_width_ == 32 ? Load<float>(values_, row) : Load<double>(values_, row);
}

std::string_view ColumnView::Str(int64_t row) const {
  int64_t begin = 0, end = 0;
  if (kind_ == Kind::kLargeUtf8) {
    begin = Load<int64_t>(values_, row);
    end = Load<int64_t>(values_, row + 1);
  } else {
    begin = Load<int32_t>(values_, row);
    end = Load<int32_t>(values_, row + 1);
  }
  return {reinterpret_cast<const char*>(data_) + begin, static_cast<size_t>(end - begin)};
}

std::optional<IpcFrame> ReadIpcFrame(std::string_view bytes) {
  if (bytes.size() < 8) return std::nullopt;
  const auto* p = reinterpret_cast<const uint8_t*>(bytes.data());
  uint32_t first = 0;
  std::memcpy(&first, p, 4);
  IpcFrame frame;
  frame.prefix = 4;
  int32_t meta_len = static_cast<int32_t>(first);
  if (first == 0xFFFFFFFFu) {
    std::memcpy(&meta_len, p + 4, 4);
    frame.prefix = 8;
  }
  if (meta_len == 0) return frame;
  if (meta_len < 0) Fail(ErrorCode::kInternal, "the Arrow stream has a negative metadata length");
  frame.metadata_size = static_cast<size_t>(meta_len);
  if (bytes.size() < frame.prefix + frame.metadata_size) return std::nullopt;
  const uint8_t* meta = p + frame.prefix;
  flatbuffers::Verifier verifier(meta, frame.metadata_size);
  if (!fb::VerifyMessageBuffer(verifier)) Fail(ErrorCode::kInternal, "the Arrow stream has a corrupt message");
  const int64_t body_len = fb::GetMessage(meta)->bodyLength();
  if (body_len < 0) Fail(ErrorCode::kInternal, "the Arrow stream has a negative body length");
  frame.body_size = static_cast<size_t>(body_len);
  return frame;
}

bool IpcMessageSplitter::Write(std::string_view bytes) {
  while (ok_ && !ended_ && !bytes.empty()) {
    if (!frame_) {
      // The prefix and metadata are small: gathered in head_ (kept 8-byte aligned for verification).
      const size_t before = head_.size();
      head_.append(bytes);
      frame_ = ReadIpcFrame(head_);
      if (!frame_) return ok_;
      const size_t head_size = frame_->prefix + frame_->metadata_size;
      bytes.remove_prefix(head_size - before);  // the rest of `bytes` is body (or the next message)
      head_.resize(head_size);
      if (frame_->metadata_size == 0) {
        ended_ = true;
        break;
      }
      body_.clear();
      body_.reserve(frame_->body_size);
    }
    const size_t take = std::min(bytes.size(), frame_->body_size - body_.size());
    body_.append(bytes.substr(0, take));
    bytes.remove_prefix(take);
    if (body_.size() == frame_->body_size) {
      ok_ = on_message_(std::string_view(head_).substr(frame_->prefix), body_);
      head_.clear();
      frame_.reset();
    }
  }
  return ok_;
}

void IpcStreamReader::Write(std::string_view bytes) {
  pending_.append(bytes);
  // A whole message is needed before its batch can be handed on; each is parsed at the front of
  // pending_ (8-byte aligned, as flatbuffers verification wants).
  while (!ended_ && pending_.size() >= 8) {
    const size_t used = ConsumeMessage();
    if (used == 0) break;
    pending_.erase(0, used);
  }
}

size_t IpcStreamReader::ConsumeMessage() {
  const std::optional<IpcFrame> frame = ReadIpcFrame(pending_);
  if (!frame) return 0;
  if (frame->metadata_size == 0) {
    ended_ = true;
    return frame->prefix;
  }
  const size_t total = frame->size();
  if (pending_.size() < total) return 0;
  const uint8_t* meta = reinterpret_cast<const uint8_t*>(pending_.data()) + frame->prefix;
  const fb::Message* message = fb::GetMessage(meta);
  const uint8_t* body = meta + frame->metadata_size;

  if (const fb::Schema* schema = message->header_as_Schema()) {
    schema_.clear();
    if (schema->fields() != nullptr) {
      for (const fb::Field* field : *schema->fields()) {
        ColumnView c;
        c.name_ = field->name() ? field->name()->str() : "";
        switch (field->type_type()) {
          case fb::Type_Int: {
            const fb::Int* t = field->type_as_Int();
            if (!t->is_signed() && t->bitWidth() == 64) {
              Fail(ErrorCode::kInternal, "column {}: unsigned 64-bit integers are not read here", c.name_);
            }
            c.kind_ = ColumnView::Kind::kInt;
            c.bit_width_ = t->bitWidth();
            break;
          }
          case fb::Type_FloatingPoint:
            c.kind_ = ColumnView::Kind::kFloat;
            c.bit_width_ = field->type_as_FloatingPoint()->precision() == fb::Precision_SINGLE ? 32 : 64;
            if (field->type_as_FloatingPoint()->precision() == fb::Precision_HALF) {
              Fail(ErrorCode::kInternal, "column {}: half floats are not read here", c.name_);
            }
            break;
          case fb::Type_Utf8:
            c.kind_ = ColumnView::Kind::kUtf8;
            break;
          case fb::Type_LargeUtf8:
            c.kind_ = ColumnView::Kind::kLargeUtf8;
            break;
          default:
            Fail(ErrorCode::kInternal, "column {}: Arrow type {} is not read here", c.name_,
                 fb::EnumNameType(field->type_type()));
        }
        schema_.push_back(std::move(c));
      }
    }
    have_schema_ = true;
    return total;
  }
  const fb::RecordBatch* batch = message->header_as_RecordBatch();
  if (batch == nullptr) return total;  // a dictionary batch: not written by this library's writer; skipped
  if (!have_schema_) Fail(ErrorCode::kInternal, "the Arrow stream has a record batch before its schema");
  const auto* nodes = batch->nodes();
  const auto* buffers = batch->buffers();
  if (nodes == nullptr || buffers == nullptr || nodes->size() != schema_.size()) {
    Fail(ErrorCode::kInternal, "the Arrow record batch does not match its schema");
  }
  RowBatch out;
  out.rows = batch->length();
  out.columns = schema_;
  size_t b = 0;
  auto buffer = [&](size_t i) -> const uint8_t* {
    if (i >= buffers->size()) Fail(ErrorCode::kInternal, "the Arrow record batch lacks buffer {}", i);
    const fb::Buffer* buf = buffers->Get(static_cast<flatbuffers::uoffset_t>(i));
    if (buf->offset() < 0 || buf->length() < 0 ||
        buf->offset() + buf->length() > static_cast<int64_t>(frame->body_size)) {
      Fail(ErrorCode::kInternal, "the Arrow buffer {} lies outside its message body", i);
    }
    return buf->length() == 0 ? nullptr : body + buf->offset();
  };
  for (size_t i = 0; i < out.columns.size(); ++i) {
    ColumnView& c = out.columns[i];
    const fb::FieldNode* node = nodes->Get(static_cast<flatbuffers::uoffset_t>(i));
    c.validity_ = node->null_count() > 0 ? buffer(b) : nullptr;
    c.values_ = buffer(b + 1);
    const bool is_string = c.kind_ == ColumnView::Kind::kUtf8 || c.kind_ == ColumnView::Kind::kLargeUtf8;
    c.data_ = is_string ? buffer(b + 2) : nullptr;
    if (c.values_ == nullptr && out.rows > 0) {
      Fail(ErrorCode::kInternal, "the Arrow column {} has no values buffer", c.name_);
    }
    b += is_string ? 3 : 2;
  }
  on_batch_(out);
  return total;
}

void IpcStreamReader::Finish() const {
  if (!ended_) Fail(ErrorCode::kInternal, "the Arrow stream ended without its end-of-stream marker");
}

}  // namespace lakehouse::arrow
