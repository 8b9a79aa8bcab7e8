#pragma once
// One error type for the whole system. Its code decides the HTTP status (and, later, the gRPC
// status); its message is written for the user and says what was wrong.
#include <fmt/format.h>

#include <stdexcept>
#include <string>
#include <string_view>

namespace lakehouse {

enum class ErrorCode {
  kInvalidArgument,     // 400: bad input the caller can fix
  kUnauthenticated,     // 401
  kPermissionDenied,    // 403
  kNotFound,            // 404
  kMethodNotAllowed,    // 405
  kTimeout,             // 408: the request ran past its deadline and was cancelled
  kConflict,            // 409: lost a race, or incompatible with current state
  kPreconditionFailed,  // 412
  kPayloadTooLarge,     // 413
  kUnsupportedMedia,    // 415
  kTooManyRequests,     // 429
  kCancelled,           // 499: the client went away
  kInternal,            // 500: a bug or an unexpected failure; logged with the request id
  kNotImplemented,      // 501
  kUnavailable,         // 503: a dependency (storage, sidecar, model) is down
};

//! Every ErrorCode, for mappings and the tests that walk them all.
inline constexpr ErrorCode kAllErrorCodes[] = {
    ErrorCode::kInvalidArgument,  ErrorCode::kUnauthenticated,    ErrorCode::kPermissionDenied,
    ErrorCode::kNotFound,         ErrorCode::kMethodNotAllowed,   ErrorCode::kTimeout,
    ErrorCode::kConflict,         ErrorCode::kPreconditionFailed, ErrorCode::kPayloadTooLarge,
    ErrorCode::kUnsupportedMedia, ErrorCode::kTooManyRequests,    ErrorCode::kCancelled,
    ErrorCode::kInternal,         ErrorCode::kNotImplemented,     ErrorCode::kUnavailable,
};

//! HTTP status for a code.
int HttpStatus(ErrorCode code);
//! Stable snake_case name used in JSON error bodies, e.g. "not_found".
std::string_view CodeName(ErrorCode code);

//! The exception every layer throws for an error that ends the request.
class Error : public std::runtime_error {
 public:
  Error(ErrorCode code, const std::string& message) : std::runtime_error(message), code_(code) {}
  ErrorCode code() const { return code_; }
  int http_status() const { return HttpStatus(code_); }

 private:
  ErrorCode code_;
};

template <typename... Args>
[[noreturn]] void Fail(ErrorCode code, fmt::format_string<Args...> format, Args&&... args) {
  throw Error(code, fmt::format(format, std::forward<Args>(args)...));
}

//! Throws kInvalidArgument with the message unless the condition holds (a user-facing check).
#define LH_USER_CHECK(cond, ...)                                                           \
  do {                                                                                     \
    if (!(cond)) ::lakehouse::Fail(::lakehouse::ErrorCode::kInvalidArgument, __VA_ARGS__); \
  } while (0)

}  // namespace lakehouse
