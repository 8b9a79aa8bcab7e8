#pragma once
// The search indexes: per version of a vectors dataset, a table in search's own DuckDB holding
// (row, [key], text, embedding FLOAT[dim]) with a BM25 full-text index over `text` (DuckDB fts)
// and, from `hnsw_min_rows` rows on, an HNSW index over `embedding` (DuckDB vss, cosine); below
// that, vector search is brute force over the table. Built on first use after a start (or after
// a new version), kept while the version is current, dropped when the set is full (oldest first).
// The fts and vss extensions are loaded from their files (`extension_dir`), never downloaded.
#include <duckdb.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <span>
#include <string>

#include "lakehouse/shared/error.h"
#include "vector_writer.h"

namespace lakehouse::search {

struct IndexOptions {
  std::string extension_dir;       //!< holds v<DuckDB version>/{fts,vss}.duckdb_extension; empty: none
  uint64_t hnsw_min_rows = 10000;  //!< smaller tables are searched brute force
  size_t max_indexes = 16;         //!< versions kept at once (the least recently used goes first)
  //! HNSW candidates per query (vss's default of 64 loses recall). 400: recall@10 0.963 at 1M
  //! embedding-shaped vectors for a CPU p50 of 14.9 ms (200: 0.895 / 8.2 ms; ADR 0022).
  int hnsw_ef_search = 400;
  //! HNSW neighbours per node and build candidates. The build is ~80% vss's distance kernel
  //! (scalar, perf), and its cost grows with ef_construction: 64 builds in ~2/3 of the time of
  //! vss's default 128 with the same recall on vectors shaped like sentence embeddings (1.0 at 10k;
  //! 32 still 0.97 at 50k). 32 / 200 lift the recall on structureless random vectors (0.73 -> 0.94
  //! at 10k) for 3x the build time (bench/search.sh, ADR 0022).
  int hnsw_m = 16;
  int hnsw_ef_construction = 64;
  //! Threads DuckDB may use while it builds an HNSW index (vss builds in parallel; 0: every core),
  //! restored to search's own count once the build ends. 1 by default: on the shared 2-core machine
  //! (load 7-10) two build threads took 1.2-1.9x the wall time and more CPU than one (ADR 0022).
  int hnsw_build_threads = 1;
};

//! One version of one vectors dataset, indexed. The table and its BM25 index are ready when the
//! IndexSet hands it out; the HNSW index (when the table is large enough) is then built on a
//! thread of its own: until it is ready, Vector() is answered by brute force over the same table
//! (exact, slower), so a search never waits for a build (at 1M vectors one takes tens of
//! minutes: ADR 0022).
class Index {
 public:
  enum class HnswState { kNone, kBuilding, kReady, kFailed };

  Index(SearchDb& db, std::string table, KeyType key_type, int dim, uint64_t rows);
  //! Drops the table and its indexes; while its HNSW build still runs, the build's thread does
  //! that when the build returns (DuckDB cannot interrupt vss's graph construction), so dropping
  //! an index never waits for a build.
  ~Index();
  Index(const Index&) = delete;
  Index& operator=(const Index&) = delete;

  //! The `k` rows most similar (cosine) to `query`: [{"row"[,"key"],"text","score"}], best first.
  //! The query vector is bound to a prepared statement (never printed into SQL text); the
  //! index's connection and statements stay open between queries.
  nlohmann::json Vector(std::span<const float> query, int k) const;
  //! The physical plan of Vector(query, k) (EXPLAIN; HNSW_INDEX_SCAN when the index answers it).
  std::string ExplainVector(std::span<const float> query, int k) const;
  //! The `k` rows of best BM25 score for `query` (rows without a query term are left out).
  nlohmann::json Text(const std::string& query, int k) const;
  //! The largest BM25 score Text() could give any row for `query`: (k1 + 1) times the sum of the
  //! idf of the query's distinct terms that occur in the index (0 when none does). Text scores
  //! divided by it are in [0, 1]: the share of the query a row matches, weighted by rarity.
  double TextScoreBound(const std::string& query) const;
  //! Overrides the index's ef_search for this index's later queries (vss's `hnsw_ef_search`
  //! setting on its connection; the prepared statements are made again). For benchmarks that
  //! trade recall against latency on one built index.
  void SetEfSearch(int ef_search) const;

