#pragma once
// Presigned URLs: the gateway builds them from the store's grants and parses the ones it serves
// (GET/PUT /api/v1/objects/{key}?method=..&expires=..&signature=..). storaged only signs and
// verifies (method, key, expiry); the URL format is this file's (docs/api/objects.md).
#include <cstdint>
#include <string>
#include <string_view>

#include "lakehouse/storaged/object_store.h"

namespace lakehouse::gateway {

//! The path prefix of the object routes that serve the local backend's presigned URLs.
inline constexpr std::string_view kObjectRoute = "/api/v1/objects/";

//! A URL that lets a plain HTTP client GET or PUT `key` until `expires_seconds` from now: the S3
//! server's own presigned URL, or `base_url` + /api/v1/objects/{key}?method=..&expires=..&signature=..
//! for the local backend (`base_url` empty: a URL relative to this server).
std::string PresignUrl(storaged::ObjectStore& store, std::string_view base_url, storaged::PresignMethod method,
                       std::string_view key, int64_t expires_seconds);

//! Checks a request to an object route: `method` ("GET" or "PUT"), its percent-decoded `path` and
//! raw `query`. Returns the object key when the URL was signed by `store` for that method and has
//! not expired; throws Error(kPermissionDenied) saying why otherwise.
std::string VerifyPresignedRequest(const storaged::ObjectStore& store, std::string_view method, std::string_view path,
                                   std::string_view query);

}  // namespace lakehouse::gateway
