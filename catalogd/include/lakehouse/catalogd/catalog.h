#pragma once
// catalogd: the sole metadata authority (PRD invariant 2). Datasets, their versions, schemas and
// manifests. Manifests hold pointers only (invariant 3). Write-ahead: a version's manifest is
// created in object storage with put-if-absent before the in-memory index changes; on start the
// index is rebuilt from storage.
// Mirrors `service CatalogService` in proto/lakehouse/v1/catalog.proto.
//
// Object key layout (the one place it is defined):
//   _catalog/<dataset>/<version, 20 digits>.json   manifest of one version: complete, or a delta
//                                                   on its parent (format 2, appends and compactions)
//   _catalog/<dataset>/<version>.checkpoint.json    the complete manifest of that version, written
//                                                   every CatalogOptions::checkpoint_interval deltas
//   _catalog/<dataset>/<version>.expired.json       retention marker: versions below <version> have
//                                                   expired (their manifests are then deleted)
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
#include <span>
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
std::string CheckpointKey(const std::string& dataset, uint64_t version);
std::string ExpiryKey(const std::string& dataset, uint64_t first_live_version);
std::string NewDataKey(const std::string& dataset);  //!< data/<dataset>/<random>.parquet
//! The <dataset> of a key under data/<dataset>/ (NewDataKey, NewPartitionedDataKey); nullopt for
//! any other key. Only where a key was written: registered objects may live anywhere.
std::optional<std::string> DatasetOfDataKey(std::string_view key);
std::string IcebergTablePrefix(const std::string& dataset);  //!< _iceberg/<dataset>/
//! _auth/keys/<id>.json; throws Error(kInvalidArgument) unless `id` is 1-64 of [0-9a-z].
std::string ApiKeyObjectKey(std::string_view id);
std::string IcebergMetadataKey(const std::string& dataset, uint64_t version);
std::string IcebergManifestListKey(const std::string& dataset, uint64_t version);
std::string IcebergManifestKey(const std::string& dataset, uint64_t version, int index);
//! data/<dataset>/<col>=<value>/.../<random>.parquet, one segment per column of `partition_by`
//! (values from `values`). Throws Error(kInvalidArgument) when a value is too long for a key.
std::string NewPartitionedDataKey(const std::string& dataset, const std::vector<std::string>& partition_by,
                                  const PartitionValues& values);
//! A partition value as it appears after `<col>=` in a key: hive-style percent-encoding of every
//! byte but [A-Za-z0-9._~-] (DuckDB's hive reader decodes it), SQL NULL as "NULL" (as DuckDB writes
//! it); a string that would read as NULL ("null" in any case, or Hive's __HIVE_DEFAULT_PARTITION__)
//! gets its first byte encoded.
std::string EncodePartitionValue(const std::optional<std::string>& value);
//! The partition values a key of `dataset` names, read as hive readers (queryd) read them:
//! "data/<dataset>/<c1>=<v1>/.../<cN>=<vN>/<file>.parquet" with one segment per column of
//! `partition_by`, in that order; values percent-decoded, "NULL"/"null" (any case) and
//! __HIVE_DEFAULT_PARTITION__ are SQL NULL. Throws Error(kInvalidArgument) saying what is wrong:
//! a key outside the dataset's data prefix, missing, extra, misnamed or misordered segments.
PartitionValues PartitionValuesOfKey(const std::string& dataset, const std::vector<std::string>& partition_by,
                                     std::string_view key);

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

//! kCompact rewrites objects: it removes `CommitRequest::remove_objects` from the head and adds
//! `objects`, which must hold the same rows (compaction; nothing else changes).
//! kSetProperties changes only properties (an empty value removes one); no data changes.
enum class CommitOp { kCreate, kAppend, kReplace, kDelete, kCompact, kSetProperties };

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
  //! kCompact: keys of head objects that `objects` replace. When any of them is no longer in the
  //! head (a replace or another compaction committed meanwhile) the commit fails with 409; appends
  //! committed meanwhile are kept (the commit is rebuilt on the new head).
  std::vector<std::string> remove_objects{};
};

