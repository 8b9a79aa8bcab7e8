// Key management routes (docs/api/auth.md): admins create, list and revoke API keys; any key
// can ask who it is.
//
//   POST   /api/v1/keys        {"role", "datasets", "expires_in"?, "name"?} -> 201 with the key, shown once
//   GET    /api/v1/keys        every key (ids, roles, grants, expiry, revocation; never secrets)
//   DELETE /api/v1/keys/{id}   revoke
//   GET    /api/v1/whoami      the calling key's id, role and grants
#include <fmt/format.h>

#include <charconv>
#include <nlohmann/json.hpp>

#include "auth_guard.h"
#include "lakehouse/shared/clock.h"
#include "routes.h"

namespace lakehouse::gateway {
namespace {

using json = nlohmann::json;

KeyStore& Keys(const Services& services) {
  if (!services.auth.enabled || services.auth.keys == nullptr) {
    Fail(ErrorCode::kUnavailable, "auth is off on this server (auth.enabled = false): there are no API keys");
  }
  return *services.auth.keys;
}

json ToJson(const ApiKeyInfo& info) {
  const int64_t now = NowMs();
  const char* status = info.revoked_ms                                ? "revoked"
                       : (info.expires_ms && *info.expires_ms <= now) ? "expired"
                                                                      : "active";
  json j = {{"id", info.id},
            {"role", RoleName(info.role)},
            {"datasets", info.datasets},
            {"name", info.name},
            {"created", FormatTimeMs(info.created_ms)},
            {"status", status}};
  j["expires"] = info.expires_ms ? json(FormatTimeMs(*info.expires_ms)) : json(nullptr);
  if (info.revoked_ms) j["revoked"] = FormatTimeMs(*info.revoked_ms);
  return j;
}

}  // namespace

int64_t ParseDurationMs(std::string_view text) {
  static constexpr std::pair<char, int64_t> kUnits[] = {
      {'s', 1000}, {'m', 60'000}, {'h', 3'600'000}, {'d', 86'400'000}, {'w', 604'800'000}};
  int64_t n = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec == std::errc() && end + 1 == text.data() + text.size() && n > 0 && n <= 100'000) {
    for (const auto& [unit, ms] : kUnits) {
      if (*end == unit) return n * ms;
    }
  }
  Fail(ErrorCode::kInvalidArgument,
       "invalid duration '{}': give a positive number and a unit s, m, h, d or w (e.g. 30d)", text.substr(0, 40));
}

void CreateKey(const Services& services, Request& req, Response& res) {
  KeyStore& keys = Keys(services);
  json body = req.ReadJson();
  if (!body.contains("role") || !body["role"].is_string()) {
    Fail(ErrorCode::kInvalidArgument, "give the key's \"role\": reader, writer or admin");
  }
  const Role role = ParseRole(body["role"].get<std::string>());
  std::vector<std::string> datasets;
  if (body.contains("datasets")) {
    const json& d = body["datasets"];
    if (d.is_string()) {
      datasets = ParseGrants(d.get<std::string>());
    } else if (d.is_array()) {
      for (const auto& item : d) {
        if (!item.is_string()) Fail(ErrorCode::kInvalidArgument, "\"datasets\" must be a list of names or prefixes");
        for (auto& g : ParseGrants(item.get<std::string>())) datasets.push_back(std::move(g));
      }
    } else {
      Fail(ErrorCode::kInvalidArgument, "\"datasets\" must be a string (\"sales,web_*\") or a list of them");
    }
  }
  if (datasets.empty() && role != Role::kAdmin) {
    Fail(ErrorCode::kInvalidArgument,
         "a {} key needs \"datasets\": names or prefixes it may use (e.g. \"sales,web_*\"; \"*\" for all)",
         RoleName(role));
  }
  std::optional<int64_t> expires_ms;
  if (body.contains("expires_in") && !body["expires_in"].is_null()) {
    if (!body["expires_in"].is_string()) Fail(ErrorCode::kInvalidArgument, "\"expires_in\" is a duration like \"30d\"");
    expires_ms = NowMs() + ParseDurationMs(body["expires_in"].get<std::string>());
  }
  std::string name;
  if (body.contains("name")) {
    if (!body["name"].is_string()) Fail(ErrorCode::kInvalidArgument, "\"name\" must be a string");
    name = body["name"].get<std::string>();
  }
  KeyStore::Created created = keys.Create(role, std::move(datasets), expires_ms, std::move(name));
  json out = ToJson(created.info);
  out["key"] = created.token;
  res.SetHeader("Cache-Control", "no-store");
  res.Json(201, out);
}

void ListKeys(const Services& services, Request&, Response& res) {
  json keys = json::array();
  for (const auto& info : Keys(services).List()) keys.push_back(ToJson(info));
  res.SetHeader("Cache-Control", "no-store");
  res.Json(200, {{"keys", keys}});
}

void RevokeKey(const Services& services, Request& req, Response& res) {
  res.Json(200, ToJson(Keys(services).Revoke(req.Param("id"))));
}

void WhoAmI(const Services& services, Request& req, Response& res) {
  const Principal* p = req.principal();
  if (!services.auth.enabled || p == nullptr) {
    res.Json(200, {{"auth", services.auth.enabled}});
    return;
  }
  res.Json(200, {{"auth", true}, {"id", p->key_id}, {"role", RoleName(p->role)}, {"datasets", p->datasets}});
}

}  // namespace lakehouse::gateway
