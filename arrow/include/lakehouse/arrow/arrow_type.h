#pragma once
// A parsed Arrow C data interface schema: the format strings turned into a tree the encoders and
// the IPC writer switch on (parsed once per result, not once per value).
#include <cstdint>
#include <string>
#include <vector>

#include "lakehouse/arrow/c_data.h"

namespace lakehouse::arrow {

enum class Kind {
  kNull,
  kBool,
  kInt,
  kFloat,
  kDecimal,
  kUtf8,
  kLargeUtf8,
  kBinary,
  kLargeBinary,
  kFixedBinary,
  kDate32,
  kDate64,
  kTime32,
  kTime64,
  kTimestamp,
  kDuration,
  kIntervalMonths,
  kIntervalDayTime,
  kIntervalMonthDayNano,
  kList,
  kLargeList,
  kFixedList,
  kStruct,
  kMap,
  kDenseUnion,  //!< "+ud:<type ids>" (Flight SQL's GetSqlInfo results); DuckDB exports none
};

enum class TimeUnit { kSecond = 0, kMilli = 1, kMicro = 2, kNano = 3 };

struct ArrowType {
  Kind kind = Kind::kNull;
  std::string name;
  bool nullable = true;
  int bit_width = 0;  //!< ints and floats: 8..64; decimals: 128 or 256
  bool is_signed = true;
  int precision = 0;   //!< decimals
  int scale = 0;       //!< decimals
  int fixed_size = 0;  //!< fixed-size binary bytes / fixed-size list length
  TimeUnit unit = TimeUnit::kMicro;
  std::string timezone;      //!< timestamps; empty = naive
  bool keys_sorted = false;  //!< maps
  std::vector<ArrowType> children;
  std::vector<int32_t> type_ids;  //!< dense unions: the type id of each child
};

//! Throws lakehouse::Error(kNotImplemented) naming the format for types queryd does not encode.
ArrowType ParseArrowType(const ArrowSchema& schema);

//! Value-slot null check honouring the array offset.
inline bool IsNull(const ArrowArray& array, int64_t i) {
  if (array.null_count == 0 || array.n_buffers == 0 || array.buffers[0] == nullptr) return false;
  const int64_t bit = array.offset + i;
  return (static_cast<const uint8_t*>(array.buffers[0])[bit >> 3] & (1u << (bit & 7))) == 0;
}

}  // namespace lakehouse::arrow
