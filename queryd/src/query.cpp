#include "lakehouse/queryd/query.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>

#include "lakehouse/shared/error.h"
#include "lakehouse/shared/sql.h"
#include "lakehouse/shared/types.h"

namespace lakehouse::queryd {

ResultFormat ParseResultFormat(std::string_view name) {
  std::string lower(name);
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  if (lower == "json") return ResultFormat::kJson;
  if (lower == "ndjson" || lower == "jsonl") return ResultFormat::kNdjson;
  if (lower == "csv") return ResultFormat::kCsv;
  if (lower == "arrow") return ResultFormat::kArrow;
  if (lower == "parquet") return ResultFormat::kParquet;
  Fail(ErrorCode::kInvalidArgument, "unknown result format '{}': use json, ndjson, csv, arrow or parquet", name);
}

std::optional<ResultFormat> FormatFromAccept(std::string_view accept) {
  // First media type we serve wins; "*/*" and unknown types leave the choice to the caller.
  size_t pos = 0;
  while (pos <= accept.size()) {
    size_t end = accept.find(',', pos);
    if (end == std::string_view::npos) end = accept.size();
    std::string_view item = accept.substr(pos, end - pos);
    item = item.substr(0, item.find(';'));
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    if (item == "application/vnd.apache.arrow.stream") return ResultFormat::kArrow;
    if (item == "application/vnd.apache.parquet") return ResultFormat::kParquet;
    if (item == "text/csv") return ResultFormat::kCsv;
    if (item == "application/x-ndjson" || item == "application/jsonl") return ResultFormat::kNdjson;
    if (item == "application/json") return ResultFormat::kJson;
    pos = end + 1;
  }
  return std::nullopt;
}

namespace {

//! Every result format with its name and content type: one row per format, in ResultFormat's order.
struct FormatInfo {
  std::string_view name;
  std::string_view content_type;
};
constexpr FormatInfo kFormats[] = {
    {"json", "application/json"},
    {"ndjson", "application/x-ndjson"},
    {"csv", "text/csv; charset=utf-8"},
    {"arrow", "application/vnd.apache.arrow.stream"},
    {"parquet", "application/vnd.apache.parquet"},
};

const FormatInfo& Info(ResultFormat format) {
  const auto i = static_cast<size_t>(format);
  return i < std::size(kFormats) ? kFormats[i] : kFormats[0];
}

}  // namespace

std::string_view ContentType(ResultFormat format) { return Info(format).content_type; }

std::string_view FormatName(ResultFormat format) { return Info(format).name; }

std::string PreviewSql(std::string_view dataset, uint64_t limit) {
  const auto id = DatasetId::Parse(dataset);
  return fmt::format("SELECT * FROM {} LIMIT {}", SqlIdentifier(id.str()), limit);
}

}  // namespace lakehouse::queryd
