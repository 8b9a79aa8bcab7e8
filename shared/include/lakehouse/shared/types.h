#pragma once
// Value types shared by every service. Pointers only: nothing here ever holds row data.
#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lakehouse/shared/clock.h"  // NowMs, FormatTimeMs (manifests carry times)
#include "lakehouse/shared/hash.h"   // Sha256Hex (schema fingerprints)

namespace lakehouse {

//! A validated dataset name: [a-z][a-z0-9_]{0,62}.
class DatasetId {
 public:
  //! Throws Error(kInvalidArgument) naming the rule when `name` is not a valid dataset name.
  static DatasetId Parse(std::string_view name);
  static bool IsValid(std::string_view name);
  const std::string& str() const { return name_; }
  auto operator<=>(const DatasetId&) const = default;

 private:
  explicit DatasetId(std::string name) : name_(std::move(name)) {}
  std::string name_;
};

//! Where one object lives in object storage.
struct ObjectRef {
  std::string bucket;  //!< bucket name for S3; "local" for the filesystem backend
  std::string key;     //!< object key, relative, '/'-separated
  uint64_t size = 0;   //!< bytes
  std::string etag;    //!< opaque version tag from the store (no quotes)
  bool operator==(const ObjectRef&) const = default;
};

//! Hex SHA-256 of the canonical schema form (see CanonicalSchema).
struct SchemaFingerprint {
  std::string hex;
  bool operator==(const SchemaFingerprint&) const = default;
};

struct ColumnSchema {
  std::string name;
  std::string type;  //!< DuckDB logical type name, e.g. "BIGINT", "VARCHAR", "DECIMAL(18,3)"
  bool nullable = true;
  bool operator==(const ColumnSchema&) const = default;
};

using Schema = std::vector<ColumnSchema>;

//! The canonical text of a schema: one "name:type:nullable" per line; the fingerprint hashes it.
std::string CanonicalSchema(const Schema& schema);
SchemaFingerprint Fingerprint(const Schema& schema);

//! The one schema comparison. Types compare case- and space-insensitively ("DECIMAL(18, 3)" is
//! "decimal(18,3)"); `compare_nullable` also compares nullability.
bool SameType(std::string_view a, std::string_view b);
//! Same column names and types in the same order (nullability aside).
bool SameColumns(const Schema& a, const Schema& b);
//! What changed from `from` to `to`, e.g. "price: DOUBLE -> VARCHAR; removed note (VARCHAR);
//! added qty (INTEGER)", or "column order a,b -> b,a"; empty when nothing did.
std::string DescribeSchemaDiff(const Schema& from, const Schema& to, bool compare_nullable = true);
//! Statistics of one column of one data object, from its Parquet footer (ingest fills them; the
//! Iceberg metadata carries them as data-file stats). Persisted only when present.
struct ColumnStats {
  std::string name;
  uint64_t values = 0;             //!< values including nulls
  uint64_t nulls = 0;              //!< null values
  uint64_t bytes = 0;              //!< compressed bytes of the column's chunks
  std::optional<std::string> min;  //!< DuckDB's text of the smallest value; absent when unknown
  std::optional<std::string> max;  //!< DuckDB's text of the largest value; absent when unknown
  bool operator==(const ColumnStats&) const = default;
};

//! The value of each partition column in a data object, as text (CAST(value AS VARCHAR));
//! nullopt is SQL NULL. Empty for an object of an unpartitioned dataset.
using PartitionValues = std::map<std::string, std::optional<std::string>>;

//! A data object listed by a manifest.
struct DataObject {
  ObjectRef ref;
  uint64_t row_count = 0;
  PartitionValues partition_values{};   //!< one entry per column of the manifest's partition_by
  std::vector<ColumnStats> stats = {};  //!< per column; empty for objects written before stats existed
  bool operator==(const DataObject&) const = default;
};

//! One version of one dataset. Persisted as JSON at `_catalog/<dataset>/<version>.json`.
struct DatasetManifest {
  std::string dataset;
  uint64_t version = 0;                    //!< 1, 2, 3, ...
  std::optional<uint64_t> parent_version;  //!< absent for version 1
  std::string operation;                   //!< "create", "append", "replace", "delete"
  int64_t created_at_ms = 0;               //!< unix epoch milliseconds
  bool tombstone = false;                  //!< true when the dataset was deleted at this version
  uint64_t schema_version = 1;             //!< bumps when the schema changes
  Schema schema;
  SchemaFingerprint fingerprint;
  std::vector<DataObject> objects;
  std::map<std::string, std::string> properties;  //!< e.g. embedding model and dimension
  std::vector<std::string> partition_by{};        //!< partition columns, in key order; empty = none

  uint64_t row_count() const;
  uint64_t byte_count() const;
  bool operator==(const DatasetManifest&) const = default;
};

void to_json(nlohmann::json& j, const ObjectRef& v);
void from_json(const nlohmann::json& j, ObjectRef& v);
void to_json(nlohmann::json& j, const ColumnSchema& v);
void from_json(const nlohmann::json& j, ColumnSchema& v);
void to_json(nlohmann::json& j, const ColumnStats& v);
void from_json(const nlohmann::json& j, ColumnStats& v);
void to_json(nlohmann::json& j, const DataObject& v);
void from_json(const nlohmann::json& j, DataObject& v);
void to_json(nlohmann::json& j, const DatasetManifest& v);
void from_json(const nlohmann::json& j, DatasetManifest& v);

//! A random 128-bit id as 32 hex characters.
std::string RandomHexId();

}  // namespace lakehouse
