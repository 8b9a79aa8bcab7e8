#pragma once
// AWS Signature Version 4 pieces written on OpenSSL: query-string (presigned URL) signing and the
// hashing/encoding helpers it needs. Requests themselves are signed by libcurl (CURLOPT_AWS_SIGV4);
// no library here makes presigned URLs, so this does, with the clock passed in to be testable.
#include <cstdint>
#include <string>
#include <string_view>

#include "lakehouse/shared/hash.h"  // HexEncode, Sha256Hex, HmacSha256

namespace lakehouse::storaged {

struct SigV4Credentials {
  std::string access_key;
  std::string secret_key;
  std::string region = "us-east-1";
  std::string service = "s3";
};

struct PresignV4Request {
  std::string method = "GET";    //!< "GET" or "PUT"
  std::string scheme = "https";  //!< "http" or "https"
  std::string host;              //!< exactly as the client will send the Host header, e.g. "127.0.0.1:7480"
  std::string canonical_uri;     //!< URI-encoded path, e.g. "/bucket/a%20b/c.parquet" (UriEncode(path, false))
  int64_t timestamp = 0;         //!< signing time, unix seconds (UTC)
  int64_t expires_seconds = 0;   //!< 1..604800 (S3's limit: 7 days)
};

struct PresignedV4 {
  std::string url;                //!< scheme://host/uri?X-Amz-...&X-Amz-Signature=...
  std::string signature;          //!< lowercase hex
  std::string canonical_request;  //!< for debugging signature mismatches
  std::string string_to_sign;
};

//! Signs a presigned URL (signed header: host; payload: UNSIGNED-PAYLOAD).
//! Throws Error(kInvalidArgument) when expires_seconds is out of range.
PresignedV4 PresignV4(const PresignV4Request& request, const SigV4Credentials& credentials);

//! RFC 3986 percent-encoding as SigV4 wants it: A-Z a-z 0-9 - _ . ~ stay, the rest is %XX
//! (uppercase); '/' stays unless `encode_slash`.
std::string UriEncode(std::string_view s, bool encode_slash);
//! "YYYYMMDDTHHMMSSZ" for a unix time.
std::string AmzDate(int64_t unix_seconds);

}  // namespace lakehouse::storaged
