// DuckDB -> Iceberg type mapping and Iceberg's single-value serialisation of column bounds
// (spec appendix D). The table of what maps and what does not is docs/adr/0009-iceberg.md.
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstring>
#include <map>
#include <optional>
#include <string>

#include "lakehouse/iceberg/iceberg.h"

namespace lakehouse::iceberg {

namespace {

std::string Trim(std::string s) {
  while (!s.empty() && s.back() == ' ') s.pop_back();
  size_t i = 0;
  while (i < s.size() && s[i] == ' ') ++i;
  return s.substr(i);
}

template <typename T>
std::string LittleEndian(T value) {
  std::string out(sizeof(T), '\0');
  std::memcpy(out.data(), &value, sizeof(T));  // x86-64 and aarch64 are little-endian
  return out;
}

template <typename T>
std::optional<T> ParseNumber(std::string_view text) {
  T value{};
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

//! Days since 1970-01-01 of "YYYY-MM-DD".
std::optional<int32_t> ParseDate(std::string_view text) {
  if (text.size() != 10 || text[4] != '-' || text[7] != '-') return std::nullopt;
  auto y = ParseNumber<int>(text.substr(0, 4));
  auto m = ParseNumber<unsigned>(text.substr(5, 2));
  auto d = ParseNumber<unsigned>(text.substr(8, 2));
  if (!y || !m || !d) return std::nullopt;
  std::chrono::year_month_day ymd{std::chrono::year(*y), std::chrono::month(*m), std::chrono::day(*d)};
  if (!ymd.ok()) return std::nullopt;
  return static_cast<int32_t>(std::chrono::sys_days(ymd).time_since_epoch().count());
}

//! Microseconds of "HH:MM:SS[.ffffff]".
std::optional<int64_t> ParseTime(std::string_view text) {
  if (text.size() < 8 || text[2] != ':' || text[5] != ':') return std::nullopt;
  auto h = ParseNumber<int64_t>(text.substr(0, 2));
  auto m = ParseNumber<int64_t>(text.substr(3, 2));
  auto s = ParseNumber<int64_t>(text.substr(6, 2));
  if (!h || !m || !s) return std::nullopt;
  int64_t micros = ((*h * 60 + *m) * 60 + *s) * 1000000;
  if (text.size() > 8) {
    if (text[8] != '.' || text.size() > 15) return std::nullopt;
    std::string frac(text.substr(9));
    frac.resize(6, '0');
    auto f = ParseNumber<int64_t>(frac);
    if (!f) return std::nullopt;
    micros += *f;
  }
  return micros;
}

//! Microseconds since the epoch of "YYYY-MM-DD HH:MM:SS[.ffffff][+00[:00]]" (UTC offsets only).
std::optional<int64_t> ParseTimestamp(std::string_view text) {
  if (text.size() < 19 || (text[10] != ' ' && text[10] != 'T')) return std::nullopt;
  auto days = ParseDate(text.substr(0, 10));
  std::string_view rest = text.substr(11);
  for (std::string_view utc : {"+00:00", "+00", "Z"}) {
    if (rest.ends_with(utc)) {
      rest.remove_suffix(utc.size());
      break;
    }
  }
  auto time = ParseTime(rest);
  if (!days || !time) return std::nullopt;
  return int64_t{*days} * 86400 * 1000000 + *time;
}

__extension__ using Int128 = __int128;  // decimals up to 38 digits

//! The unscaled value of a decimal text with `scale` digits after the point, as big-endian
//! two's complement in the fewest bytes.
std::optional<std::string> DecimalBytes(std::string_view text, int scale) {
  bool negative = !text.empty() && text[0] == '-';
  if (negative || (!text.empty() && text[0] == '+')) text.remove_prefix(1);
  size_t dot = text.find('.');
  std::string digits(text.substr(0, dot));
  std::string frac = dot == std::string_view::npos ? "" : std::string(text.substr(dot + 1));
  if (static_cast<int>(frac.size()) > scale) return std::nullopt;
  frac.resize(static_cast<size_t>(scale), '0');
  digits += frac;
  if (digits.empty() || digits.size() > 38) return std::nullopt;
  Int128 v = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + (c - '0');
  }
  if (negative) v = -v;
  std::string bytes;
  for (int i = 15; i >= 0; --i) bytes.push_back(static_cast<char>((v >> (i * 8)) & 0xff));
  // Drop leading bytes that only repeat the sign.
  size_t start = 0;
  while (start + 1 < bytes.size()) {
    auto b = static_cast<unsigned char>(bytes[start]);
    auto next = static_cast<unsigned char>(bytes[start + 1]);
    if ((b == 0x00 && (next & 0x80) == 0) || (b == 0xff && (next & 0x80) != 0)) {
      ++start;
    } else {
      break;
    }
  }
  return bytes.substr(start);
}

//! A prefix of `s` of at most `max` bytes that does not split a UTF-8 character.
std::string Utf8Prefix(const std::string& s, size_t max) {
  if (s.size() <= max) return s;
  size_t n = max;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  return s.substr(0, n);
}

}  // namespace

//! Longest bound kept for strings and binaries; a longer lower bound is truncated (still a lower
//! bound), a longer upper bound is left out (a truncated one would be too small).
constexpr size_t kMaxStringBound = 64;

std::string IcebergType(const std::string& duckdb_type) {
  static const std::map<std::string, std::string, std::less<>> kTypes = {
      {"BOOLEAN", "boolean"},     {"TINYINT", "int"},
      {"SMALLINT", "int"},        {"INTEGER", "int"},
      {"UTINYINT", "int"},        {"USMALLINT", "int"},
      {"BIGINT", "long"},         {"UINTEGER", "long"},
      {"FLOAT", "float"},         {"DOUBLE", "double"},
      {"VARCHAR", "string"},      {"BLOB", "binary"},
      {"DATE", "date"},           {"TIME", "time"},
      {"TIMESTAMP", "timestamp"}, {"TIMESTAMP WITH TIME ZONE", "timestamptz"},
      {"UUID", "uuid"},
  };
  std::string type = Trim(duckdb_type);
  if (auto it = kTypes.find(type); it != kTypes.end()) return it->second;
  if (type.starts_with("DECIMAL(") && type.ends_with(")")) {
    std::string args = type.substr(8, type.size() - 9);
    size_t comma = args.find(',');
    if (comma == std::string::npos) return "";
    auto p = ParseNumber<int>(Trim(args.substr(0, comma)));
    auto s = ParseNumber<int>(Trim(args.substr(comma + 1)));
    if (!p || !s || *p < 1 || *p > 38 || *s < 0 || *s > *p) return "";
    return "decimal(" + std::to_string(*p) + ", " + std::to_string(*s) + ")";
  }
  return "";
}

std::optional<std::string> SingleValue(const std::string& iceberg_type, const std::string& text) {
  const std::string& t = iceberg_type;
  if (t == "boolean") {
    if (text == "true") return std::string(1, '\1');
    if (text == "false") return std::string(1, '\0');
    return std::nullopt;
  }
  if (t == "int") {
    auto v = ParseNumber<int32_t>(text);
    return v ? std::optional(LittleEndian(*v)) : std::nullopt;
  }
  if (t == "long") {
    auto v = ParseNumber<int64_t>(text);
    return v ? std::optional(LittleEndian(*v)) : std::nullopt;
  }
  if (t == "float" || t == "double") {
    // from_chars for floating point is in libstdc++ 11+.
    auto v = ParseNumber<double>(text);
    if (!v || std::isnan(*v)) return std::nullopt;
    if (t == "float") return LittleEndian(static_cast<float>(*v));
    return LittleEndian(*v);
  }
  if (t == "date") {
    auto v = ParseDate(text);
    return v ? std::optional(LittleEndian(*v)) : std::nullopt;
  }
  if (t == "time") {
    auto v = ParseTime(text);
    return v ? std::optional(LittleEndian(*v)) : std::nullopt;
  }
  if (t == "timestamp" || t == "timestamptz") {
    auto v = ParseTimestamp(text);
    return v ? std::optional(LittleEndian(*v)) : std::nullopt;
  }
  if (t == "string") return text;
  if (t.starts_with("decimal(")) {
    size_t comma = t.find(',');
    auto scale = ParseNumber<int>(Trim(t.substr(comma + 1, t.size() - comma - 2)));
    if (!scale) return std::nullopt;
    return DecimalBytes(text, *scale);
  }
  return std::nullopt;  // binary, uuid: no bounds
}

std::optional<std::string> LowerBound(const std::string& iceberg_type, const std::string& text) {
  if (iceberg_type == "string") return Utf8Prefix(text, kMaxStringBound);
  return SingleValue(iceberg_type, text);
}

std::optional<std::string> UpperBound(const std::string& iceberg_type, const std::string& text) {
  if (iceberg_type == "string" && text.size() > kMaxStringBound) return std::nullopt;
  return SingleValue(iceberg_type, text);
}

}  // namespace lakehouse::iceberg
