// The object key layout of the catalog and the schema diff, both pure functions.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <map>

#include "catalog_internal.h"
#include "lakehouse/catalogd/catalog.h"
#include "lakehouse/shared/error.h"

namespace lakehouse::catalogd {

namespace {
constexpr std::string_view kManifestSuffix = ".json";
constexpr size_t kVersionDigits = 20;
}  // namespace

std::string ManifestKey(const std::string& dataset, uint64_t version) {
  return fmt::format("{}{}/{:020}{}", kCatalogPrefix, dataset, version, kManifestSuffix);
}

std::string ManifestPrefix(const std::string& dataset) { return fmt::format("{}{}/", kCatalogPrefix, dataset); }

std::string NewDataKey(const std::string& dataset) {
  return fmt::format("{}{}/{}.parquet", kDataPrefix, dataset, RandomHexId());
}

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

void CheckCommitTarget(CommitOp op, const std::string& dataset, std::optional<uint64_t> live_version) {
  switch (op) {
    case CommitOp::kCreate:
      if (live_version) {
        Fail(ErrorCode::kConflict,
             "dataset '{}' already exists (version {}); use POST /api/v1/datasets/{}/append to add data or PUT to "
             "replace it",
             dataset, *live_version, dataset);
      }
      return;
    case CommitOp::kAppend:
    case CommitOp::kReplace:
      if (!live_version) {
        Fail(ErrorCode::kNotFound, "dataset '{}' does not exist; create it first with POST /api/v1/datasets/{}",
             dataset, dataset);
      }
      return;
    case CommitOp::kDelete:
      if (!live_version) Fail(ErrorCode::kNotFound, "dataset '{}' does not exist", dataset);
      return;
  }
}

}  // namespace lakehouse::catalogd
