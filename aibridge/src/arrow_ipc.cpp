// A dedicated Arrow IPC stream writer for one fixed schema (FixedSizeList<float32>[dim]). The
// flatbuffer accessors are generated from queryd's Arrow metadata schema (queryd/src/arrow/arrow_ipc.fbs).
#include <arrow_ipc_generated.h>

#include <cstring>

#include "lakehouse/aibridge/arrow.h"
#include "lakehouse/shared/error.h"

namespace lakehouse::aibridge {
namespace {

namespace fb = org::apache::arrow::flatbuf;

int64_t Pad8(int64_t n) { return (n + 7) & ~int64_t{7}; }

//! <0xFFFFFFFF><int32 padded metadata length><metadata><padding to 8><body>
void AppendMessage(std::string& out, const flatbuffers::FlatBufferBuilder& b, std::string_view body) {
  const int64_t size = b.GetSize();
  const int64_t padded = Pad8(size + 8) - 8;
  uint32_t prefix[2] = {0xFFFFFFFFu, static_cast<uint32_t>(padded)};
  out.append(reinterpret_cast<const char*>(prefix), sizeof(prefix));
  out.append(reinterpret_cast<const char*>(b.GetBufferPointer()), static_cast<size_t>(size));
  out.append(static_cast<size_t>(padded - size), '\0');
  out.append(body);
  out.append(static_cast<size_t>(Pad8(static_cast<int64_t>(body.size())) - static_cast<int64_t>(body.size())), '\0');
}

}  // namespace

std::string EmbeddingsToArrowIpc(const Embeddings& e) {
  if (e.dim <= 0 || e.values.size() != e.count * static_cast<size_t>(e.dim)) {
    Fail(ErrorCode::kInternal, "embeddings of {} values do not form {} rows of {}", e.values.size(), e.count, e.dim);
  }
  std::string out;
  {
    flatbuffers::FlatBufferBuilder b;
    auto item = fb::CreateField(b, b.CreateString("item"), false, fb::Type_FloatingPoint,
                                fb::CreateFloatingPoint(b, fb::Precision_SINGLE).Union());
    std::vector<flatbuffers::Offset<fb::Field>> children{item};
    auto list = fb::CreateField(b, b.CreateString("embedding"), false, fb::Type_FixedSizeList,
                                fb::CreateFixedSizeList(b, e.dim).Union(), 0, b.CreateVector(children));
    std::vector<flatbuffers::Offset<fb::Field>> fields{list};
    std::vector<flatbuffers::Offset<fb::KeyValue>> meta{
        fb::CreateKeyValue(b, b.CreateString("model"), b.CreateString(e.model)),
        fb::CreateKeyValue(b, b.CreateString("dim"), b.CreateString(std::to_string(e.dim)))};
    auto schema = fb::CreateSchema(b, fb::Endianness_Little, b.CreateVector(fields), b.CreateVector(meta));
    b.Finish(fb::CreateMessage(b, fb::MetadataVersion_V5, fb::MessageHeader_Schema, schema.Union(), 0));
    AppendMessage(out, b, {});
  }
  {
    const auto rows = static_cast<int64_t>(e.count);
    const auto data_bytes = static_cast<int64_t>(e.values.size() * sizeof(float));
    flatbuffers::FlatBufferBuilder b;
    std::vector<fb::FieldNode> nodes{fb::FieldNode(rows, 0), fb::FieldNode(rows * e.dim, 0)};
    // list validity (none), item validity (none), item values
    std::vector<fb::Buffer> buffers{fb::Buffer(0, 0), fb::Buffer(0, 0), fb::Buffer(0, data_bytes)};
    auto batch = fb::CreateRecordBatch(b, rows, b.CreateVectorOfStructs(nodes), b.CreateVectorOfStructs(buffers));
    b.Finish(
        fb::CreateMessage(b, fb::MetadataVersion_V5, fb::MessageHeader_RecordBatch, batch.Union(), Pad8(data_bytes)));
    AppendMessage(out, b,
                  std::string_view(reinterpret_cast<const char*>(e.values.data()), static_cast<size_t>(data_bytes)));
  }
  const uint32_t eos[2] = {0xFFFFFFFFu, 0u};
  out.append(reinterpret_cast<const char*>(eos), sizeof(eos));
  return out;
}

}  // namespace lakehouse::aibridge
