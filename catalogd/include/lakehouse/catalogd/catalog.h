#pragma once
// catalogd: the sole metadata authority (PRD invariant 2). Datasets, their versions, schemas and
// manifests. Manifests hold pointers only (invariant 3). Write-ahead: a version's manifest is
// created in object storage with put-if-absent before the in-memory index changes; on start the
// index is rebuilt from storage.
// Mirrors `service CatalogService` in proto/lakehouse/v1/catalog.proto.
//
// Object key layout (the one place it is defined):
//   _catalog/<dataset>/<version, 20 digits>.json   manifest of one version
//   data/<dataset>/<uuid>.parquet                   data objects referenced by manifests
//   data/<dataset>/<col>=<value>/.../<uuid>.parquet data objects of a partitioned dataset: one
//                                                   hive-style segment per partition column, in
//                                                   partition_by order (EncodePartitionValue)
//   _staging/<id>                                   reserved for uploads in flight: nothing writes
//                                                   there today; garbage collection removes leftovers
//   _catalog/_snapshot.json                         optional checkpoint of every head (a cache:
//                                                   Rebuild uses an entry only when the listing
//                                                   shows no newer version of that dataset)
//   _iceberg/<dataset>/                             Iceberg table location (iceberg/; derived from
//                                                   the manifests, rebuilt from them when missing)
//   _iceberg/<dataset>/metadata/<version>.metadata.json   table metadata at that version (20 digits)
//   _iceberg/<dataset>/metadata/snap-<version>.avro       manifest list of that snapshot
//   _iceberg/<dataset>/metadata/<version>-m<n>.avro       manifests written by that version
//   _jobs/search/<job id>.json                      an embedding job's request and state (search/;
//                                                   unfinished ones are resumed on start)
//   _auth/keys/<key id>.json                        one API key: role, grants, expiry, revocation and
//                                                   the SHA-256 of its secret (never the secret; the
//                                                   gateway's KeyStore, docs/adr/0015-auth.md). Not
//                                                   readable through SQL, presigned URLs or GC
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lakehouse/shared/types.h"
#include "lakehouse/storaged/object_store.h"

