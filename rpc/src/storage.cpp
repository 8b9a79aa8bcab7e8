// storaged over gRPC: the StorageService adapter over a real ObjectStore, and the client that is an
// ObjectStore. Bodies stream in kChunkBytes messages both ways (never one message, never whole in
// memory on either side).
#include <fmt/format.h>

#include <cstring>
#include <mutex>

#include "grpc_common.h"
#include "lakehouse/storaged/object_store.h"
#include "lakehouse/v1/storage.grpc.pb.h"
#include "services.h"

namespace lakehouse::rpc {
namespace {

using detail::Serve;
namespace pb = lakehouse::v1;

void ToProto(const storaged::ObjectInfo& in, pb::ObjectInfo* out) {
  out->set_key(in.key);
  out->set_size(in.size);
  out->set_etag(in.etag);
  out->set_last_modified_ms(in.last_modified_ms);
}

storaged::ObjectInfo FromProto(const pb::ObjectInfo& in) {
  return storaged::ObjectInfo{in.key(), in.size(), in.etag(), in.last_modified_ms()};
}

pb::PresignMethod ToProto(storaged::PresignMethod m) {
  return m == storaged::PresignMethod::kGet ? pb::PRESIGN_GET : pb::PRESIGN_PUT;
}
storaged::PresignMethod FromProto(pb::PresignMethod m) {
  return m == pb::PRESIGN_PUT ? storaged::PresignMethod::kPut : storaged::PresignMethod::kGet;
}

//! The Put stream's messages as a ByteSource for the real store.
class StreamSource final : public ByteSource {
 public:
  StreamSource(grpc::ServerReader<pb::PutChunk>& reader, std::string first) : reader_(reader), buf_(std::move(first)) {}
  size_t Read(char* out, size_t n) override {
    while (pos_ == buf_.size()) {
      if (done_) return 0;
      pb::PutChunk chunk;
      if (!reader_.Read(&chunk)) {
        done_ = true;
        return 0;
      }
      buf_ = std::move(*chunk.mutable_data());
      pos_ = 0;
    }
    const size_t take = std::min(n, buf_.size() - pos_);
    std::memcpy(out, buf_.data() + pos_, take);
    pos_ += take;
    return take;
  }

 private:
  grpc::ServerReader<pb::PutChunk>& reader_;
  std::string buf_;
  size_t pos_ = 0;
  bool done_ = false;
};

//! Sends a sink's chunks as messages of at most kChunkBytes; false when the client is gone.
template <typename Message, typename Writer>
bool WriteChunks(Writer& writer, std::string_view bytes, Message& message) {
  while (!bytes.empty()) {
    const size_t take = std::min(bytes.size(), detail::kChunkBytes);
    message.set_data(bytes.data(), take);
    if (!writer.Write(message)) return false;
    message.Clear();
    bytes.remove_prefix(take);
  }
  return true;
}

class StorageServiceImpl final : public pb::StorageService::Service {
 public:
  StorageServiceImpl(storaged::ObjectStore& store, const Security& security) : store_(store), security_(security) {}

