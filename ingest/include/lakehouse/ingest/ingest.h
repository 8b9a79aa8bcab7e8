#pragma once
// ingest: turns an uploaded body into a committed dataset version.
//
//   body --spool--> temp file --DuckDB--> validated Parquet --Put--> data/<dataset>/<id>.parquet
//        --Catalog::Commit--> new version visible
//
// A partitioned dataset's upload is split by DuckDB (COPY ... PARTITION_BY) into one file per
// partition value set, each Put under data/<dataset>/<col>=<value>/.../<id>.parquet and listed in
// the manifest with its partition values.
//
// Parquet is stored as uploaded after DuckDB read its footer (schema, row count) and every page once
// (damaged pages are refused); CSV,
// JSON and NDJSON are converted to zstd Parquet by DuckDB. The body is streamed to disk, never
// held whole in memory. On any failure the data object and the temp files are deleted, so a
// failed upload never becomes visible. Only DuckDB's C API is used (no duckdb.hpp).
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lakehouse/catalogd/catalog.h"
#include "lakehouse/shared/io.h"
#include "lakehouse/shared/json_depth.h"
#include "lakehouse/shared/types.h"
#include "lakehouse/storaged/object_store.h"

namespace lakehouse::ingest {

enum class Format { kParquet, kCsv, kJson, kNdjson };

//! "parquet", "csv", "json" or "ndjson".
std::string_view FormatName(Format format);
//! Parses a `?format=` value ("parquet", "csv", "json", "ndjson", "jsonl"), case-insensitive;
//! throws Error(kUnsupportedMedia) naming the supported formats otherwise.
Format ParseFormat(std::string_view name);
//! The format a Content-Type names, nullopt when it names none in particular
//! (absent, application/octet-stream, application/x-www-form-urlencoded: sniff the bytes);
//! throws Error(kUnsupportedMedia) for a media type that is none of ours (e.g. image/png).
std::optional<Format> FormatFromContentType(std::string_view content_type);
//! The format from the `?format=` parameter, else from the Content-Type, else nullopt (sniff).
std::optional<Format> ResolveFormat(const std::optional<std::string>& format_param,
                                    const std::optional<std::string>& content_type);

//! How compaction rewrites small objects (docs/api/datasets.md, "Compaction").
struct CompactionOptions {
  uint64_t target_bytes = 128ull << 20;  //!< objects below this size are small; outputs aim at it
  uint64_t row_group_rows = 122'880;     //!< Parquet row group size of the rewritten objects
  //! Automatic policy (Ingestor::AutoCompact): compact a dataset when it has more than this many
  //! small objects (in one partition); 0 turns the policy off.
  uint64_t auto_min_small_objects = 0;
};

struct IngestOptions {
  std::string temp_dir = "/tmp";  //!< where bodies are spooled and converted (must exist)
  //! The process's DuckDB budget (query.memory_limit); ingest takes 1/4 of it, queryd the rest
  //! (shared/memory_budget.h, docs/adr/0011-duckdb-memory.md).
  std::string memory_limit = "1GB";
  int threads = 2;                            //!< DuckDB threads
  int max_json_depth = kDefaultMaxJsonDepth;  //!< deeper JSON/NDJSON uploads are refused (400)
  //! Most partition value sets one upload may write (ingest.max_partitions): each is an object.
  uint64_t max_partitions = 1000;
  CompactionOptions compaction{};
};

struct IngestRequest {
  std::string dataset;
  catalogd::CommitOp op = catalogd::CommitOp::kCreate;  //!< kCreate, kAppend or kReplace
  std::optional<Format> format;                         //!< nullopt: sniff the first bytes
  bool allow_schema_change = false;
  std::optional<uint64_t> expected_version;
  std::map<std::string, std::string> properties;
  //! Partition columns (`?partition_by=a,b`): nullopt = not given (create: unpartitioned; append
  //! and replace: as the dataset is); given on an append, it must name the dataset's columns; on a
  //! replace it repartitions (an empty list removes the partitioning).
  std::optional<std::vector<std::string>> partition_by{};
};

struct IngestResult {
  std::shared_ptr<const DatasetManifest> manifest;  //!< the committed version (Catalog::Commit's, never null)
  DataObject object;                                //!< the data object this upload added (the first, when partitioned)
  std::vector<DataObject> objects;                  //!< every data object this upload added (one per partition)
  Format format = Format::kParquet;
  uint64_t bytes_received = 0;
  double seconds = 0;
};

struct CompactionResult {
  DatasetManifest manifest;        //!< the head after compaction (unchanged when nothing to do)
  bool compacted = false;          //!< false: fewer than two small objects in every partition
  uint64_t objects_before = 0;     //!< objects in the head that was compacted
  uint64_t objects_after = 0;      //!< objects in the committed version
  uint64_t objects_rewritten = 0;  //!< small objects replaced
  uint64_t objects_written = 0;    //!< new objects holding their rows
  uint64_t bytes_rewritten = 0;
  double seconds = 0;
};

struct RegisterRequest {
  std::string dataset;
  std::vector<std::string> keys;  //!< objects already in the bucket
  bool allow_schema_change = false;
  std::optional<uint64_t> expected_version{};
};

class Ingestor {
 public:
  virtual ~Ingestor() = default;
  //! Spools `body`, validates/converts it and commits a new version. Errors: kInvalidArgument
  //! (empty body, not Parquet, truncated Parquet, ragged CSV, unparsable JSON, bad dataset name),
  //! kUnsupportedMedia (unknown format), kNotFound / kConflict from the catalog.
  virtual IngestResult Ingest(const IngestRequest& request, ByteSource& body) = 0;
  //! Rewrites the head's objects below `options.target_bytes` (within each partition) into objects
  //! of about the target size holding the same rows, committed as a new version (CommitOp::kCompact).
  //! Appends committed meanwhile are kept; a replace or another compaction meanwhile fails with
  //! kConflict and nothing changes.
  virtual CompactionResult Compact(const std::string& dataset, const CompactionOptions& options) = 0;
  //! IngestOptions::compaction (the configured target size and row group size).
  virtual CompactionOptions DefaultCompaction() const = 0;
  //! Applies IngestOptions::compaction's automatic policy to every dataset; returns how many it compacted.
  virtual size_t AutoCompact() = 0;
  //! Commits objects already in storage without copying them: each must exist, be Parquet whose
  //! footer and pages read, and have the same columns (as for an append; the dataset is created
  //! when it does not exist). Keys under another dataset's data prefix or the catalog's own prefixes
  //! are refused (400). Nothing is deleted on failure: the objects are the caller's.
  virtual IngestResult Register(const RegisterRequest& request) = 0;
  //! The memory limit ingest's DuckDB enforces, as DuckDB reports it (e.g. "238.4 MiB").
  virtual std::string MemoryLimit() = 0;
};

std::unique_ptr<Ingestor> MakeIngestor(storaged::ObjectStore& store, catalogd::Catalog& catalog, IngestOptions options);

}  // namespace lakehouse::ingest
