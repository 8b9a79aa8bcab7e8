#include "presign.h"

#include <fmt/format.h>

#include <optional>
#include <stdexcept>

#include "lakehouse/shared/error.h"
#include "lakehouse/storaged/sigv4.h"
#include "url.h"

namespace lakehouse::gateway {

using storaged::PresignMethod;

std::string PresignUrl(storaged::ObjectStore& store, std::string_view base_url, PresignMethod method,
                       std::string_view key, int64_t expires_seconds) {
  storaged::PresignedObject grant = store.Presign(method, key, expires_seconds);
  if (!grant.url.empty()) return grant.url;
  while (!base_url.empty() && base_url.back() == '/') base_url.remove_suffix(1);
  return fmt::format("{}{}{}?method={}&expires={}&signature={}", base_url, kObjectRoute,
                     storaged::UriEncode(grant.key, false), storaged::PresignMethodName(grant.method), grant.expires,
                     grant.signature);
}

std::string VerifyPresignedRequest(const storaged::ObjectStore& store, std::string_view method, std::string_view path,
                                   std::string_view query) {
  auto deny = [](const std::string& why) {
    throw Error(ErrorCode::kPermissionDenied, "presigned URL rejected: " + why);
  };
  if (!path.starts_with(kObjectRoute)) deny(fmt::format("'{}' is not an object URL", path));
  std::string key(path.substr(kObjectRoute.size()));
  storaged::ValidateKey(key);
  const auto params = ParseQueryString(query);
  auto param = [&](std::string_view name) -> std::optional<std::string> {
    auto it = params.find(name);
    return it == params.end() ? std::nullopt : std::optional(it->second);
  };
  const auto signed_method = param("method"), expires_text = param("expires"), signature = param("signature");
  if (!signed_method || !expires_text || !signature) {
    deny("it needs the query parameters method, expires and signature (ask for a new presigned URL)");
  }
  if (*signed_method != method) deny(fmt::format("it was signed for {}, not {}", *signed_method, method));
  int64_t expires = 0;
  try {
    size_t used = 0;
    expires = std::stoll(*expires_text, &used);
    if (used != expires_text->size()) throw std::invalid_argument("trailing characters");
  } catch (const std::exception&) {
    deny(fmt::format("expires '{}' is not a unix time", *expires_text));
  }
  if (method != "GET" && method != "PUT") deny(fmt::format("{} is not a method presigned URLs grant", method));
  const PresignMethod verb = method == "PUT" ? PresignMethod::kPut : PresignMethod::kGet;
  store.VerifyPresigned(verb, key, expires, *signature);
  return key;
}

}  // namespace lakehouse::gateway
