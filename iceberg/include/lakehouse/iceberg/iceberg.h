#pragma once
// iceberg: every dataset as an Apache Iceberg (format-version 2) table, derived from the catalog.
// The catalog stays the sole authority (PRD invariants 1-3): the Iceberg metadata (table metadata
// JSON, manifest list and manifests in Avro) is a pure function of our committed manifests, written
// after our manifest wins its put-if-absent, and regenerated from them whenever it is missing or
// behind. Snapshot id == our version number; field ids are assigned by column name and never reused.
// Object keys: catalogd's layout (catalog.h). Type mapping: docs/adr/0009-iceberg.md.
#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "lakehouse/shared/types.h"

namespace lakehouse::storaged {
class ObjectStore;
}
namespace lakehouse::catalogd {
class Catalog;
}

namespace lakehouse::iceberg {

struct IcebergOptions {
  bool enabled = true;  //!< off: no metadata is written and the REST catalog answers 503
  //! What a client needs to reach the object store (LoadTable's "config"); empty for local disk.
  std::string s3_endpoint;
  std::string s3_region = "us-east-1";
  bool s3_path_style = true;
};

//! A loaded table: what the REST catalog's LoadTable returns.
struct LoadedTable {
  std::string metadata_location;              //!< URI of the metadata JSON (file:///... or s3://bucket/...)
  nlohmann::json metadata;                    //!< the table metadata (format-version 2)
  std::map<std::string, std::string> config;  //!< storage properties for the client
};

class IcebergTables {
 public:
  virtual ~IcebergTables() = default;
  virtual bool enabled() const = 0;
  //! Queues the Iceberg metadata of every version of `manifest.dataset` up to `manifest.version`
  //! that is not written yet; a background thread writes them, oldest first. Idempotent; safe from
  //! concurrent committers. Never blocks on storage.
  virtual void OnCommit(const DatasetManifest& manifest) = 0;
  //! Waits until the queued metadata is written (or has failed and been logged).
  virtual void Flush() = 0;
  //! Brings every live dataset's Iceberg metadata up to the catalog's head (used on start).
  //! Returns how many datasets needed new metadata.
  virtual size_t SyncAll() = 0;
  //! The table at the catalog's head (metadata generated first when missing or behind).
  //! Throws Error(kNotFound) for a missing or deleted dataset.
  virtual LoadedTable Load(const std::string& dataset) = 0;
  //! Removes the Iceberg metadata of versions that retention expired (catalogd's Collect) more than
  //! `min_age_ms` ago - the same safety window as their data: metadata JSONs and manifest lists
  //! below each live dataset's oldest kept version, and the manifests written for those versions
  //! that the oldest kept snapshot no longer lists (the ones it lists hold live files). The
  //! expired snapshots leave the table metadata the REST catalog answers. Returns how many objects
  //! were deleted. Run after Catalog::Collect (the server's garbage collection does).
  virtual size_t CollectExpired(int64_t min_age_ms) = 0;
  //! The URI an engine uses for an object key (file:///abs/path or s3://bucket/key).
  virtual std::string Location(const std::string& key) const = 0;
};

//! Registers nothing by itself: call catalog.AddListener([&](auto& m) { tables->OnCommit(m); }).
std::unique_ptr<IcebergTables> MakeIcebergTables(storaged::ObjectStore& store, catalogd::Catalog& catalog,
                                                 IcebergOptions options);

//! The Iceberg type of a DuckDB column type ("long", "decimal(18,3)", ...), or "" when it has no
//! Iceberg v2 equivalent (the column is then left out of the Iceberg schema).
std::string IcebergType(const std::string& duckdb_type);

//! Iceberg's single-value binary serialisation of a bound given as DuckDB's text of the value
//! (e.g. "42", "2024-01-31", "abc"); nullopt when the type or text cannot be serialised.
std::optional<std::string> SingleValue(const std::string& iceberg_type, const std::string& text);

}  // namespace lakehouse::iceberg
