#pragma once
// The route handlers of every area, each defined in its routes_<area>.cpp. Which path and method
// reach which handler is listed in one place: route_table.cpp (docs/api.md is checked against it).
#include "lakehouse/gateway/gateway.h"
#include "lakehouse/shared/error.h"

namespace lakehouse::gateway {

//! What every handler is: a function of the services and one request.
using RouteFunction = void(const Services& services, Request& req, Response& res);

RouteFunction CreateDataset, AppendDataset, ReplaceDataset, DeleteDataset, ListDatasets, GetDataset, ListVersions,
    GetVersion, GetDatasetData;  // routes_datasets.cpp
RouteFunction CompactDataset, RegisterFiles, SetRetention,
    CollectGarbage;                   // routes_datasets_maintenance.cpp
RouteFunction GetObject, PutObject;   // routes_objects.cpp
RouteFunction PostQuery, GetPreview;  // routes_query.cpp
RouteFunction Embed, Generate, Rerank, AiHealth, StartEmbeddings, ListJobs, GetJob, CancelJob,
    RunSearch;                                         // routes_ai.cpp
RouteFunction CreateKey, ListKeys, RevokeKey, WhoAmI;  // routes_auth.cpp
RouteFunction GetMetrics;                              // routes_telemetry.cpp
// routes_ui.cpp and routes_iceberg.cpp register their routes themselves (the table lists them;
// BuildRouter checks they match).
void RegisterUiRoutes(Router& router, const Services& services);
void RegisterIcebergRoutes(Router& router, const Services& services);

//! Throws Error(kUnavailable) naming `what` when `service` is null.
template <typename T>
T& Require(T* service, const char* what) {
  if (service == nullptr) {
    throw Error(ErrorCode::kUnavailable, std::string(what) + " is not configured on this server");
  }
  return *service;
}

}  // namespace lakehouse::gateway