  grpc::Status Kind(grpc::ServerContext* ctx, const pb::Empty*, pb::KindResponse* out) override {
    return Serve(ctx, security_, "StorageService/Kind", [&] { out->set_kind(store_.Kind()); });
  }
  grpc::Status Bucket(grpc::ServerContext* ctx, const pb::Empty*, pb::BucketResponse* out) override {
    return Serve(ctx, security_, "StorageService/Bucket", [&] { out->set_bucket(store_.Bucket()); });
  }
  grpc::Status Put(grpc::ServerContext* ctx, grpc::ServerReader<pb::PutChunk>* reader, pb::ObjectInfo* out) override {
    return Serve(ctx, security_, "StorageService/Put", [&] {
      pb::PutChunk first;
      if (!reader->Read(&first)) Fail(ErrorCode::kInvalidArgument, "Put: the stream carried no key");
      StreamSource source(*reader, std::move(*first.mutable_data()));
      const storaged::ObjectInfo info = store_.Put(first.key(), source);
      if (ctx->IsCancelled()) Fail(ErrorCode::kCancelled, "Put: the client went away");
      ToProto(info, out);
    });
  }
  grpc::Status PutIfAbsent(grpc::ServerContext* ctx, const pb::PutIfAbsentRequest* in,
                           pb::PutIfAbsentResponse* out) override {
    return Serve(ctx, security_, "StorageService/PutIfAbsent", [&] {
      if (auto info = store_.PutIfAbsent(in->key(), in->data())) {
        out->set_created(true);
        ToProto(*info, out->mutable_info());
      }
    });
  }
  grpc::Status Get(grpc::ServerContext* ctx, const pb::GetRequest* in,
                   grpc::ServerWriter<pb::GetChunk>* writer) override {
    return Serve(ctx, security_, "StorageService/Get", [&] {
      // The store knows the info only at the end: it travels in the last message.
      pb::GetChunk message;
      bool gone = false;
      const storaged::ObjectInfo info = store_.Get(in->key(), [&](std::string_view chunk) {
        if (!WriteChunks(*writer, chunk, message)) gone = true;
        return !gone;
      });
      if (gone || ctx->IsCancelled()) Fail(ErrorCode::kCancelled, "Get: the client went away");
      message.Clear();
      ToProto(info, message.mutable_info());
      writer->Write(message);
    });
  }
  grpc::Status GetRange(grpc::ServerContext* ctx, const pb::GetRangeRequest* in,
                        grpc::ServerWriter<pb::DataChunk>* writer) override {
    return Serve(ctx, security_, "StorageService/GetRange", [&] {
      pb::DataChunk message;
      bool gone = false;
      store_.GetRange(in->key(), in->offset(), in->length(), [&](std::string_view chunk) {
        if (!WriteChunks(*writer, chunk, message)) gone = true;
        return !gone;
      });
      if (gone || ctx->IsCancelled()) Fail(ErrorCode::kCancelled, "GetRange: the client went away");
    });
  }
  grpc::Status Head(grpc::ServerContext* ctx, const pb::HeadRequest* in, pb::HeadResponse* out) override {
    return Serve(ctx, security_, "StorageService/Head", [&] {
      if (auto info = store_.Head(in->key())) {
        out->set_found(true);
        ToProto(*info, out->mutable_info());
      }
    });
  }
  grpc::Status List(grpc::ServerContext* ctx, const pb::ListRequest* in, pb::ListResponse* out) override {
    return Serve(ctx, security_, "StorageService/List", [&] {
      const storaged::ListPage page = store_.List(in->prefix(), in->page_token(), in->max_keys());
      for (const auto& o : page.objects) ToProto(o, out->add_objects());
      out->set_next_token(page.next_token);
    });
  }
  grpc::Status Delete(grpc::ServerContext* ctx, const pb::DeleteRequest* in, pb::Empty*) override {
    return Serve(ctx, security_, "StorageService/Delete", [&] { store_.Delete(in->key()); });
  }
  grpc::Status Presign(grpc::ServerContext* ctx, const pb::PresignRequest* in, pb::PresignedObject* out) override {
    return Serve(ctx, security_, "StorageService/Presign", [&] {
      const storaged::PresignedObject p = store_.Presign(FromProto(in->method()), in->key(), in->expires_seconds());
      out->set_method(ToProto(p.method));
      out->set_key(p.key);
      out->set_expires(p.expires);
      out->set_signature(p.signature);
      out->set_url(p.url);
    });
  }
  grpc::Status VerifyPresigned(grpc::ServerContext* ctx, const pb::VerifyPresignedRequest* in, pb::Empty*) override {
    return Serve(ctx, security_, "StorageService/VerifyPresigned",
                 [&] { store_.VerifyPresigned(FromProto(in->method()), in->key(), in->expires(), in->signature()); });
  }
  grpc::Status LocalPath(grpc::ServerContext* ctx, const pb::LocalPathRequest*, pb::LocalPathResponse*) override {
    // A path on the server's file system means nothing to a caller in another process.
    return Serve(ctx, security_, "StorageService/LocalPath", [] {});
  }

