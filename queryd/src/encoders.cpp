#include "encoders.h"

#include <fmt/format.h>

#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>
#include <string_view>
#include <type_traits>

#include "lakehouse/arrow/ipc_writer.h"
#include "lakehouse/shared/error.h"

namespace lakehouse::queryd {
namespace {

//! `v` (finite) as std::to_chars(first, last, v) writes it - the shortest digits that read back as
//! `v`, in fixed or scientific notation, whichever is shorter (fixed on a tie) - from
//! Dragonbox's shortest digits (fmt's; ~4x fewer instructions than libstdc++'s to_chars, ADR 0012).
template <typename T>
char* WriteShortestImpl(char* p, T v) {
  if (std::signbit(v)) {
    *p++ = '-';
    v = -v;
  }
  if (v == 0) {
    *p++ = '0';
    return p;
  }
  const auto dec = fmt::detail::dragonbox::to_decimal(v);
  uint64_t significand = dec.significand;
  int exponent = dec.exponent;
  while (significand % 10 == 0) {
    significand /= 10;
    ++exponent;
  }
  char digits[24];
  const int n = static_cast<int>(std::to_chars(digits, digits + sizeof(digits), significand).ptr - digits);
  const int sci_exponent = exponent + n - 1;
  const int abs_sci = sci_exponent < 0 ? -sci_exponent : sci_exponent;
  const int sci_len = n + (n > 1 ? 1 : 0) + 2 + (abs_sci >= 100 ? 3 : 2);
  int fixed_len = 0;
  if (exponent >= 0) {
    fixed_len = n + exponent;
  } else if (n + exponent > 0) {
    fixed_len = n + 1;
  } else {
    fixed_len = 2 - exponent;
  }
  if (fixed_len <= sci_len) {
    if (exponent > 0 && v >= static_cast<T>(uint64_t{1} << std::numeric_limits<T>::digits)) {
      // to_chars writes a large integral value's exact digits in fixed notation, not the
      // shortest ones followed by zeros (rare: at most ~22 digits win over scientific).
      return std::to_chars(p, p + 32, v).ptr;
    }
    if (exponent >= 0) {
      std::memcpy(p, digits, static_cast<size_t>(n));
      p += n;
      std::memset(p, '0', static_cast<size_t>(exponent));
      return p + exponent;
    }
    if (n + exponent > 0) {
      const int integer = n + exponent;
      std::memcpy(p, digits, static_cast<size_t>(integer));
      p += integer;
      *p++ = '.';
      std::memcpy(p, digits + integer, static_cast<size_t>(n - integer));
      return p + (n - integer);
    }
    *p++ = '0';
    *p++ = '.';
    const int zeros = -(n + exponent);
    std::memset(p, '0', static_cast<size_t>(zeros));
    p += zeros;
    std::memcpy(p, digits, static_cast<size_t>(n));
    return p + n;
  }
  *p++ = digits[0];
  if (n > 1) {
    *p++ = '.';
    std::memcpy(p, digits + 1, static_cast<size_t>(n - 1));
    p += n - 1;
  }
  *p++ = 'e';
  *p++ = sci_exponent < 0 ? '-' : '+';
  if (abs_sci >= 100) *p++ = static_cast<char>('0' + abs_sci / 100);
  *p++ = static_cast<char>('0' + (abs_sci / 10) % 10);
  *p++ = static_cast<char>('0' + abs_sci % 10);
  return p;
}

}  // namespace

char* WriteShortest(char* first, double value) { return WriteShortestImpl(first, value); }
char* WriteShortest(char* first, float value) { return WriteShortestImpl(first, value); }

namespace {

using arrow::ArrowType;
using arrow::Kind;
using arrow::TimeUnit;
__extension__ typedef __int128 Int128;
__extension__ typedef unsigned __int128 UInt128;

constexpr int64_t kMaxSafeInteger = int64_t{1} << 53;

template <typename T>
T Load(const ArrowArray& a, int buffer, int64_t row) {
  T value;
  std::memcpy(&value, static_cast<const uint8_t*>(a.buffers[buffer]) + (a.offset + row) * int64_t{sizeof(T)},
              sizeof(T));
  return value;
}

template <typename T>
void AppendNumber(std::string& out, T value) {
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), value);
  // (pointer, length): append(char*, char*) would pick the iterator-pair overload (_M_replace).
  out.append(buf, static_cast<size_t>(end - buf));
}

//! Writes `scale` fractional digits (then a '.') and at least one integer digit of `v` backwards,
//! ending before `end`; returns the first character written.
template <typename U>
char* WriteDecimalDigits(char* end, U v, int scale) {
  char* p = end;
  for (int i = 0; i < scale; ++i) {
    *--p = static_cast<char>('0' + static_cast<int>(v % 10));
    v /= 10;
  }
  if (scale > 0) *--p = '.';
  do {
    *--p = static_cast<char>('0' + static_cast<int>(v % 10));
    v /= 10;
  } while (v != 0);
  return p;
}

