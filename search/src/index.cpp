#include "index.h"

#include <fmt/format.h>

#include <chrono>
#include <condition_variable>
#include <exception>
#include <filesystem>
#include <iterator>
#include <thread>

#include "lakehouse/shared/error.h"
#include "lakehouse/shared/sql.h"

namespace lakehouse::search {
namespace {

using json = nlohmann::json;

//! A connection of search's DuckDB for one call.
class Connection {
 public:
  explicit Connection(SearchDb& db) {
    if (duckdb_connect(static_cast<duckdb_database>(db.handle()), &con_) != DuckDBSuccess) {
      Fail(ErrorCode::kInternal, "cannot connect to search's DuckDB");
    }
  }
  ~Connection() { duckdb_disconnect(&con_); }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  duckdb_connection get() const { return con_; }

 private:
  duckdb_connection con_ = nullptr;
};

[[noreturn]] void FailQuery(duckdb_result& result) {
  std::string message = duckdb_result_error(&result) ? duckdb_result_error(&result) : "unknown error";
  duckdb_destroy_result(&result);
  Fail(ErrorCode::kInternal, "search's index query failed: {}", message);
}

std::string Setting(duckdb_connection con, const std::string& name) {
  duckdb_result result;
  if (duckdb_query(con, fmt::format("SELECT current_setting({})", SqlLiteral(name)).c_str(), &result) !=
      DuckDBSuccess) {
    FailQuery(result);
  }
  char* text = duckdb_value_varchar(&result, 0, 0);
  std::string value = text != nullptr ? text : "";
  duckdb_free(text);
  duckdb_destroy_result(&result);
  return value;
}

//! Raises DuckDB's thread count for one build and restores it after (also when the build fails).
//! `threads` is a database-wide setting: queries running on search's DuckDB meanwhile may use the
//! extra threads too, which is harmless (it only holds what search derives).
class BuildThreads {
 public:
  BuildThreads(duckdb_connection con, int threads) : con_(con), before_(Setting(con, "threads")) {
    if (std::to_string(threads) != before_) {
      Exec(con_, fmt::format("SET threads = {}", threads));
      changed_ = true;
    }
    threads_ = std::stoi(Setting(con_, "threads"));
  }
  ~BuildThreads() {
    if (!changed_) return;
    try {
      Exec(con_, "SET threads = " + before_);
    } catch (const Error&) {
      // the setting only bounds parallelism; a failure to lower it again costs no correctness
    }
  }
  BuildThreads(const BuildThreads&) = delete;
  BuildThreads& operator=(const BuildThreads&) = delete;
  int threads() const { return threads_; }

