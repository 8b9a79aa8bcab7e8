// Spans and metrics around every call of an ObjectStore (docs/adr/0016-telemetry.md): one
// decorator instead of a line in each method of each backend.
#include <chrono>
#include <exception>

#include "lakehouse/shared/error.h"
#include "lakehouse/shared/telemetry.h"
#include "lakehouse/storaged/object_store.h"

namespace lakehouse::storaged {
namespace {

//! One store call: a span "storaged.<op>" (key, bytes, status) and the object-store metrics.
class Call {
 public:
  Call(const std::string& backend, std::string_view op, std::string_view key)
      : backend_(backend), op_(op), span_(SpanName(op)), exceptions_(std::uncaught_exceptions()) {
    span_.Set("storage.backend", backend);
    if (!key.empty()) span_.Set("object.key", key);
  }
  ~Call() {
    const bool ok = std::uncaught_exceptions() == exceptions_;
    if (!ok) span_.SetError("storage call failed");
    span_.Set("storage.status", ok ? std::string_view("ok") : std::string_view("error"));
    span_.Set("storage.bytes", bytes_);
    telemetry::metrics::ObjectStoreOp(backend_, op_, bytes_, ok);
  }
  Call(const Call&) = delete;
  Call& operator=(const Call&) = delete;
  void Bytes(uint64_t n) { bytes_ += n; }

 private:
  static std::string_view SpanName(std::string_view op) {
    if (op == "put") return "storaged.put";
    if (op == "put_if_absent") return "storaged.put_if_absent";
    if (op == "get") return "storaged.get";
    if (op == "get_range") return "storaged.get_range";
    if (op == "head") return "storaged.head";
    if (op == "list") return "storaged.list";
    if (op == "delete") return "storaged.delete";
    if (op == "open_local") return "storaged.open_local";
    return "storaged.call";
  }
  const std::string& backend_;
  std::string_view op_;
  telemetry::Span span_;
  int exceptions_;
  uint64_t bytes_ = 0;
};

class InstrumentedStore final : public ObjectStore {
 public:
  explicit InstrumentedStore(std::unique_ptr<ObjectStore> inner) : inner_(std::move(inner)), kind_(inner_->Kind()) {}

  std::string Kind() const override { return kind_; }
  std::string Bucket() const override { return inner_->Bucket(); }

  ObjectInfo Put(std::string_view key, ByteSource& source) override {
    Call call(kind_, "put", key);
    ObjectInfo info = inner_->Put(key, source);
    call.Bytes(info.size);
    return info;
  }
  std::optional<ObjectInfo> PutIfAbsent(std::string_view key, std::string_view data) override {
    Call call(kind_, "put_if_absent", key);
    auto info = inner_->PutIfAbsent(key, data);
    if (info) call.Bytes(info->size);
    return info;
  }
  ObjectInfo Get(std::string_view key, const ByteSink& sink) override {
    Call call(kind_, "get", key);
    ObjectInfo info = inner_->Get(key, sink);
    call.Bytes(info.size);
    return info;
  }
  void GetRange(std::string_view key, uint64_t offset, uint64_t length, const ByteSink& sink) override {
    Call call(kind_, "get_range", key);
    inner_->GetRange(key, offset, length, [&](std::string_view chunk) {
      call.Bytes(chunk.size());
      return sink(chunk);
    });
  }
  std::optional<ObjectInfo> Head(std::string_view key) override {
    Call call(kind_, "head", key);
    return inner_->Head(key);
  }
  ListPage List(std::string_view prefix, std::string_view page_token, size_t max_keys) override {
    Call call(kind_, "list", prefix);
    return inner_->List(prefix, page_token, max_keys);
  }
  void Delete(std::string_view key) override {
    Call call(kind_, "delete", key);
    inner_->Delete(key);
  }
  PresignedObject Presign(PresignMethod method, std::string_view key, int64_t expires_seconds) override {
    return inner_->Presign(method, key, expires_seconds);
  }
  void VerifyPresigned(PresignMethod method, std::string_view key, int64_t expires,
                       std::string_view signature) const override {
    inner_->VerifyPresigned(method, key, expires, signature);
  }
  std::optional<std::string> LocalPath(std::string_view key) const override {
    Call call(kind_, "open_local", key);  // DuckDB then reads the file itself
    return inner_->LocalPath(key);
  }

 private:
  std::unique_ptr<ObjectStore> inner_;
  std::string kind_;
};

}  // namespace

std::unique_ptr<ObjectStore> Instrumented(std::unique_ptr<ObjectStore> store) {
  return std::make_unique<InstrumentedStore>(std::move(store));
}

}  // namespace lakehouse::storaged
