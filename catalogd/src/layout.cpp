// The object key layout of the catalog and the schema diff, both pure functions.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cctype>
#include <map>

#include "catalog_internal.h"
#include "lakehouse/catalogd/catalog.h"
#include "lakehouse/shared/error.h"
#include "lakehouse/shared/strings.h"

namespace lakehouse::catalogd {

namespace {
constexpr std::string_view kManifestSuffix = ".json";
constexpr std::string_view kCheckpointSuffix = ".checkpoint.json";
constexpr std::string_view kExpirySuffix = ".expired.json";
constexpr size_t kVersionDigits = 20;
}  // namespace

std::string ManifestKey(const std::string& dataset, uint64_t version) {
  return fmt::format("{}{}/{:020}{}", kCatalogPrefix, dataset, version, kManifestSuffix);
}

std::string SearchJobKey(const std::string& job_id) { return fmt::format("{}{}.json", kSearchJobPrefix, job_id); }

std::string CheckpointKey(const std::string& dataset, uint64_t version) {
  return fmt::format("{}{}/{:020}{}", kCatalogPrefix, dataset, version, kCheckpointSuffix);
}

std::string ExpiryKey(const std::string& dataset, uint64_t first_live_version) {
  return fmt::format("{}{}/{:020}{}", kCatalogPrefix, dataset, first_live_version, kExpirySuffix);
}

std::string ManifestPrefix(const std::string& dataset) { return fmt::format("{}{}/", kCatalogPrefix, dataset); }

std::string NewDataKey(const std::string& dataset) {
  return fmt::format("{}{}/{}.parquet", kDataPrefix, dataset, RandomHexId());
}

std::optional<std::string> DatasetOfDataKey(std::string_view key) {
  if (!key.starts_with(kDataPrefix)) return std::nullopt;
  key.remove_prefix(kDataPrefix.size());
  const size_t slash = key.find('/');
  if (slash == 0 || slash == std::string_view::npos) return std::nullopt;
  return std::string(key.substr(0, slash));
}

std::string IcebergTablePrefix(const std::string& dataset) { return fmt::format("_iceberg/{}/", dataset); }

std::string ApiKeyObjectKey(std::string_view id) {
  const bool valid = !id.empty() && id.size() <= 64 && std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z');
  });
  if (!valid) Fail(ErrorCode::kInvalidArgument, "an API key id is 1-64 characters of [0-9a-z]");
  return fmt::format("{}{}.json", kApiKeysPrefix, id);
}

std::string IcebergMetadataKey(const std::string& dataset, uint64_t version) {
  return fmt::format("_iceberg/{}/metadata/{:020}.metadata.json", dataset, version);
}

std::string IcebergManifestListKey(const std::string& dataset, uint64_t version) {
  return fmt::format("_iceberg/{}/metadata/snap-{:020}.avro", dataset, version);
}

std::string IcebergManifestKey(const std::string& dataset, uint64_t version, int index) {
  return fmt::format("_iceberg/{}/metadata/{:020}-m{}.avro", dataset, version, index);
}

std::string EncodePartitionValue(const std::optional<std::string>& value) {
  // DuckDB 1.4 writes and reads NULL as "NULL" (any case); Hive (and DuckDB 1.5) also read the marker.
  static constexpr std::string_view kHiveNull = "__HIVE_DEFAULT_PARTITION__";
  if (!value) return "NULL";
  static constexpr char kHex[] = "0123456789ABCDEF";
  auto escape = [](std::string& out, unsigned char c) {
    out += '%';
    out += kHex[c >> 4];
    out += kHex[c & 15];
  };
  std::string out;
  for (unsigned char c : *value) {
    const bool plain = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
                       c == '-' || c == '.' || c == '~';
    if (plain) {
      out += static_cast<char>(c);
    } else {
      escape(out, c);
    }
  }
  // Readers take "NULL" (any case) and the Hive marker as NULL before decoding: encode the first byte.
  std::string lower = out;
  for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (lower == "null" || out == kHiveNull) {
    std::string first;
    escape(first, static_cast<unsigned char>(out[0]));
    out = first + out.substr(1);
  }
  return out;
}

