// S3 backend over the project's HTTP client (shared/http_client.h): requests are signed by curl
// (HttpRequest::aws_sigv4), presigned URLs by sigv4.cpp. Path-style addressing
// (endpoint/bucket/key) so any S3-compatible server works.
//
// Thread safety: the client keeps a pool of curl handles; each request takes one, so many threads
// can use the store at once, and a returned handle keeps its keep-alive connection.
//
// Memory: Get/GetRange stream through the sink. Put buffers at most multipart_threshold + 1 bytes
// to learn whether the object is small (one PUT with a Content-Length; S3 refuses chunked
// uploads) or large (multipart upload, one part_size buffer at a time).
#include <pugixml.hpp>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <exception>
#include <map>
#include <thread>

#include "lakehouse/shared/clock.h"
#include "lakehouse/shared/error.h"
#include "lakehouse/shared/http_client.h"
#include "lakehouse/storaged/object_store.h"
#include "lakehouse/storaged/sigv4.h"

namespace lakehouse::storaged {
namespace {

std::string Unquote(std::string s) {
  if (s.size() >= 2 && s.front() == '"' && s.back() == '"') s = s.substr(1, s.size() - 2);
  return s;
}

//! "2009-10-12T17:50:30.000Z" -> unix ms (0 when unparsable).
int64_t ParseIso8601Ms(const std::string& text) {
  std::tm tm{};
  int ms = 0;
  if (std::sscanf(text.c_str(), "%d-%d-%dT%d:%d:%d.%dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min,
                  &tm.tm_sec, &ms) < 6) {
    return 0;
  }
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  return static_cast<int64_t>(timegm(&tm)) * 1000 + ms;
}

//! One request to the bucket (path-style: endpoint/bucket/key?query).
struct S3Request {
  std::string method = "GET";        //!< GET, HEAD, PUT, POST, DELETE
  std::string key;                   //!< empty for bucket-level requests
  std::string query;                 //!< sorted, RFC 3986-encoded (curl signs it as written)
  std::vector<std::string> headers;  //!< extra "Name: value" headers
  std::string content_type;          //!< of the body; empty: none
  std::string_view body;             //!< PUT/POST body (in memory; at most one part)
  const ByteSink* sink = nullptr;    //!< a 2xx response body streams here instead of into `body`
};

struct S3ErrorBody {
  std::string code;
  std::string message;
};

S3ErrorBody ParseError(const std::string& body) {
  S3ErrorBody e;
  pugi::xml_document doc;
  if (!body.empty() && doc.load_buffer(body.data(), body.size())) {
    pugi::xml_node error = doc.child("Error");
    e.code = error.child_value("Code");
    e.message = error.child_value("Message");
  }
  return e;
}

class S3Store final : public ObjectStore {
 public:
  explicit S3Store(const S3StoreOptions& options) : options_(options) {
    LH_USER_CHECK(options_.endpoint.rfind("http://", 0) == 0 || options_.endpoint.rfind("https://", 0) == 0,
                  "S3 endpoint '{}' must start with http:// or https://", options_.endpoint);
    LH_USER_CHECK(!options_.bucket.empty(), "the S3 store needs a bucket name");
    LH_USER_CHECK(!options_.access_key.empty() && !options_.secret_key.empty(),
                  "the S3 store needs an access key and a secret key");
    LH_USER_CHECK(options_.multipart_part_size >= (5ull << 20) && options_.multipart_part_size <= (5ull << 30),
                  "S3 multipart part size must be between 5 MiB and 5 GiB, got {} bytes", options_.multipart_part_size);
    while (options_.endpoint.back() == '/') options_.endpoint.pop_back();
    size_t host_start = options_.endpoint.find("://") + 3;
    size_t path_start = options_.endpoint.find('/', host_start);
    scheme_ = options_.endpoint.substr(0, host_start - 3);
    host_ = options_.endpoint.substr(host_start, path_start - host_start);
    base_path_ = path_start == std::string::npos ? std::string() : options_.endpoint.substr(path_start);
    sigv4_param_ = "aws:amz:" + options_.region + ":s3";
    if (options_.create_bucket) CreateBucket();
  }

  std::string Kind() const override { return "s3"; }
  std::string Bucket() const override { return options_.bucket; }

