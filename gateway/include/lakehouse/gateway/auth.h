#pragma once
// Auth of the HTTP API (docs/adr/0015-auth.md, docs/api/auth.md): API keys `lh_<id>_<secret>`
// with a role and dataset grants, kept in object storage (only the SHA-256 of the secret), and the
// browser checks (Host, Origin, CORS). The route table says what each route needs (route_table.cpp).
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace lakehouse::storaged {
class ObjectStore;
}

namespace lakehouse::gateway {

enum class Role { kReader = 0, kWriter = 1, kAdmin = 2 };

//! "reader" | "writer" | "admin"; throws Error(kInvalidArgument) naming the choices.
Role ParseRole(std::string_view name);
std::string_view RoleName(Role role);

//! Whether `pattern` grants `dataset`: "*" grants all, "sales_*" every name starting "sales_",
//! anything else exactly that name.
bool GrantMatches(std::string_view pattern, std::string_view dataset);
//! Splits "sales, web_*" into patterns and validates each (a dataset name, optionally ending in *;
//! "*" alone). Throws Error(kInvalidArgument) saying which is wrong.
std::vector<std::string> ParseGrants(std::string_view text);

//! Who a request is: the key it authenticated with (never its secret).
struct Principal {
  std::string key_id;
  Role role = Role::kReader;
  std::vector<std::string> datasets;  //!< grant patterns; an admin is granted every dataset
  //! A key may read a dataset it is granted; an admin every dataset.
  bool MayRead(std::string_view dataset) const;
  //! ... and write it when it is a writer (or admin).
  bool MayWrite(std::string_view dataset) const;
  bool IsAdmin() const { return role == Role::kAdmin; }
};

//! An API key as listed (no secret, no hash).
struct ApiKeyInfo {
  std::string id;
  Role role = Role::kReader;
  std::vector<std::string> datasets;
  std::string name;  //!< free text given at creation
  int64_t created_ms = 0;
  std::optional<int64_t> expires_ms;
  std::optional<int64_t> revoked_ms;
};

//! Why a token was refused (the 401's message; never contains the token).
enum class AuthFailure { kNone, kMalformed, kUnknown, kRevoked, kExpired };
std::string_view AuthFailureMessage(AuthFailure failure);

//! The API keys, kept under catalogd's `_auth/keys/` prefix (catalogd::ApiKeyObjectKey): one JSON
//! object per key holding the SHA-256 of its 256-bit secret. Every process over the same store sees
//! the same keys: a background thread re-reads the prefix every `refresh` (a key created or revoked
//! by another process takes effect here within that bound); keys created or revoked through this
//! store take effect at once. Authenticate never does I/O (it runs on the server's I/O threads).
class KeyStore {
 public:
  KeyStore(storaged::ObjectStore& store, std::chrono::milliseconds refresh);
  ~KeyStore();
  KeyStore(const KeyStore&) = delete;
  KeyStore& operator=(const KeyStore&) = delete;

  struct Created {
    ApiKeyInfo info;
    std::string token;  //!< lh_<id>_<secret>: shown once, never stored
  };
  //! A new key (secret from OpenSSL's CSPRNG). `datasets` are grant patterns (ParseGrants).
  Created Create(Role role, std::vector<std::string> datasets, std::optional<int64_t> expires_ms,
                 std::string name = {});
  //! The first admin key of a deployment, under one fixed id, so that of several processes starting
  //! together on empty storage exactly one makes it (put-if-absent); the others get nullopt.
  std::optional<Created> CreateFirstAdmin(std::string name);
  //! Every key, revoked ones included, oldest first.
  std::vector<ApiKeyInfo> List() const;
  //! Marks the key revoked (kept for the audit trail). Throws Error(kNotFound) for an unknown id.
  ApiKeyInfo Revoke(const std::string& id);
  //! The principal of a token, or nullptr with the reason in `failure`. Constant time in the secret.
  std::shared_ptr<const Principal> Authenticate(std::string_view token, AuthFailure* failure = nullptr) const;
  //! Keys that are neither revoked nor expired.
  size_t CountUsable() const;
  //! Re-reads every key from storage now (the background thread does it every `refresh`).
  void Refresh();

 private:
  //! Stores a new key under `id`; nullopt when a key with that id exists.
  std::optional<Created> Make(std::string id, Role role, std::vector<std::string> datasets,
                              std::optional<int64_t> expires_ms, std::string name);
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

//! The settings of the auth guard (Services::auth). With `enabled` false every route is public,
//! but the Host and Origin checks still apply (they guard against DNS rebinding and cross-site
//! requests, which matter most then).
struct AuthOptions {
  bool enabled = false;  //!< the binary's default is on (auth.enabled); tests of other areas run without
  KeyStore* keys = nullptr;
  std::string scrape_token;  //!< also accepted on "key or scrape token" routes (/ready, /metrics)
  //! Host header names accepted besides localhost, 127.0.0.1 and [::1] (the listen host and the
  //! public URL's host are added by the binary); "*" accepts any.
  std::vector<std::string> allowed_hosts;
  //! Origins (scheme://host[:port]) allowed to make cross-origin requests (CORS). The server's own
  //! origin (same as the Host header) is always allowed.
  std::vector<std::string> allowed_origins;
};

}  // namespace lakehouse::gateway