 private:
  duckdb_connection con_;
  std::string before_;
  bool changed_ = false;
  int threads_ = 0;
};

}  // namespace

//! One HNSW build at a time in the process: builds are CPU-bound, and BuildThreads changes a
//! database-wide setting that two builds at once would restore out of order.
static std::mutex& HnswBuildMutex() {
  static std::mutex mu;
  return mu;
}

Index::Index(SearchDb& db, std::string table, KeyType key_type, int dim, uint64_t rows)
    : db_(db), table_(std::move(table)), key_type_(key_type), dim_(dim), rows_(rows) {
  if (duckdb_connect(static_cast<duckdb_database>(db_.handle()), &con_) != DuckDBSuccess) {
    Fail(ErrorCode::kInternal, "cannot connect to search's DuckDB");
  }
  float_type_ = duckdb_create_logical_type(DUCKDB_TYPE_FLOAT);
}

//! Drops an index's table and its BM25 index (an in-memory table: at the latest it goes with the
//! process, so a failure here loses nothing).
static void DropTable(duckdb_connection con, const std::string& table) noexcept {
  try {
    Exec(con, fmt::format("PRAGMA drop_fts_index({})", SqlLiteral(table)));
    Exec(con, "DROP TABLE IF EXISTS " + table);
  } catch (const std::exception&) {
  }
}

struct Index::HnswBuild {
  std::mutex mu;
  std::condition_variable done;
  HnswState state = HnswState::kBuilding;  // guarded by mu, as is everything below
  std::string error;
  double seconds = 0;
  int threads = 0;
  bool abandoned = false;  //!< the index was dropped meanwhile: the build's thread drops the table
};

Index::~Index() {
  bool build_drops = false;
  if (build_) {
    std::lock_guard lock(build_->mu);
    build_drops = build_->abandoned = build_->state == HnswState::kBuilding;
  }
  ClearPrepared();
  if (!build_drops) DropTable(con_, table_);
  duckdb_disconnect(&con_);
  duckdb_destroy_logical_type(&float_type_);
}

void Index::StartHnsw(const IndexOptions& options) {
  // The build's own connection: it also keeps DuckDB's database alive should search's SearchDb
  // close before the build returns.
  duckdb_connection con = nullptr;
  if (duckdb_connect(static_cast<duckdb_database>(db_.handle()), &con) != DuckDBSuccess) {
    Fail(ErrorCode::kInternal, "cannot connect to search's DuckDB");
  }
  build_ = std::make_shared<HnswBuild>();
  std::thread([build = build_, con, table = table_, options]() mutable {
    std::string error;
    int threads_used = 0;
    bool abandoned = false;
    const auto start = std::chrono::steady_clock::now();
    try {
      std::lock_guard one_build(HnswBuildMutex());
      {
        std::lock_guard lock(build->mu);
        abandoned = build->abandoned;  // dropped (e.g. replaced by a newer version) while it waited
      }
      if (!abandoned) {
        // vss's CREATE INDEX over the loaded table builds the graph with as many threads as
        // DuckDB has (its scalar distance kernel is ~80% of a build, perf); hnsw_build_threads
        // sets that count.
        const int threads = options.hnsw_build_threads > 0
                                ? options.hnsw_build_threads
                                : static_cast<int>(std::max(1U, std::thread::hardware_concurrency()));
        BuildThreads build_threads(con, threads);
        threads_used = build_threads.threads();
        Exec(con,
             fmt::format("CREATE INDEX {}_hnsw ON {} USING HNSW (embedding) WITH (metric = 'cosine', ef_search = {}, "
                         "M = {}, ef_construction = {})",
                         table, table, options.hnsw_ef_search, options.hnsw_m, options.hnsw_ef_construction));
      }
    } catch (const std::exception& e) {
      error = e.what();
    }
    {
      std::lock_guard lock(build->mu);
      build->state = error.empty() && !build->abandoned ? HnswState::kReady : HnswState::kFailed;
      build->error = std::move(error);
      build->seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      build->threads = threads_used;
      abandoned = build->abandoned;
    }
    build->done.notify_all();
    if (abandoned) DropTable(con, table);
    duckdb_disconnect(&con);
  }).detach();
}

Index::HnswState Index::hnsw_state() const {
  if (!build_) return HnswState::kNone;
  std::lock_guard lock(build_->mu);
  return build_->state;
}

bool Index::WaitHnsw(std::chrono::milliseconds timeout) const {
  if (!build_) return false;
  std::unique_lock lock(build_->mu);
  build_->done.wait_for(lock, timeout, [&] { return build_->state != HnswState::kBuilding; });
  return build_->state == HnswState::kReady;
}

std::string Index::hnsw_error() const {
  if (!build_) return {};
  std::lock_guard lock(build_->mu);
  return build_->error;
}

double Index::hnsw_build_seconds() const {
  if (!build_) return 0;
  std::lock_guard lock(build_->mu);
  return build_->seconds;
}

int Index::hnsw_build_threads() const {
  if (!build_) return 0;
  std::lock_guard lock(build_->mu);
  return build_->threads;
}

duckdb_result Index::RunVector(const std::string& sql, std::span<const float> query) const {
  if (static_cast<int>(query.size()) != dim_) {
    Fail(ErrorCode::kInternal, "a query vector of {} values does not fit FLOAT[{}]", query.size(), dim_);
  }
  if (!prepared_with_hnsw_ && hnsw()) {
    ClearPrepared();  // statements planned before the HNSW index existed scan the table
    prepared_with_hnsw_ = true;
  }
  duckdb_prepared_statement stmt = nullptr;
  for (const auto& [text, s] : prepared_) {
    if (text == sql) stmt = s;
  }
  if (stmt == nullptr) {
    if (duckdb_prepare(con_, sql.c_str(), &stmt) != DuckDBSuccess) {
      std::string message = duckdb_prepare_error(stmt) ? duckdb_prepare_error(stmt) : "unknown error";
      duckdb_destroy_prepare(&stmt);
      Fail(ErrorCode::kInternal, "search's index query failed to prepare: {}", message);
    }
    constexpr size_t kMaxPrepared = 8;  // one per k in use; k is part of the plan (LIMIT)
    if (prepared_.size() >= kMaxPrepared) {
      duckdb_destroy_prepare(&prepared_.back().second);
      prepared_.pop_back();
    }
    prepared_.emplace_front(sql, stmt);
  }
  std::vector<duckdb_value> values(query.size());
  for (size_t i = 0; i < query.size(); ++i) values[i] = duckdb_create_float(query[i]);
  duckdb_value array = duckdb_create_array_value(float_type_, values.data(), values.size());
  for (auto& v : values) duckdb_destroy_value(&v);
  if (array == nullptr) Fail(ErrorCode::kInternal, "cannot make a FLOAT[{}] value", dim_);
  const bool bound = duckdb_bind_value(stmt, 1, array) == DuckDBSuccess;
  duckdb_destroy_value(&array);
  if (!bound) {
    const char* error = duckdb_prepare_error(stmt);
    Fail(ErrorCode::kInternal, "cannot bind the query vector as FLOAT[{}]: {}", dim_, error ? error : "unknown error");
  }
  duckdb_result result;
  if (duckdb_execute_prepared(stmt, &result) != DuckDBSuccess) FailQuery(result);
  return result;
}

void Index::SetEfSearch(int ef_search) const {
  std::lock_guard lock(mu_);
  Exec(con_, fmt::format("SET hnsw_ef_search = {}", ef_search));
  ClearPrepared();
}

void Index::ClearPrepared() const {
  for (auto& [sql, stmt] : prepared_) duckdb_destroy_prepare(&stmt);
  prepared_.clear();
}

std::string Index::VectorSql(int k) const {
  // ORDER BY array_cosine_distance(...) LIMIT k with no other sort key is the shape the HNSW index
  // answers (when there is one); a tie-breaker column would make it a full scan.
  return fmt::format(
      "SELECT row, {}text, array_cosine_similarity(embedding, $1::FLOAT[{}]) AS score FROM {} "
      "ORDER BY array_cosine_distance(embedding, $1::FLOAT[{}]) LIMIT {}",
      key_type_ == KeyType::kNone ? "" : "key, ", dim_, table_, dim_, k);
}

std::string Index::ExplainVector(std::span<const float> query, int k) const {
  std::lock_guard lock(mu_);
  duckdb_result result = RunVector("EXPLAIN " + VectorSql(k), query);
  std::string plan;
  for (idx_t i = 0; i < duckdb_row_count(&result); ++i) {
    char* text = duckdb_value_varchar(&result, 1, i);
    plan += text != nullptr ? text : "";
    duckdb_free(text);
  }
  duckdb_destroy_result(&result);
  return plan;
}

json Index::Query(const std::string& sql) const {
  std::lock_guard lock(mu_);
  duckdb_result result;
  if (duckdb_query(con_, sql.c_str(), &result) != DuckDBSuccess) FailQuery(result);
  return Rows(result);
}

json Index::Rows(duckdb_result& result) const {
  json rows = json::array();
  const idx_t n = duckdb_row_count(&result);
  const idx_t key_col = key_type_ == KeyType::kNone ? 0 : 1;
  for (idx_t i = 0; i < n; ++i) {
    json row{{"row", duckdb_value_int64(&result, 0, i)}};
    if (key_col != 0) {
      if (duckdb_value_is_null(&result, key_col, i)) {
        row["key"] = nullptr;
      } else if (key_type_ == KeyType::kInt) {
        row["key"] = duckdb_value_int64(&result, key_col, i);
      } else {
        char* s = duckdb_value_varchar(&result, key_col, i);
        row["key"] = std::string(s);
        duckdb_free(s);
      }
    }
    char* text = duckdb_value_varchar(&result, key_col + 1, i);
    row["text"] = text != nullptr ? json(std::string(text)) : json(nullptr);
    duckdb_free(text);
    row["score"] = duckdb_value_double(&result, key_col + 2, i);
    rows.push_back(std::move(row));
  }
  duckdb_destroy_result(&result);
  return rows;
}

json Index::Vector(std::span<const float> query, int k) const {
  std::lock_guard lock(mu_);
  duckdb_result result = RunVector(VectorSql(k), query);
  return Rows(result);
}

json Index::Text(const std::string& query, int k) const {
  return Query(
      fmt::format("SELECT row, {}text, score FROM (SELECT *, fts_main_{}.match_bm25(row, {}) AS score FROM {}) "
                  "WHERE score IS NOT NULL ORDER BY score DESC, row LIMIT {}",
                  key_type_ == KeyType::kNone ? "" : "key, ", table_, SqlLiteral(query), table_, k));
}

double Index::TextScoreBound(const std::string& query) const {
  // The query's terms as match_bm25 sees them (the index's own tokenizer and stemmer), the idf of
  // each that occurs in the index exactly as match_bm25 computes it, times k1 + 1 (its default k1
  // is 1.2): no row scores more (a term's part tends to idf * (k1 + 1) as its frequency grows).
  const std::string fts = "fts_main_" + table_;
  const std::string sql = fmt::format(
      "WITH tokens AS (SELECT DISTINCT stem(unnest({0}.tokenize({1})), 'porter') AS t) "
      "SELECT coalesce(sum(log((((SELECT num_docs FROM {0}.stats) - df + 0.5) / (df + 0.5)) + 1)), 0) * 2.2 "
      "FROM {0}.dict AS dict, tokens WHERE dict.term = tokens.t",
      fts, SqlLiteral(query));
  std::lock_guard lock(mu_);
  duckdb_result result;
  if (duckdb_query(con_, sql.c_str(), &result) != DuckDBSuccess) FailQuery(result);
  const double bound = duckdb_row_count(&result) > 0 ? duckdb_value_double(&result, 0, 0) : 0.0;
  duckdb_destroy_result(&result);
  return bound;
}

IndexSet::IndexSet(SearchDb& db, IndexOptions options) : db_(db), options_(std::move(options)) {
  if (options_.extension_dir.empty()) {
    reason_ = "search.extension_dir is not set (the folder scripts/setup.d/65-search.sh fills with fts and vss)";
    return;
  }
  try {
    // One folder per DuckDB version, named as the library reports it ("v1.5.5"): an extension loads
    // only into the version it was built for (scripts/setup.d/65-search.sh fills the linked one's).
    const auto dir = std::filesystem::path(options_.extension_dir) / duckdb_library_version();
    for (const char* name : {"fts", "vss"}) {
      const auto path = dir / (std::string(name) + ".duckdb_extension");
      if (!std::filesystem::exists(path)) {
        Fail(ErrorCode::kUnavailable, "{} is missing (run scripts/setup.sh, or set search.extension_dir)",
             path.string());
      }
      db_.Load(path.string());
    }
    // DuckDB's late materialization rewrites "ORDER BY distance LIMIT k" into a top-k of row ids
    // semi-joined back to a full scan of the table: with an HNSW index that is a scan of every
    // row per query (O(n), the cost the index exists to avoid). Off for search's DuckDB, the HNSW
    // scan fetches its k rows by row id itself.
    Connection con(db_);
    Exec(con.get(), "SET disabled_optimizers = 'late_materialization'");
    available_ = true;
  } catch (const Error& e) {
    reason_ = e.what();
  }
}

std::shared_ptr<const Index> IndexSet::Get(const std::string& dataset, uint64_t version, KeyType key_type, int dim,
                                           const std::function<void(VectorWriter&)>& fill) {
  if (!available_) Fail(ErrorCode::kUnavailable, "search indexes are unavailable: {}", reason_);
  const std::string id = dataset + "@" + std::to_string(version);
  {
    std::unique_lock lock(mu_);
    for (;;) {
      for (auto it = indexes_.begin(); it != indexes_.end(); ++it) {
        if (it->first != id) continue;
        indexes_.splice(indexes_.begin(), indexes_, it);  // most recently used first
        return indexes_.front().second;
      }
      if (auto it = too_large_.find(id); it != too_large_.end()) throw IndexDoesNotFit(it->second);
      if (!building_.contains(id)) break;
      built_.wait(lock);  // another request builds this one: use it (or build it again if that failed)
    }
    building_.insert(id);
  }
  // Built outside the lock: other datasets' searches go on meanwhile.
  std::list<std::pair<std::string, std::shared_ptr<const Index>>> dropped;  // released after the lock
  try {
    const auto start = std::chrono::steady_clock::now();
    VectorWriter writer(db_, key_type, dim);
    fill(writer);
    const uint64_t rows = writer.rows();
    const std::string table = writer.Keep();
    auto index = std::make_shared<Index>(db_, table, key_type, dim, rows);
    Connection con(db_);
    Exec(con.get(), fmt::format("PRAGMA create_fts_index({}, 'row', 'text', stemmer = 'porter', "
                                "stopwords = 'english', overwrite = 1)",
                                SqlLiteral(table)));
    index->build_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (rows >= options_.hnsw_min_rows) index->StartHnsw(options_);
    std::lock_guard lock(mu_);
    building_.erase(id);
    // Versions of the same dataset are replaced; the least recently used goes when the set is full.
    for (auto it = indexes_.begin(); it != indexes_.end();) {
      auto next = std::next(it);
      if (it->first.rfind(dataset + "@", 0) == 0) dropped.splice(dropped.end(), indexes_, it);
      it = next;
    }
    while (indexes_.size() >= std::max<size_t>(1, options_.max_indexes)) {
      dropped.splice(dropped.end(), indexes_, std::prev(indexes_.end()));
    }
    indexes_.emplace_front(id, index);
    built_.notify_all();
    return index;
  } catch (...) {
    // DuckDB's "failed to allocate" (the appender, an index) when the vectors exceed memory_limit:
    // in-memory tables cannot spill. Remembered, and said as IndexDoesNotFit; anything else passes on.
    std::string too_large;
    try {
      throw;
    } catch (const std::exception& e) {
      const std::string what = e.what();
      if (what.find("failed to allocate") != std::string::npos || what.find("Out of Memory") != std::string::npos) {
        too_large = fmt::format(
            "the vectors of {} (version {}) do not fit search's memory ({}): raise search.memory_limit (and "
            "limits.max_memory) to index them; meanwhile vector search scans them through the query engine, and "
            "text search is unavailable for them ({})",
            dataset, version, db_.MemoryLimit(), what);
      }
    } catch (...) {
    }
    {
      std::lock_guard lock(mu_);
      building_.erase(id);
      if (!too_large.empty()) {
        if (too_large_.size() >= 256) too_large_.clear();
        too_large_[id] = too_large;
      }
    }
    built_.notify_all();
    if (!too_large.empty()) throw IndexDoesNotFit(too_large);
    throw;
  }
}

}  // namespace lakehouse::search