//! How long old versions of a live dataset are kept (0 = no limit from that rule). A version other
//! than the head expires when it is older than both limits that are set: beyond the newest
//! `keep_versions` versions and created more than `keep_days` ago. Set per dataset by the manifest
//! properties "keep_versions" / "keep_days" (kSetProperties), else CatalogOptions::retention.
struct RetentionPolicy {
  uint64_t keep_versions = 0;
  double keep_days = 0;
};
inline constexpr std::string_view kKeepVersionsProperty = "keep_versions";
inline constexpr std::string_view kKeepDaysProperty = "keep_days";

//! What one garbage collection did.
struct GcReport {
  uint64_t versions_expired = 0;   //!< versions that expired in this run (retention)
  uint64_t manifests_deleted = 0;  //!< catalog files of versions expired longer than the safety window
  uint64_t objects_deleted = 0;    //!< data objects deleted (expired ones and orphans)
  uint64_t bytes_deleted = 0;
  uint64_t orphans_deleted = 0;  //!< of those, objects no manifest ever referenced
  uint64_t orphan_bytes_deleted = 0;
  uint64_t objects_kept = 0;  //!< data objects still referenced or too young
};

struct CatalogOptions {
  //! A complete checkpoint of a version is written after this many delta manifests, so resolving
  //! any version reads at most this many deltas (docs/adr/0004-catalog.md).
  uint64_t checkpoint_interval = 100;
  RetentionPolicy retention{};  //!< the default; a dataset's own properties override it
  //! The safety window of garbage collection run on request (GcMinAgeMs; POST /api/v1/gc): objects
  //! younger than this are kept (in-flight commits), and so are the objects of versions that
  //! expired less than this ago (queries that resolved them before they expired).
  int64_t gc_min_age_ms = int64_t{15} * 60 * 1000;
};

//! Called after a commit is visible (queryd invalidates its cache here), on the committing thread,
//! with the committed manifest itself (valid for the call; copy what you keep: a copy costs as
//! much as the dataset's object list).
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
  //! Commits a new version and returns it: the complete manifest, shared and immutable (never
  //! null; it is the catalog's new head, not a copy, so a commit costs the same at 10 or 10,000
  //! objects). Errors: kConflict when creating an existing dataset, appending with a different
  //! schema (the message names the differing columns) or when `expected_version` is stale;
  //! kNotFound when appending to / replacing / deleting a missing dataset.
  virtual std::shared_ptr<const DatasetManifest> Commit(const CommitRequest& request) = 0;
  virtual void AddListener(CommitListener listener) = 0;
  //! Garbage collection with retention. (1) Expires versions of live datasets that their
  //! retention policy no longer keeps: writes an expiry marker (time travel to them then answers
  //! 404 "expired"). (2) Deletes data objects under data/ and _staging/ that no version live
  //! within the last `min_age_ms` references and that are older than `min_age_ms`: objects of an
  //! in-flight commit are young, and a query that resolved a version before it expired has
  //! `min_age_ms` to finish. (3) Deletes the catalog files of versions expired for longer than that.
  virtual GcReport Collect(int64_t min_age_ms) = 0;
  //! CatalogOptions::gc_min_age_ms.
  virtual int64_t GcMinAgeMs() const = 0;
  //! Collect(min_age_ms).objects_deleted.
  size_t CollectGarbage(int64_t min_age_ms) { return Collect(min_age_ms).objects_deleted; }
  //! Writes _catalog/_snapshot.json (every head), so the next Rebuild reads one object instead of
  //! one manifest per dataset. CollectGarbage writes one too. Safe to call at any time.
  virtual void Checkpoint() {}
};

//! A committed version as the write routes answer it: every field of `m` (totals included:
//! `row_count`, `byte_count`, and `object_count`, the number of objects of the version) except
//! that `objects` lists only `added`, what the request added. Its cost does not grow with the
//! dataset's object list (GET /api/v1/datasets/{name}/versions/{n} lists every object).
nlohmann::json CommitResponseJson(const DatasetManifest& m, std::span<const DataObject> added);

std::unique_ptr<Catalog> MakeCatalog(storaged::ObjectStore& store, CatalogOptions options = {});

//! Names the columns that differ between two schemas (defined in shared/types.h).
using lakehouse::DescribeSchemaDiff;

}  // namespace lakehouse::catalogd