 private:
  storaged::ObjectStore& store_;
  Security security_;
};

class StorageClient final : public storaged::ObjectStore {
 public:
  explicit StorageClient(ClientOptions options)
      : options_(std::move(options)), stub_(pb::StorageService::NewStub(detail::MakeChannel(options_))) {}

  std::string Kind() const override {
    return Cached(
        kind_,
        [&](grpc::ClientContext& c, std::string& out) {
          pb::KindResponse r;
          grpc::Status s = stub_->Kind(&c, pb::Empty(), &r);
          out = r.kind();
          return s;
        },
        "Kind");
  }
  std::string Bucket() const override {
    return Cached(
        bucket_,
        [&](grpc::ClientContext& c, std::string& out) {
          pb::BucketResponse r;
          grpc::Status s = stub_->Bucket(&c, pb::Empty(), &r);
          out = r.bucket();
          return s;
        },
        "Bucket");
  }

  storaged::ObjectInfo Put(std::string_view key, ByteSource& source) override {
    // Not retried: the source is consumed by the first attempt.
    detail::CallSpan span(options_, "StorageService/Put");
    auto context = detail::NewContext(options_, detail::kStreamDeadlineMs);
    pb::ObjectInfo info;
    auto writer = stub_->Put(context.get(), &info);
    pb::PutChunk chunk;
    chunk.set_key(std::string(key));
    std::string buf(detail::kChunkBytes, '\0');
    bool open = true;
    bool sent = false;
    for (;;) {
      size_t n = 0;
      try {
        n = source.Read(buf.data(), buf.size());
      } catch (...) {
        context->TryCancel();
        writer->Finish();
        throw;
      }
      if (n == 0) break;
      chunk.set_data(buf.data(), n);
      if (!writer->Write(chunk)) {
        open = false;  // the server ended the call: Finish says why
        break;
      }
      sent = true;
      chunk.clear_key();
    }
    if (open && !sent) open = writer->Write(chunk);  // an empty object still names its key
    if (open) writer->WritesDone();
    detail::Check(writer->Finish(), options_);
    return FromProto(info);
  }

  std::optional<storaged::ObjectInfo> PutIfAbsent(std::string_view key, std::string_view data) override {
    pb::PutIfAbsentRequest request;
    request.set_key(std::string(key));
    request.set_data(std::string(data));
    pb::PutIfAbsentResponse response;
    // Not retried: a first attempt that created the object would make a retry answer "exists".
    detail::Invoke(options_, "StorageService/PutIfAbsent", false,
                   [&](grpc::ClientContext& c) { return stub_->PutIfAbsent(&c, request, &response); });
    if (!response.created()) return std::nullopt;
    return FromProto(response.info());
  }

  storaged::ObjectInfo Get(std::string_view key, const ByteSink& sink) override {
    detail::CallSpan span(options_, "StorageService/Get");
    auto context = detail::NewContext(options_, detail::kStreamDeadlineMs);
    pb::GetRequest request;
    request.set_key(std::string(key));
    auto reader = stub_->Get(context.get(), request);
    storaged::ObjectInfo info;
    const bool read = detail::ReadAll(*context, *reader, options_, span, [&](const pb::GetChunk& chunk) {
      if (chunk.has_info()) info = FromProto(chunk.info());
      return chunk.data().empty() || sink(chunk.data());
    });
    if (!read) Fail(ErrorCode::kCancelled, "Get {}: the receiver stopped", key);
    return info;
  }

