#include "vector_writer.h"

#include <duckdb.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>

#include "lakehouse/shared/error.h"
#include "lakehouse/shared/sql.h"
#include "lakehouse/shared/types.h"

namespace lakehouse::search {

void Exec(duckdb_connection con, const std::string& sql) {
  duckdb_result result;
  if (duckdb_query(con, sql.c_str(), &result) != DuckDBSuccess) {
    std::string message = duckdb_result_error(&result) ? duckdb_result_error(&result) : "unknown error";
    duckdb_destroy_result(&result);
    Fail(ErrorCode::kInternal, "search's DuckDB failed: {}", message);
  }
  duckdb_destroy_result(&result);
}

SearchDb::SearchDb(const std::string& temp_dir, const std::string& memory_limit, int threads) : temp_dir_(temp_dir) {
  std::filesystem::create_directories(temp_dir_);
  duckdb_config config;
  if (duckdb_create_config(&config) != DuckDBSuccess) Fail(ErrorCode::kInternal, "duckdb_create_config failed");
  const std::pair<const char*, std::string> settings[] = {
      {"autoinstall_known_extensions", "false"},
      {"autoload_known_extensions", "false"},
      {"memory_limit", memory_limit},
      {"threads", std::to_string(std::max(1, threads))},
      {"temp_directory", (std::filesystem::path(temp_dir_) / "duckdb-spill").string()},
  };
  for (const auto& [name, value] : settings) {
    if (duckdb_set_config(config, name, value.c_str()) != DuckDBSuccess) {
      duckdb_destroy_config(&config);
      Fail(ErrorCode::kInvalidArgument, "invalid DuckDB setting for search {}={}", name, value);
    }
  }
  duckdb_database db = nullptr;
  char* error = nullptr;
  if (duckdb_open_ext(nullptr, &db, config, &error) != DuckDBSuccess) {
    std::string message = error ? error : "unknown error";
    duckdb_free(error);
    duckdb_destroy_config(&config);
    Fail(ErrorCode::kInternal, "cannot open DuckDB for search: {}", message);
  }
  duckdb_destroy_config(&config);
  db_ = db;
}

std::string SearchDb::MemoryLimit() const {
  duckdb_connection con = nullptr;
  if (duckdb_connect(static_cast<duckdb_database>(db_), &con) != DuckDBSuccess) {
    Fail(ErrorCode::kInternal, "cannot connect to search's DuckDB");
  }
  duckdb_result result;
  std::string limit;
  if (duckdb_query(con, "SELECT current_setting('memory_limit')", &result) == DuckDBSuccess) {
    char* text = duckdb_value_varchar(&result, 0, 0);
    limit = text != nullptr ? text : "";
    duckdb_free(text);
  }
  duckdb_destroy_result(&result);
  duckdb_disconnect(&con);
  if (limit.empty()) Fail(ErrorCode::kInternal, "search's DuckDB did not report its memory limit");
  return limit;
}

SearchDb::~SearchDb() {
  auto db = static_cast<duckdb_database>(db_);
  duckdb_close(&db);
}

class VectorWriter::Impl {
 public:
  Impl(SearchDb& db, KeyType key_type, int dim) : key_type_(key_type), dim_(dim) {
    if (dim <= 0) Fail(ErrorCode::kInternal, "vectors need a positive dimension, got {}", dim);
    const std::string id = std::to_string(::getpid()) + "_" + RandomHexId();
    table_ = "v_" + id;
    path_ = (std::filesystem::path(db.temp_dir()) / ("vectors-" + id + ".parquet")).string();
    if (duckdb_connect(static_cast<duckdb_database>(db.handle()), &con_) != DuckDBSuccess) {
      Fail(ErrorCode::kInternal, "cannot connect to search's DuckDB");
    }
    const char* key_sql = key_type == KeyType::kInt      ? ", key BIGINT"
                          : key_type == KeyType::kString ? ", key VARCHAR"
                                                         : "";
    Exec(con_, fmt::format("CREATE TABLE {} (row BIGINT NOT NULL{}, text VARCHAR, embedding FLOAT[{}] NOT NULL)",
                           table_, key_sql, dim));
    if (duckdb_appender_create(con_, nullptr, table_.c_str(), &appender_) != DuckDBSuccess) {
      Fail(ErrorCode::kInternal, "cannot append to search's DuckDB: {}", AppenderError());
    }
    duckdb_logical_type types[4];
    size_t n = 0;
    types[n++] = duckdb_create_logical_type(DUCKDB_TYPE_BIGINT);
    if (key_type != KeyType::kNone) {
      types[n++] = duckdb_create_logical_type(key_type == KeyType::kInt ? DUCKDB_TYPE_BIGINT : DUCKDB_TYPE_VARCHAR);
    }
    types[n++] = duckdb_create_logical_type(DUCKDB_TYPE_VARCHAR);
    duckdb_logical_type f32 = duckdb_create_logical_type(DUCKDB_TYPE_FLOAT);
    types[n++] = duckdb_create_array_type(f32, static_cast<idx_t>(dim));
    duckdb_destroy_logical_type(&f32);
    chunk_ = duckdb_create_data_chunk(types, n);
    for (size_t i = 0; i < n; ++i) duckdb_destroy_logical_type(&types[i]);
    capacity_ = duckdb_vector_size();
  }

