#include "lakehouse/arrow/arrow_type.h"

#include <charconv>
#include <cstring>
#include <string_view>

#include "lakehouse/shared/error.h"

namespace lakehouse::arrow {
namespace {

[[noreturn]] void Unsupported(std::string_view format, std::string_view name) {
  Fail(ErrorCode::kNotImplemented,
       "column '{}' has Arrow type '{}', which queryd cannot encode yet; cast it to VARCHAR", name, format);
}

int ParseInt(std::string_view text, std::string_view format, std::string_view name) {
  int value = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc()) Unsupported(format, name);
  return value;
}

TimeUnit ParseUnit(char c, std::string_view format, std::string_view name) {
  switch (c) {
    case 's':
      return TimeUnit::kSecond;
    case 'm':
      return TimeUnit::kMilli;
    case 'u':
      return TimeUnit::kMicro;
    case 'n':
      return TimeUnit::kNano;
    default:
      Unsupported(format, name);
  }
}

}  // namespace

ArrowType ParseArrowType(const ArrowSchema& schema) {
  ArrowType t;
  t.name = schema.name ? schema.name : "";
  t.nullable = (schema.flags & ARROW_FLAG_NULLABLE) != 0;
  const std::string_view f = schema.format ? schema.format : "";
  if (schema.dictionary != nullptr) Unsupported("dictionary", t.name);
  auto scalar = [&](Kind kind, int bits, bool is_signed) {
    t.kind = kind;
    t.bit_width = bits;
    t.is_signed = is_signed;
  };
  if (f.size() == 1) {
    switch (f[0]) {
      case 'n':
        t.kind = Kind::kNull;
        break;
      case 'b':
        t.kind = Kind::kBool;
        break;
      case 'c':
        scalar(Kind::kInt, 8, true);
        break;
      case 'C':
        scalar(Kind::kInt, 8, false);
        break;
      case 's':
        scalar(Kind::kInt, 16, true);
        break;
      case 'S':
        scalar(Kind::kInt, 16, false);
        break;
      case 'i':
        scalar(Kind::kInt, 32, true);
        break;
      case 'I':
        scalar(Kind::kInt, 32, false);
        break;
      case 'l':
        scalar(Kind::kInt, 64, true);
        break;
      case 'L':
        scalar(Kind::kInt, 64, false);
        break;
      case 'f':
        scalar(Kind::kFloat, 32, true);
        break;
      case 'g':
        scalar(Kind::kFloat, 64, true);
        break;
      case 'u':
        t.kind = Kind::kUtf8;
        break;
      case 'U':
        t.kind = Kind::kLargeUtf8;
        break;
      case 'z':
        t.kind = Kind::kBinary;
        break;
      case 'Z':
        t.kind = Kind::kLargeBinary;
        break;
      default:
        Unsupported(f, t.name);
    }
  } else if (f.starts_with("d:")) {
    t.kind = Kind::kDecimal;
    const auto rest = f.substr(2);
    const auto c1 = rest.find(',');
    if (c1 == std::string_view::npos) Unsupported(f, t.name);
    t.precision = ParseInt(rest.substr(0, c1), f, t.name);
    auto tail = rest.substr(c1 + 1);
    const auto c2 = tail.find(',');
    t.scale = ParseInt(tail.substr(0, c2), f, t.name);
    t.bit_width = c2 == std::string_view::npos ? 128 : ParseInt(tail.substr(c2 + 1), f, t.name);
    if (t.bit_width != 128) Unsupported(f, t.name);
  } else if (f.starts_with("w:")) {
    t.kind = Kind::kFixedBinary;
    t.fixed_size = ParseInt(f.substr(2), f, t.name);
  } else if (f == "tdD") {
    t.kind = Kind::kDate32;
  } else if (f == "tdm") {
    t.kind = Kind::kDate64;
  } else if (f.size() == 3 && f.starts_with("tt")) {
    t.unit = ParseUnit(f[2], f, t.name);
    t.kind = (t.unit == TimeUnit::kSecond || t.unit == TimeUnit::kMilli) ? Kind::kTime32 : Kind::kTime64;
  } else if (f.size() >= 4 && f.starts_with("ts") && f[3] == ':') {
    t.kind = Kind::kTimestamp;
    t.unit = ParseUnit(f[2], f, t.name);
    t.timezone = std::string(f.substr(4));
  } else if (f.size() == 3 && f.starts_with("tD")) {
    t.kind = Kind::kDuration;
    t.unit = ParseUnit(f[2], f, t.name);
  } else if (f == "tiM") {
    t.kind = Kind::kIntervalMonths;
  } else if (f == "tiD") {
    t.kind = Kind::kIntervalDayTime;
  } else if (f == "tin") {
    t.kind = Kind::kIntervalMonthDayNano;
  } else if (f == "+l" || f == "+L" || f == "+s" || f == "+m" || f.starts_with("+w:")) {
    t.kind = f == "+l"   ? Kind::kList
             : f == "+L" ? Kind::kLargeList
             : f == "+s" ? Kind::kStruct
             : f == "+m" ? Kind::kMap
                         : Kind::kFixedList;
    if (t.kind == Kind::kFixedList) t.fixed_size = ParseInt(f.substr(3), f, t.name);
    if (t.kind == Kind::kMap) t.keys_sorted = (schema.flags & ARROW_FLAG_MAP_KEYS_SORTED) != 0;
    for (int64_t i = 0; i < schema.n_children; ++i) t.children.push_back(ParseArrowType(*schema.children[i]));
    const bool one_child = t.kind != Kind::kStruct;
    if (one_child && t.children.size() != 1) Unsupported(f, t.name);
  } else if (f.starts_with("+ud:")) {
    t.kind = Kind::kDenseUnion;
    for (auto ids = f.substr(4); !ids.empty();) {
      const auto comma = ids.find(',');
      t.type_ids.push_back(ParseInt(ids.substr(0, comma), f, t.name));
      ids = comma == std::string_view::npos ? std::string_view() : ids.substr(comma + 1);
    }
    for (int64_t i = 0; i < schema.n_children; ++i) t.children.push_back(ParseArrowType(*schema.children[i]));
    if (t.children.size() != t.type_ids.size()) Unsupported(f, t.name);
  } else {
    Unsupported(f, t.name);
  }
  return t;
}

}  // namespace lakehouse::arrow