  HnswState hnsw_state() const;
  bool hnsw() const { return hnsw_state() == HnswState::kReady; }  //!< the HNSW index answers Vector()
  //! Waits until the HNSW build has ended (or `timeout` passed); true when the index is ready.
  bool WaitHnsw(std::chrono::milliseconds timeout = std::chrono::hours(24)) const;
  std::string hnsw_error() const;  //!< why the build failed (kFailed)
  uint64_t rows() const { return rows_; }
  double build_seconds = 0;  //!< the table and its BM25 index
  //! The HNSW build alone and the threads DuckDB had for it (set when the build ends: read them
  //! after WaitHnsw()).
  double hnsw_build_seconds() const;
  int hnsw_build_threads() const;

 private:
  friend class IndexSet;
  //! Starts building the HNSW index on a thread of its own (once, by the IndexSet).
  void StartHnsw(const IndexOptions& options);
  nlohmann::json Query(const std::string& sql) const;
  nlohmann::json Rows(duckdb_result& result) const;  //!< reads and destroys `result`
  //! Runs the (cached) prepared statement `sql` with the query vector bound as $1 (caller holds mu_).
  duckdb_result RunVector(const std::string& sql, std::span<const float> query) const;
  std::string VectorSql(int k) const;
  void ClearPrepared() const;  //!< destroys the cached statements (caller holds mu_, or the destructor runs)
  SearchDb& db_;
  mutable std::mutex mu_;                     //!< one query at a time on con_ and the statements
  duckdb_connection con_ = nullptr;           //!< kept open for the life of the index
  duckdb_logical_type float_type_ = nullptr;  //!< the element type of the query's FLOAT[dim]
  mutable std::list<std::pair<std::string, duckdb_prepared_statement>> prepared_;  //!< by SQL text
  //! Whether the statements in prepared_ were made after the HNSW index was ready (they are made
  //! again once it is, so that the planner picks the index scan).
  mutable bool prepared_with_hnsw_ = false;
  std::string table_;
  KeyType key_type_;
  int dim_;
  uint64_t rows_;
  struct HnswBuild;                   //!< shared by the index and its build's thread
  std::shared_ptr<HnswBuild> build_;  //!< null: no HNSW index for this table
};

//! The vectors of a version do not fit search's DuckDB memory (search.memory_limit): the index
//! cannot be built, and the version is searched without one. What() says so and names the setting.
class IndexDoesNotFit : public Error {
 public:
  explicit IndexDoesNotFit(const std::string& message) : Error(ErrorCode::kUnavailable, message) {}
};

class IndexSet {
 public:
  IndexSet(SearchDb& db, IndexOptions options);
  //! Whether the fts and vss extensions loaded (text search needs fts); the reason when not.
  bool available() const { return available_; }
  const std::string& unavailable_reason() const { return reason_; }

  //! The index of version `version` of `dataset`; built on first use from the rows `fill` adds
  //! (the table and BM25 index before it returns; the HNSW index after, in the background).
  //! Builds of different datasets run at once; a second caller of the same one waits for it.
  //! IndexDoesNotFit when the vectors do not fit search's memory (remembered: later calls for the
  //! same version throw it again at once, without reading the vectors again).
  std::shared_ptr<const Index> Get(const std::string& dataset, uint64_t version, KeyType key_type, int dim,
                                   const std::function<void(VectorWriter&)>& fill);

 private:
  SearchDb& db_;
  IndexOptions options_;
  bool available_ = false;
  std::string reason_;
  std::mutex mu_;  //!< guards the list and building_
  std::condition_variable built_;
  std::set<std::string> building_;                                           //!< "dataset@version" being built
  std::map<std::string, std::string> too_large_;                             //!< versions that did not fit: the message
  std::list<std::pair<std::string, std::shared_ptr<const Index>>> indexes_;  //!< most recently used first
};

}  // namespace lakehouse::search