//! A decimal's text ("-12.30" for -1230 at scale 2), written straight into `out` from a stack
//! buffer: no temporary string per value, and 64-bit arithmetic when the value fits (ADR 0012).
void AppendDecimal(std::string& out, Int128 value, int scale) {
  constexpr int kMaxScale = 76;  // Arrow's widest decimal; 128-bit values have at most 39 digits
  if (scale > kMaxScale) Fail(ErrorCode::kInternal, "decimal scale {} is out of range", scale);
  const bool negative = value < 0;
  const UInt128 magnitude =
      negative ? static_cast<UInt128>(0) - static_cast<UInt128>(value) : static_cast<UInt128>(value);
  char buf[kMaxScale + 48];
  char* end = buf + sizeof(buf);
  const int frac = scale > 0 ? scale : 0;
  char* p = magnitude <= UINT64_MAX ? WriteDecimalDigits(end, static_cast<uint64_t>(magnitude), frac)
                                    : WriteDecimalDigits(end, magnitude, frac);
  if (negative) *--p = '-';
  out.append(p, static_cast<size_t>(end - p));
  if (scale < 0) out.append(static_cast<size_t>(-scale), '0');
}

void Append2(std::string& out, int64_t v) {
  out.push_back(static_cast<char>('0' + v / 10));
  out.push_back(static_cast<char>('0' + v % 10));
}

//! Days since 1970-01-01 -> "YYYY-MM-DD" (proleptic Gregorian; H. Hinnant's civil_from_days).
void AppendDate(std::string& out, int64_t days) {
  days += 719468;
  const int64_t era = (days >= 0 ? days : days - 146096) / 146097;
  const int64_t doe = days - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t year = yoe + era * 400;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  const int64_t day = doy - (153 * mp + 2) / 5 + 1;
  const int64_t month = mp < 10 ? mp + 3 : mp - 9;
  if (month <= 2) ++year;
  if (year < 0) {
    out.push_back('-');
    year = -year;
  }
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), year);
  for (ptrdiff_t pad = 4 - (end - buf); pad > 0; --pad) out.push_back('0');
  out.append(buf, static_cast<size_t>(end - buf));
  out.push_back('-');
  Append2(out, month);
  out.push_back('-');
  Append2(out, day);
}

int64_t UnitsPerSecond(TimeUnit unit) {
  switch (unit) {
    case TimeUnit::kSecond:
      return 1;
    case TimeUnit::kMilli:
      return 1000;
    case TimeUnit::kMicro:
      return 1000000;
    case TimeUnit::kNano:
      return 1000000000;
  }
  return 1;
}

int UnitDigits(TimeUnit unit) {
  switch (unit) {
    case TimeUnit::kSecond:
      return 0;
    case TimeUnit::kMilli:
      return 3;
    case TimeUnit::kMicro:
      return 6;
    case TimeUnit::kNano:
      return 9;
  }
  return 0;
}

//! "HH:MM:SS[.fraction]" for a time of day in `unit`s.
void AppendTimeOfDay(std::string& out, int64_t value, TimeUnit unit) {
  const int64_t per_second = UnitsPerSecond(unit);
  const int64_t seconds = value / per_second;
  const int64_t fraction = value % per_second;
  Append2(out, seconds / 3600);
  out.push_back(':');
  Append2(out, (seconds / 60) % 60);
  out.push_back(':');
  Append2(out, seconds % 60);
  if (fraction != 0) {
    char buf[16];
    const int digits = UnitDigits(unit);
    int64_t f = fraction;
    for (int i = digits - 1; i >= 0; --i) {
      buf[i] = static_cast<char>('0' + f % 10);
      f /= 10;
    }
    int used = digits;
    while (used > 1 && buf[used - 1] == '0') --used;
    out.push_back('.');
    out.append(buf, static_cast<size_t>(used));
  }
}

void AppendTimestamp(std::string& out, int64_t value, TimeUnit unit, bool utc) {
  const int64_t per_day = UnitsPerSecond(unit) * 86400;
  int64_t days = value / per_day;
  int64_t rest = value % per_day;
  if (rest < 0) {
    rest += per_day;
    --days;
  }
  AppendDate(out, days);
  out.push_back('T');
  AppendTimeOfDay(out, rest, unit);
  if (utc) out.push_back('Z');
}

void AppendInterval(std::string& out, int32_t months, int32_t days, int64_t nanos) {
  // DuckDB-like: "1 year 2 months 3 days 04:05:06.5"
  bool any = false;
  auto part = [&](int64_t n, const char* unit) {
    if (n == 0) return;
    if (any) out.push_back(' ');
    AppendNumber(out, n);
    out.push_back(' ');
    out += unit;
    if (n != 1 && n != -1) out.push_back('s');
    any = true;
  };
  part(months / 12, "year");
  part(months % 12, "month");
  part(days, "day");
  if (nanos != 0 || !any) {
    if (any) out.push_back(' ');
    if (nanos < 0) {
      out.push_back('-');
      nanos = -nanos;
    }
    AppendTimeOfDay(out, nanos, TimeUnit::kNano);
  }
}

constexpr char kBase64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

