// The Iceberg REST catalog (the Iceberg REST OpenAPI spec), read-only, under /iceberg/v1.
// One namespace, "default", holds every live dataset as a table. Errors use the spec's error
// model ({"error": {"message", "type", "code"}}); writes answer 406 UnsupportedOperationException.
// Documented in docs/api/iceberg.md.
#include <nlohmann/json.hpp>

#include "auth_guard.h"
#include "lakehouse/catalogd/catalog.h"
#include "lakehouse/iceberg/iceberg.h"
#include "lakehouse/shared/logging.h"
#include "routes.h"

namespace lakehouse::gateway {

namespace {

using nlohmann::json;

constexpr std::string_view kNamespace = "default";

//! The exception type name the spec's error model carries for a status.
std::string_view ErrorType(int status, bool table) {
  switch (status) {
    case 400:
      return "BadRequestException";
    case 404:
      return table ? "NoSuchTableException" : "NoSuchNamespaceException";
    case 406:
      return "UnsupportedOperationException";
    case 503:
      return "ServiceUnavailableException";
    default:
      return status >= 500 ? "InternalServerError" : "RESTException";
  }
}

void IcebergError(Response& res, int status, bool table, const std::string& message) {
  res.Json(status, {{"error", {{"message", message}, {"type", ErrorType(status, table)}, {"code", status}}}});
}

//! Runs `body`, answering errors in the Iceberg error model instead of the gateway's.
template <typename Body>
Handler Iceberg(const Services& services, bool table, Body body) {
  return [services, table, body](Request& req, Response& res) {
    try {
      auto& tables = Require(services.iceberg, "the Iceberg catalog");
      if (!tables.enabled()) {
        Fail(ErrorCode::kUnavailable, "Iceberg metadata is disabled on this server (iceberg.enabled = false)");
      }
      body(tables, req, res);
    } catch (const Error& e) {
      if (res.started()) throw;
      if (e.http_status() >= 500) {
        log::Error("iceberg request failed", {{"request_id", req.request_id()}, {"error", e.what()}});
      }
      IcebergError(res, e.http_status(), table, e.what());
    }
  };
}

void CheckNamespace(const Request& req) {
  const std::string& ns = req.Param("namespace");
  if (ns != kNamespace) {
    Fail(ErrorCode::kNotFound, "Namespace does not exist: {} (this catalog has one namespace, '{}')", ns.substr(0, 80),
         kNamespace);
  }
}

//! The dataset a table name names; 404 NoSuchTableException when it is not a valid dataset name.
std::string TableParam(const Request& req) {
  const std::string& name = req.Param("table");
  if (!DatasetId::IsValid(name))
    Fail(ErrorCode::kNotFound, "Table does not exist: {}.{}", kNamespace, name.substr(0, 80));
  return name;
}

void Unsupported(iceberg::IcebergTables&, Request& req, Response& res) {
  IcebergError(res, 406, false,
               fmt::format("{} {} is not supported: this catalog is read-only; write through /api/v1/datasets",
                           req.method(), req.path()));
}

}  // namespace

void RegisterIcebergRoutes(Router& router, const Services& services) {
  router.Add(
      "GET", "/iceberg/v1/config", Iceberg(services, false, [](iceberg::IcebergTables&, Request&, Response& res) {
        res.Json(200, {{"defaults", json::object()},
                       {"overrides", json::object()},
                       {"endpoints",
                        {"GET /v1/{prefix}/namespaces", "GET /v1/{prefix}/namespaces/{namespace}",
                         "HEAD /v1/{prefix}/namespaces/{namespace}", "GET /v1/{prefix}/namespaces/{namespace}/tables",
                         "GET /v1/{prefix}/namespaces/{namespace}/tables/{table}",
                         "HEAD /v1/{prefix}/namespaces/{namespace}/tables/{table}"}}});
      }));

  router.Add("GET", "/iceberg/v1/namespaces",
             Iceberg(services, false, [](iceberg::IcebergTables&, Request& req, Response& res) {
               json namespaces = json::array();
               auto parent = req.Query("parent");
               if (!parent || parent->empty()) namespaces.push_back(json::array({kNamespace}));
               res.Json(200, {{"namespaces", namespaces}});
             }));
  router.Add("POST", "/iceberg/v1/namespaces", Iceberg(services, false, Unsupported));

  auto namespace_handler = Iceberg(services, false, [](iceberg::IcebergTables&, Request& req, Response& res) {
    CheckNamespace(req);
    if (req.method() == "HEAD") {
      res.Send(204, "", "application/json");
      return;
    }
    res.Json(200, {{"namespace", json::array({kNamespace})}, {"properties", json::object()}});
  });
  router.Add("HEAD", "/iceberg/v1/namespaces/{namespace}", namespace_handler);
  router.Add("GET", "/iceberg/v1/namespaces/{namespace}", namespace_handler);
  router.Add("DELETE", "/iceberg/v1/namespaces/{namespace}", Iceberg(services, false, Unsupported));
  router.Add("POST", "/iceberg/v1/namespaces/{namespace}/properties", Iceberg(services, false, Unsupported));

  router.Add("GET", "/iceberg/v1/namespaces/{namespace}/tables",
             Iceberg(services, false, [services](iceberg::IcebergTables&, Request& req, Response& res) {
               CheckNamespace(req);
               json identifiers = json::array();
               for (const auto& d : Require(services.catalog, "catalog").List()) {
                 if (!MayRead(req, d.name)) continue;  // a key lists the tables it is granted
                 identifiers.push_back({{"namespace", json::array({kNamespace})}, {"name", d.name}});
               }
               res.Json(200, {{"identifiers", identifiers}});
             }));
  router.Add("POST", "/iceberg/v1/namespaces/{namespace}/tables", Iceberg(services, false, Unsupported));
  router.Add("POST", "/iceberg/v1/namespaces/{namespace}/register", Iceberg(services, false, Unsupported));

  auto table_handler = Iceberg(services, true, [](iceberg::IcebergTables& tables, Request& req, Response& res) {
    CheckNamespace(req);
    iceberg::LoadedTable table = tables.Load(TableParam(req));
    if (req.method() == "HEAD") {
      res.Send(204, "", "application/json");
      return;
    }
    res.Json(200,
             {{"metadata-location", table.metadata_location}, {"metadata", table.metadata}, {"config", table.config}});
  });
  router.Add("HEAD", "/iceberg/v1/namespaces/{namespace}/tables/{table}", table_handler);
  router.Add("GET", "/iceberg/v1/namespaces/{namespace}/tables/{table}", table_handler);
  router.Add("POST", "/iceberg/v1/namespaces/{namespace}/tables/{table}", Iceberg(services, true, Unsupported));
  router.Add("DELETE", "/iceberg/v1/namespaces/{namespace}/tables/{table}", Iceberg(services, true, Unsupported));
  router.Add("POST", "/iceberg/v1/tables/rename", Iceberg(services, true, Unsupported));
  router.Add("POST", "/iceberg/v1/transactions/commit", Iceberg(services, true, Unsupported));
}

}  // namespace lakehouse::gateway
