#pragma once
// The Arrow results of Flight SQL's metadata commands (catalogs, schemas, tables, table types),
// built as Arrow C data and written by the project's IPC writer with the exact field types and
// nullability FlightSql.proto prescribes (ADBC compares schemas, nullability included).
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "lakehouse/arrow/ipc_writer.h"

namespace lakehouse::flight {

//! One string (utf8) or binary column.
struct MetaColumn {
  std::string name;
  bool binary = false;
  bool nullable = true;
  std::vector<std::optional<std::string>> values;
};

//! Writes the columns as one Arrow IPC stream (schema, one record batch unless `schema_only`, end).
//! Returns false when `out` did.
bool WriteMetaTable(const std::vector<MetaColumn>& columns, const arrow::IpcStreamWriter::Out& out,
                    bool schema_only = false);

//! One CommandGetSqlInfo entry: a string, a bool, or an int32 (enums and bitmasks).
struct SqlInfoValue {
  uint32_t name;
  std::variant<std::string, bool, int32_t> value;
};

//! The GetSqlInfo result: info_name uint32 not null, value dense_union<string_value, bool_value,
//! bigint_value, int32_bitmask, string_list, int32_to_int32_list_map> not null (FlightSql.proto).
bool WriteSqlInfo(const std::vector<SqlInfoValue>& values, const arrow::IpcStreamWriter::Out& out,
                  bool schema_only = false);

//! SQL LIKE as Flight SQL's filter patterns use it: % any run, _ one character, \ escapes.
bool LikeMatch(std::string_view text, std::string_view pattern);

}  // namespace lakehouse::flight