  ~Impl() {
    if (chunk_ != nullptr) duckdb_destroy_data_chunk(&chunk_);
    if (appender_ != nullptr) duckdb_appender_destroy(&appender_);
    try {
      if (!kept_) Exec(con_, "DROP TABLE IF EXISTS " + table_);
    } catch (const Error&) {
      // the connection is closed below either way; the in-memory table goes with the process
    }
    duckdb_disconnect(&con_);
    std::error_code ec;
    std::filesystem::remove(path_, ec);
  }

  void Add(int64_t row, const KeyValue* key, std::string_view text, std::span<const float> embedding) {
    if (static_cast<int>(embedding.size()) != dim_) {
      Fail(ErrorCode::kInternal, "a vector of {} values does not fit FLOAT[{}]", embedding.size(), dim_);
    }
    idx_t col = 0;
    static_cast<int64_t*>(duckdb_vector_get_data(duckdb_data_chunk_get_vector(chunk_, col++)))[size_] = row;
    if (key_type_ != KeyType::kNone) {
      duckdb_vector v = duckdb_data_chunk_get_vector(chunk_, col++);
      if (key == nullptr || key->is_null) {
        duckdb_vector_ensure_validity_writable(v);
        duckdb_validity_set_row_invalid(duckdb_vector_get_validity(v), size_);
      } else if (key_type_ == KeyType::kInt) {
        static_cast<int64_t*>(duckdb_vector_get_data(v))[size_] = key->i;
      } else {
        duckdb_vector_assign_string_element_len(v, size_, key->s.data(), key->s.size());
      }
    }
    duckdb_vector_assign_string_element_len(duckdb_data_chunk_get_vector(chunk_, col++), size_, text.data(),
                                            text.size());
    duckdb_vector child = duckdb_array_vector_get_child(duckdb_data_chunk_get_vector(chunk_, col));
    std::memcpy(static_cast<float*>(duckdb_vector_get_data(child)) + size_ * dim_, embedding.data(),
                embedding.size() * sizeof(float));
    if (++size_ == capacity_) Flush();
  }

  std::string Finish() {
    Close();
    Exec(con_, fmt::format("COPY {} TO {} (FORMAT parquet, COMPRESSION zstd)", table_, SqlLiteral(path_)));
    return path_;
  }

  std::string Keep() {
    Close();
    kept_ = true;
    return table_;
  }

 private:
  std::string AppenderError() const {
    const char* e = appender_ != nullptr ? duckdb_appender_error(appender_) : nullptr;
    return e != nullptr ? e : "unknown error";
  }

  void Close() {
    Flush();
    if (duckdb_appender_close(appender_) != DuckDBSuccess) {
      Fail(ErrorCode::kInternal, "search's DuckDB appender failed: {}", AppenderError());
    }
  }

  void Flush() {
    if (size_ == 0) return;
    duckdb_data_chunk_set_size(chunk_, size_);
    if (duckdb_append_data_chunk(appender_, chunk_) != DuckDBSuccess) {
      Fail(ErrorCode::kInternal, "search's DuckDB appender failed: {}", AppenderError());
    }
    duckdb_data_chunk_reset(chunk_);
    size_ = 0;
  }

  KeyType key_type_;
  int dim_;
  std::string table_, path_;
  duckdb_connection con_ = nullptr;
  duckdb_appender appender_ = nullptr;
  duckdb_data_chunk chunk_ = nullptr;
  idx_t capacity_ = 0;
  idx_t size_ = 0;
  bool kept_ = false;
};

VectorWriter::VectorWriter(SearchDb& db, KeyType key_type, int dim)
    : impl_(std::make_unique<Impl>(db, key_type, dim)) {}
VectorWriter::~VectorWriter() = default;

void VectorWriter::Add(int64_t row, const KeyValue* key, std::string_view text, std::span<const float> embedding) {
  impl_->Add(row, key, text, embedding);
  ++rows_;
}

std::string VectorWriter::Finish() { return impl_->Finish(); }
std::string VectorWriter::Keep() { return impl_->Keep(); }

void SearchDb::Load(const std::string& extension_path) {
  duckdb_connection con = nullptr;
  if (duckdb_connect(static_cast<duckdb_database>(db_), &con) != DuckDBSuccess) {
    Fail(ErrorCode::kInternal, "cannot connect to search's DuckDB");
  }
  try {
    Exec(con, "LOAD " + SqlLiteral(extension_path));
  } catch (...) {
    duckdb_disconnect(&con);
    throw;
  }
  duckdb_disconnect(&con);
}

}  // namespace lakehouse::search