namespace lakehouse::catalogd {

// The layout above, as code: every key and prefix the project writes is built here (layout.cpp).
inline constexpr std::string_view kCatalogPrefix = "_catalog/";
inline constexpr std::string_view kDataPrefix = "data/";
inline constexpr std::string_view kStagingPrefix = "_staging/";
inline constexpr std::string_view kSnapshotKey = "_catalog/_snapshot.json";
inline constexpr std::string_view kApiKeysPrefix = "_auth/keys/";

inline constexpr std::string_view kSearchJobPrefix = "_jobs/search/";

std::string ManifestKey(const std::string& dataset, uint64_t version);
std::string SearchJobKey(const std::string& job_id);  //!< _jobs/search/<job id>.json
std::string ManifestPrefix(const std::string& dataset);
std::string NewDataKey(const std::string& dataset);          //!< data/<dataset>/<random>.parquet
std::string IcebergTablePrefix(const std::string& dataset);  //!< _iceberg/<dataset>/
//! _auth/keys/<id>.json; throws Error(kInvalidArgument) unless `id` is 1-64 of [0-9a-z].
std::string ApiKeyObjectKey(std::string_view id);
std::string IcebergMetadataKey(const std::string& dataset, uint64_t version);
std::string IcebergManifestListKey(const std::string& dataset, uint64_t version);
std::string IcebergManifestKey(const std::string& dataset, uint64_t version, int index);
std::string NewDataKey(const std::string& dataset);  //!< data/<dataset>/<random>.parquet
//! data/<dataset>/<col>=<value>/.../<random>.parquet, one segment per column of `partition_by`
//! (values from `values`). Throws Error(kInvalidArgument) when a value is too long for a key.
std::string NewPartitionedDataKey(const std::string& dataset, const std::vector<std::string>& partition_by,
                                  const PartitionValues& values);
//! A partition value as it appears after `<col>=` in a key: hive-style percent-encoding of every
//! byte but [A-Za-z0-9._~-] (DuckDB's hive reader decodes it), SQL NULL as "NULL" (as DuckDB writes
//! it); a string that would read as NULL ("null" in any case, or Hive's __HIVE_DEFAULT_PARTITION__)
//! gets its first byte encoded.
std::string EncodePartitionValue(const std::optional<std::string>& value);

// Partitioning rules (partitioning.cpp), applied by ingest before it writes and by the catalog at
// commit. A dataset's partition columns are fixed at create and by a replace; appends keep them.
inline constexpr size_t kMaxPartitionColumns = 8;
//! The partition column types: integers, DATE, VARCHAR and BOOLEAN (their text is exact and
//! short, so it can name a key segment and be compared as a value).
bool IsPartitionType(std::string_view duckdb_type);
//! The columns of `schema` that `requested` names (matched case-insensitively, returned as the
//! schema spells them). Throws Error(kInvalidArgument) naming the problem: a column the data does
//! not have, an unsupported type (the message lists the allowed ones), a duplicate, more than
//! kMaxPartitionColumns, or a name that cannot be a key segment (letters, digits and '_' only).
std::vector<std::string> ResolvePartitionColumns(const Schema& schema, const std::vector<std::string>& requested);

struct DatasetSummary {
  std::string name;
  uint64_t version = 0;
  uint64_t schema_version = 1;
  uint64_t rows = 0;
  uint64_t bytes = 0;
  int64_t updated_at_ms = 0;
};

struct VersionSummary {
  uint64_t version = 0;
  std::string operation;
  int64_t created_at_ms = 0;
  uint64_t rows = 0;
  uint64_t bytes = 0;
  uint64_t schema_version = 1;
  bool tombstone = false;
};

enum class CommitOp { kCreate, kAppend, kReplace, kDelete };

//! The create/append/replace/delete rules and their messages, in one place (the catalog applies
//! them at commit; ingest applies them before it reads a body): create needs a dataset that does
//! not exist (or was deleted), the others a live one. `live_version` is the live head's version,
//! nullopt when there is none. Throws Error(kConflict) or Error(kNotFound).
void CheckCommitTarget(CommitOp op, const std::string& dataset, std::optional<uint64_t> live_version);

struct CommitRequest {
  std::string dataset;
  CommitOp op = CommitOp::kCreate;
  Schema schema;                             //!< schema of `objects` (ignored for kDelete)
  std::vector<DataObject> objects;           //!< new objects (kAppend adds them to the head's)
  bool allow_schema_change = false;          //!< kAppend/kReplace: accept a schema that differs from the head's
  std::optional<uint64_t> expected_version;  //!< optimistic check: fail with 409 unless head == this
  std::map<std::string, std::string> properties;
  //! Partition columns of `objects` (each object's partition_values has exactly these keys).
  //! kCreate/kReplace: the new version's partitioning; kAppend: must equal the head's (409 when a
  //! replace repartitioned the dataset meanwhile).
  std::vector<std::string> partition_by{};
};

//! Called after a commit is visible (queryd invalidates its cache here).
using CommitListener = std::function<void(const DatasetManifest&)>;

class Catalog {
 public:
  virtual ~Catalog() = default;

  //! Re-reads every manifest from storage and replaces the in-memory index.
  virtual void Rebuild() = 0;
  //! Live datasets (tombstoned ones excluded), sorted by name.
  virtual std::vector<DatasetSummary> List() = 0;
  //! Head manifest; throws Error(kNotFound) naming the dataset when absent or deleted.
  virtual DatasetManifest Head(const std::string& dataset) = 0;
  //! A specific version; throws Error(kNotFound).
  virtual DatasetManifest Get(const std::string& dataset, uint64_t version) = 0;
  virtual std::vector<VersionSummary> Versions(const std::string& dataset) = 0;
  //! Commits a new version. Errors: kConflict when creating an existing dataset, appending with a
  //! different schema (the message names the differing columns) or when `expected_version` is
  //! stale; kNotFound when appending to / replacing / deleting a missing dataset.
  virtual DatasetManifest Commit(const CommitRequest& request) = 0;
  virtual void AddListener(CommitListener listener) = 0;
  //! Deletes data objects under data/ that no manifest references and that are older than
  //! `min_age_ms` (so in-flight commits are safe). Returns how many were deleted.
  virtual size_t CollectGarbage(int64_t min_age_ms) = 0;
  //! Writes _catalog/_snapshot.json (every head), so the next Rebuild reads one object instead of
  //! one manifest per dataset. CollectGarbage writes one too. Safe to call at any time.
  virtual void Checkpoint() {}
};

std::unique_ptr<Catalog> MakeCatalog(storaged::ObjectStore& store);

//! Names the columns that differ between two schemas (defined in shared/types.h).
using lakehouse::DescribeSchemaDiff;

}  // namespace lakehouse::catalogd
