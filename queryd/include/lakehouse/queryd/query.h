#pragma once
// queryd: SQL over registered datasets. DuckDB executes; datasets are tables by name, resolved
// through the catalog (PRD invariant 5: never by scanning storage); results stream out as JSON,
// NDJSON, CSV or an Arrow IPC stream while they are produced.
//
// Deliberately free of DuckDB headers: the engine lives in queryd/src/.
#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <string_view>

namespace lakehouse::catalogd {
class Catalog;
}
namespace lakehouse::storaged {
class ObjectStore;
}

namespace lakehouse::queryd {

class AiFunctionsLink;  // ai_functions.h

struct QueryConfig {
  //! The process's DuckDB budget (query.memory_limit); the engine takes 3/4 of it, ingest the rest
  //! (shared/memory_budget.h, docs/adr/0011-duckdb-memory.md).
  std::string memory_limit = "1GB";
  int threads = 2;                     //!< DuckDB worker threads (shared by all queries)
  int worker_nice = 5;                 //!< the worker threads' nice value (above the server's)
  std::string temp_dir;                //!< spill directory; empty = DuckDB's default (.tmp)
  int64_t default_timeout_ms = 60000;  //!< when the request names none
  int64_t max_timeout_ms = 600000;  //!< upper bound a request may ask for (the server sets query.max_timeout_ms, 120 s)
  uint64_t footer_cache_bytes = 64ull << 20;  //!< remote Parquet footer cache (S3 objects)
  //! How far DuckDB's threads may run ahead of a streamed result, per query (DuckDB's
  //! streaming_buffer_size; its default of ~1 MB stops them after half a batch). Not larger: a
  //! streamed result's first byte waits until this buffer fills (DuckDB calls a streaming result
  //! ready when its collector blocks), docs/adr/0012-result-path.md.
  uint64_t streaming_buffer_bytes = 4ull << 20;
  //! Read local objects through ObjectStore::GetRange too, as for S3 (tests and benchmarks of the
  //! remote path without a remote store). Off: local objects are read in place.
  bool force_range_reads = false;
  // Operator limits (README "Operator limits"; 0 = none)
  uint64_t max_memory_bytes = 0;           //!< process RSS above which running queries are cancelled (503)
  uint64_t max_spill_per_query_bytes = 0;  //!< one query's share of the spill (ADR 0010): 503 beyond
  uint64_t max_spill_total_bytes = 0;      //!< DuckDB max_temp_directory_size
  int max_json_depth = 256;                //!< recursive JSON functions refuse deeper input
  //! Where embed(), semantic_search() and hybrid_search() find the AI side (ai_functions.h);
  //! null: they answer 503.
  std::shared_ptr<AiFunctionsLink> ai_functions;
};

//! kParquet is written by DuckDB's COPY into a temp file and sent when complete (no first rows early).
enum class ResultFormat { kJson, kNdjson, kCsv, kArrow, kParquet };

//! "json", "ndjson", "csv", "arrow", "parquet" (case-insensitive); throws Error(kInvalidArgument) listing them.
ResultFormat ParseResultFormat(std::string_view name);
//! The format an Accept header asks for, if it names one of ours (e.g. "text/csv").
std::optional<ResultFormat> FormatFromAccept(std::string_view accept);
std::string_view ContentType(ResultFormat format);
std::string_view FormatName(ResultFormat format);

struct QueryRequest {
  std::string sql;
  ResultFormat format = ResultFormat::kJson;
  std::optional<uint64_t> limit;      //!< at most this many rows are returned
  std::optional<int64_t> timeout_ms;  //!< refused (400) beyond QueryConfig::max_timeout_ms
  //! A heavy query (the gateway's heavy lane): only the engine's worker threads, at a lower CPU
  //! priority, execute it; the calling thread waits. Otherwise the calling thread executes the
  //! query's tasks itself, at its own priority, without waiting for a busy worker.
  bool background = false;
  //! The datasets the caller may read (an API key's grants). Decided where names resolve: a
  //! dataset the SQL reaches in any way (by name, dataset_version, a subquery or CTE, a table
  //! function, a lakehouse:// path) for which this answers false ends the query with
  //! Error(kPermissionDenied) naming it. Empty: every dataset.
  std::function<bool(std::string_view dataset)> may_read{};
  std::string principal{};  //!< who asks, for that error's message (e.g. "API key 0123abcd")
};

struct QueryStats {
  uint64_t rows = 0;   //!< rows written to the sink
  uint64_t bytes = 0;  //!< encoded bytes written to the sink
  int64_t elapsed_ms = 0;
  bool truncated = false;  //!< the request's limit cut the result short
  //! Data objects of the queried dataset versions that the query opened, and that it never opened
  //! (pruned: a predicate on partition columns ruled them out, or a LIMIT ended the scan early).
  uint64_t objects_scanned = 0;
  uint64_t objects_pruned = 0;
  uint64_t bytes_scanned = 0;  //!< sizes of the data objects the query opened
};

//! Where encoded results go (the HTTP route adapts gateway::Response to this).
class ResultSink {
 public:
  virtual ~ResultSink() = default;
  //! Called once, before the first Write, when the first rows (or the end) are known: errors that
  //! happen before it can still become a clean HTTP error.
  virtual void Begin(std::string_view content_type) = 0;
  //! Returns false when the client is gone: the query is cancelled.
  virtual bool Write(std::string_view bytes) = 0;
  //! The result's last bytes (possibly none), after which nothing is written: a sink may end its
  //! response with them in one write.
  virtual bool WriteLast(std::string_view bytes) { return bytes.empty() || Write(bytes); }
  //! Cheap poll, called while the query runs without producing output.
  virtual bool ClientGone() = 0;
};

//! Executes read-only SQL. Errors are lakehouse::Error: kInvalidArgument (syntax error, a statement
//! or function that is not allowed), kNotFound (unknown table), kTimeout (cancelled at the
//! deadline), kCancelled (the client went away), kConflict (a dataset's files do not match its
//! manifest's schema), kUnavailable (storage down, out of memory).
class QueryEngine {
 public:
  virtual ~QueryEngine() = default;
  //! Runs the statement and streams its encoded result into `sink`. Thread-safe: each call runs
  //! on its own DuckDB connection.
  virtual QueryStats Execute(const QueryRequest& request, ResultSink& sink) = 0;
  //! {"status":"ok","duckdb_version":...,"resolved_datasets":n,"active_queries":n,...}
  virtual nlohmann::json Health() = 0;
};

//! The engine over a catalog (for resolution) and the object store the manifests point into.
//! Both must outlive the engine. Registers a commit listener on `catalog`.
std::unique_ptr<QueryEngine> MakeQueryEngine(catalogd::Catalog& catalog, storaged::ObjectStore& store,
                                             const QueryConfig& config);

//! The SQL the preview route runs: `SELECT * FROM "<dataset>" LIMIT <limit>` (name validated).
std::string PreviewSql(std::string_view dataset, uint64_t limit);

}  // namespace lakehouse::queryd
