// API keys and grants (lakehouse/gateway/auth.h, docs/adr/0015-auth.md).
#include "lakehouse/gateway/auth.h"

#include <algorithm>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <shared_mutex>

#include "lakehouse/catalogd/catalog.h"
#include "lakehouse/shared/clock.h"
#include "lakehouse/shared/error.h"
#include "lakehouse/shared/hash.h"
#include "lakehouse/shared/logging.h"
#include "lakehouse/shared/periodic.h"
#include "lakehouse/shared/strings.h"
#include "lakehouse/shared/types.h"
#include "lakehouse/storaged/object_store.h"

namespace lakehouse::gateway {
namespace {

using json = nlohmann::json;

constexpr std::string_view kTokenPrefix = "lh_";
constexpr size_t kIdChars = 16;      // 64-bit public id
constexpr size_t kSecretChars = 64;  // 256-bit secret, hex

bool IsLowerHex(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

//! Splits "lh_<id>_<secret>"; nullopt unless it has exactly that shape.
std::optional<std::pair<std::string_view, std::string_view>> SplitToken(std::string_view token) {
  if (token.size() != kTokenPrefix.size() + kIdChars + 1 + kSecretChars || !token.starts_with(kTokenPrefix)) {
    return std::nullopt;
  }
  std::string_view id = token.substr(kTokenPrefix.size(), kIdChars);
  if (token[kTokenPrefix.size() + kIdChars] != '_') return std::nullopt;
  std::string_view secret = token.substr(kTokenPrefix.size() + kIdChars + 1);
  if (!IsLowerHex(id) || !IsLowerHex(secret)) return std::nullopt;
  return std::make_pair(id, secret);
}

struct KeyRecord {
  ApiKeyInfo info;
  std::string secret_sha256;
  std::string etag;  //!< of the stored object, to skip re-reading unchanged keys
  std::shared_ptr<const Principal> principal;
};

json ToJson(const KeyRecord& r) {
  json j = {{"id", r.info.id},     {"role", RoleName(r.info.role)},   {"datasets", r.info.datasets},
            {"name", r.info.name}, {"created_ms", r.info.created_ms}, {"secret_sha256", r.secret_sha256}};
  if (r.info.expires_ms) j["expires_ms"] = *r.info.expires_ms;
  if (r.info.revoked_ms) j["revoked_ms"] = *r.info.revoked_ms;
  return j;
}

KeyRecord FromJson(const json& j) {
  KeyRecord r;
  r.info.id = j.at("id").get<std::string>();
  r.info.role = ParseRole(j.at("role").get<std::string>());
  r.info.datasets = j.at("datasets").get<std::vector<std::string>>();
  r.info.name = j.value("name", "");
  r.info.created_ms = j.at("created_ms").get<int64_t>();
  if (j.contains("expires_ms")) r.info.expires_ms = j["expires_ms"].get<int64_t>();
  if (j.contains("revoked_ms")) r.info.revoked_ms = j["revoked_ms"].get<int64_t>();
  r.secret_sha256 = j.at("secret_sha256").get<std::string>();
  return r;
}

void SetPrincipal(KeyRecord& r) {
  auto p = std::make_shared<Principal>();
  p->key_id = r.info.id;
  p->role = r.info.role;
  p->datasets = r.info.datasets;
  r.principal = std::move(p);
}

}  // namespace

Role ParseRole(std::string_view name) {
  if (name == "reader") return Role::kReader;
  if (name == "writer") return Role::kWriter;
  if (name == "admin") return Role::kAdmin;
  Fail(ErrorCode::kInvalidArgument, "unknown role '{}': use reader, writer or admin", name.substr(0, 40));
}

std::string_view RoleName(Role role) {
  switch (role) {
    case Role::kReader:
      return "reader";
    case Role::kWriter:
      return "writer";
    case Role::kAdmin:
      return "admin";
  }
  return "reader";
}

bool GrantMatches(std::string_view pattern, std::string_view dataset) {
  if (pattern == "*") return true;
  if (pattern.ends_with('*')) return dataset.starts_with(pattern.substr(0, pattern.size() - 1));
  return pattern == dataset;
}

std::vector<std::string> ParseGrants(std::string_view text) {
  std::vector<std::string> out = SplitList(text);
  for (const std::string& item : out) {
    const std::string_view base = std::string_view(item).substr(0, item.ends_with('*') ? item.size() - 1 : item.size());
    // "sales_*": the part before * must itself start like a dataset name (or be empty: "*").
    const bool ok = item == "*" || (item.ends_with('*') ? DatasetId::IsValid(std::string(base) + "a") &&
                                                              base.find('*') == std::string_view::npos
                                                        : DatasetId::IsValid(item));
    if (!ok) {
      Fail(ErrorCode::kInvalidArgument,
           "invalid dataset grant '{}': give dataset names or prefixes ending in * (e.g. sales,web_*), or * for all",
           item.substr(0, 80));
    }
  }
  return out;
}

bool Principal::MayRead(std::string_view dataset) const {
  if (role == Role::kAdmin) return true;
  return std::any_of(datasets.begin(), datasets.end(), [&](const auto& p) { return GrantMatches(p, dataset); });
}

bool Principal::MayWrite(std::string_view dataset) const { return role != Role::kReader && MayRead(dataset); }

std::string_view AuthFailureMessage(AuthFailure failure) {
  switch (failure) {
    case AuthFailure::kNone:
      return "";
    case AuthFailure::kMalformed:
      return "the API key is not of the form lh_<id>_<secret>";
    case AuthFailure::kUnknown:
      return "the API key is not valid";
    case AuthFailure::kRevoked:
      return "the API key was revoked";
    case AuthFailure::kExpired:
      return "the API key has expired";
  }
  return "the API key is not valid";
}

struct KeyStore::Impl {
  Impl(storaged::ObjectStore& s, std::chrono::milliseconds r) : store(s), refresh(r) {}

