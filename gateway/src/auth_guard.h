#pragma once
// The router's guard (lakehouse/gateway/http.h Guard): Host and Origin checks, CORS, then the API
// key and the route's permission from route_table.cpp. And the checks handlers make on datasets
// they name in a body or list (docs/adr/0015-auth.md).
#include <cstdint>
#include <string>
#include <string_view>

#include "lakehouse/gateway/auth.h"
#include "lakehouse/gateway/http.h"

namespace lakehouse::gateway {

//! The 403 messages (they name the key id and the dataset, never the secret).
std::string ReadDenied(const Principal& principal, std::string_view dataset);
std::string WriteDenied(const Principal& principal, std::string_view dataset);

//! The guard BuildRouter installs.
Guard MakeAuthGuard(const AuthOptions& options);

//! Whether the request's key may read `dataset` (true when auth is off or the route is public).
bool MayRead(const Request& req, std::string_view dataset);
//! Throws Error(kPermissionDenied) naming the dataset unless the request's key may read it.
void RequireRead(const Request& req, std::string_view dataset);
//! Throws Error(kPermissionDenied) naming the dataset unless the request's key may write it.
void RequireWrite(const Request& req, std::string_view dataset);

//! "30d", "12h", "15m", "90s", "2w" -> milliseconds; throws Error(kInvalidArgument).
int64_t ParseDurationMs(std::string_view text);

}  // namespace lakehouse::gateway
