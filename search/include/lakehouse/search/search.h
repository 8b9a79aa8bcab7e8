#pragma once
// search: semantic search over datasets. An embedding job embeds a text column into a new dataset
// of vectors; a search embeds the query with the same model and returns the rows most similar to
// it (cosine similarity in DuckDB through queryd), optionally reranked through the AI sidecar.
// The only AI code that depends on catalogd, ingest and queryd; aibridge is only its model client.
//
// The vectors dataset ("<dataset>_<column>_emb" unless a target is named) has the columns
//   row BIGINT (the row's position in the embedded source version: the stable row key results are
//   joined back to the source through), [key (the source's key column)], text VARCHAR,
//   embedding FLOAT[] (Parquet has no fixed-size list; every vector has embedding.dim values and
//   search reads them as FLOAT[embedding.dim])
// and its manifest properties record embedding.model, embedding.dim, embedding.source_dataset,
// embedding.source_column and embedding.source_version. A target made with one model is never
// extended or replaced with vectors of another (409). Nothing is committed until every row is
// embedded, so a failed job leaves nothing half-registered.
//
// Jobs run on a fixed pool of threads from a bounded queue; finished jobs are kept for a bounded
// time (and count) so their status can be read, then forgotten. A queued or running job is recorded
// in object storage (catalogd::SearchJobKey) until it ends: a job the server stopped (shutdown,
// crash) is queued again, under the same id, when the next search service starts on that store;
// with the incremental rule it embeds what is still missing.
#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace lakehouse::catalogd {
class Catalog;
}
namespace lakehouse::ingest {
class Ingestor;
}
namespace lakehouse::queryd {
class QueryEngine;
class AiFunctions;
}  // namespace lakehouse::queryd
namespace lakehouse::aibridge {
class AiBridge;
}
namespace lakehouse::storaged {
class ObjectStore;
}

namespace lakehouse::search {

struct EmbedColumnRequest {
  std::string dataset;  //!< source dataset
  std::string column;   //!< text column to embed
  std::string model;    //!< empty: the sidecar's EMBED_MODEL
  std::string key;      //!< optional column carried along as the row key
  std::string target;   //!< empty: "<dataset>_<column>_emb"
};

struct SearchRequest {
  //! A vectors dataset (made by an embedding job), or the source dataset it was made from.
  std::string dataset;
  std::string column;  //!< with a source dataset: which embedded column (needed when several are)
  std::string query;
  int k = 10;
  //! "vector" (cosine over the embeddings), "text" (BM25 over the embedded text), or "hybrid"
  //! (both, their scores fused: ADR 0023); empty: hybrid, or vector alone without the text index.
  std::string mode;
  bool rerank = false;  //!< rerank the top candidates with AiBridge::Rerank
  //! How hybrid fuses its two rankings: "scores" (the default: 0.9 * cosine + 0.1 * BM25 over the
  //! query's best possible BM25, ADR 0023) or "rrf" (reciprocal rank fusion, k = 60).
  std::string fusion;
  //! Source columns each result carries in "values" (empty: all of them).
  std::vector<std::string> columns;
  //! When the source changed since it was embedded: re-embed it first (an embedding job run in
  //! the request) instead of searching as of the embedded version.
  bool refresh = false;
};

struct SearchOptions {
  size_t batch_size = 256;      //!< texts per AiBridge::Embed call
  uint64_t max_rows = 2000000;  //!< larger columns are refused (400)
  int max_k = 1000;
  size_t max_query_bytes = 8192;  //!< longer queries are refused (400)
  int64_t query_timeout_ms = 600000;
  int job_threads = 2;                    //!< threads running embedding jobs (the pool never grows)
  size_t max_queued_jobs = 64;            //!< jobs waiting for a thread beyond this are refused (429)
  int64_t finished_job_ttl_ms = 3600000;  //!< how long a finished job's status stays readable
  size_t max_finished_jobs = 1000;        //!< the oldest finished jobs are forgotten beyond this
  std::string temp_dir = "/tmp";          //!< where the vectors' Parquet file is written before ingest
  //! The process's DuckDB budget (query.memory_limit); search's own DuckDB (it holds only vectors
  //! being written) takes 1/16 of it (shared/memory_budget.h, docs/adr/0011-duckdb-memory.md).
  std::string memory_limit = "1GB";
  //! search.memory_limit: search's own DuckDB budget instead of its 1/16 share, for vectors
  //! datasets whose index (the vectors, their text, BM25 and HNSW) needs more. Vectors that do not
  //! fit are searched without an index (brute force through queryd), saying why.
  std::string own_memory_limit;
  //! Holds v<DuckDB version>/{fts,vss}.duckdb_extension (scripts/setup.d/65-search.sh); empty or
  //! missing: no indexes (vector search is brute force through queryd; text and hybrid are 503).
  std::string extension_dir;
  uint64_t hnsw_min_rows = 10000;  //!< vectors datasets below this are searched brute force
  size_t max_indexes = 16;         //!< indexed vectors datasets kept at once (least recently used go)
};

enum class JobState { kQueued, kRunning, kSucceeded, kFailed, kCancelled };
//! "queued", "running", "succeeded", "failed", "cancelled".
std::string_view JobStateName(JobState state);
inline bool IsFinished(JobState state) {
  return state == JobState::kSucceeded || state == JobState::kFailed || state == JobState::kCancelled;
}

//! A snapshot of one embedding job.
struct JobStatus {
  std::string id;
  JobState state = JobState::kQueued;
  EmbedColumnRequest request;  //!< with the target filled in
  uint64_t rows_total = 0;     //!< source rows, then the non-null texts once read
  uint64_t rows_done = 0;      //!< texts embedded so far
  //! Incremental: the source is the embedded version plus appended rows; only those are embedded
  //! (and appended to the target); this many leading rows were embedded before.
  bool incremental = false;
  uint64_t rows_already_embedded = 0;
  std::string model;
  int dim = 0;
  uint64_t version = 0;                                            //!< the committed version of the target (succeeded)
  double seconds = 0;                                              //!< running time so far, or in total when finished
  double read_seconds = 0, embed_seconds = 0, commit_seconds = 0;  //!< phases (succeeded)
  std::string error_code;                                          //!< failed / cancelled
  std::string error_message;
};

//! {"id","state","dataset","column","target","rows_total","rows_done","seconds",...} (docs/api/ai.md).
nlohmann::json ToJson(const JobStatus& status);

class SearchService {
 public:
  virtual ~SearchService() = default;  //!< cancels queued and running jobs and waits for them