  storaged::ObjectStore& store;
  std::chrono::milliseconds refresh;
  mutable std::shared_mutex mu;
  std::map<std::string, KeyRecord, std::less<>> keys;  //!< by id
  std::mutex write_mu;                                 //!< one Create/Revoke/Refresh at a time
  std::unique_ptr<PeriodicThread> refresher;           //!< re-reads the keys every `refresh`

  void Store(KeyRecord record) {
    SetPrincipal(record);
    std::unique_lock lock(mu);
    keys[record.info.id] = std::move(record);
  }

  void Reload() {
    std::lock_guard writing(write_mu);
    std::map<std::string, KeyRecord, std::less<>> next;
    {
      std::shared_lock lock(mu);
      next = keys;
    }
    std::map<std::string, KeyRecord, std::less<>> fresh;
    for (const auto& info : store.ListAll(catalogd::kApiKeysPrefix)) {
      std::string_view file = std::string_view(info.key).substr(catalogd::kApiKeysPrefix.size());
      if (!file.ends_with(".json")) continue;
      std::string id(file.substr(0, file.size() - 5));
      if (auto it = next.find(id); it != next.end() && it->second.etag == info.etag) {
        fresh[id] = std::move(it->second);
        continue;
      }
      try {
        KeyRecord record = FromJson(json::parse(store.GetBytes(info.key)));
        if (record.info.id != id) continue;
        record.etag = info.etag;
        SetPrincipal(record);
        fresh[id] = std::move(record);
      } catch (const Error& e) {
        if (e.code() == ErrorCode::kNotFound) continue;  // deleted since the listing
        throw;
      } catch (const std::exception& e) {
        log::Warn("unreadable API key object skipped", {{"key", info.key}, {"error", e.what()}});
      }
    }
    std::unique_lock lock(mu);
    keys = std::move(fresh);
  }