void AppendBase64(std::string& out, std::string_view bytes) {
  size_t i = 0;
  const auto* p = reinterpret_cast<const uint8_t*>(bytes.data());
  for (; i + 3 <= bytes.size(); i += 3) {
    const uint32_t v = (uint32_t{p[i]} << 16) | (uint32_t{p[i + 1]} << 8) | p[i + 2];
    out.push_back(kBase64[v >> 18]);
    out.push_back(kBase64[(v >> 12) & 63]);
    out.push_back(kBase64[(v >> 6) & 63]);
    out.push_back(kBase64[v & 63]);
  }
  if (i < bytes.size()) {
    uint32_t v = uint32_t{p[i]} << 16;
    if (i + 1 < bytes.size()) v |= uint32_t{p[i + 1]} << 8;
    out.push_back(kBase64[v >> 18]);
    out.push_back(kBase64[(v >> 12) & 63]);
    out.push_back(i + 1 < bytes.size() ? kBase64[(v >> 6) & 63] : '=');
    out.push_back('=');
  }
}

void AppendJsonString(std::string& out, std::string_view s) {
  out.push_back('"');
  size_t run = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    out.append(s.data() + run, i - run);
    run = i + 1;
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        fmt::format_to(std::back_inserter(out), "\\u{:04x}", c);
    }
  }
  out.append(s.data() + run, s.size() - run);
  out.push_back('"');
}

std::string_view Bytes(const ArrowType& t, const ArrowArray& a, int64_t row) {
  const bool large = t.kind == Kind::kLargeUtf8 || t.kind == Kind::kLargeBinary;
  int64_t begin = 0;
  int64_t end = 0;
  if (large) {
    begin = Load<int64_t>(a, 1, row);
    end = Load<int64_t>(a, 1, row + 1);
  } else {
    begin = Load<int32_t>(a, 1, row);
    end = Load<int32_t>(a, 1, row + 1);
  }
  return {static_cast<const char*>(a.buffers[2]) + begin, static_cast<size_t>(end - begin)};
}

bool IsNullValue(const ArrowType& t, const ArrowArray& a, int64_t row) {
  return t.kind == Kind::kNull || arrow::IsNull(a, row);
}

//! Child range [begin, end) of a list-like value.
std::pair<int64_t, int64_t> ListRange(const ArrowType& t, const ArrowArray& a, int64_t row) {
  if (t.kind == Kind::kFixedList) return {(a.offset + row) * t.fixed_size, (a.offset + row + 1) * t.fixed_size};
  if (t.kind == Kind::kLargeList) return {Load<int64_t>(a, 1, row), Load<int64_t>(a, 1, row + 1)};
  return {Load<int32_t>(a, 1, row), Load<int32_t>(a, 1, row + 1)};
}

//! Scalars shared by the JSON and text forms. Returns false for kinds handled by the caller.
//! `json` decides quoting of text-like values.
bool AppendScalar(std::string& out, const ArrowType& t, const ArrowArray& a, int64_t row, bool json) {
  auto quoted = [&](auto&& body) {
    if (json) out.push_back('"');
    body();
    if (json) out.push_back('"');
  };
  switch (t.kind) {
    case Kind::kBool: {
      const int64_t bit = a.offset + row;
      const bool v = (static_cast<const uint8_t*>(a.buffers[1])[bit >> 3] >> (bit & 7)) & 1;
      out += v ? "true" : "false";
      return true;
    }
    case Kind::kInt: {
      if (t.is_signed) {
        int64_t v = 0;
        switch (t.bit_width) {
          case 8:
            v = Load<int8_t>(a, 1, row);  // NOLINT(bugprone-signed-char-misuse): TINYINT is signed
            break;
          case 16:
            v = Load<int16_t>(a, 1, row);
            break;
          case 32:
            v = Load<int32_t>(a, 1, row);
            break;
          default:
            v = Load<int64_t>(a, 1, row);
            break;
        }
        const bool big = json && (v > kMaxSafeInteger || v < -kMaxSafeInteger);
        if (big) out.push_back('"');
        AppendNumber(out, v);
        if (big) out.push_back('"');
        return true;
      }
      uint64_t v = 0;
      switch (t.bit_width) {
        case 8:
          v = Load<uint8_t>(a, 1, row);
          break;
        case 16:
          v = Load<uint16_t>(a, 1, row);
          break;
        case 32:
          v = Load<uint32_t>(a, 1, row);
          break;
        default:
          v = Load<uint64_t>(a, 1, row);
          break;
      }
      const bool big = json && v > static_cast<uint64_t>(kMaxSafeInteger);
      if (big) out.push_back('"');
      AppendNumber(out, v);
      if (big) out.push_back('"');
      return true;
    }
    case Kind::kFloat: {
      const double v = t.bit_width == 32 ? static_cast<double>(Load<float>(a, 1, row)) : Load<double>(a, 1, row);
      if (std::isfinite(v)) {
        if (t.bit_width == 32) {
          AppendNumber(out, Load<float>(a, 1, row));
        } else {
          AppendNumber(out, v);
        }
      } else {
        quoted([&] { out += std::isnan(v) ? "NaN" : (v > 0 ? "Infinity" : "-Infinity"); });
      }
      return true;
    }
    case Kind::kDecimal: {
      const auto low = Load<UInt128>(a, 1, row);
      quoted([&] { AppendDecimal(out, static_cast<Int128>(low), t.scale); });
      return true;
    }
    case Kind::kUtf8:
    case Kind::kLargeUtf8:
      if (json) {
        AppendJsonString(out, Bytes(t, a, row));
      } else {
        out += Bytes(t, a, row);
      }
      return true;
    case Kind::kBinary:
    case Kind::kLargeBinary:
      quoted([&] { AppendBase64(out, Bytes(t, a, row)); });
      return true;
    case Kind::kFixedBinary:
      quoted([&] {
        AppendBase64(out, std::string_view(static_cast<const char*>(a.buffers[1]) + (a.offset + row) * t.fixed_size,
                                           static_cast<size_t>(t.fixed_size)));
      });
      return true;
    case Kind::kDate32:
      quoted([&] { AppendDate(out, Load<int32_t>(a, 1, row)); });
      return true;
    case Kind::kDate64:
      quoted([&] {
        const int64_t ms = Load<int64_t>(a, 1, row);
        AppendDate(out, ms >= 0 ? ms / 86400000 : (ms - 86399999) / 86400000);
      });
      return true;
    case Kind::kTime32:
      quoted([&] { AppendTimeOfDay(out, Load<int32_t>(a, 1, row), t.unit); });
      return true;
    case Kind::kTime64:
      quoted([&] { AppendTimeOfDay(out, Load<int64_t>(a, 1, row), t.unit); });
      return true;
    case Kind::kTimestamp:
      quoted([&] { AppendTimestamp(out, Load<int64_t>(a, 1, row), t.unit, !t.timezone.empty()); });
      return true;
    case Kind::kDuration:
      AppendNumber(out, Load<int64_t>(a, 1, row));
      return true;
    case Kind::kIntervalMonths:
      quoted([&] { AppendInterval(out, Load<int32_t>(a, 1, row), 0, 0); });
      return true;
    case Kind::kIntervalDayTime: {
      const auto* p = static_cast<const int32_t*>(a.buffers[1]) + (a.offset + row) * 2;
      quoted([&] { AppendInterval(out, 0, p[0], int64_t{p[1]} * 1000000); });
      return true;
    }
    case Kind::kIntervalMonthDayNano: {
      const auto* p = static_cast<const uint8_t*>(a.buffers[1]) + (a.offset + row) * 16;
      int32_t months = 0;
      int32_t days = 0;
      int64_t nanos = 0;
      std::memcpy(&months, p, 4);
      std::memcpy(&days, p + 4, 4);
      std::memcpy(&nanos, p + 8, 8);
      quoted([&] { AppendInterval(out, months, days, nanos); });
      return true;
    }
    default:
      return false;
  }
}