std::string NewPartitionedDataKey(const std::string& dataset, const std::vector<std::string>& partition_by,
                                  const PartitionValues& values) {
  // Segments stay well below the 255-byte limit of file names on local disk.
  constexpr size_t kMaxSegment = 200;
  std::string key = fmt::format("{}{}/", kDataPrefix, dataset);
  for (const auto& column : partition_by) {
    auto it = values.find(column);
    if (it == values.end()) Fail(ErrorCode::kInternal, "no value for partition column '{}'", column);
    std::string segment = column + "=" + EncodePartitionValue(it->second);
    if (segment.size() > kMaxSegment) {
      Fail(ErrorCode::kInvalidArgument,
           "a value of partition column '{}' is too long to name an object key ({} bytes encoded, at most {}): "
           "partition by a column with shorter values",
           column, segment.size(), kMaxSegment);
    }
    key += segment;
    key += '/';
  }
  return key + RandomHexId() + ".parquet";
}

PartitionValues PartitionValuesOfKey(const std::string& dataset, const std::vector<std::string>& partition_by,
                                     std::string_view key) {
  const std::string prefix = fmt::format("{}{}/", kDataPrefix, dataset);
  std::vector<std::string> wanted;
  wanted.reserve(partition_by.size());
  for (const auto& c : partition_by) wanted.push_back(c + "=...");
  const std::string layout = fmt::format("{}{}/<file>.parquet", prefix, fmt::join(wanted, "/"));
  if (!key.starts_with(prefix)) {
    Fail(ErrorCode::kInvalidArgument,
         "object '{}' is not under {}: a partitioned dataset's objects carry their partition values in the key ({})",
         key, prefix, layout);
  }
  std::string_view rest = key.substr(prefix.size());
  PartitionValues values;
  for (const auto& column : partition_by) {
    const size_t slash = rest.find('/');
    const std::string_view segment = rest.substr(0, slash);
    const size_t eq = segment.find('=');
    if (slash == std::string_view::npos || eq == std::string_view::npos || segment.substr(0, eq) != column) {
      Fail(ErrorCode::kInvalidArgument,
           "object '{}' does not name partition column '{}' where the layout puts it ({}); the dataset is "
           "partitioned by ({})",
           key, column, layout, fmt::join(partition_by, ", "));
    }
    const std::string_view text = segment.substr(eq + 1);
    std::string lower(text);
    for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (lower == "null" || text == "__HIVE_DEFAULT_PARTITION__") {
      values[column] = std::nullopt;
    } else {
      values[column] = PercentDecode(text, false);
    }
    rest.remove_prefix(slash + 1);
  }
  if (rest.empty() || rest.find('/') != std::string_view::npos) {
    Fail(ErrorCode::kInvalidArgument,
         "object '{}' has other path segments than the dataset's partition columns ({}) name: the layout is {}", key,
         fmt::join(partition_by, ", "), layout);
  }
  return values;
}

std::optional<ParsedManifestKey> ParseManifestKey(std::string_view key) {
  auto parsed = ParseCatalogKey(key);
  if (!parsed || parsed->kind != CatalogKeyKind::kManifest) return std::nullopt;
  return ParsedManifestKey{std::move(parsed->dataset), parsed->version};
}

std::optional<ParsedCatalogKey> ParseCatalogKey(std::string_view key) {
  if (!key.starts_with(kCatalogPrefix)) return std::nullopt;
  key.remove_prefix(kCatalogPrefix.size());
  size_t slash = key.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  std::string_view dataset = key.substr(0, slash);
  std::string_view file = key.substr(slash + 1);
  if (!DatasetId::IsValid(dataset)) return std::nullopt;
  if (file.size() < kVersionDigits) return std::nullopt;
  const std::string_view suffix = file.substr(kVersionDigits);
  CatalogKeyKind kind = CatalogKeyKind::kManifest;
  if (suffix == kCheckpointSuffix) {
    kind = CatalogKeyKind::kCheckpoint;
  } else if (suffix == kExpirySuffix) {
    kind = CatalogKeyKind::kExpiry;
  } else if (suffix != kManifestSuffix) {
    return std::nullopt;
  }
  uint64_t version = 0;
  for (size_t i = 0; i < kVersionDigits; ++i) {
    char c = file[i];
    if (c < '0' || c > '9') return std::nullopt;
    version = version * 10 + static_cast<uint64_t>(c - '0');
  }
  if (version == 0) return std::nullopt;
  return ParsedCatalogKey{std::string(dataset), version, kind};
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
    case CommitOp::kCompact:
    case CommitOp::kSetProperties:
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
