#include "route_table.h"

#include <chrono>
#include <memory>
#include <set>
#include <utility>

#include "admission.h"
#include "auth_guard.h"
#include "lakehouse/shared/error.h"
#include "routes.h"

namespace lakehouse::gateway {

const std::vector<RouteEntry>& RouteTable() {
  using enum RouteKind;
  using enum Permission;
  static const std::vector<RouteEntry> kRoutes = {
      // method, path, permission (auth_guard.cpp), area, handler, bound handler, kind
      {"GET", "/health", kPublic, "health", "Server (server.cpp)", nullptr, kInline},
      {"GET", "/ready", kScrape, "health", "Server (server.cpp)", nullptr, kInline},
      {"GET", "/metrics", kScrape, "telemetry", "GetMetrics", GetMetrics, kInline},

      {"POST", "/api/v1/datasets/{name}", kWriteDataset, "datasets", "CreateDataset", CreateDataset, kUpload},
      {"POST", "/api/v1/datasets/{name}/append", kWriteDataset, "datasets", "AppendDataset", AppendDataset, kUpload},
      {"PUT", "/api/v1/datasets/{name}", kWriteDataset, "datasets", "ReplaceDataset", ReplaceDataset, kUpload},
      {"DELETE", "/api/v1/datasets/{name}", kWriteDataset, "datasets", "DeleteDataset", DeleteDataset},
      {"GET", "/api/v1/datasets", kRead, "datasets", "ListDatasets", ListDatasets},
      {"GET", "/api/v1/datasets/{name}", kReadDataset, "datasets", "GetDataset", GetDataset},
      {"GET", "/api/v1/datasets/{name}/versions", kReadDataset, "datasets", "ListVersions", ListVersions},
      {"GET", "/api/v1/datasets/{name}/versions/{n}", kReadDataset, "datasets", "GetVersion", GetVersion},
      {"GET", "/api/v1/datasets/{name}/data", kReadDataset, "datasets", "GetDatasetData", GetDatasetData},
      {"POST", "/api/v1/datasets/{name}/compact", kWriteDataset, "datasets", "CompactDataset", CompactDataset},
      {"POST", "/api/v1/datasets/{name}/register", kWriteDataset, "datasets", "RegisterFiles", RegisterFiles},
      {"PUT", "/api/v1/datasets/{name}/retention", kWriteDataset, "datasets", "SetRetention", SetRetention},
      {"POST", "/api/v1/gc", kAdmin, "datasets", "CollectGarbage", CollectGarbage},

      {"GET", "/api/v1/objects/{key...}", kPublic, "objects", "GetObject", GetObject},
      {"PUT", "/api/v1/objects/{key...}", kPublic, "objects", "PutObject", PutObject, kUpload},

      {"POST", "/api/v1/query", kRead, "query", "PostQuery", PostQuery},
      {"GET", "/api/v1/datasets/{name}/preview", kReadDataset, "query", "GetPreview", GetPreview},

      {"POST", "/api/v1/ai/embed", kRead, "ai", "Embed", Embed, kAi},
      {"POST", "/api/v1/ai/generate", kRead, "ai", "Generate", Generate, kAi},
      {"POST", "/api/v1/ai/rerank", kRead, "ai", "Rerank", Rerank, kAi},
      {"GET", "/api/v1/ai/health", kRead, "ai", "AiHealth", AiHealth, kInline},
      {"POST", "/api/v1/datasets/{name}/embeddings", kWriteDataset, "ai", "StartEmbeddings", StartEmbeddings},
      {"GET", "/api/v1/ai/jobs", kRead, "ai", "ListJobs", ListJobs},
      {"GET", "/api/v1/ai/jobs/{id}", kRead, "ai", "GetJob", GetJob},
      {"DELETE", "/api/v1/ai/jobs/{id}", kWrite, "ai", "CancelJob", CancelJob},
      {"POST", "/api/v1/search", kRead, "ai", "RunSearch", RunSearch},

      {"POST", "/api/v1/keys", kAdmin, "auth", "CreateKey", CreateKey},
      {"GET", "/api/v1/keys", kAdmin, "auth", "ListKeys", ListKeys},
      {"DELETE", "/api/v1/keys/{id}", kAdmin, "auth", "RevokeKey", RevokeKey},
      {"GET", "/api/v1/whoami", kRead, "auth", "WhoAmI", WhoAmI},

      {"GET", "/iceberg/v1/config", kRead, "iceberg", "IcebergConfig (routes_iceberg.cpp)"},
      {"GET", "/iceberg/v1/namespaces", kRead, "iceberg", "ListNamespaces (routes_iceberg.cpp)"},
      {"POST", "/iceberg/v1/namespaces", kWrite, "iceberg", "Unsupported (routes_iceberg.cpp)"},
      {"HEAD", "/iceberg/v1/namespaces/{namespace}", kRead, "iceberg", "GetNamespace (routes_iceberg.cpp)"},
      {"GET", "/iceberg/v1/namespaces/{namespace}", kRead, "iceberg", "GetNamespace (routes_iceberg.cpp)"},
      {"DELETE", "/iceberg/v1/namespaces/{namespace}", kWrite, "iceberg", "Unsupported (routes_iceberg.cpp)"},
      {"POST", "/iceberg/v1/namespaces/{namespace}/properties", kWrite, "iceberg", "Unsupported (routes_iceberg.cpp)"},
      {"GET", "/iceberg/v1/namespaces/{namespace}/tables", kRead, "iceberg", "ListTables (routes_iceberg.cpp)"},
      {"POST", "/iceberg/v1/namespaces/{namespace}/tables", kWrite, "iceberg", "Unsupported (routes_iceberg.cpp)"},
      {"POST", "/iceberg/v1/namespaces/{namespace}/register", kWrite, "iceberg", "Unsupported (routes_iceberg.cpp)"},
      {"HEAD", "/iceberg/v1/namespaces/{namespace}/tables/{table}", kReadDataset, "iceberg",
       "LoadTable (routes_iceberg.cpp)"},
      {"GET", "/iceberg/v1/namespaces/{namespace}/tables/{table}", kReadDataset, "iceberg",
       "LoadTable (routes_iceberg.cpp)"},
      {"POST", "/iceberg/v1/namespaces/{namespace}/tables/{table}", kWriteDataset, "iceberg",
       "Unsupported (routes_iceberg.cpp)"},
      {"DELETE", "/iceberg/v1/namespaces/{namespace}/tables/{table}", kWriteDataset, "iceberg",
       "Unsupported (routes_iceberg.cpp)"},
      {"POST", "/iceberg/v1/tables/rename", kWrite, "iceberg", "Unsupported (routes_iceberg.cpp)"},
      {"POST", "/iceberg/v1/transactions/commit", kWrite, "iceberg", "Unsupported (routes_iceberg.cpp)"},

      {"GET", "/", kPublic, "ui", "UiIndex (routes_ui.cpp)"},
      {"GET", "/assets/{file...}", kPublic, "ui", "UiAsset (routes_ui.cpp)"},
      {"GET", "/favicon.svg", kPublic, "ui", "UiFavicon (routes_ui.cpp)"},
      {"GET", "/datasets", kPublic, "ui", "UiIndex (routes_ui.cpp)"},
      {"GET", "/datasets/{rest...}", kPublic, "ui", "UiIndex (routes_ui.cpp)"},
      {"GET", "/sql", kPublic, "ui", "UiIndex (routes_ui.cpp)"},
      {"GET", "/sql/{rest...}", kPublic, "ui", "UiIndex (routes_ui.cpp)"},
      {"GET", "/search", kPublic, "ui", "UiIndex (routes_ui.cpp)"},
      {"GET", "/search/{rest...}", kPublic, "ui", "UiIndex (routes_ui.cpp)"},
      {"GET", "/status", kPublic, "ui", "UiIndex (routes_ui.cpp)"},
      {"GET", "/status/{rest...}", kPublic, "ui", "UiIndex (routes_ui.cpp)"},
      {"GET", "/upload", kPublic, "ui", "UiIndex (routes_ui.cpp)"},
      {"GET", "/upload/{rest...}", kPublic, "ui", "UiIndex (routes_ui.cpp)"},
  };
  return kRoutes;
}

Router BuildRouter(const Services& given) {
  Services services = given;
  if (!services.admission) {
    services.admission = std::make_shared<QueryAdmission>(services.max_concurrent_queries, services.max_queued_queries,
                                                          std::chrono::milliseconds(services.max_queue_wait_ms));
  }
  Router router;
  for (const auto& route : RouteTable()) {
    if (route.bind == nullptr) continue;
    RouteOptions options;
    options.inline_handler = route.kind == RouteKind::kInline;
    if (route.kind == RouteKind::kUpload) options.max_body_bytes = services.max_upload_bytes;
    if (route.kind == RouteKind::kAi) options.max_body_bytes = kAiBodyLimit;
    router.Add(
        route.method, route.path,
        [services, bind = route.bind](Request& req, Response& res) { bind(services, req, res); }, options);
  }
  RegisterIcebergRoutes(router, services);
  RegisterUiRoutes(router, services);
  router.SetGuard(MakeAuthGuard(services.auth));

  // Routes registered by their owners must be the table's, and no other.
  std::set<std::pair<std::string, std::string>> expected;
  for (const auto& route : RouteTable()) {
    if (route.area != "health") expected.emplace(route.method, route.path);
  }
  std::set<std::pair<std::string, std::string>> registered;
  for (const auto& [method, pattern] : router.List()) {
    if (!expected.contains({method, pattern})) {
      Fail(ErrorCode::kInternal, "route {} {} is registered but not listed in gateway/src/route_table.cpp", method,
           pattern);
    }
    registered.emplace(method, pattern);
  }
  for (const auto& [method, path] : expected) {
    if (!registered.contains({method, path})) {
      Fail(ErrorCode::kInternal, "route {} {} is listed in gateway/src/route_table.cpp but nothing serves it", method,
           path);
    }
  }
  return router;
}

}  // namespace lakehouse::gateway
