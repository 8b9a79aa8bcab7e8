// rpc::ConnectIngest: ingest::Ingestor over gRPC (proto/lakehouse/v1/ingest.proto).
#include <memory>
#include <string>

#include "grpc_common.h"
#include "ingest_convert.h"
#include "lakehouse/rpc/rpc.h"
#include "lakehouse/shared/error.h"
#include "lakehouse/shared/io.h"
#include "lakehouse/v1/ingest.grpc.pb.h"

namespace lakehouse::rpc {
namespace {

using detail::FromProto;
using detail::ToProto;

//! Fills `out` from `body` up to detail::kChunkBytes (an upload's reads may be small); returns
//! false at the end of the body.
bool ReadChunk(ByteSource& body, std::string* out) {
  out->resize(detail::kChunkBytes);
  size_t filled = 0;
  while (filled < out->size()) {
    const size_t n = body.Read(out->data() + filled, out->size() - filled);
    if (n == 0) break;
    filled += n;
  }
  out->resize(filled);
  return filled > 0;
}

//! Compact, AutoCompact and Register run as long as their work (kStreamDeadlineMs): ingest's own
//! DuckDB and storage limits bound them, not ClientOptions::deadline_ms.
class IngestClient final : public ingest::Ingestor {
 public:
  explicit IngestClient(const ClientOptions& options)
      : options_(options), stub_(v1::IngestService::NewStub(detail::MakeChannel(options))) {}

  //! One client-streaming call, never retried: the request, the body in chunks as `body` yields
  //! them (flow control paces the reads), then the end marker. A body that throws cancels the call,
  //! so the server commits nothing, and the body's error is rethrown.
  ingest::IngestResult Ingest(const ingest::IngestRequest& request, ByteSource& body) override {
    detail::CallSpan span(options_, "IngestService/Ingest");
    auto context = detail::NewContext(options_, detail::kStreamDeadlineMs);  // as long as the upload
    v1::IngestResult response;
    auto writer = stub_->Ingest(context.get(), &response);
    v1::IngestChunk chunk;
    ToProto(request, chunk.mutable_request());
    bool open = writer->Write(chunk);
    uint64_t sent = 0;
    try {
      while (open && ReadChunk(body, chunk.mutable_data())) {
        sent += chunk.data().size();
        open = writer->Write(chunk);
      }
    } catch (const std::exception& e) {
      context->TryCancel();
      writer->Finish();  // CANCELLED: the body's own error is the one to report
      span.Fail(e.what());
      throw;
    }
    // `open` is false when the server already ended the call (an error): Finish carries it.
    if (open) {
      chunk.set_end(sent);
      if (writer->Write(chunk)) writer->WritesDone();
    }
    grpc::Status status = writer->Finish();
    if (!status.ok()) {
      span.Fail(status.error_message());
      detail::Throw(status, options_);
    }
    return FromProto(response);
  }

  ingest::CompactionResult Compact(const std::string& dataset, const ingest::CompactionOptions& options) override {
    v1::CompactRequest request;
    request.set_dataset(dataset);
    ToProto(options, request.mutable_options());
    v1::CompactionResult response;
    detail::Invoke(options_, "IngestService/Compact", false,
                   [&](grpc::ClientContext& context) { return stub_->Compact(&context, request, &response); });
    return FromProto(response);
  }

  ingest::CompactionOptions DefaultCompaction() const override {
    v1::CompactionOptions response;
    detail::Invoke(options_, "IngestService/DefaultCompaction", true, [&](grpc::ClientContext& context) {
      return stub_->DefaultCompaction(&context, v1::Empty(), &response);
    });
    return FromProto(response);
  }

  size_t AutoCompact() override {
    v1::AutoCompactResponse response;
    detail::Invoke(
        options_, "IngestService/AutoCompact", false,
        [&](grpc::ClientContext& context) { return stub_->AutoCompact(&context, v1::Empty(), &response); },
        detail::kStreamDeadlineMs);
    return response.compacted();
  }

  ingest::IngestResult Register(const ingest::RegisterRequest& request) override {
    v1::RegisterRequest r;
    ToProto(request, &r);
    v1::IngestResult response;
    detail::Invoke(options_, "IngestService/Register", false,
                   [&](grpc::ClientContext& context) { return stub_->Register(&context, r, &response); });
    return FromProto(response);
  }

  std::string MemoryLimit() override {
    v1::IngestMemoryLimitResponse response;
    detail::Invoke(options_, "IngestService/MemoryLimit", true,
                   [&](grpc::ClientContext& context) { return stub_->MemoryLimit(&context, v1::Empty(), &response); });
    return response.memory_limit();
  }

 private:
  const ClientOptions options_;
  std::unique_ptr<v1::IngestService::Stub> stub_;
};

}  // namespace

std::unique_ptr<ingest::Ingestor> ConnectIngest(const ClientOptions& options) {
  return std::make_unique<IngestClient>(options);
}

}  // namespace lakehouse::rpc
