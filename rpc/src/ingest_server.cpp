#include "services.h"

#include <string>

#include "grpc_common.h"
#include "ingest_convert.h"
#include "lakehouse/shared/error.h"
#include "lakehouse/shared/io.h"
#include "lakehouse/v1/ingest.grpc.pb.h"

namespace lakehouse::rpc::detail {
namespace {

//! The body of an Ingest stream as the ByteSource the real ingestor reads: one message at a time,
//! so the body is never whole in memory. The body ends only at the client's `end` message with the
//! right length: a stream that stops before it (the client cancelled or went away) throws, so a
//! truncated body that happens to parse is never committed.
class StreamSource final : public ByteSource {
 public:
  explicit StreamSource(grpc::ServerReader<v1::IngestChunk>& reader) : reader_(reader) {}

  size_t Read(char* buf, size_t n) override {
    while (pos_ == data_.size()) {
      if (ended_) return 0;
      if (!reader_.Read(&chunk_)) {
        Fail(ErrorCode::kCancelled,
             "the upload stopped after {} bytes, before the end of its body (the client "
             "cancelled or went away): nothing was committed",
             received_);
      }
      switch (chunk_.part_case()) {
        case v1::IngestChunk::kData:
          data_.swap(*chunk_.mutable_data());
          pos_ = 0;
          received_ += data_.size();
          break;
        case v1::IngestChunk::kEnd:
          LH_USER_CHECK(chunk_.end() == received_, "the upload's end message says {} bytes, {} arrived", chunk_.end(),
                        received_);
          ended_ = true;
          data_.clear();
          pos_ = 0;
          break;
        default:
          Fail(ErrorCode::kInvalidArgument, "an ingest stream carries its request in its first message only");
      }
    }
    const size_t take = std::min(n, data_.size() - pos_);
    std::memcpy(buf, data_.data() + pos_, take);
    pos_ += take;
    return take;
  }

 private:
  grpc::ServerReader<v1::IngestChunk>& reader_;
  v1::IngestChunk chunk_;
  std::string data_;  //!< the current message's bytes
  size_t pos_ = 0;
  uint64_t received_ = 0;
  bool ended_ = false;
};

class IngestService final : public v1::IngestService::Service {
 public:
  IngestService(ingest::Ingestor& ingestor, Security security) : ingestor_(ingestor), security_(std::move(security)) {}

  grpc::Status Ingest(grpc::ServerContext* context, grpc::ServerReader<v1::IngestChunk>* reader,
                      v1::IngestResult* response) override {
    return Serve(context, security_, "IngestService/Ingest", [&] {
      v1::IngestChunk first;
      if (!reader->Read(&first)) Fail(ErrorCode::kCancelled, "the upload ended before its request arrived");
      LH_USER_CHECK(first.part_case() == v1::IngestChunk::kRequest,
                    "the first message of an ingest stream must be its request");
      const ingest::IngestRequest request = FromProto(first.request());
      StreamSource body(*reader);
      ToProto(ingestor_.Ingest(request, body), response);
    });
  }

  grpc::Status Compact(grpc::ServerContext* context, const v1::CompactRequest* request,
                       v1::CompactionResult* response) override {
    return Serve(context, security_, "IngestService/Compact", [&] {
      const ingest::CompactionOptions options = FromProto(request->options());
      ToProto(ingestor_.Compact(request->dataset(), options), response);
    });
  }

  grpc::Status DefaultCompaction(grpc::ServerContext* context, const v1::Empty*,
                                 v1::CompactionOptions* response) override {
    return Serve(context, security_, "IngestService/DefaultCompaction",
                 [&] { ToProto(ingestor_.DefaultCompaction(), response); });
  }

  grpc::Status AutoCompact(grpc::ServerContext* context, const v1::Empty*, v1::AutoCompactResponse* response) override {
    return Serve(context, security_, "IngestService/AutoCompact",
                 [&] { response->set_compacted(ingestor_.AutoCompact()); });
  }

  grpc::Status Register(grpc::ServerContext* context, const v1::RegisterRequest* request,
                        v1::IngestResult* response) override {
    return Serve(context, security_, "IngestService/Register", [&] {
      const ingest::RegisterRequest r = FromProto(*request);
      ToProto(ingestor_.Register(r), response);
    });
  }

  grpc::Status MemoryLimit(grpc::ServerContext* context, const v1::Empty*,
                           v1::IngestMemoryLimitResponse* response) override {
    return Serve(context, security_, "IngestService/MemoryLimit",
                 [&] { response->set_memory_limit(ingestor_.MemoryLimit()); });
  }

 private:
  ingest::Ingestor& ingestor_;
  const Security security_;
};

}  // namespace

std::unique_ptr<grpc::Service> MakeIngestService(ingest::Ingestor& ingestor, const Security& security) {
  return std::make_unique<IngestService>(ingestor, security);
}

}  // namespace lakehouse::rpc::detail