  ObjectInfo Put(std::string_view key, ByteSource& source) override {
    ValidateKey(key);
    std::string buffer;
    bool eof = ReadUpTo(source, options_.multipart_threshold + 1, &buffer);
    if (eof && buffer.size() <= options_.multipart_threshold) return PutSingle(key, buffer);
    return PutMultipart(key, source, std::move(buffer), eof);
  }

  std::optional<ObjectInfo> PutIfAbsent(std::string_view key, std::string_view data) override {
    ValidateKey(key);
    for (int attempt = 0;; ++attempt) {
      S3Request req;
      req.method = "PUT";
      req.key = std::string(key);
      req.body = data;
      req.headers.push_back("If-None-Match: *");
      HttpResponse resp = Perform(req);
      if (resp.status == 412) return std::nullopt;
      // 409 ConditionalRequestConflict: a concurrent conditional write was in flight; ask again.
      if (resp.status == 409 && attempt < 5) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20 * (attempt + 1)));
        continue;
      }
      Check(resp, "put-if-absent", key);
      return InfoAfterPut(key, data.size(), resp);
    }
  }

  //! Size, ETag and modification time of a GET or HEAD answer.
  static ObjectInfo InfoFromHeaders(std::string_view key, const HttpResponse& resp) {
    ObjectInfo info;
    info.key = std::string(key);
    info.size = std::strtoull(resp.Header("content-length").c_str(), nullptr, 10);
    info.etag = Unquote(resp.Header("etag"));
    info.last_modified_ms = HttpDateMs(resp.Header("last-modified"));
    return info;
  }

  ObjectInfo Get(std::string_view key, const ByteSink& sink) override {
    ValidateKey(key);
    S3Request req;
    req.key = std::string(key);
    req.sink = &sink;
    HttpResponse resp = Perform(req);
    Check(resp, "get", key);
    return InfoFromHeaders(key, resp);
  }

  void GetRange(std::string_view key, uint64_t offset, uint64_t length, const ByteSink& sink) override {
    ValidateKey(key);
    if (length == 0) {
      if (!Head(key)) Fail(ErrorCode::kNotFound, "object '{}' does not exist", key);
      return;
    }
    // A server that ignores Range answers 200 with the whole object: skip and cap it here.
    uint64_t skipped = 0, sent = 0;
    const HttpResponse* current = nullptr;
    ByteSink limited = [&](std::string_view chunk) {
      if (current->status == 200 && skipped < offset) {
        uint64_t skip = std::min<uint64_t>(offset - skipped, chunk.size());
        skipped += skip;
        chunk.remove_prefix(static_cast<size_t>(skip));
      }
      if (chunk.size() > length - sent) chunk = chunk.substr(0, static_cast<size_t>(length - sent));
      if (chunk.empty()) return true;
      sent += chunk.size();
      return sink(chunk);
    };
    S3Request req;
    req.key = std::string(key);
    req.sink = &limited;
    uint64_t last = length > UINT64_MAX - offset ? UINT64_MAX : offset + length - 1;
    req.headers.push_back(last == UINT64_MAX ? fmt::format("Range: bytes={}-", offset)
                                             : fmt::format("Range: bytes={}-{}", offset, last));
    HttpResponse resp;
    current = &resp;
    PerformInto(req, &resp);
    if (resp.status == 416) return;  // the range starts at or past the end: nothing to send
    Check(resp, "range get", key);
  }

  std::optional<ObjectInfo> Head(std::string_view key) override {
    ValidateKey(key);
    S3Request req;
    req.method = "HEAD";
    req.key = std::string(key);
    HttpResponse resp = Perform(req);
    if (resp.status == 404) return std::nullopt;
    Check(resp, "head", key);
    return InfoFromHeaders(key, resp);
  }

  ListPage List(std::string_view prefix, std::string_view page_token, size_t max_keys) override {
    LH_USER_CHECK(prefix.find('\0') == std::string_view::npos, "list prefix contains a NUL byte");
    if (max_keys == 0 || max_keys > 1000) max_keys = 1000;
    // Parameters in sorted order: curl signs the query string exactly as written.
    std::string query;
    if (!page_token.empty()) query += "continuation-token=" + UriEncode(page_token, true) + "&";
    query += fmt::format("list-type=2&max-keys={}", max_keys);
    if (!prefix.empty()) query += "&prefix=" + UriEncode(prefix, true);
    S3Request req;
    req.query = query;
    HttpResponse resp = Perform(req);
    Check(resp, "list", prefix);
    pugi::xml_document doc;
    if (!doc.load_buffer(resp.body.data(), resp.body.size())) {
      Fail(ErrorCode::kInternal, "S3 at {} answered a listing that is not XML", options_.endpoint);
    }
    pugi::xml_node result = doc.child("ListBucketResult");
    ListPage page;
    for (pugi::xml_node c : result.children("Contents")) {
      ObjectInfo info;
      info.key = c.child_value("Key");
      info.size = std::strtoull(c.child_value("Size"), nullptr, 10);
      info.etag = Unquote(c.child_value("ETag"));
      info.last_modified_ms = ParseIso8601Ms(c.child_value("LastModified"));
      page.objects.push_back(std::move(info));
    }
    if (std::string_view(result.child_value("IsTruncated")) == "true") {
      page.next_token = result.child_value("NextContinuationToken");
      if (page.next_token.empty()) {
        Fail(ErrorCode::kInternal, "S3 at {} truncated a listing without a continuation token", options_.endpoint);
      }
    }
    return page;
  }

  void Delete(std::string_view key) override {
    ValidateKey(key);
    S3Request req;
    req.method = "DELETE";
    req.key = std::string(key);
    HttpResponse resp = Perform(req);
    if (resp.status == 404 && ParseError(resp.body).code != "NoSuchBucket") return;
    Check(resp, "delete", key);
  }

  PresignedObject Presign(PresignMethod method, std::string_view key, int64_t expires_seconds) override {
    ValidateKey(key);
    PresignV4Request req;
    req.method = PresignMethodName(method);
    req.scheme = scheme_;
    req.host = host_;
    req.canonical_uri = base_path_ + "/" + UriEncode(options_.bucket, true) + "/" + UriEncode(key, false);
    req.timestamp = NowSeconds();
    req.expires_seconds = expires_seconds;
    SigV4Credentials creds{options_.access_key, options_.secret_key, options_.region, "s3"};
    PresignedObject grant;
    grant.method = method;
    grant.key = std::string(key);
    grant.expires = req.timestamp + expires_seconds;
    grant.url = PresignV4(req, creds).url;
    return grant;
  }

  void VerifyPresigned(PresignMethod /*method*/, std::string_view /*key*/, int64_t /*expires*/,
                       std::string_view /*signature*/) const override {
    Fail(ErrorCode::kNotFound, "this server stores objects in s3 ({}); its presigned URLs point at that server",
         options_.bucket);
  }

  std::optional<std::string> LocalPath(std::string_view key) const override {
    ValidateKey(key);
    return std::nullopt;
  }

 private:
  //! "Wed, 21 Oct 2015 07:28:00 GMT" (RFC 9110 IMF-fixdate) -> unix ms (0 when unparsable).
  static int64_t HttpDateMs(const std::string& date) {
    std::tm tm{};
    const char* end = strptime(date.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm);
    if (end == nullptr) return 0;
    return static_cast<int64_t>(timegm(&tm)) * 1000;
  }

  //! Appends from `source` until `buffer` holds `limit` bytes; true when the source ended first.
  static bool ReadUpTo(ByteSource& source, uint64_t limit, std::string* buffer) {
    constexpr size_t kStep = 1 << 20;
    while (buffer->size() < limit) {
      size_t old = buffer->size();
      size_t want = static_cast<size_t>(std::min<uint64_t>(kStep, limit - old));
      buffer->resize(old + want);
      size_t n = source.Read(buffer->data() + old, want);
      buffer->resize(old + n);
      if (n == 0) return true;
    }
    return false;
  }

  ObjectInfo InfoAfterPut(std::string_view key, uint64_t size, const HttpResponse& resp) {
    ObjectInfo info;
    info.key = std::string(key);
    info.size = size;
    info.etag = Unquote(resp.Header("etag"));
    info.last_modified_ms = NowMs();
    if (info.etag.empty()) {
      if (auto head = Head(key)) return *head;
    }
    return info;
  }

  ObjectInfo PutSingle(std::string_view key, std::string_view data) {
    S3Request req;
    req.method = "PUT";
    req.key = std::string(key);
    req.body = data;
    HttpResponse resp = Perform(req);
    Check(resp, "put", key);
    return InfoAfterPut(key, data.size(), resp);
  }

  ObjectInfo PutMultipart(std::string_view key, ByteSource& source, std::string pending, bool eof) {
    S3Request create;
    create.method = "POST";
    create.key = std::string(key);
    create.query = "uploads=";  // "uploads" alone would be signed differently from what S3 checks
    create.content_type = "application/octet-stream";
    HttpResponse created = Perform(create);
    Check(created, "create multipart upload", key);
    pugi::xml_document doc;
    doc.load_buffer(created.body.data(), created.body.size());
    std::string upload_id = doc.child("InitiateMultipartUploadResult").child_value("UploadId");
    if (upload_id.empty()) {
      Fail(ErrorCode::kInternal, "S3 at {} started a multipart upload for '{}' without an UploadId", options_.endpoint,
           key);
    }
    const std::string id_param = "uploadId=" + UriEncode(upload_id, true);
    try {
      std::vector<std::string> etags;
      const size_t part_size = static_cast<size_t>(options_.multipart_part_size);
      size_t pos = 0;
      for (;;) {
        if (pending.size() - pos < part_size && !eof) {
          pending.erase(0, pos);
          pos = 0;
          if (pending.capacity() > 2 * part_size) pending.shrink_to_fit();
          eof = ReadUpTo(source, part_size, &pending);
        }
        size_t n = std::min(part_size, pending.size() - pos);
        if (n == 0) break;
        S3Request part;
        part.method = "PUT";
        part.key = std::string(key);
        part.query = fmt::format("partNumber={}&{}", etags.size() + 1, id_param);
        part.body = std::string_view(pending).substr(pos, n);
        HttpResponse resp = Perform(part);
        Check(resp, "upload part", key);
        etags.push_back(resp.Header("etag"));
        pos += n;
        if (eof && pos == pending.size()) break;
      }
      std::string xml = "<CompleteMultipartUpload>";
      for (size_t i = 0; i < etags.size(); ++i) {
        xml += fmt::format("<Part><PartNumber>{}</PartNumber><ETag>{}</ETag></Part>", i + 1, etags[i]);
      }
      xml += "</CompleteMultipartUpload>";
      S3Request complete;
      complete.method = "POST";
      complete.key = std::string(key);
      complete.query = id_param;
      complete.body = xml;
      complete.content_type = "application/xml";
      HttpResponse done = Perform(complete);
      Check(done, "complete multipart upload", key);
      // S3 may report a failure inside a 200 response.
      if (done.body.find("<Error>") != std::string::npos) {
        S3ErrorBody e = ParseError(done.body);
        Fail(ErrorCode::kInternal, "S3 at {} failed to complete the upload of '{}': {} {}", options_.endpoint, key,
             e.code, e.message);
      }
      // radosgw answers CompleteMultipartUpload with an empty ETag: ask HEAD for the real one.
      if (auto head = Head(key)) return *head;
      Fail(ErrorCode::kInternal, "S3 at {} lost '{}' right after completing its multipart upload", options_.endpoint,
           key);
    } catch (...) {
      try {
        S3Request abort;
        abort.method = "DELETE";
        abort.key = std::string(key);
        abort.query = id_param;
        Perform(abort);
      } catch (...) {
        // Best effort: the original error is the one to report; an aborted upload expires anyway.
      }
      throw;
    }
  }

  void CreateBucket() {
    S3Request req;
    req.method = "PUT";
    HttpResponse resp = Perform(req);
    if (resp.status == 409 && ParseError(resp.body).code == "BucketAlreadyOwnedByYou") return;
    if (resp.status == 400 && ParseError(resp.body).code == "InvalidBucketName") {
      Fail(ErrorCode::kInvalidArgument,
           "'{}' is not a valid S3 bucket name (3-63 lowercase letters, digits, '-' and '.')", options_.bucket);
    }
    Check(resp, "create bucket", "");
  }

  std::string Url(const S3Request& req) const {
    std::string url = options_.endpoint + "/" + UriEncode(options_.bucket, true);
    if (!req.key.empty()) url += "/" + UriEncode(req.key, false);
    if (!req.query.empty()) url += "?" + req.query;
    return url;
  }

  HttpResponse Perform(const S3Request& req) {
    HttpResponse resp;
    PerformInto(req, &resp);
    return resp;
  }

  void PerformInto(const S3Request& req, HttpResponse* resp) {
    HttpRequest http;
    http.method = req.method;
    http.url = Url(req);
    http.body_view = req.body;
    // A body always has a type (curl would otherwise add a form type to it).
    http.content_type = req.content_type.empty() && (req.method == "PUT" || req.method == "POST")
                            ? "application/octet-stream"
                            : req.content_type;
    http.headers = req.headers;
    http.headers.emplace_back("x-amz-content-sha256: UNSIGNED-PAYLOAD");
    http.aws_sigv4 = sigv4_param_;
    http.aws_access_key = options_.access_key;
    http.aws_secret_key = options_.secret_key;
    http.connect_timeout_ms = options_.timeout_ms;
    // No total timeout (objects may be large); a transfer stalled for timeout_ms fails instead.
    http.timeout_ms = 0;
    http.stall_timeout_ms = options_.timeout_ms;
    http.use_env_proxy = true;  // the S3 server may be remote
    if (req.sink != nullptr) http.on_data = *req.sink;
    client_.Send(http, *resp);
    if (resp->aborted) Fail(ErrorCode::kCancelled, "reading object '{}' stopped: the receiver went away", req.key);
    if (resp->transport_error == 0) return;
    Fail(ErrorCode::kUnavailable, "S3 endpoint {} is unavailable ({} {}): {}", options_.endpoint, req.method,
         req.key.empty() ? options_.bucket : req.key, resp->error);
  }

  //! Throws the lakehouse::Error matching a non-2xx response.
  void Check(const HttpResponse& resp, std::string_view what, std::string_view key) const {
    if (resp.status >= 200 && resp.status < 300) return;
    S3ErrorBody e = ParseError(resp.body);
    std::string detail =
        e.code.empty() ? fmt::format("HTTP {}", resp.status)
                       : fmt::format("HTTP {} {}{}{}", resp.status, e.code, e.message.empty() ? "" : ": ", e.message);
    if (resp.status == 404) {
      if (e.code == "NoSuchBucket") {
        Fail(ErrorCode::kUnavailable, "S3 bucket '{}' does not exist at {} (create it or enable create_bucket)",
             options_.bucket, options_.endpoint);
      }
      Fail(ErrorCode::kNotFound, "object '{}' does not exist", key);
    }
    if (resp.status == 403) {
      if (e.code == "SignatureDoesNotMatch" || e.code == "InvalidAccessKeyId" || e.code.empty()) {
        Fail(ErrorCode::kUnavailable,
             "S3 at {} rejected this server's credentials on {} '{}' ({}): check the access and secret key",
             options_.endpoint, what, key, detail);
      }
      Fail(ErrorCode::kPermissionDenied, "S3 at {} denied {} '{}' ({})", options_.endpoint, what, key, detail);
    }
    if (resp.status == 409)
      Fail(ErrorCode::kConflict, "S3 at {} refused {} '{}' ({})", options_.endpoint, what, key, detail);
    if (resp.status == 412) {
      Fail(ErrorCode::kPreconditionFailed, "S3 at {}: precondition failed on {} '{}' ({})", options_.endpoint, what,
           key, detail);
    }
    if (resp.status >= 500) {
      Fail(ErrorCode::kUnavailable, "S3 at {} failed on {} '{}' ({})", options_.endpoint, what, key, detail);
    }
    Fail(ErrorCode::kInternal, "S3 at {} refused {} '{}' ({})", options_.endpoint, what, key, detail);
  }

  S3StoreOptions options_;
  std::string scheme_, host_, base_path_;
  std::string sigv4_param_;
  HttpClient client_;
};

}  // namespace

std::unique_ptr<ObjectStore> MakeS3Store(const S3StoreOptions& options) { return std::make_unique<S3Store>(options); }

}  // namespace lakehouse::storaged
