#include "lakehouse/shared/types.h"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <cctype>
#include <chrono>
#include <map>
#include <nlohmann/json.hpp>

#include "lakehouse/shared/error.h"

namespace lakehouse {

bool DatasetId::IsValid(std::string_view name) {
  if (name.empty() || name.size() > 63) return false;
  if (name[0] < 'a' || name[0] > 'z') return false;
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
    if (!ok) return false;
  }
  return true;
}

DatasetId DatasetId::Parse(std::string_view name) {
  if (!IsValid(name)) {
    Fail(ErrorCode::kInvalidArgument,
         "invalid dataset name '{}': names must match [a-z][a-z0-9_]{{0,62}} (lower-case letter first, "
         "then lower-case letters, digits or '_', at most 63 characters)",
         name.substr(0, 80));
  }
  return DatasetId(std::string(name));
}

std::string CanonicalSchema(const Schema& schema) {
  std::string out;
  for (const auto& c : schema) {
    out += c.name;
    out += ':';
    out += c.type;
    out += ':';
    out += c.nullable ? "null" : "notnull";
    out += '\n';
  }
  return out;
}

SchemaFingerprint Fingerprint(const Schema& schema) { return {Sha256Hex(CanonicalSchema(schema))}; }

uint64_t DatasetManifest::row_count() const {
  uint64_t n = 0;
  for (const auto& o : objects) n += o.row_count;
  return n;
}

uint64_t DatasetManifest::byte_count() const {
  uint64_t n = 0;
  for (const auto& o : objects) n += o.ref.size;
  return n;
}

void to_json(nlohmann::json& j, const ObjectRef& v) {
  j = {{"bucket", v.bucket}, {"key", v.key}, {"size", v.size}, {"etag", v.etag}};
}
void from_json(const nlohmann::json& j, ObjectRef& v) {
  j.at("bucket").get_to(v.bucket);
  j.at("key").get_to(v.key);
  j.at("size").get_to(v.size);
  v.etag = j.value("etag", "");
}
void to_json(nlohmann::json& j, const ColumnSchema& v) {
  j = {{"name", v.name}, {"type", v.type}, {"nullable", v.nullable}};
}
void from_json(const nlohmann::json& j, ColumnSchema& v) {
  j.at("name").get_to(v.name);
  j.at("type").get_to(v.type);
  v.nullable = j.value("nullable", true);
}
void to_json(nlohmann::json& j, const ColumnStats& v) {
  j = {{"name", v.name}, {"values", v.values}, {"nulls", v.nulls}, {"bytes", v.bytes}};
  if (v.min) j["min"] = *v.min;
  if (v.max) j["max"] = *v.max;
}
void from_json(const nlohmann::json& j, ColumnStats& v) {
  j.at("name").get_to(v.name);
  v.values = j.value("values", uint64_t{0});
  v.nulls = j.value("nulls", uint64_t{0});
  v.bytes = j.value("bytes", uint64_t{0});
  if (auto it = j.find("min"); it != j.end() && it->is_string()) v.min = it->get<std::string>();
  if (auto it = j.find("max"); it != j.end() && it->is_string()) v.max = it->get<std::string>();
}
void to_json(nlohmann::json& j, const DataObject& v) {
  j = v.ref;
  j["row_count"] = v.row_count;
  if (!v.stats.empty()) j["stats"] = v.stats;  // absent, not empty, so older readers see the same JSON
  // Written only for partitioned datasets, so manifests of unpartitioned ones keep their format.
  if (!v.partition_values.empty()) {
    auto& values = j["partition_values"] = nlohmann::json::object();
    for (const auto& [column, value] : v.partition_values) values[column] = value ? nlohmann::json(*value) : nullptr;
  }
}
void from_json(const nlohmann::json& j, DataObject& v) {
  j.get_to(v.ref);
  j.at("row_count").get_to(v.row_count);
  if (auto it = j.find("stats"); it != j.end() && it->is_array()) it->get_to(v.stats);
  v.partition_values.clear();
  if (auto it = j.find("partition_values"); it != j.end()) {
    for (const auto& [column, value] : it->items()) {
      v.partition_values[column] =
          value.is_null() ? std::nullopt : std::optional<std::string>(value.get<std::string>());
    }
  }
}
void to_json(nlohmann::json& j, const DatasetManifest& v) {
  j = nlohmann::json{{"format", 1},
                     {"dataset", v.dataset},
                     {"version", v.version},
                     {"parent_version", v.parent_version ? nlohmann::json(*v.parent_version) : nlohmann::json()},
                     {"operation", v.operation},
                     {"created_at_ms", v.created_at_ms},
                     {"created_at", FormatTimeMs(v.created_at_ms)},
                     {"tombstone", v.tombstone},
                     {"schema_version", v.schema_version},
                     {"schema", v.schema},
                     {"fingerprint", v.fingerprint.hex},
                     {"objects", v.objects},
                     {"row_count", v.row_count()},
                     {"byte_count", v.byte_count()},
                     {"properties", v.properties}};
  if (!v.partition_by.empty()) j["partition_by"] = v.partition_by;
}
void from_json(const nlohmann::json& j, DatasetManifest& v) {
  j.at("dataset").get_to(v.dataset);
  j.at("version").get_to(v.version);
  if (j.contains("parent_version") && !j["parent_version"].is_null()) {
    v.parent_version = j["parent_version"].get<uint64_t>();
  } else {
    v.parent_version.reset();
  }
  j.at("operation").get_to(v.operation);
  j.at("created_at_ms").get_to(v.created_at_ms);
  v.tombstone = j.value("tombstone", false);
  v.schema_version = j.value("schema_version", uint64_t{1});
  j.at("schema").get_to(v.schema);
  v.fingerprint.hex = j.at("fingerprint").get<std::string>();
  j.at("objects").get_to(v.objects);
  v.properties = j.value("properties", std::map<std::string, std::string>{});
  v.partition_by = j.value("partition_by", std::vector<std::string>{});
}

