// Upload formats: names, Content-Types and sniffing.
#include <algorithm>
#include <cctype>
#include <string>

#include "ingest_internal.h"
#include "lakehouse/ingest/ingest.h"
#include "lakehouse/shared/error.h"

namespace lakehouse::ingest {

namespace {
std::string Lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}
std::string_view Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}
}  // namespace

std::string_view FormatName(Format format) {
  static constexpr std::string_view kNames[] = {"parquet", "csv", "json", "ndjson"};  // in Format's order
  const auto i = static_cast<size_t>(format);
  return i < std::size(kNames) ? kNames[i] : "unknown";
}

Format ParseFormat(std::string_view name) {
  std::string n = Lower(Trim(name));
  if (n == "parquet") return Format::kParquet;
  if (n == "csv") return Format::kCsv;
  if (n == "json") return Format::kJson;
  if (n == "ndjson" || n == "jsonl") return Format::kNdjson;
  Fail(ErrorCode::kUnsupportedMedia, "unsupported format '{}': use format=parquet, csv, json or ndjson",
       std::string(name).substr(0, 40));
}

std::optional<Format> FormatFromContentType(std::string_view content_type) {
  std::string t = Lower(Trim(content_type.substr(0, content_type.find(';'))));
  if (t.empty() || t == "application/octet-stream" || t == "application/x-www-form-urlencoded" || t == "*/*") {
    return std::nullopt;  // says nothing about the bytes (curl --data-binary sends form-urlencoded)
  }
  if (t == "application/vnd.apache.parquet" || t == "application/x-parquet" || t == "application/parquet") {
    return Format::kParquet;
  }
  if (t == "text/csv" || t == "application/csv" || t == "text/plain") return Format::kCsv;
  if (t == "application/json" || t == "text/json") return Format::kJson;
  if (t == "application/x-ndjson" || t == "application/ndjson" || t == "application/jsonl" ||
      t == "application/x-jsonlines" || t == "application/jsonlines") {
    return Format::kNdjson;
  }
  Fail(ErrorCode::kUnsupportedMedia,
       "unsupported Content-Type '{}': upload Parquet (application/vnd.apache.parquet), CSV (text/csv), JSON "
       "(application/json) or NDJSON (application/x-ndjson), or name the format with ?format=",
       t.substr(0, 80));
}

std::optional<Format> ResolveFormat(const std::optional<std::string>& format_param,
                                    const std::optional<std::string>& content_type) {
  if (format_param && !format_param->empty()) return ParseFormat(*format_param);
  if (content_type) return FormatFromContentType(*content_type);
  return std::nullopt;
}

Format SniffFormat(std::string_view head) {
  if (head.starts_with("PAR1")) return Format::kParquet;
  std::string_view t = head;
  if (t.starts_with("\xEF\xBB\xBF")) t.remove_prefix(3);  // UTF-8 BOM
  while (!t.empty() && std::isspace(static_cast<unsigned char>(t.front()))) t.remove_prefix(1);
  if (!t.empty() && (t.front() == '{' || t.front() == '[')) return Format::kJson;
  if (t.find('\0') != std::string_view::npos) {
    Fail(ErrorCode::kInvalidArgument,
         "the body is not Parquet, CSV or JSON (it holds binary bytes and no Parquet magic); send a Parquet file, "
         "or CSV / JSON / NDJSON text");
  }
  return Format::kCsv;
}

char SniffCsvDelimiter(std::string_view head) {
  std::string_view line = head.substr(0, head.find('\n'));
  size_t best_count = 0;
  char best = ',';
  for (char d : {',', '\t', ';', '|'}) {
    size_t count = 0;
    bool quoted = false;
    for (char c : line) {
      if (c == '"') quoted = !quoted;
      if (!quoted && c == d) ++count;
    }
    if (count > best_count) {
      best_count = count;
      best = d;
    }
  }
  return best;
}

}  // namespace lakehouse::ingest
