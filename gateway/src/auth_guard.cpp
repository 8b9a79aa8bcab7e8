// The router's guard: Host, Origin/CORS, API key, route permission (see auth_guard.h).
#include "auth_guard.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>

#include "lakehouse/shared/error.h"
#include "lakehouse/shared/hash.h"
#include "route_table.h"

namespace lakehouse::gateway {
namespace {

//! Longest credential header looked at: a key is 84 characters; anything longer is refused unread.
constexpr size_t kMaxCredentialBytes = 512;
constexpr std::string_view kChallenge = R"(Bearer realm="lakehouse")";
constexpr std::string_view kChallengeInvalid = R"(Bearer realm="lakehouse", error="invalid_token")";

std::string Lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

//! "Example.com:8080" -> "example.com"; "[::1]:80" -> "::1".
std::string HostName(std::string_view host) {
  if (host.starts_with('[')) {
    size_t end = host.find(']');
    return Lower(host.substr(1, end == std::string_view::npos ? std::string_view::npos : end - 1));
  }
  size_t colon = host.rfind(':');
  if (colon != std::string_view::npos && host.find(':') == colon) host = host.substr(0, colon);
  return Lower(host);
}

std::string_view Clip(std::string_view s) { return s.substr(0, 100); }

bool IsSafeMethod(std::string_view method) { return method == "GET" || method == "HEAD" || method == "OPTIONS"; }

//! The dataset a route's path names ({name}, or {table} under /iceberg); empty when none.
std::string PathDataset(const Request& req, std::string_view pattern) {
  if (pattern.find("{name}") != std::string_view::npos) return req.Param("name");
  if (pattern.find("{table}") != std::string_view::npos) return req.Param("table");
  return {};
}

class AuthGuard {
 public:
  explicit AuthGuard(const AuthOptions& options) : options_(options) {
    if (options_.enabled && options_.keys == nullptr) {
      Fail(ErrorCode::kInternal, "auth is enabled but no key store is configured");
    }
    for (const auto& route : RouteTable()) {
      permissions_[{std::string(route.method), std::string(route.path)}] = route.permission;
    }
    hosts_ = {"localhost", "127.0.0.1", "::1"};
    for (const auto& h : options_.allowed_hosts) {
      if (h == "*") any_host_ = true;
      hosts_.insert(HostName(h));
    }
    for (const auto& o : options_.allowed_origins) origins_.insert(Lower(o));
  }

  GuardResult operator()(Request& req, const RouteRef& route) const {
    GuardResult r;
    const std::optional<std::string> host = req.Header("Host");
    if (host && !any_host_ && !hosts_.contains(HostName(*host))) {
      // DNS rebinding: a page of another site reaching this server under that site's name.
      return Refuse(std::move(r), ErrorCode::kInvalidArgument,
                    fmt::format("Host '{}' is not a name of this server; add it to auth.allowed_hosts "
                                "(LAKEHOUSE_ALLOWED_HOSTS) to serve it",
                                Clip(*host)));
    }
    if (auto origin = req.Header("Origin")) {
      const std::string o = Lower(*origin);
      const bool same = host && (o == "http://" + Lower(*host) || o == "https://" + Lower(*host));
      const bool listed = origins_.contains(o);
      if (req.method() == "OPTIONS" && req.Header("Access-Control-Request-Method")) {
        if (!same && !listed) return RefuseOrigin(std::move(r), *origin);
        AllowOrigin(r, *origin);
        r.headers.emplace_back("Access-Control-Allow-Methods", "GET, HEAD, POST, PUT, DELETE");
        r.headers.emplace_back("Access-Control-Allow-Headers",
                               "Authorization, X-API-Key, Content-Type, X-Request-Id, Range, traceparent");
        r.headers.emplace_back("Access-Control-Max-Age", "600");
        r.answered = true;
        return r;
      }
      if (listed && !same) AllowOrigin(r, *origin);
      // A cross-site page may send "simple" requests (text/plain POSTs) without a preflight.
      if (!same && !listed && !IsSafeMethod(req.method())) return RefuseOrigin(std::move(r), *origin);
    }
    if (route.pattern.empty()) return r;  // 404/405 follow

    auto it = permissions_.find({std::string(route.method), std::string(route.pattern)});
    const Permission permission = it == permissions_.end() ? Permission::kAdmin : it->second;  // fails closed
    if (permission == Permission::kPublic) return r;
    const bool writes =
        permission == Permission::kWrite || permission == Permission::kWriteDataset || permission == Permission::kAdmin;
    if (writes) {
      r.audit = true;
      r.audit_dataset = PathDataset(req, route.pattern);
    }
    if (!options_.enabled) return r;

    std::string token;
    if (auto authz = req.Header("Authorization")) {
      if (authz->size() > kMaxCredentialBytes)
        return Unauthenticated(std::move(r), "the Authorization header is too long");
      if (authz->size() < 7 || Lower(std::string_view(*authz).substr(0, 7)) != "bearer ") {
        return Unauthenticated(std::move(r), "send the API key as 'Authorization: Bearer <key>' or 'X-API-Key: <key>'");
      }
      token = authz->substr(7);
    } else if (auto header = req.Header("X-API-Key")) {
      if (header->size() > kMaxCredentialBytes)
        return Unauthenticated(std::move(r), "the X-API-Key header is too long");
      token = *header;
    } else {
      return Unauthenticated(std::move(r),
                             fmt::format("{} {} needs an API key: send 'Authorization: Bearer <key>' or 'X-API-Key: "
                                         "<key>' (the first admin key is in <data-dir>/admin.key)",
                                         route.method, route.pattern),
                             kChallenge);
    }
    while (!token.empty() && token.front() == ' ') token.erase(0, 1);
    while (!token.empty() && token.back() == ' ') token.pop_back();
    if (permission == Permission::kScrape && !options_.scrape_token.empty() &&
        ConstantTimeEquals(token, options_.scrape_token)) {
      return r;
    }
    AuthFailure why = AuthFailure::kNone;
    std::shared_ptr<const Principal> principal = options_.keys->Authenticate(token, &why);
    if (!principal) return Unauthenticated(std::move(r), std::string(AuthFailureMessage(why)));

    const Principal& p = *principal;
    const std::string dataset = PathDataset(req, route.pattern);
    switch (permission) {
      case Permission::kPublic:
      case Permission::kScrape:
      case Permission::kRead:
        break;
      case Permission::kReadDataset:
        if (!p.MayRead(dataset)) return Forbidden(std::move(r), ReadDenied(p, dataset));
        break;
      case Permission::kWrite:
        if (p.role == Role::kReader) {
          return Forbidden(std::move(r), fmt::format("API key {} is a reader key: {} {} needs a writer or admin key",
                                                     p.key_id, route.method, route.pattern));
        }
        break;
      case Permission::kWriteDataset:
        if (!p.MayWrite(dataset)) return Forbidden(std::move(r), WriteDenied(p, dataset));
        break;
      case Permission::kAdmin:
        if (!p.IsAdmin()) {
          return Forbidden(std::move(r), fmt::format("API key {} is a {} key: {} {} needs an admin key", p.key_id,
                                                     RoleName(p.role), route.method, route.pattern));
        }
        break;
    }
    req.set_principal(std::move(principal));
    return r;
  }