//! Column-typed cell writers for the text encoders (ADR 0012, fifth session). The common scalar
//! kinds are written with a pointer into a stack buffer of the encoding thread (no std::string
//! append per piece, one kind decision per column instead of the generic switches per value);
//! every other kind, and long strings, take the generic path (AppendJsonValue/AppendTextValue)
//! straight into the output. Both paths write the same bytes.
enum class CellOp : uint8_t {
  kGeneric,
  kInt8,
  kInt16,
  kInt32,
  kInt64,
  kUInt8,
  kUInt16,
  kUInt32,
  kUInt64,
  kFloat32,
  kFloat64,
  kDecimal,
  kUtf8,
  kLargeUtf8,
  kBool,
  kDate32,
  kTimestamp,
};

struct Cell {
  CellOp op = CellOp::kGeneric;
  int scale = 0;                     //!< decimals
  TimeUnit unit = TimeUnit::kMicro;  //!< timestamps
  bool utc = false;                  //!< timestamps with a time zone
};

constexpr int kMaxFastDecimalScale = 38;
//! Room a fast cell other than a string needs (quotes included): a 64-bit integer 20 + 2, a
//! double 24, a decimal of scale <= 38 at most 41 + 2, a timestamp ~35 + 2.
constexpr size_t kFixedCellRoom = 64;

Cell CellFor(const ArrowType& t) {
  Cell c;
  switch (t.kind) {
    case Kind::kInt: {
      static constexpr CellOp kSigned[] = {CellOp::kInt8, CellOp::kInt16, CellOp::kInt32, CellOp::kInt64};
      static constexpr CellOp kUnsigned[] = {CellOp::kUInt8, CellOp::kUInt16, CellOp::kUInt32, CellOp::kUInt64};
      const int i = t.bit_width == 8 ? 0 : t.bit_width == 16 ? 1 : t.bit_width == 32 ? 2 : 3;
      c.op = t.is_signed ? kSigned[i] : kUnsigned[i];
      break;
    }
    case Kind::kFloat:
      c.op = t.bit_width == 32 ? CellOp::kFloat32 : CellOp::kFloat64;
      break;
    case Kind::kDecimal:
      if (t.scale >= 0 && t.scale <= kMaxFastDecimalScale) c.op = CellOp::kDecimal;
      c.scale = t.scale;
      break;
    case Kind::kUtf8:
      c.op = CellOp::kUtf8;
      break;
    case Kind::kLargeUtf8:
      c.op = CellOp::kLargeUtf8;
      break;
    case Kind::kBool:
      c.op = CellOp::kBool;
      break;
    case Kind::kDate32:
      c.op = CellOp::kDate32;
      break;
    case Kind::kTimestamp:
      c.op = CellOp::kTimestamp;
      c.unit = t.unit;
      c.utc = !t.timezone.empty();
      break;
    default:
      break;
  }
  return c;
}

