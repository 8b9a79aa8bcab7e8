// Dataset routes: upload (create / append / replace), delete, list, metadata, versions and data.
// Documented in docs/api/datasets.md.
#include <fmt/format.h>

#include <charconv>
#include <functional>
#include <nlohmann/json.hpp>

#include "auth_guard.h"
#include "lakehouse/catalogd/catalog.h"
#include "lakehouse/ingest/ingest.h"
#include "lakehouse/storaged/object_store.h"
#include "params.h"
#include "presign.h"
#include "routes.h"

namespace lakehouse::gateway {

namespace {

using nlohmann::json;

constexpr int64_t kDefaultPresignSeconds = 3600;
constexpr int64_t kMaxPresignSeconds = 7 * 24 * 3600;

json VersionJson(const catalogd::VersionSummary& v) {
  return {{"version", v.version},
          {"operation", v.operation},
          {"created_at", FormatTimeMs(v.created_at_ms)},
          {"created_at_ms", v.created_at_ms},
          {"rows", v.rows},
          {"bytes", v.bytes},
          {"schema_version", v.schema_version},
          {"tombstone", v.tombstone}};
}

void Upload(const Services& services, catalogd::CommitOp op, Request& req, Response& res) {
  auto& ingestor = Require(services.ingest, "ingest");
  ingest::IngestRequest request;
  request.dataset = DatasetParam(req);
  request.op = op;
  request.format = ingest::ResolveFormat(req.Query("format"), req.Header("Content-Type"));
  request.allow_schema_change = FlagParam(req, "allow_schema_change");
  request.expected_version = UintParam(req, "expected_version");
  request.partition_by = ListParam(req, "partition_by");
  auto result = ingestor.Ingest(request, req.Body());
  uint64_t rows = 0;
  for (const auto& o : result.objects) rows += o.row_count;
  json body = catalogd::CommitResponseJson(*result.manifest, result.objects);
  body["ingest"] = {{"format", ingest::FormatName(result.format)},
                    {"bytes_received", result.bytes_received},
                    {"rows", rows},
                    {"object", result.object},
                    {"objects_added", result.objects.size()},
                    {"seconds", result.seconds}};
  res.SetHeader("Location", fmt::format("/api/v1/datasets/{}/versions/{}", request.dataset, result.manifest->version));
  res.Json(op == catalogd::CommitOp::kCreate ? 201 : 200, body);
}

void StreamObject(storaged::ObjectStore& store, const DatasetManifest& m, size_t index, Response& res) {
  const auto& object = m.objects[index];
  res.SetHeader("Content-Disposition",
                fmt::format("attachment; filename=\"{}-v{}-{}.parquet\"", m.dataset, m.version, index));
  res.SetHeader("X-Lakehouse-Version", std::to_string(m.version));
  res.SetHeader("X-Lakehouse-Object-Size", std::to_string(object.ref.size));
  // The object is checked before the response starts, so a missing object is a clean 404/503.
  if (!store.Head(object.ref.key)) {
    Fail(ErrorCode::kInternal, "data object {} of dataset '{}' version {} is missing from storage", object.ref.key,
         m.dataset, m.version);
  }
  res.BeginSized(200, "application/vnd.apache.parquet", object.ref.size);
  store.Get(object.ref.key, [&](std::string_view chunk) { return res.Write(chunk); });
  res.End();
}

//! One entry per data object of `m` (index, key, size, rows) plus the fields `link(i)` returns.
json ObjectListing(const DatasetManifest& m, const std::function<json(size_t)>& link) {
  json objects = json::array();
  for (size_t i = 0; i < m.objects.size(); ++i) {
    const auto& o = m.objects[i];
    json entry = {{"index", i}, {"key", o.ref.key}, {"size", o.ref.size}, {"rows", o.row_count}};
    entry.update(link(i));
    objects.push_back(std::move(entry));
  }
  return objects;
}

}  // namespace

void GetDatasetData(const Services& services, Request& req, Response& res) {
  auto& catalog = Require(services.catalog, "catalog");
  auto& store = Require(services.store, "storage");
  std::string name = DatasetParam(req);
  auto version = UintParam(req, "version");
  DatasetManifest m = version ? catalog.Get(name, *version) : catalog.Head(name);

  if (FlagParam(req, "presign")) {
    int64_t expires = static_cast<int64_t>(UintParam(req, "expires").value_or(kDefaultPresignSeconds));
    if (expires < 1 || expires > kMaxPresignSeconds) {
      Fail(ErrorCode::kInvalidArgument, "expires must be between 1 and {} seconds", kMaxPresignSeconds);
    }
    json objects = ObjectListing(m, [&](size_t i) {
      return json{{"url", PresignUrl(store, services.public_base_url, storaged::PresignMethod::kGet,
                                     m.objects[i].ref.key, expires)}};
    });
    res.Json(200, {{"dataset", name}, {"version", m.version}, {"expires_in", expires}, {"objects", objects}});
    return;
  }

  auto index = UintParam(req, "object");
  if (index) {
    if (*index >= m.objects.size()) {
      Fail(ErrorCode::kNotFound, "dataset '{}' version {} has {} data object(s); object must be 0..{}", name, m.version,
           m.objects.size(), m.objects.empty() ? 0 : m.objects.size() - 1);
    }
    StreamObject(store, m, *index, res);
    return;
  }
  if (m.objects.size() == 1) {
    StreamObject(store, m, 0, res);
    return;
  }
  // Several (or no) objects: a listing that links each one.
  json objects = ObjectListing(m, [&](size_t i) {
    return json{{"href", fmt::format("/api/v1/datasets/{}/data?version={}&object={}", name, m.version, i)}};
  });
  res.Json(200, {{"dataset", name}, {"version", m.version}, {"objects", objects}});
}

void CreateDataset(const Services& services, Request& req, Response& res) {
  Upload(services, catalogd::CommitOp::kCreate, req, res);
}

void AppendDataset(const Services& services, Request& req, Response& res) {
  Upload(services, catalogd::CommitOp::kAppend, req, res);
}

void ReplaceDataset(const Services& services, Request& req, Response& res) {
  Upload(services, catalogd::CommitOp::kReplace, req, res);
}

void DeleteDataset(const Services& services, Request& req, Response& res) {
  auto& catalog = Require(services.catalog, "catalog");
  catalogd::CommitRequest request;
  request.dataset = DatasetParam(req);
  request.op = catalogd::CommitOp::kDelete;
  request.expected_version = UintParam(req, "expected_version");
  res.Json(200, json(*catalog.Commit(request)));  // a tombstone lists no objects
}

void ListDatasets(const Services& services, Request& req, Response& res) {
  auto& catalog = Require(services.catalog, "catalog");
  json datasets = json::array();
  for (const auto& d : catalog.List()) {
    if (!MayRead(req, d.name)) continue;  // a key sees the datasets it is granted
    datasets.push_back({{"name", d.name},
                        {"version", d.version},
                        {"schema_version", d.schema_version},
                        {"rows", d.rows},
                        {"bytes", d.bytes},
                        {"updated", FormatTimeMs(d.updated_at_ms)},
                        {"updated_at_ms", d.updated_at_ms}});
  }
  res.Json(200, {{"datasets", datasets}});
}

void GetDataset(const Services& services, Request& req, Response& res) {
  auto& catalog = Require(services.catalog, "catalog");
  std::string name = DatasetParam(req);
  auto head = catalog.Head(name);
  json versions = json::array();
  for (const auto& v : catalog.Versions(name)) versions.push_back(VersionJson(v));
  res.Json(200, {{"name", name},
                 {"version", head.version},
                 {"schema_version", head.schema_version},
                 {"schema", head.schema},
                 {"fingerprint", head.fingerprint.hex},
                 {"rows", head.row_count()},
                 {"bytes", head.byte_count()},
                 {"updated", FormatTimeMs(head.created_at_ms)},
                 {"head", head},
                 {"versions", versions}});
}

void ListVersions(const Services& services, Request& req, Response& res) {
  auto& catalog = Require(services.catalog, "catalog");
  std::string name = DatasetParam(req);
  json versions = json::array();
  for (const auto& v : catalog.Versions(name)) versions.push_back(VersionJson(v));
  res.Json(200, {{"name", name}, {"versions", versions}});
}

void GetVersion(const Services& services, Request& req, Response& res) {
  auto& catalog = Require(services.catalog, "catalog");
  std::string name = DatasetParam(req);
  const std::string& n = req.Param("n");
  auto version = ParseUint(n);
  if (!version) Fail(ErrorCode::kInvalidArgument, "version must be a positive integer, got '{}'", n.substr(0, 40));
  res.Json(200, json(catalog.Get(name, *version)));
}

}  // namespace lakehouse::gateway
