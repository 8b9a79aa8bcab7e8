#include "index.h"

#include <fmt/format.h>

#include <chrono>
#include <filesystem>

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

std::string VectorLiteral(std::span<const float> v, int dim) {
  std::string out = "[";
  for (size_t i = 0; i < v.size(); ++i) fmt::format_to(std::back_inserter(out), "{}{}", i ? "," : "", v[i]);
  return out + fmt::format("]::FLOAT[{}]", dim);
}

}  // namespace

Index::Index(SearchDb& db, std::string table, KeyType key_type, int dim, uint64_t rows, bool hnsw)
    : db_(db), table_(std::move(table)), key_type_(key_type), dim_(dim), rows_(rows), hnsw_(hnsw) {}

Index::~Index() {
  try {
    Connection con(db_);
    Exec(con.get(), fmt::format("PRAGMA drop_fts_index({})", SqlLiteral(table_)));
    Exec(con.get(), "DROP TABLE IF EXISTS " + table_);
  } catch (const Error&) {
    // an in-memory table: it goes with the process at the latest
  }
}

json Index::Query(const std::string& sql) const {
  Connection con(db_);
  duckdb_result result;
  if (duckdb_query(con.get(), sql.c_str(), &result) != DuckDBSuccess) {
    std::string message = duckdb_result_error(&result) ? duckdb_result_error(&result) : "unknown error";
    duckdb_destroy_result(&result);
    Fail(ErrorCode::kInternal, "search's index query failed: {}", message);
  }
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
  if (static_cast<int>(query.size()) != dim_) {
    Fail(ErrorCode::kInternal, "a query vector of {} values does not fit FLOAT[{}]", query.size(), dim_);
  }
  const std::string q = VectorLiteral(query, dim_);
  // ORDER BY array_cosine_distance(...) LIMIT k with no other sort key is the shape the HNSW index
  // answers (when there is one); a tie-breaker column would make it a full scan.
  return Query(
      fmt::format("SELECT row, {}text, array_cosine_similarity(embedding, {}) AS score FROM {} "
                  "ORDER BY array_cosine_distance(embedding, {}) LIMIT {}",
                  key_type_ == KeyType::kNone ? "" : "key, ", q, table_, q, k));
}

json Index::Text(const std::string& query, int k) const {
  return Query(
      fmt::format("SELECT row, {}text, score FROM (SELECT *, fts_main_{}.match_bm25(row, {}) AS score FROM {}) "
                  "WHERE score IS NOT NULL ORDER BY score DESC, row LIMIT {}",
                  key_type_ == KeyType::kNone ? "" : "key, ", table_, SqlLiteral(query), table_, k));
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
    available_ = true;
  } catch (const Error& e) {
    reason_ = e.what();
  }
}

std::shared_ptr<const Index> IndexSet::Get(const std::string& dataset, uint64_t version, KeyType key_type, int dim,
                                           const std::function<void(VectorWriter&)>& fill) {
  if (!available_) Fail(ErrorCode::kUnavailable, "search indexes are unavailable: {}", reason_);
  const std::string id = dataset + "@" + std::to_string(version);
  std::lock_guard lock(mu_);
  for (auto it = indexes_.begin(); it != indexes_.end(); ++it) {
    if (it->first != id) continue;
    indexes_.splice(indexes_.begin(), indexes_, it);  // most recently used first
    return indexes_.front().second;
  }
  const auto start = std::chrono::steady_clock::now();
  VectorWriter writer(db_, key_type, dim);
  fill(writer);
  const uint64_t rows = writer.rows();
  const std::string table = writer.Keep();
  const bool hnsw = rows >= options_.hnsw_min_rows;
  auto index = std::make_shared<Index>(db_, table, key_type, dim, rows, hnsw);
  Connection con(db_);
  Exec(con.get(), fmt::format("PRAGMA create_fts_index({}, 'row', 'text', stemmer = 'porter', "
                              "stopwords = 'english', overwrite = 1)",
                              SqlLiteral(table)));
  if (hnsw) {
    Exec(con.get(),
         fmt::format("CREATE INDEX {}_hnsw ON {} USING HNSW (embedding) WITH (metric = 'cosine', ef_search = {})",
                     table, table, options_.hnsw_ef_search));
  }
  index->build_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  // Versions of the same dataset are replaced; the least recently used goes when the set is full.
  indexes_.remove_if([&](const auto& e) { return e.first.rfind(dataset + "@", 0) == 0; });
  while (indexes_.size() >= std::max<size_t>(1, options_.max_indexes)) indexes_.pop_back();
  indexes_.emplace_front(id, index);
  return index;
}

}  // namespace lakehouse::search