bool SameType(std::string_view a, std::string_view b) {
  auto next = [](std::string_view s, size_t& i) {
    while (i < s.size() && s[i] == ' ') ++i;
    return i < s.size() ? std::toupper(static_cast<unsigned char>(s[i++])) : -1;
  };
  size_t i = 0;
  size_t j = 0;
  for (;;) {
    const int x = next(a, i);
    const int y = next(b, j);
    if (x != y) return false;
    if (x == -1) return true;
  }
}

std::string DescribeSchemaDiff(const Schema& from, const Schema& to, bool compare_nullable) {
  std::map<std::string, const ColumnSchema*> old_cols;
  std::map<std::string, const ColumnSchema*> new_cols;
  for (const auto& c : from) old_cols[c.name] = &c;
  for (const auto& c : to) new_cols[c.name] = &c;

  std::vector<std::string> parts;
  for (const auto& c : from) {
    auto it = new_cols.find(c.name);
    if (it == new_cols.end()) {
      parts.push_back(fmt::format("removed {} ({})", c.name, c.type));
    } else if (!SameType(it->second->type, c.type)) {
      parts.push_back(fmt::format("{}: {} -> {}", c.name, c.type, it->second->type));
    } else if (compare_nullable && it->second->nullable != c.nullable) {
      parts.push_back(fmt::format("{}: {} -> {}", c.name, c.nullable ? "nullable" : "not null",
                                  it->second->nullable ? "nullable" : "not null"));
    }
  }
  for (const auto& c : to) {
    if (!old_cols.contains(c.name)) parts.push_back(fmt::format("added {} ({})", c.name, c.type));
  }
  if (parts.empty() && !SameColumns(from, to)) {
    // Same columns and types, different order.
    std::string a;
    std::string b;
    for (const auto& c : from) a += (a.empty() ? "" : ",") + c.name;
    for (const auto& c : to) b += (b.empty() ? "" : ",") + c.name;
    parts.push_back(fmt::format("column order {} -> {}", a, b));
  }
  return fmt::format("{}", fmt::join(parts, "; "));
}

bool SameColumns(const Schema& a, const Schema& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].name != b[i].name || !SameType(a[i].type, b[i].type)) return false;
  }
  return true;
}

std::string RandomHexId() {
  unsigned char buf[16];
  if (RAND_bytes(buf, sizeof buf) != 1) Fail(ErrorCode::kInternal, "RAND_bytes failed");
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char b : buf) {
    out += kHex[b >> 4];
    out += kHex[b & 0xF];
  }
  return out;
}

}  // namespace lakehouse
