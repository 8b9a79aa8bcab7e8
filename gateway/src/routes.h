#pragma once
// Route registration, one function per area, each defined in its own routes_<area>.cpp.
// The full HTTP API is documented in docs/api.md.
#include "lakehouse/gateway/gateway.h"
#include "lakehouse/shared/error.h"

namespace lakehouse::gateway {

void RegisterDatasetRoutes(Router& router, const Services& services);  // routes_datasets.cpp
void RegisterObjectRoutes(Router& router, const Services& services);   // routes_objects.cpp
void RegisterQueryRoutes(Router& router, const Services& services);    // routes_query.cpp
void RegisterAiRoutes(Router& router, const Services& services);       // routes_ai.cpp
void RegisterIcebergRoutes(Router& router, const Services& services);  // routes_iceberg.cpp

//! Throws Error(kUnavailable) naming `what` when `service` is null.
template <typename T>
T& Require(T* service, const char* what) {
  if (service == nullptr) {
    throw Error(ErrorCode::kUnavailable, std::string(what) + " is not configured on this server");
  }
  return *service;
}

}  // namespace lakehouse::gateway