//! A stack buffer in front of the output string: cells are written with a pointer, and the
//! buffer is appended to the output when it runs short of room (and at the end).
class CellBuffer {
 public:
  explicit CellBuffer(std::string& out) : out_(out) {}
  ~CellBuffer() { Flush(); }
  CellBuffer(const CellBuffer&) = delete;
  CellBuffer& operator=(const CellBuffer&) = delete;

  static constexpr size_t kSize = size_t{32} << 10;
  //! A pointer with at least `room` chars free (room <= kSize).
  char* Room(size_t room) {
    if (static_cast<size_t>(buf_ + kSize - p_) < room) Flush();
    return p_;
  }
  void Advance(char* end) { p_ = end; }
  void Put(char c) {
    if (p_ == buf_ + kSize) Flush();
    *p_++ = c;
  }
  void Put(std::string_view s) {
    if (static_cast<size_t>(buf_ + kSize - p_) < s.size()) {
      Flush();
      if (s.size() > kSize) {
        out_.append(s.data(), s.size());
        return;
      }
    }
    std::memcpy(p_, s.data(), s.size());
    p_ += s.size();
  }
  //! The output itself, for a generic cell (after the buffered bytes).
  std::string& Out() {
    Flush();
    return out_;
  }
  void Flush() {
    out_.append(buf_, static_cast<size_t>(p_ - buf_));
    p_ = buf_;
  }

 private:
  std::string& out_;
  char buf_[kSize];
  char* p_ = buf_;
};

template <typename T>
char* WriteNumber(char* p, T value) {
  return std::to_chars(p, p + 32, value).ptr;
}

template <typename T>
char* WriteInt(char* p, T v, bool json) {
  bool big = false;
  if constexpr (std::is_signed_v<T>) {
    big = json && (static_cast<int64_t>(v) > kMaxSafeInteger || static_cast<int64_t>(v) < -kMaxSafeInteger);
  } else {
    big = json && static_cast<uint64_t>(v) > static_cast<uint64_t>(kMaxSafeInteger);
  }
  if (big) *p++ = '"';
  p = WriteNumber(p, v);
  if (big) *p++ = '"';
  return p;
}

template <typename T>
char* WriteFloat(char* p, T v, bool json) {
  if (std::isfinite(static_cast<double>(v))) return WriteShortest(p, v);
  const std::string_view text = std::isnan(static_cast<double>(v)) ? "NaN" : (v > 0 ? "Infinity" : "-Infinity");
  if (json) *p++ = '"';
  std::memcpy(p, text.data(), text.size());
  p += text.size();
  if (json) *p++ = '"';
  return p;
}

//! A decimal of scale 0..38, as AppendDecimal writes it.
char* WriteDecimal(char* p, Int128 value, int scale, bool json) {
  char buf[kMaxFastDecimalScale + 48];
  char* end = buf + sizeof(buf);
  const bool negative = value < 0;
  const UInt128 magnitude =
      negative ? static_cast<UInt128>(0) - static_cast<UInt128>(value) : static_cast<UInt128>(value);
  char* d = magnitude <= UINT64_MAX ? WriteDecimalDigits(end, static_cast<uint64_t>(magnitude), scale)
                                    : WriteDecimalDigits(end, magnitude, scale);
  if (negative) *--d = '-';
  if (json) *p++ = '"';
  const auto n = static_cast<size_t>(end - d);
  std::memcpy(p, d, n);
  p += n;
  if (json) *p++ = '"';
  return p;
}

//! Writes a date or timestamp through the std::string helpers (rare enough next to numbers to
//! keep one implementation): the text goes through a small string into the buffer.
template <typename F>
void PutVia(CellBuffer& buf, bool json, F&& write) {
  thread_local std::string text;
  text.clear();
  if (json) text.push_back('"');
  write(text);
  if (json) text.push_back('"');
  buf.Put(text);
}

//! A JSON string cell, escaped as AppendJsonString does.
void PutJsonString(CellBuffer& buf, std::string_view s) {
  if (s.size() * 6 + 2 > CellBuffer::kSize / 2) {
    AppendJsonString(buf.Out(), s);
    return;
  }
  char* p = buf.Room(s.size() * 6 + 2);
  *p++ = '"';
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c >= 0x20 && c != '"' && c != '\\') {
      *p++ = ch;
      continue;
    }
    *p++ = '\\';
    switch (c) {
      case '"':
        *p++ = '"';
        break;
      case '\\':
        *p++ = '\\';
        break;
      case '\n':
        *p++ = 'n';
        break;
      case '\r':
        *p++ = 'r';
        break;
      case '\t':
        *p++ = 't';
        break;
      default: {
        static constexpr char kHex[] = "0123456789abcdef";
        *p++ = 'u';
        *p++ = '0';
        *p++ = '0';
        *p++ = kHex[c >> 4];
        *p++ = kHex[c & 15];
      }
    }
  }
  *p++ = '"';
  buf.Advance(p);
}

