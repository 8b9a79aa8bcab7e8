// Dataset maintenance routes (issue 13): compaction, registering existing files, retention and
// garbage collection. Documented in docs/api/datasets.md ("Keeping tables fast").
#include <fmt/format.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "lakehouse/catalogd/catalog.h"
#include "lakehouse/iceberg/iceberg.h"
#include "lakehouse/ingest/ingest.h"
#include "params.h"
#include "routes.h"

namespace lakehouse::gateway {

namespace {

using nlohmann::json;

//! An optional non-negative number field of a JSON body (null/absent: nullopt); 400 otherwise.
std::optional<double> NumberField(const json& body, const char* name) {
  if (!body.contains(name) || body[name].is_null()) return std::nullopt;
  const auto& v = body[name];
  if (!v.is_number() || v.get<double>() < 0 || !std::isfinite(v.get<double>())) {
    Fail(ErrorCode::kInvalidArgument, "{} must be a non-negative number or null", name);
  }
  return v.get<double>();
}

json GcJson(const catalogd::GcReport& r) {
  return {{"versions_expired", r.versions_expired}, {"manifests_deleted", r.manifests_deleted},
          {"objects_deleted", r.objects_deleted},   {"bytes_deleted", r.bytes_deleted},
          {"orphans_deleted", r.orphans_deleted},   {"orphan_bytes_deleted", r.orphan_bytes_deleted},
          {"objects_kept", r.objects_kept}};
}

}  // namespace

void CompactDataset(const Services& services, Request& req, Response& res) {
  auto& ingestor = Require(services.ingest, "ingest");
  const std::string name = DatasetParam(req);
  auto options = ingestor.DefaultCompaction();
  if (auto mb = UintParam(req, "target_mb")) {
    if (*mb < 1 || *mb > 16384) Fail(ErrorCode::kInvalidArgument, "target_mb must be between 1 and 16384");
    options.target_bytes = *mb << 20;
  }
  auto r = ingestor.Compact(name, options);
  res.Json(200, {{"dataset", name},
                 {"version", r.manifest.version},
                 {"compacted", r.compacted},
                 {"objects_before", r.objects_before},
                 {"objects_after", r.objects_after},
                 {"objects_rewritten", r.objects_rewritten},
                 {"objects_written", r.objects_written},
                 {"bytes_rewritten", r.bytes_rewritten},
                 {"target_bytes", options.target_bytes},
                 {"seconds", r.seconds}});
}

void RegisterFiles(const Services& services, Request& req, Response& res) {
  auto& ingestor = Require(services.ingest, "ingest");
  ingest::RegisterRequest request;
  request.dataset = DatasetParam(req);
  const json body = req.ReadJson();
  if (!body.contains("keys") || !body["keys"].is_array() || body["keys"].empty()) {
    Fail(ErrorCode::kInvalidArgument, "the body must hold \"keys\": a non-empty array of object keys");
  }
  constexpr size_t kMaxKeys = 10'000;
  if (body["keys"].size() > kMaxKeys) {
    Fail(ErrorCode::kInvalidArgument, "at most {} keys per request, got {}", kMaxKeys, body["keys"].size());
  }
  for (const auto& k : body["keys"]) {
    if (!k.is_string()) Fail(ErrorCode::kInvalidArgument, "every entry of \"keys\" must be a string");
    request.keys.push_back(k.get<std::string>());
  }
  if (body.contains("allow_schema_change")) {
    if (!body["allow_schema_change"].is_boolean()) {
      Fail(ErrorCode::kInvalidArgument, "allow_schema_change must be true or false");
    }
    request.allow_schema_change = body["allow_schema_change"].get<bool>();
  }
  if (auto v = NumberField(body, "expected_version")) request.expected_version = static_cast<uint64_t>(*v);
  auto result = ingestor.Register(request);
  json out = catalogd::CommitResponseJson(*result.manifest, result.objects);
  out["registered"] = {{"objects", result.objects.size()}, {"bytes", result.bytes_received}};
  res.SetHeader("Location", fmt::format("/api/v1/datasets/{}/versions/{}", request.dataset, result.manifest->version));
  res.Json(result.manifest->operation == "create" ? 201 : 200, out);
}

void SetRetention(const Services& services, Request& req, Response& res) {
  auto& catalog = Require(services.catalog, "catalog");
  catalogd::CommitRequest request;
  request.dataset = DatasetParam(req);
  request.op = catalogd::CommitOp::kSetProperties;
  const json body = req.ReadJson();
  for (const auto& [key, value] : body.items()) {
    if (key != catalogd::kKeepVersionsProperty && key != catalogd::kKeepDaysProperty) {
      Fail(ErrorCode::kInvalidArgument, "unknown field '{}': send keep_versions and/or keep_days", key.substr(0, 40));
    }
  }
  // null removes the dataset's own setting (the server's default applies again).
  if (body.contains(catalogd::kKeepVersionsProperty)) {
    auto v = NumberField(body, catalogd::kKeepVersionsProperty.data());
    if (v && *v != std::floor(*v)) Fail(ErrorCode::kInvalidArgument, "keep_versions must be a whole number");
    request.properties[std::string(catalogd::kKeepVersionsProperty)] =
        v ? std::to_string(static_cast<uint64_t>(*v)) : "";
  }
  if (body.contains(catalogd::kKeepDaysProperty)) {
    auto v = NumberField(body, catalogd::kKeepDaysProperty.data());
    request.properties[std::string(catalogd::kKeepDaysProperty)] = v ? fmt::format("{}", *v) : "";
  }
  if (request.properties.empty()) Fail(ErrorCode::kInvalidArgument, "send keep_versions and/or keep_days");
  request.expected_version = UintParam(req, "expected_version");
  res.Json(200, catalogd::CommitResponseJson(*catalog.Commit(request), {}));  // adds no objects
}

void CollectGarbage(const Services& services, Request&, Response& res) {
  auto& catalog = Require(services.catalog, "catalog");
  json out = GcJson(catalog.Collect(catalog.GcMinAgeMs()));
  // The Iceberg metadata of the versions that expired goes after the same window (iceberg.h).
  out["iceberg_files_deleted"] = services.iceberg ? services.iceberg->CollectExpired(catalog.GcMinAgeMs()) : 0;
  out["safety_window_ms"] = catalog.GcMinAgeMs();
  res.Json(200, out);
}

}  // namespace lakehouse::gateway
