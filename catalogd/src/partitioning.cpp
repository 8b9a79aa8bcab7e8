// The partitioning rules: which columns may partition a dataset (see catalog.h).
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cctype>
#include <set>

#include "lakehouse/catalogd/catalog.h"
#include "lakehouse/shared/error.h"

namespace lakehouse::catalogd {

namespace {

constexpr std::string_view kPartitionTypes =
    "integers (TINYINT, SMALLINT, INTEGER, BIGINT and their unsigned forms), DATE, VARCHAR or BOOLEAN";

std::string Upper(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

bool SameName(std::string_view a, std::string_view b) { return Upper(a) == Upper(b); }

}  // namespace

bool IsPartitionType(std::string_view duckdb_type) {
  static const std::set<std::string, std::less<>> kTypes = {
      "TINYINT",  "SMALLINT", "INTEGER", "BIGINT",  "UTINYINT", "USMALLINT",
      "UINTEGER", "UBIGINT",  "DATE",    "VARCHAR", "BOOLEAN",
  };
  return kTypes.contains(Upper(duckdb_type));
}

std::vector<std::string> ResolvePartitionColumns(const Schema& schema, const std::vector<std::string>& requested) {
  if (requested.size() > kMaxPartitionColumns) {
    Fail(ErrorCode::kInvalidArgument, "partition_by names {} columns; a dataset can be partitioned by at most {}",
         requested.size(), kMaxPartitionColumns);
  }
  std::vector<std::string> out;
  for (const auto& name : requested) {
    const bool plain = !name.empty() && std::all_of(name.begin(), name.end(),
                                                    [](unsigned char c) { return std::isalnum(c) != 0 || c == '_'; });
    if (!plain) {
      Fail(ErrorCode::kInvalidArgument,
           "partition column '{}' cannot name an object key segment: partition columns must be named with letters, "
           "digits and '_' only",
           name.substr(0, 80));
    }
    auto column =
        std::find_if(schema.begin(), schema.end(), [&](const ColumnSchema& c) { return SameName(c.name, name); });
    if (column == schema.end()) {
      std::vector<std::string> names;
      for (const auto& c : schema) names.push_back(c.name);
      Fail(ErrorCode::kInvalidArgument, "partition column '{}' is not a column of the data; its columns are: {}", name,
           fmt::join(names, ", "));
    }
    if (!IsPartitionType(column->type)) {
      Fail(ErrorCode::kInvalidArgument, "partition column '{}' has type {}; partition columns must be {}", column->name,
           column->type, kPartitionTypes);
    }
    if (std::find(out.begin(), out.end(), column->name) != out.end()) {
      Fail(ErrorCode::kInvalidArgument, "partition column '{}' is named twice in partition_by", column->name);
    }
    out.push_back(column->name);
  }
  return out;
}

}  // namespace lakehouse::catalogd