//! A CSV text cell: as is, or quoted (inner quotes doubled) when it holds , " CR or LF; an empty
//! string is "" (an empty cell is NULL).
void PutCsvString(CellBuffer& buf, std::string_view s) {
  if (s.empty()) {
    buf.Put("\"\"");
    return;
  }
  bool quote = false;
  for (const char c : s) {
    if (c == ',' || c == '"' || c == '\r' || c == '\n') {
      quote = true;
      break;
    }
  }
  if (!quote) {
    buf.Put(s);
    return;
  }
  if (s.size() * 2 + 2 > CellBuffer::kSize / 2) {
    std::string& out = buf.Out();
    out.push_back('"');
    for (const char c : s) {
      if (c == '"') out.push_back('"');
      out.push_back(c);
    }
    out.push_back('"');
    return;
  }
  char* p = buf.Room(s.size() * 2 + 2);
  *p++ = '"';
  for (const char c : s) {
    if (c == '"') *p++ = '"';
    *p++ = c;
  }
  *p++ = '"';
  buf.Advance(p);
}

//! One non-null cell of a fast kind (cell.op != kGeneric).
void PutCell(CellBuffer& buf, const Cell& cell, const ArrowArray& a, int64_t row, bool json) {
  switch (cell.op) {
    case CellOp::kInt8:
      buf.Advance(WriteInt(buf.Room(kFixedCellRoom), Load<int8_t>(a, 1, row), json));
      return;
    case CellOp::kInt16:
      buf.Advance(WriteInt(buf.Room(kFixedCellRoom), Load<int16_t>(a, 1, row), json));
      return;
    case CellOp::kInt32:
      buf.Advance(WriteInt(buf.Room(kFixedCellRoom), Load<int32_t>(a, 1, row), json));
      return;
    case CellOp::kInt64:
      buf.Advance(WriteInt(buf.Room(kFixedCellRoom), Load<int64_t>(a, 1, row), json));
      return;
    case CellOp::kUInt8:
      buf.Advance(WriteInt(buf.Room(kFixedCellRoom), Load<uint8_t>(a, 1, row), json));
      return;
    case CellOp::kUInt16:
      buf.Advance(WriteInt(buf.Room(kFixedCellRoom), Load<uint16_t>(a, 1, row), json));
      return;
    case CellOp::kUInt32:
      buf.Advance(WriteInt(buf.Room(kFixedCellRoom), Load<uint32_t>(a, 1, row), json));
      return;
    case CellOp::kUInt64:
      buf.Advance(WriteInt(buf.Room(kFixedCellRoom), Load<uint64_t>(a, 1, row), json));
      return;
    case CellOp::kFloat32:
      buf.Advance(WriteFloat(buf.Room(kFixedCellRoom), Load<float>(a, 1, row), json));
      return;
    case CellOp::kFloat64:
      buf.Advance(WriteFloat(buf.Room(kFixedCellRoom), Load<double>(a, 1, row), json));
      return;
    case CellOp::kDecimal:
      buf.Advance(
          WriteDecimal(buf.Room(kFixedCellRoom), static_cast<Int128>(Load<UInt128>(a, 1, row)), cell.scale, json));
      return;
    case CellOp::kUtf8:
    case CellOp::kLargeUtf8: {
      int64_t begin = 0;
      int64_t end = 0;
      if (cell.op == CellOp::kLargeUtf8) {
        begin = Load<int64_t>(a, 1, row);
        end = Load<int64_t>(a, 1, row + 1);
      } else {
        begin = Load<int32_t>(a, 1, row);
        end = Load<int32_t>(a, 1, row + 1);
      }
      const std::string_view s(static_cast<const char*>(a.buffers[2]) + begin, static_cast<size_t>(end - begin));
      if (json) {
        PutJsonString(buf, s);
      } else {
        PutCsvString(buf, s);
      }
      return;
    }
    case CellOp::kBool: {
      const int64_t bit = a.offset + row;
      const bool v = (static_cast<const uint8_t*>(a.buffers[1])[bit >> 3] >> (bit & 7)) & 1;
      buf.Put(v ? std::string_view("true") : std::string_view("false"));
      return;
    }
    case CellOp::kDate32:
      PutVia(buf, json, [&](std::string& out) { AppendDate(out, Load<int32_t>(a, 1, row)); });
      return;
    case CellOp::kTimestamp:
      PutVia(buf, json, [&](std::string& out) { AppendTimestamp(out, Load<int64_t>(a, 1, row), cell.unit, cell.utc); });
      return;
    case CellOp::kGeneric:
      break;
  }
}

}  // namespace