  void GetRange(std::string_view key, uint64_t offset, uint64_t length, const ByteSink& sink) override {
    detail::CallSpan span(options_, "StorageService/GetRange");
    auto context = detail::NewContext(options_, detail::kStreamDeadlineMs);
    pb::GetRangeRequest request;
    request.set_key(std::string(key));
    request.set_offset(offset);
    request.set_length(length);
    auto reader = stub_->GetRange(context.get(), request);
    const bool read = detail::ReadAll(*context, *reader, options_, span,
                                      [&](const pb::DataChunk& chunk) { return sink(chunk.data()); });
    if (!read) Fail(ErrorCode::kCancelled, "GetRange {}: the receiver stopped", key);
  }

  std::optional<storaged::ObjectInfo> Head(std::string_view key) override {
    pb::HeadRequest request;
    request.set_key(std::string(key));
    pb::HeadResponse response;
    detail::Invoke(options_, "StorageService/Head", true,
                   [&](grpc::ClientContext& c) { return stub_->Head(&c, request, &response); });
    if (!response.found()) return std::nullopt;
    return FromProto(response.info());
  }

  storaged::ListPage List(std::string_view prefix, std::string_view page_token, size_t max_keys) override {
    pb::ListRequest request;
    request.set_prefix(std::string(prefix));
    request.set_page_token(std::string(page_token));
    request.set_max_keys(max_keys);
    pb::ListResponse response;
    detail::Invoke(options_, "StorageService/List", true,
                   [&](grpc::ClientContext& c) { return stub_->List(&c, request, &response); });
    storaged::ListPage page;
    for (const auto& o : response.objects()) page.objects.push_back(FromProto(o));
    page.next_token = response.next_token();
    return page;
  }

  void Delete(std::string_view key) override {
    pb::DeleteRequest request;
    request.set_key(std::string(key));
    pb::Empty response;
    detail::Invoke(options_, "StorageService/Delete", true,
                   [&](grpc::ClientContext& c) { return stub_->Delete(&c, request, &response); });
  }

  storaged::PresignedObject Presign(storaged::PresignMethod method, std::string_view key,
                                    int64_t expires_seconds) override {
    pb::PresignRequest request;
    request.set_method(ToProto(method));
    request.set_key(std::string(key));
    request.set_expires_seconds(expires_seconds);
    pb::PresignedObject response;
    detail::Invoke(options_, "StorageService/Presign", true,
                   [&](grpc::ClientContext& c) { return stub_->Presign(&c, request, &response); });
    return storaged::PresignedObject{FromProto(response.method()), response.key(), response.expires(),
                                     response.signature(), response.url()};
  }

  void VerifyPresigned(storaged::PresignMethod method, std::string_view key, int64_t expires,
                       std::string_view signature) const override {
    pb::VerifyPresignedRequest request;
    request.set_method(ToProto(method));
    request.set_key(std::string(key));
    request.set_expires(expires);
    request.set_signature(std::string(signature));
    pb::Empty response;
    detail::Invoke(options_, "StorageService/VerifyPresigned", true,
                   [&](grpc::ClientContext& c) { return stub_->VerifyPresigned(&c, request, &response); });
  }

  std::optional<std::string> LocalPath(std::string_view) const override { return std::nullopt; }

 private:
  template <typename Call>
  std::string Cached(std::optional<std::string>& slot, Call&& call, std::string_view method) const {
    std::lock_guard lock(mu_);
    if (slot) return *slot;
    std::string value;
    detail::Invoke(options_, fmt::format("StorageService/{}", method), true,
                   [&](grpc::ClientContext& c) { return call(c, value); });
    slot = value;
    return value;
  }

  ClientOptions options_;
  std::unique_ptr<pb::StorageService::Stub> stub_;
  mutable std::mutex mu_;
  mutable std::optional<std::string> kind_;
  mutable std::optional<std::string> bucket_;
};

}  // namespace

std::unique_ptr<storaged::ObjectStore> ConnectStorage(const ClientOptions& options) {
  return std::make_unique<StorageClient>(options);
}

namespace detail {
std::unique_ptr<grpc::Service> MakeStorageService(storaged::ObjectStore& store, const Security& security) {
  return std::make_unique<StorageServiceImpl>(store, security);
}
}  // namespace detail

}  // namespace lakehouse::rpc