  //! Validates the request (dataset and column exist, target is free or has the same model) and
  //! queues a job; returns its status. Error(kTooManyRequests) when the queue is full.
  virtual JobStatus StartEmbedding(const EmbedColumnRequest& request) = 0;
  //! Throws Error(kNotFound) for an unknown (or forgotten) id.
  virtual JobStatus Job(const std::string& id) const = 0;
  //! Every job still kept, oldest first.
  virtual std::vector<JobStatus> Jobs() const = 0;
  //! Asks a queued or running job to stop (it ends as cancelled, committing nothing); returns its
  //! status. Error(kNotFound) for an unknown id, Error(kConflict) for a finished job.
  virtual JobStatus Cancel(const std::string& id) = 0;
  //! Runs an embedding job in the calling thread; returns the final status (throws on failure).
  virtual JobStatus RunEmbedding(const EmbedColumnRequest& request) = 0;

  //! {"dataset","model","dim","query","stages":["vector"[,"rerank"]],"reranked","source_dataset",
  //!  "embedded_version","source_version","stale"[,"refreshed"],
  //!  "results":[{"row","text","score","scores":{"vector"[,"rerank"]}[,"key"][,"rerank_score"],"values":{...}}]}
  //! "values" is the source row (as of the embedded version) the vector was made from, joined
  //! back through its position in that version.
  virtual nlohmann::json Search(const SearchRequest& request) = 0;
  //! The memory limit search's DuckDB enforces, as DuckDB reports it (e.g. "59.6 MiB").
  virtual std::string MemoryLimit() const = 0;
};

//! All five services must outlive the search service. Resumes the unfinished jobs recorded in
//! `store` (under catalogd::kSearchJobPrefix).
std::unique_ptr<SearchService> MakeSearchService(catalogd::Catalog& catalog, ingest::Ingestor& ingest,
                                                 queryd::QueryEngine& query, aibridge::AiBridge& ai,
                                                 storaged::ObjectStore& store, const SearchOptions& options = {});

//! embed(), semantic_search() and hybrid_search() for queryd's SQL (queryd::AiFunctionsLink::Set):
//! embeddings through `ai`, searches through `search`. Both must outlive it.
std::unique_ptr<queryd::AiFunctions> MakeAiFunctions(SearchService& search, aibridge::AiBridge& ai);

}  // namespace lakehouse::search
