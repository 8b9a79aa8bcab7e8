#include "lakehouse/storaged/sigv4.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include <ctime>

#include "lakehouse/shared/error.h"

namespace lakehouse::storaged {

std::string UriEncode(std::string_view s, bool encode_slash) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size() * 3);
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    bool unreserved = (u >= 'A' && u <= 'Z') || (u >= 'a' && u <= 'z') || (u >= '0' && u <= '9') || u == '-' ||
                      u == '_' || u == '.' || u == '~';
    if (unreserved || (u == '/' && !encode_slash)) {
      out.push_back(c);
    } else {
      out.push_back('%');
      out.push_back(kHex[u >> 4]);
      out.push_back(kHex[u & 15]);
    }
  }
  return out;
}

std::string AmzDate(int64_t unix_seconds) {
  std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", &tm);
  return buf;
}

PresignedV4 PresignV4(const PresignV4Request& request, const SigV4Credentials& credentials) {
  LH_USER_CHECK(request.expires_seconds >= 1 && request.expires_seconds <= 604800,
                "presigned URL lifetime must be between 1 and 604800 seconds (7 days), got {}",
                request.expires_seconds);
  const std::string amz_date = AmzDate(request.timestamp);
  const std::string date = amz_date.substr(0, 8);
  const std::string scope = date + "/" + credentials.region + "/" + credentials.service + "/aws4_request";

  // Parameter names sort as written (all start with "X-Amz-" and differ after it).
  std::string query = "X-Amz-Algorithm=AWS4-HMAC-SHA256";
  query += "&X-Amz-Credential=" + UriEncode(credentials.access_key + "/" + scope, true);
  query += "&X-Amz-Date=" + amz_date;
  query += "&X-Amz-Expires=" + std::to_string(request.expires_seconds);
  query += "&X-Amz-SignedHeaders=host";

  PresignedV4 out;
  out.canonical_request = request.method + "\n" + request.canonical_uri + "\n" + query + "\nhost:" + request.host +
                          "\n\nhost\nUNSIGNED-PAYLOAD";
  out.string_to_sign = "AWS4-HMAC-SHA256\n" + amz_date + "\n" + scope + "\n" + Sha256Hex(out.canonical_request);

  std::string key = HmacSha256("AWS4" + credentials.secret_key, date);
  key = HmacSha256(key, credentials.region);
  key = HmacSha256(key, credentials.service);
  key = HmacSha256(key, "aws4_request");
  out.signature = HexEncode(HmacSha256(key, out.string_to_sign));
  out.url =
      request.scheme + "://" + request.host + request.canonical_uri + "?" + query + "&X-Amz-Signature=" + out.signature;
  return out;
}

}  // namespace lakehouse::storaged
