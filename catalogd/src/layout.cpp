// The object key layout of the catalog and the schema diff, both pure functions.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <map>

#include "catalog_internal.h"
#include "lakehouse/catalogd/catalog.h"

namespace lakehouse::catalogd {

namespace {
constexpr std::string_view kCatalogPrefix = "_catalog/";
constexpr std::string_view kManifestSuffix = ".json";
constexpr size_t kVersionDigits = 20;
}  // namespace

std::string ManifestKey(const std::string& dataset, uint64_t version) {
  return fmt::format("_catalog/{}/{:020}.json", dataset, version);
}

std::string ManifestPrefix(const std::string& dataset) { return fmt::format("_catalog/{}/", dataset); }

std::string NewDataKey(const std::string& dataset) { return fmt::format("data/{}/{}.parquet", dataset, RandomHexId()); }

std::string IcebergTablePrefix(const std::string& dataset) { return fmt::format("_iceberg/{}/", dataset); }

std::string IcebergMetadataKey(const std::string& dataset, uint64_t version) {
  return fmt::format("_iceberg/{}/metadata/{:020}.metadata.json", dataset, version);
}

std::string IcebergManifestListKey(const std::string& dataset, uint64_t version) {
  return fmt::format("_iceberg/{}/metadata/snap-{:020}.avro", dataset, version);
}

std::string IcebergManifestKey(const std::string& dataset, uint64_t version, int index) {
  return fmt::format("_iceberg/{}/metadata/{:020}-m{}.avro", dataset, version, index);
}

std::optional<ParsedManifestKey> ParseManifestKey(std::string_view key) {
  if (!key.starts_with(kCatalogPrefix)) return std::nullopt;
  key.remove_prefix(kCatalogPrefix.size());
  size_t slash = key.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  std::string_view dataset = key.substr(0, slash);
  std::string_view file = key.substr(slash + 1);
  if (!DatasetId::IsValid(dataset)) return std::nullopt;
  if (file.size() != kVersionDigits + kManifestSuffix.size() || !file.ends_with(kManifestSuffix)) return std::nullopt;
  uint64_t version = 0;
  for (size_t i = 0; i < kVersionDigits; ++i) {
    char c = file[i];
    if (c < '0' || c > '9') return std::nullopt;
    version = version * 10 + static_cast<uint64_t>(c - '0');
  }
  if (version == 0) return std::nullopt;
  return ParsedManifestKey{std::string(dataset), version};
}

std::string DescribeSchemaDiff(const Schema& from, const Schema& to) {
  std::map<std::string, const ColumnSchema*> old_cols;
  std::map<std::string, const ColumnSchema*> new_cols;
  for (const auto& c : from) old_cols[c.name] = &c;
  for (const auto& c : to) new_cols[c.name] = &c;

  std::vector<std::string> parts;
  for (const auto& c : from) {
    auto it = new_cols.find(c.name);
    if (it == new_cols.end()) {
      parts.push_back(fmt::format("removed {} ({})", c.name, c.type));
    } else if (it->second->type != c.type) {
      parts.push_back(fmt::format("{}: {} -> {}", c.name, c.type, it->second->type));
    } else if (it->second->nullable != c.nullable) {
      parts.push_back(fmt::format("{}: {} -> {}", c.name, c.nullable ? "nullable" : "not null",
                                  it->second->nullable ? "nullable" : "not null"));
    }
  }
  for (const auto& c : to) {
    if (!old_cols.contains(c.name)) parts.push_back(fmt::format("added {} ({})", c.name, c.type));
  }
  if (parts.empty() && from != to) {
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
    if (a[i].name != b[i].name || a[i].type != b[i].type) return false;
  }
  return true;
}

}  // namespace lakehouse::catalogd
