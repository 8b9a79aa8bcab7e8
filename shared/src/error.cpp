#include "lakehouse/shared/error.h"

namespace lakehouse {

namespace {

//! Every code with its HTTP status and its name in JSON error bodies: one row per code.
struct CodeInfo {
  ErrorCode code;
  int status;
  std::string_view name;
};
constexpr CodeInfo kCodes[] = {
    {ErrorCode::kInvalidArgument, 400, "invalid_argument"},
    {ErrorCode::kUnauthenticated, 401, "unauthenticated"},
    {ErrorCode::kPermissionDenied, 403, "permission_denied"},
    {ErrorCode::kNotFound, 404, "not_found"},
    {ErrorCode::kMethodNotAllowed, 405, "method_not_allowed"},
    {ErrorCode::kTimeout, 408, "timeout"},
    {ErrorCode::kConflict, 409, "conflict"},
    {ErrorCode::kPreconditionFailed, 412, "precondition_failed"},
    {ErrorCode::kPayloadTooLarge, 413, "payload_too_large"},
    {ErrorCode::kUnsupportedMedia, 415, "unsupported_media_type"},
    {ErrorCode::kTooManyRequests, 429, "too_many_requests"},
    {ErrorCode::kCancelled, 499, "cancelled"},
    {ErrorCode::kInternal, 500, "internal"},
    {ErrorCode::kNotImplemented, 501, "not_implemented"},
    {ErrorCode::kUnavailable, 503, "unavailable"},
};

const CodeInfo& Info(ErrorCode code) {
  for (const auto& info : kCodes) {
    if (info.code == code) return info;
  }
  return kCodes[12];  // internal
}

}  // namespace

int HttpStatus(ErrorCode code) { return Info(code).status; }

std::string_view CodeName(ErrorCode code) { return Info(code).name; }

}  // namespace lakehouse
