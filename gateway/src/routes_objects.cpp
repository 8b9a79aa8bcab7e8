// Object routes: serve the local store's presigned URLs (docs/api/objects.md).
//
//   GET /api/v1/objects/{key...}?method=GET&expires=..&signature=..   stream the object out
//   PUT /api/v1/objects/{key...}?method=PUT&expires=..&signature=..   stream the body in
//
// The signature (VerifyPresignedRequest, presign.h) is the only authorisation these routes need, so
// a browser or `curl` can use the URL as is. With the S3 backend, presigned URLs point at the S3
// server itself and these routes answer 404.
#include <fmt/format.h>

#include <charconv>
#include <nlohmann/json.hpp>

#include "lakehouse/storaged/object_store.h"
#include "params.h"
#include "presign.h"
#include "routes.h"

namespace lakehouse::gateway {

namespace {

using storaged::ObjectInfo;
using storaged::ObjectStore;

//! Objects up to this size are sent with a Content-Length; larger ones stream in chunks.
constexpr uint64_t kWholeResponseBytes = 1 << 20;

//! Throws 404 unless the store is the local one (whose URLs this gateway serves).
ObjectStore& LocalStore(const Services& services) {
  ObjectStore& store = Require(services.store, "object storage");
  if (store.Kind() != "local") {
    Fail(ErrorCode::kNotFound,
         "this server keeps objects in S3 bucket '{}'; its presigned URLs point at the S3 server, not at "
         "/api/v1/objects",
         store.Bucket());
  }
  return store;
}

struct ByteRange {
  uint64_t offset = 0;
  uint64_t length = 0;
};

//! One "bytes=a-b" / "bytes=a-" / "bytes=-n" range against an object of `size` bytes; nullopt when
//! the header is absent or not a single byte range (then the whole object is sent, as RFC 9110
//! allows). A range starting at or past the end yields length 0 (-> 416).
std::optional<ByteRange> ParseRange(const std::optional<std::string>& header, uint64_t size) {
  if (!header || header->rfind("bytes=", 0) != 0) return std::nullopt;
  std::string_view spec = std::string_view(*header).substr(6);
  size_t dash = spec.find('-');
  if (dash == std::string_view::npos || spec.find(',') != std::string_view::npos) return std::nullopt;
  std::string_view first = spec.substr(0, dash), last = spec.substr(dash + 1);
  const auto from = ParseUint(first);
  const auto to = ParseUint(last);
  if (first.empty()) {  // suffix: the last n bytes
    if (!to) return std::nullopt;
    const uint64_t n = std::min(*to, size);
    return ByteRange{size - n, n};
  }
  if (!from) return std::nullopt;
  const uint64_t a = *from;
  if (a >= size) return ByteRange{a, 0};
  if (last.empty()) return ByteRange{a, size - a};
  if (!to || *to < a) return std::nullopt;
  const uint64_t b = *to;
  return ByteRange{a, std::min(b, size - 1) - a + 1};
}

void SetObjectHeaders(Response& res, const ObjectInfo& info) {
  res.SetHeader("ETag", "\"" + info.etag + "\"");
  res.SetHeader("Accept-Ranges", "bytes");
  res.SetHeader("X-Object-Size", std::to_string(info.size));
  res.SetHeader("Cache-Control", "private, no-store");
}

}  // namespace

void GetObject(const Services& services, Request& req, Response& res) {
  ObjectStore& store = LocalStore(services);
  std::string key = VerifyPresignedRequest(store, "GET", req.path(), req.raw_query());
  std::optional<ObjectInfo> info = store.Head(key);
  if (!info) Fail(ErrorCode::kNotFound, "object '{}' does not exist", key);
  SetObjectHeaders(res, *info);

  constexpr std::string_view kType = "application/octet-stream";
  int status = 200;
  ByteRange range{0, info->size};
  if (auto requested = ParseRange(req.Header("Range"), info->size)) {
    if (requested->length == 0) {
      res.SetHeader("Content-Range", fmt::format("bytes */{}", info->size));
      res.Send(416, "", kType);
      return;
    }
    range = *requested;
    status = 206;
    res.SetHeader("Content-Range",
                  fmt::format("bytes {}-{}/{}", range.offset, range.offset + range.length - 1, info->size));
  }
  if (range.length <= kWholeResponseBytes) {
    std::string body;
    body.reserve(range.length);
    store.GetRange(key, range.offset, range.length, [&](std::string_view chunk) {
      body.append(chunk);
      return true;
    });
    res.Send(status, body, kType);
    return;
  }
  res.BeginSized(status, kType, range.length);
  store.GetRange(key, range.offset, range.length, [&](std::string_view chunk) { return res.Write(chunk); });
  res.End();
}

//! Passes the request body through, and fails (before the store commits anything) when it ends
//! short of the announced Content-Length.
class CheckedBody final : public ByteSource {
 public:
  CheckedBody(ByteSource& body, std::optional<uint64_t> expected) : body_(body), expected_(expected) {}
  size_t Read(char* buf, size_t n) override {
    size_t got = body_.Read(buf, n);
    seen_ += got;
    if (got == 0 && expected_ && seen_ != *expected_) {
      Fail(ErrorCode::kInvalidArgument, "the upload ended after {} of {} bytes; nothing was stored", seen_, *expected_);
    }
    return got;
  }

 private:
  ByteSource& body_;
  std::optional<uint64_t> expected_;
  uint64_t seen_ = 0;
};

void PutObject(const Services& services, Request& req, Response& res) {
  ObjectStore& store = LocalStore(services);
  std::string key = VerifyPresignedRequest(store, "PUT", req.path(), req.raw_query());
  CheckedBody body(req.Body(), req.content_length());
  ObjectInfo info = store.Put(key, body);
  res.SetHeader("ETag", "\"" + info.etag + "\"");
  res.Json(200, {{"key", info.key}, {"size", info.size}, {"etag", info.etag}});
}

}  // namespace lakehouse::gateway