void AppendJsonValue(std::string& out, const ArrowType& t, const ArrowArray& a, int64_t row) {
  if (IsNullValue(t, a, row)) {
    out += "null";
    return;
  }
  if (AppendScalar(out, t, a, row, true)) return;
  switch (t.kind) {
    case Kind::kList:
    case Kind::kLargeList:
    case Kind::kFixedList: {
      const auto [begin, end] = ListRange(t, a, row);
      out.push_back('[');
      for (int64_t i = begin; i < end; ++i) {
        if (i != begin) out.push_back(',');
        AppendJsonValue(out, t.children[0], *a.children[0], i);
      }
      out.push_back(']');
      return;
    }
    case Kind::kMap: {
      // [{"key":k,"value":v},...]: keys need not be strings.
      const auto [begin, end] = ListRange(t, a, row);
      const ArrowType& entries = t.children[0];
      const ArrowArray& entry_array = *a.children[0];
      out.push_back('[');
      for (int64_t i = begin; i < end; ++i) {
        if (i != begin) out.push_back(',');
        out += "{\"key\":";
        AppendJsonValue(out, entries.children[0], *entry_array.children[0], entry_array.offset + i);
        out += ",\"value\":";
        AppendJsonValue(out, entries.children[1], *entry_array.children[1], entry_array.offset + i);
        out.push_back('}');
      }
      out.push_back(']');
      return;
    }
    case Kind::kStruct: {
      out.push_back('{');
      for (size_t c = 0; c < t.children.size(); ++c) {
        if (c != 0) out.push_back(',');
        AppendJsonString(out, t.children[c].name);
        out.push_back(':');
        AppendJsonValue(out, t.children[c], *a.children[c], a.offset + row);
      }
      out.push_back('}');
      return;
    }
    default:
      Fail(ErrorCode::kInternal, "no JSON encoding for column '{}'", t.name);
  }
}

void AppendTextValue(std::string& out, const ArrowType& t, const ArrowArray& a, int64_t row) {
  if (IsNullValue(t, a, row)) return;
  if (AppendScalar(out, t, a, row, false)) return;
  AppendJsonValue(out, t, a, row);  // nested values: their JSON text
}

namespace {

//! One JSON cell: a fast kind through PutCell, any other through AppendJsonValue.
void PutJsonCell(CellBuffer& buf, const ArrowType& t, const Cell& cell, const ArrowArray& a, int64_t row) {
  if (cell.op == CellOp::kGeneric) {
    AppendJsonValue(buf.Out(), t, a, row);
  } else if (arrow::IsNull(a, row)) {
    buf.Put("null");
  } else {
    PutCell(buf, cell, a, row, true);
  }
}

class JsonEncoder final : public Encoder {
 public:
  explicit JsonEncoder(Output& out) : out_(out) {}
  void Start(const std::vector<ColumnInfo>& columns, const ArrowSchema& schema) override {
    types_ = arrow::ParseArrowType(schema).children;
    for (const auto& t : types_) cells_.push_back(CellFor(t));
    std::string& b = out_.buffer();
    b += "{\"columns\":[";
    for (size_t i = 0; i < columns.size(); ++i) {
      if (i != 0) b.push_back(',');
      b += "{\"name\":";
      AppendJsonString(b, columns[i].name);
      b += ",\"type\":";
      AppendJsonString(b, columns[i].type);
      b.push_back('}');
    }
    b += "],\"rows\":[";
  }
  void Batch(const ArrowArray& batch) override {
    EncodeRows(batch, !first_row_, out_.buffer());
    first_row_ = first_row_ && batch.length == 0;
    out_.MaybeFlush();
  }
  bool EncodeRows(const ArrowArray& batch, bool after_rows, std::string& b) const override {
    CellBuffer buf(b);
    for (int64_t row = 0; row < batch.length; ++row) {
      if (after_rows || row != 0) buf.Put(",\n");
      buf.Put('[');
      for (size_t c = 0; c < types_.size(); ++c) {
        if (c != 0) buf.Put(',');
        PutJsonCell(buf, types_[c], cells_[c], *batch.children[c], row);
      }
      buf.Put(']');
    }
    return true;
  }
  void Finish(const QueryStats& stats) override {
    fmt::format_to(std::back_inserter(out_.buffer()),
                   "],\"stats\":{{\"rows\":{},\"elapsed_ms\":{},\"truncated\":{},\"objects_scanned\":{},"
                   "\"objects_pruned\":{}}}}}\n",
                   stats.rows, stats.elapsed_ms, stats.truncated, stats.objects_scanned, stats.objects_pruned);
  }

 private:
  Output& out_;
  std::vector<ArrowType> types_;
  std::vector<Cell> cells_;
  bool first_row_ = true;
};

class NdjsonEncoder final : public Encoder {
 public:
  explicit NdjsonEncoder(Output& out) : out_(out) {}
  void Start(const std::vector<ColumnInfo>& columns, const ArrowSchema& schema) override {
    types_ = arrow::ParseArrowType(schema).children;
    for (const auto& t : types_) cells_.push_back(CellFor(t));
    for (size_t i = 0; i < columns.size(); ++i) {
      std::string key = i == 0 ? "{" : ",";
      AppendJsonString(key, columns[i].name);
      key.push_back(':');
      keys_.push_back(std::move(key));
    }
  }
  void Batch(const ArrowArray& batch) override {
    EncodeRows(batch, false, out_.buffer());
    out_.MaybeFlush();
  }
  bool EncodeRows(const ArrowArray& batch, bool, std::string& b) const override {
    CellBuffer buf(b);
    for (int64_t row = 0; row < batch.length; ++row) {
      if (types_.empty()) buf.Put('{');
      for (size_t c = 0; c < types_.size(); ++c) {
        buf.Put(keys_[c]);
        PutJsonCell(buf, types_[c], cells_[c], *batch.children[c], row);
      }
      buf.Put("}\n");
    }
    return true;
  }
  void Finish(const QueryStats&) override {}

