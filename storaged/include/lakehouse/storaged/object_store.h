#pragma once
// storaged: object I/O over a local filesystem (default) or any S3-compatible server.
// A dumb pipe: it never interprets the bytes it moves (PRD invariant 4).
// Mirrors `service StorageService` in proto/lakehouse/v1/storage.proto.
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lakehouse/shared/io.h"

namespace lakehouse::storaged {

using lakehouse::ByteSink;
using lakehouse::ByteSource;

struct ObjectInfo {
  std::string key;
  uint64_t size = 0;
  std::string etag;  //!< without quotes
  int64_t last_modified_ms = 0;
};

struct ListPage {
  std::vector<ObjectInfo> objects;  //!< sorted by key
  std::string next_token;           //!< empty when this is the last page
};

enum class PresignMethod { kGet, kPut };

//! "GET" or "PUT".
std::string_view PresignMethodName(PresignMethod method);

//! The right to GET or PUT one object until a time: what a presigned URL carries. The S3 backend
//! signs a URL of the S3 server itself (`url`); the local backend signs (method, key, expires)
//! with its secret (`signature`) and knows nothing of URLs: the gateway builds and serves them.
struct PresignedObject {
  PresignMethod method = PresignMethod::kGet;
  std::string key;
  int64_t expires = 0;    //!< unix seconds
  std::string signature;  //!< local backend: hex HMAC-SHA256 of (method, key, expires); S3: empty
  std::string url;        //!< S3: the presigned URL of the S3 server; local backend: empty
};

//! Errors: every method throws lakehouse::Error — kInvalidArgument for a bad key, kNotFound for a
//! missing object (except Head, which returns nullopt), kUnavailable when the backend cannot be
//! reached, kInternal otherwise. Keys are relative, '/'-separated, no "..", no leading '/', no NUL
//! or other control characters, at most 1024 bytes (ValidateKey).
class ObjectStore {
 public:
  virtual ~ObjectStore() = default;

  //! "local" or "s3" (for logs and /health).
  virtual std::string Kind() const = 0;
  //! The bucket objects live in ("local" for the filesystem backend).
  virtual std::string Bucket() const = 0;

  //! Writes the object from a stream, replacing any existing one. Atomic: readers see the old
  //! or the new object, never a partial one. Never holds the whole object in memory.
  virtual ObjectInfo Put(std::string_view key, ByteSource& source) = 0;
  //! Creates the object only if no object has that key. Returns nullopt when one already exists.
  //! Exactly one of several concurrent callers for the same key wins.
  virtual std::optional<ObjectInfo> PutIfAbsent(std::string_view key, std::string_view data) = 0;
  //! Streams the whole object to `sink`.
  virtual ObjectInfo Get(std::string_view key, const ByteSink& sink) = 0;
  //! Streams bytes [offset, offset + length) to `sink` (clamped at the end of the object).
  virtual void GetRange(std::string_view key, uint64_t offset, uint64_t length, const ByteSink& sink) = 0;
  virtual std::optional<ObjectInfo> Head(std::string_view key) = 0;
  //! Lists keys starting with `prefix`, in key order, at most `max_keys` per page.
  virtual ListPage List(std::string_view prefix, std::string_view page_token, size_t max_keys) = 0;
  //! Deletes the object; deleting a missing object is not an error.
  virtual void Delete(std::string_view key) = 0;
  //! Grants GET or PUT of the object until `expires_seconds` (1..604800) from now.
  virtual PresignedObject Presign(PresignMethod method, std::string_view key, int64_t expires_seconds) = 0;
  //! Checks a grant Presign of this store signed (the local backend): throws
  //! Error(kPermissionDenied) saying why when the signature does not match or the grant has
  //! expired, Error(kInvalidArgument) for a bad key, Error(kNotFound) on a backend whose presigned
  //! URLs point at its own server (S3).
  virtual void VerifyPresigned(PresignMethod method, std::string_view key, int64_t expires,
                               std::string_view signature) const = 0;
  //! The object's path on the local filesystem when the backend has one (lets DuckDB read it
  //! directly); nullopt for remote backends.
  virtual std::optional<std::string> LocalPath(std::string_view key) const = 0;

  // Conveniences over the virtual interface.
  ObjectInfo PutBytes(std::string_view key, std::string_view data);
  std::string GetBytes(std::string_view key);
  //! Every object under `prefix`, following pages.
  std::vector<ObjectInfo> ListAll(std::string_view prefix);
};

//! Throws Error(kInvalidArgument) saying what is wrong with `key`.
void ValidateKey(std::string_view key);

struct LocalStoreOptions {
  std::string root;            //!< directory holding the objects
  std::string presign_secret;  //!< HMAC key of presign grants (random per process when empty)
};

struct S3StoreOptions {
  std::string endpoint;  //!< e.g. "http://127.0.0.1:7480"
  std::string region = "us-east-1";
  std::string bucket;
  std::string access_key;
  std::string secret_key;
  uint64_t multipart_threshold = 64ull << 20;  //!< Put switches to multipart above this size
  uint64_t multipart_part_size = 16ull << 20;
  bool create_bucket = true;  //!< create the bucket on start if missing
  int64_t timeout_ms = 30000;
};

std::unique_ptr<ObjectStore> MakeLocalStore(const LocalStoreOptions& options);
std::unique_ptr<ObjectStore> MakeS3Store(const S3StoreOptions& options);
//! `store` with a span and metrics around every call (docs/adr/0016-telemetry.md).
std::unique_ptr<ObjectStore> Instrumented(std::unique_ptr<ObjectStore> store);

}  // namespace lakehouse::storaged
