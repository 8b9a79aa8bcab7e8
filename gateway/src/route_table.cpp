#include "route_table.h"

#include <chrono>
#include <memory>
#include <set>
#include <utility>

#include "admission.h"
#include "lakehouse/shared/error.h"
#include "routes.h"

namespace lakehouse::gateway {

const std::vector<RouteEntry>& RouteTable() {
  using enum RouteKind;
  static const std::vector<RouteEntry> kRoutes = {
      // method, path, area, handler, bound handler, kind
      {"GET", "/health", "health", "Server (server.cpp)", nullptr, kInline},
      {"GET", "/ready", "health", "Server (server.cpp)", nullptr, kInline},

      {"POST", "/api/v1/datasets/{name}", "datasets", "CreateDataset", CreateDataset, kUpload},
      {"POST", "/api/v1/datasets/{name}/append", "datasets", "AppendDataset", AppendDataset, kUpload},
      {"PUT", "/api/v1/datasets/{name}", "datasets", "ReplaceDataset", ReplaceDataset, kUpload},
      {"DELETE", "/api/v1/datasets/{name}", "datasets", "DeleteDataset", DeleteDataset},
      {"GET", "/api/v1/datasets", "datasets", "ListDatasets", ListDatasets},
      {"GET", "/api/v1/datasets/{name}", "datasets", "GetDataset", GetDataset},
      {"GET", "/api/v1/datasets/{name}/versions", "datasets", "ListVersions", ListVersions},
      {"GET", "/api/v1/datasets/{name}/versions/{n}", "datasets", "GetVersion", GetVersion},
      {"GET", "/api/v1/datasets/{name}/data", "datasets", "GetDatasetData", GetDatasetData},
      {"POST", "/api/v1/datasets/{name}/compact", "datasets", "CompactDataset", CompactDataset},
      {"POST", "/api/v1/datasets/{name}/register", "datasets", "RegisterFiles", RegisterFiles},
      {"PUT", "/api/v1/datasets/{name}/retention", "datasets", "SetRetention", SetRetention},
      {"POST", "/api/v1/gc", "datasets", "CollectGarbage", CollectGarbage},

      {"GET", "/api/v1/objects/{key...}", "objects", "GetObject", GetObject},
      {"PUT", "/api/v1/objects/{key...}", "objects", "PutObject", PutObject, kUpload},

      {"POST", "/api/v1/query", "query", "PostQuery", PostQuery},
      {"GET", "/api/v1/datasets/{name}/preview", "query", "GetPreview", GetPreview},

      {"POST", "/api/v1/ai/embed", "ai", "Embed", Embed, kAi},
      {"POST", "/api/v1/ai/generate", "ai", "Generate", Generate, kAi},
      {"POST", "/api/v1/ai/rerank", "ai", "Rerank", Rerank, kAi},
      {"GET", "/api/v1/ai/health", "ai", "AiHealth", AiHealth, kInline},
      {"POST", "/api/v1/datasets/{name}/embeddings", "ai", "StartEmbeddings", StartEmbeddings},
      {"GET", "/api/v1/ai/jobs", "ai", "ListJobs", ListJobs},
      {"GET", "/api/v1/ai/jobs/{id}", "ai", "GetJob", GetJob},
      {"DELETE", "/api/v1/ai/jobs/{id}", "ai", "CancelJob", CancelJob},
      {"POST", "/api/v1/search", "ai", "RunSearch", RunSearch},

      {"GET", "/iceberg/v1/config", "iceberg", "IcebergConfig (routes_iceberg.cpp)"},
      {"GET", "/iceberg/v1/namespaces", "iceberg", "ListNamespaces (routes_iceberg.cpp)"},
      {"POST", "/iceberg/v1/namespaces", "iceberg", "Unsupported (routes_iceberg.cpp)"},
      {"HEAD", "/iceberg/v1/namespaces/{namespace}", "iceberg", "GetNamespace (routes_iceberg.cpp)"},
      {"GET", "/iceberg/v1/namespaces/{namespace}", "iceberg", "GetNamespace (routes_iceberg.cpp)"},
      {"DELETE", "/iceberg/v1/namespaces/{namespace}", "iceberg", "Unsupported (routes_iceberg.cpp)"},
      {"POST", "/iceberg/v1/namespaces/{namespace}/properties", "iceberg", "Unsupported (routes_iceberg.cpp)"},
      {"GET", "/iceberg/v1/namespaces/{namespace}/tables", "iceberg", "ListTables (routes_iceberg.cpp)"},
      {"POST", "/iceberg/v1/namespaces/{namespace}/tables", "iceberg", "Unsupported (routes_iceberg.cpp)"},
      {"POST", "/iceberg/v1/namespaces/{namespace}/register", "iceberg", "Unsupported (routes_iceberg.cpp)"},
      {"HEAD", "/iceberg/v1/namespaces/{namespace}/tables/{table}", "iceberg", "LoadTable (routes_iceberg.cpp)"},
      {"GET", "/iceberg/v1/namespaces/{namespace}/tables/{table}", "iceberg", "LoadTable (routes_iceberg.cpp)"},
      {"POST", "/iceberg/v1/namespaces/{namespace}/tables/{table}", "iceberg", "Unsupported (routes_iceberg.cpp)"},
      {"DELETE", "/iceberg/v1/namespaces/{namespace}/tables/{table}", "iceberg", "Unsupported (routes_iceberg.cpp)"},
      {"POST", "/iceberg/v1/tables/rename", "iceberg", "Unsupported (routes_iceberg.cpp)"},
      {"POST", "/iceberg/v1/transactions/commit", "iceberg", "Unsupported (routes_iceberg.cpp)"},

      {"GET", "/", "ui", "UiIndex (routes_ui.cpp)"},
      {"GET", "/assets/{file...}", "ui", "UiAsset (routes_ui.cpp)"},
      {"GET", "/favicon.svg", "ui", "UiFavicon (routes_ui.cpp)"},
      {"GET", "/datasets", "ui", "UiIndex (routes_ui.cpp)"},
      {"GET", "/datasets/{rest...}", "ui", "UiIndex (routes_ui.cpp)"},
      {"GET", "/sql", "ui", "UiIndex (routes_ui.cpp)"},
      {"GET", "/sql/{rest...}", "ui", "UiIndex (routes_ui.cpp)"},
      {"GET", "/search", "ui", "UiIndex (routes_ui.cpp)"},
      {"GET", "/search/{rest...}", "ui", "UiIndex (routes_ui.cpp)"},
      {"GET", "/status", "ui", "UiIndex (routes_ui.cpp)"},
      {"GET", "/status/{rest...}", "ui", "UiIndex (routes_ui.cpp)"},
      {"GET", "/upload", "ui", "UiIndex (routes_ui.cpp)"},
      {"GET", "/upload/{rest...}", "ui", "UiIndex (routes_ui.cpp)"},
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