 private:
  static void AllowOrigin(GuardResult& r, const std::string& origin) {
    r.headers.emplace_back("Access-Control-Allow-Origin", origin);
    r.headers.emplace_back("Vary", "Origin");
    r.headers.emplace_back("Access-Control-Expose-Headers", "X-Request-Id, ETag, Content-Range, X-Object-Size");
  }
  static GuardResult Refuse(GuardResult r, ErrorCode code, std::string message) {
    r.error = code;
    r.message = std::move(message);
    return r;
  }
  static GuardResult RefuseOrigin(GuardResult r, std::string_view origin) {
    return Refuse(std::move(r), ErrorCode::kPermissionDenied,
                  fmt::format("cross-origin request from '{}' refused: add the origin to auth.allowed_origins "
                              "(LAKEHOUSE_ALLOWED_ORIGINS) to allow it",
                              Clip(origin)));
  }
  static GuardResult Unauthenticated(GuardResult r, std::string message,
                                     std::string_view challenge = kChallengeInvalid) {
    r.headers.emplace_back("WWW-Authenticate", std::string(challenge));
    return Refuse(std::move(r), ErrorCode::kUnauthenticated, std::move(message));
  }
  static GuardResult Forbidden(GuardResult r, std::string message) {
    return Refuse(std::move(r), ErrorCode::kPermissionDenied, std::move(message));
  }

  AuthOptions options_;
  std::map<std::pair<std::string, std::string>, Permission> permissions_;
  std::set<std::string> hosts_;
  std::set<std::string> origins_;
  bool any_host_ = false;
};

}  // namespace

std::string ReadDenied(const Principal& p, std::string_view dataset) {
  return fmt::format("API key {} may not read dataset '{}'", p.key_id, Clip(dataset));
}

std::string WriteDenied(const Principal& p, std::string_view dataset) {
  if (p.role == Role::kReader && p.MayRead(dataset)) {
    return fmt::format("API key {} is a reader key: writing dataset '{}' needs a writer or admin key", p.key_id,
                       Clip(dataset));
  }
  return fmt::format("API key {} may not write dataset '{}'", p.key_id, Clip(dataset));
}

Guard MakeAuthGuard(const AuthOptions& options) {
  auto guard = std::make_shared<const AuthGuard>(options);
  return [guard](Request& req, const RouteRef& route) { return (*guard)(req, route); };
}

bool MayRead(const Request& req, std::string_view dataset) {
  return req.principal() == nullptr || req.principal()->MayRead(dataset);
}

void RequireRead(const Request& req, std::string_view dataset) {
  if (!MayRead(req, dataset)) throw Error(ErrorCode::kPermissionDenied, ReadDenied(*req.principal(), dataset));
}

void RequireWrite(const Request& req, std::string_view dataset) {
  if (req.principal() != nullptr && !req.principal()->MayWrite(dataset)) {
    throw Error(ErrorCode::kPermissionDenied, WriteDenied(*req.principal(), dataset));
  }
}

}  // namespace lakehouse::gateway