  void ReloadOrKeep() {
    try {
      Reload();
    } catch (const std::exception& e) {
      log::Warn("API keys could not be re-read; the last known keys stay in force", {{"error", e.what()}});
    }
  }
};

KeyStore::KeyStore(storaged::ObjectStore& store, std::chrono::milliseconds refresh)
    : impl_(std::make_shared<Impl>(store, refresh)) {
  impl_->Reload();
  impl_->refresher = std::make_unique<PeriodicThread>(
      "API key refresh", refresh, [impl = impl_.get()] { impl->ReloadOrKeep(); },
      PeriodicThread::First::kAfterInterval);
}

KeyStore::~KeyStore() { impl_->refresher.reset(); }

void KeyStore::Refresh() { impl_->Reload(); }

KeyStore::Created KeyStore::Create(Role role, std::vector<std::string> datasets, std::optional<int64_t> expires_ms,
                                   std::string name) {
  auto created = Make(RandomHexId().substr(0, kIdChars), role, std::move(datasets), expires_ms, std::move(name));
  if (!created) Fail(ErrorCode::kConflict, "key id collision; try again");
  return *std::move(created);
}

std::optional<KeyStore::Created> KeyStore::CreateFirstAdmin(std::string name) {
  return Make(std::string(kIdChars, '0'), Role::kAdmin, {}, std::nullopt, std::move(name));
}

std::optional<KeyStore::Created> KeyStore::Make(std::string id, Role role, std::vector<std::string> datasets,
                                                std::optional<int64_t> expires_ms, std::string name) {
  if (name.size() > 200) Fail(ErrorCode::kInvalidArgument, "a key's name is at most 200 characters");
  const int64_t now = NowMs();
  if (expires_ms && *expires_ms <= now) Fail(ErrorCode::kInvalidArgument, "the expiry is in the past");
  KeyRecord record;
  record.info.id = std::move(id);
  record.info.role = role;
  record.info.datasets = std::move(datasets);
  record.info.name = std::move(name);
  record.info.created_ms = now;
  record.info.expires_ms = expires_ms;
  const std::string secret = RandomHexId() + RandomHexId();  // 2 x 128 bits from OpenSSL's RAND_bytes
  record.secret_sha256 = Sha256Hex(secret);
  std::lock_guard writing(impl_->write_mu);
  auto stored = impl_->store.PutIfAbsent(catalogd::ApiKeyObjectKey(record.info.id), ToJson(record).dump());
  if (!stored) return std::nullopt;
  record.etag = stored->etag;
  Created created{record.info, std::string(kTokenPrefix) + record.info.id + "_" + secret};
  impl_->Store(std::move(record));
  return created;
}

std::vector<ApiKeyInfo> KeyStore::List() const {
  std::vector<ApiKeyInfo> out;
  {
    std::shared_lock lock(impl_->mu);
    for (const auto& [id, record] : impl_->keys) out.push_back(record.info);
  }
  std::stable_sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.created_ms < b.created_ms; });
  return out;
}

ApiKeyInfo KeyStore::Revoke(const std::string& id) {
  std::lock_guard writing(impl_->write_mu);
  const std::string object = catalogd::ApiKeyObjectKey(id);
  KeyRecord record;
  try {
    record = FromJson(json::parse(impl_->store.GetBytes(object)));  // the stored one: another process may have written
  } catch (const Error& e) {
    if (e.code() == ErrorCode::kNotFound) Fail(ErrorCode::kNotFound, "no API key with id '{}'", id);
    throw;
  }
  if (!record.info.revoked_ms) record.info.revoked_ms = NowMs();
  record.etag = impl_->store.PutBytes(object, ToJson(record).dump()).etag;
  ApiKeyInfo info = record.info;
  impl_->Store(std::move(record));
  return info;
}

std::shared_ptr<const Principal> KeyStore::Authenticate(std::string_view token, AuthFailure* failure) const {
  AuthFailure ignored = AuthFailure::kNone;
  AuthFailure& why = failure != nullptr ? *failure : ignored;
  auto parts = SplitToken(token);
  if (!parts) {
    why = AuthFailure::kMalformed;
    return nullptr;
  }
  const std::string presented = Sha256Hex(parts->second);
  std::shared_lock lock(impl_->mu);
  auto it = impl_->keys.find(parts->first);
  if (it == impl_->keys.end() || !ConstantTimeEquals(presented, it->second.secret_sha256)) {
    why = AuthFailure::kUnknown;
    return nullptr;
  }
  const KeyRecord& record = it->second;
  if (record.info.revoked_ms) {
    why = AuthFailure::kRevoked;
    return nullptr;
  }
  if (record.info.expires_ms && *record.info.expires_ms <= NowMs()) {
    why = AuthFailure::kExpired;
    return nullptr;
  }
  why = AuthFailure::kNone;
  return record.principal;
}

size_t KeyStore::CountUsable() const {
  const int64_t now = NowMs();
  std::shared_lock lock(impl_->mu);
  return static_cast<size_t>(std::count_if(impl_->keys.begin(), impl_->keys.end(), [&](const auto& entry) {
    const ApiKeyInfo& info = entry.second.info;
    return !info.revoked_ms && (!info.expires_ms || *info.expires_ms > now);
  }));
}

}  // namespace lakehouse::gateway
