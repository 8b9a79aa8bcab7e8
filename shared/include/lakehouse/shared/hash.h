#pragma once
// The one SHA-256 / HMAC-SHA256 / hex helper of the project (OpenSSL underneath).
#include <memory>
#include <string>
#include <string_view>

namespace lakehouse {

//! Lower-case hex of bytes.
std::string HexEncode(std::string_view bytes);
//! Lower-case hex SHA-256 of bytes.
std::string Sha256Hex(std::string_view bytes);
//! Whether a and b are equal, in time that depends on their length only (secrets, signatures).
bool ConstantTimeEquals(std::string_view a, std::string_view b);
//! Raw (binary) HMAC-SHA256 of `data` under `key`.
std::string HmacSha256(std::string_view key, std::string_view data);

//! Incremental SHA-256, for data that arrives in pieces (movable, not copyable).
class Sha256 {
 public:
  Sha256();
  void Update(std::string_view data);
  //! Lower-case hex digest; the object is spent afterwards.
  std::string HexDigest();

 private:
  struct FreeContext {
    void operator()(void* ctx) const;
  };
  std::unique_ptr<void, FreeContext> ctx_;  //!< EVP_MD_CTX (kept out of this header)
};

}  // namespace lakehouse