 private:
  Output& out_;
  std::vector<ArrowType> types_;
  std::vector<Cell> cells_;
  std::vector<std::string> keys_;
};

//! Whether a column's text may hold a character CSV must quote: only text and nested values (their
//! JSON) can; numbers, decimals, dates, times, intervals and base64 cannot, so their cells skip the scan.
bool MayNeedCsvQuotes(const ArrowType& t) {
  switch (t.kind) {
    case Kind::kNull:
    case Kind::kBool:
    case Kind::kInt:
    case Kind::kFloat:
    case Kind::kDecimal:
    case Kind::kBinary:
    case Kind::kLargeBinary:
    case Kind::kFixedBinary:
    case Kind::kDate32:
    case Kind::kDate64:
    case Kind::kTime32:
    case Kind::kTime64:
    case Kind::kTimestamp:
    case Kind::kDuration:
    case Kind::kIntervalMonths:
    case Kind::kIntervalDayTime:
    case Kind::kIntervalMonthDayNano:
      return false;
    default:
      return true;
  }
}

void AppendCsvCell(std::string& b, size_t start) {
  // RFC 4180: quote a cell holding a comma, a quote or a line break; double inner quotes.
  const char* p = b.data() + start;
  const char* end = b.data() + b.size();
  while (p != end && *p != ',' && *p != '"' && *p != '\r' && *p != '\n') ++p;
  if (p == end) return;
  std::string cell = b.substr(start);
  b.resize(start);
  b.push_back('"');
  for (char c : cell) {
    if (c == '"') b.push_back('"');
    b.push_back(c);
  }
  b.push_back('"');
}

class CsvEncoder final : public Encoder {
 public:
  explicit CsvEncoder(Output& out) : out_(out) {}
  void Start(const std::vector<ColumnInfo>& columns, const ArrowSchema& schema) override {
    types_ = arrow::ParseArrowType(schema).children;
    for (const auto& t : types_) {
      quote_check_.push_back(MayNeedCsvQuotes(t));
      cells_.push_back(CellFor(t));
    }
    std::string& b = out_.buffer();
    for (size_t i = 0; i < columns.size(); ++i) {
      if (i != 0) b.push_back(',');
      const size_t start = b.size();
      b += columns[i].name;
      AppendCsvCell(b, start);
    }
    b += "\r\n";
  }
  void Batch(const ArrowArray& batch) override {
    EncodeRows(batch, false, out_.buffer());
    out_.MaybeFlush();
  }
  bool EncodeRows(const ArrowArray& batch, bool, std::string& out) const override {
    CellBuffer buf(out);
    for (int64_t row = 0; row < batch.length; ++row) {
      for (size_t c = 0; c < types_.size(); ++c) {
        if (c != 0) buf.Put(',');
        const ArrowArray& column = *batch.children[c];
        if (cells_[c].op != CellOp::kGeneric) {
          if (!arrow::IsNull(column, row)) PutCell(buf, cells_[c], column, row, false);  // NULL: an empty cell
          continue;
        }
        std::string& b = buf.Out();
        const size_t start = b.size();
        AppendTextValue(b, types_[c], column, row);
        if (b.size() == start) {
          // An empty string is "" so that it differs from NULL (an empty cell).
          if (!IsNullValue(types_[c], column, row)) b += "\"\"";
          continue;
        }
        if (quote_check_[c]) AppendCsvCell(b, start);
      }
      buf.Put("\r\n");
    }
    return true;
  }
  void Finish(const QueryStats&) override {}

 private:
  Output& out_;
  std::vector<ArrowType> types_;
  std::vector<uint8_t> quote_check_;  //!< per column: MayNeedCsvQuotes (not vector<bool>: read per cell)
  std::vector<Cell> cells_;
};

class ArrowEncoder final : public Encoder {
 public:
  explicit ArrowEncoder(Output& out)
      : out_(out), writer_([this](std::string_view bytes) {
          out_.Append(bytes);
          return out_.ok();
        }) {}
  void Start(const std::vector<ColumnInfo>&, const ArrowSchema& schema) override { writer_.WriteSchema(schema); }
  void Batch(const ArrowArray& batch) override { writer_.WriteBatch(batch); }
  void Finish(const QueryStats&) override { writer_.Finish(); }

 private:
  Output& out_;
  arrow::IpcStreamWriter writer_;
};

}  // namespace

std::unique_ptr<Encoder> MakeEncoder(ResultFormat format, Output& out) {
  switch (format) {
    case ResultFormat::kJson:
      return std::make_unique<JsonEncoder>(out);
    case ResultFormat::kNdjson:
      return std::make_unique<NdjsonEncoder>(out);
    case ResultFormat::kCsv:
      return std::make_unique<CsvEncoder>(out);
    case ResultFormat::kArrow:
      return std::make_unique<ArrowEncoder>(out);
    case ResultFormat::kParquet:
      break;  // DuckDB writes Parquet itself (parquet_export.h)
  }
  Fail(ErrorCode::kInternal, "unknown result format");
}

}  // namespace lakehouse::queryd
