// Query routes: SQL over datasets, and a dataset preview. Documented in docs/api/query.md.
//   POST /api/v1/query                       {"sql", "format", "limit", "timeout_ms"}
//   GET  /api/v1/datasets/{name}/preview     ?limit=n&format=json|ndjson|csv|arrow|parquet
// Results stream (chunked) as the engine produces them; errors found before the first row are
// ordinary JSON errors with their status (400 SQL, 404 unknown table, 408 timeout).
#include <charconv>
#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>

#include "admission.h"
#include "auth_guard.h"
#include "lakehouse/queryd/query.h"
#include "params.h"
#include "routes.h"

namespace lakehouse::gateway {

namespace {

using nlohmann::json;

constexpr uint64_t kDefaultPreviewRows = 100;
constexpr uint64_t kMaxPreviewRows = 10000;

//! Adapts the HTTP response to the engine's sink.
class ResponseSink final : public queryd::ResultSink {
 public:
  explicit ResponseSink(Response& res) : res_(res) {}
  void Begin(std::string_view content_type) override {
    res_.SetHeader("Cache-Control", "no-store");
    res_.Begin(200, content_type);
  }
  bool Write(std::string_view bytes) override { return res_.Write(bytes); }
  bool WriteLast(std::string_view bytes) override { return res_.WriteAndEnd(bytes); }
  bool ClientGone() override { return res_.ClientGone(); }

 private:
  Response& res_;
};

//! Format precedence: explicit (body field or ?format=), then the Accept header, then JSON.
queryd::ResultFormat ChooseFormat(const Request& req, const std::optional<std::string>& explicit_format) {
  if (explicit_format && !explicit_format->empty()) return queryd::ParseResultFormat(*explicit_format);
  if (auto query_format = req.Query("format"); query_format && !query_format->empty()) {
    return queryd::ParseResultFormat(*query_format);
  }
  if (auto accept = req.Header("Accept")) {
    if (auto format = queryd::FormatFromAccept(*accept)) return *format;
  }
  return queryd::ResultFormat::kJson;
}

void Run(const Services& services, queryd::QueryEngine& engine, queryd::QueryRequest request, Response& res) {
  QueryAdmission& lanes = *services.admission;  // BuildRouter made it
  const bool light = IsLightQuery(request.sql);
  Admission& lane = light ? lanes.light : lanes.heavy;
  request.background = !light;  // heavy: run by queryd's lower-priority workers, not this thread
  std::optional<Admission::Slot> slot;
  try {
    slot.emplace(lane.Enter());
  } catch (const Error&) {
    res.SetHeader("Retry-After", "1");  // with the 429/503
    throw;
  }
  ResponseSink sink(res);
  engine.Execute(request, sink);
  res.End();
}

//! The request with the caller's grants: queryd refuses (403) a dataset they do not cover, where
//! it resolves names (views, CTEs, subqueries, dataset_version, lakehouse:// paths alike).
void AddGrants(const Request& req, queryd::QueryRequest& request) {
  if (const Principal* p = req.principal()) {
    request.may_read = [principal = *p](std::string_view dataset) { return principal.MayRead(dataset); };
    request.principal = "API key " + p->key_id;
  }
}

}  // namespace

void PostQuery(const Services& services, Request& req, Response& res) {
  auto& engine = Require(services.query, "the query engine");
  const json body = req.ReadJson();
  queryd::QueryRequest request;
  auto sql = body.find("sql");
  LH_USER_CHECK(sql != body.end() && sql->is_string(), "body needs \"sql\": a string with one read-only statement");
  request.sql = sql->get<std::string>();
  std::optional<std::string> format;
  if (auto f = body.find("format"); f != body.end() && !f->is_null()) {
    LH_USER_CHECK(f->is_string(), "\"format\" must be one of \"json\", \"ndjson\", \"csv\", \"arrow\", \"parquet\"");
    format = f->get<std::string>();
  }
  request.format = ChooseFormat(req, format);
  if (auto limit = body.find("limit"); limit != body.end() && !limit->is_null()) {
    LH_USER_CHECK(limit->is_number_unsigned(), "\"limit\" must be a non-negative integer");
    request.limit = limit->get<uint64_t>();
  }
  if (auto timeout = body.find("timeout_ms"); timeout != body.end() && !timeout->is_null()) {
    LH_USER_CHECK(timeout->is_number_integer() && timeout->get<int64_t>() > 0,
                  "\"timeout_ms\" must be a positive integer (milliseconds)");
    request.timeout_ms = timeout->get<int64_t>();
  }
  AddGrants(req, request);
  Run(services, engine, request, res);
}

void GetPreview(const Services& services, Request& req, Response& res) {
  auto& engine = Require(services.query, "the query engine");
  const uint64_t limit = UintParam(req, "limit").value_or(kDefaultPreviewRows);
  LH_USER_CHECK(limit <= kMaxPreviewRows, "limit must be at most {} for a preview; use POST /api/v1/query for more",
                kMaxPreviewRows);
  queryd::QueryRequest request;
  request.sql = queryd::PreviewSql(req.Param("name"), limit);
  request.format = ChooseFormat(req, std::nullopt);
  AddGrants(req, request);
  Run(services, engine, request, res);
}

}  // namespace lakehouse::gateway
