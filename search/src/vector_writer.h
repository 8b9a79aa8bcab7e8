#pragma once
// Writes the rows of a vectors dataset as typed values into a Parquet file for ingest: rows go
// through DuckDB's appender as data chunks (integers, strings, FLOAT[dim] arrays copied as floats),
// then one COPY writes zstd Parquet. No row is ever printed as text and parsed back.
#include <duckdb.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace lakehouse::search {

//! The search service's own DuckDB: in memory, offline, bounded (memory, threads, spill folder).
//! It holds only what search derives (vectors being written); datasets are read through queryd.
class SearchDb {
 public:
  SearchDb(const std::string& temp_dir, const std::string& memory_limit, int threads);
  ~SearchDb();
  SearchDb(const SearchDb&) = delete;
  SearchDb& operator=(const SearchDb&) = delete;
  void* handle() const { return db_; }  //!< the duckdb_database
  //! The memory limit this DuckDB enforces, as DuckDB reports it (e.g. "59.6 MiB").
  std::string MemoryLimit() const;
  //! Loads a DuckDB extension from its file (before any query uses it; never from user SQL).
  void Load(const std::string& extension_path);
  const std::string& temp_dir() const { return temp_dir_; }

 private:
  void* db_ = nullptr;
  std::string temp_dir_;
};

//! Runs one statement on a connection of search's DuckDB; Error(kInternal) with DuckDB's message.
void Exec(duckdb_connection con, const std::string& sql);

enum class KeyType { kNone, kInt, kString };

//! A row key as read from the source: an integer, a string, or null.
struct KeyValue {
  bool is_null = true;
  int64_t i = 0;
  std::string s;
};

class VectorWriter {
 public:
  //! Columns: row BIGINT, [key BIGINT|VARCHAR], text VARCHAR, embedding FLOAT[dim].
  VectorWriter(SearchDb& db, KeyType key_type, int dim);
  ~VectorWriter();  //!< drops the table and removes the Parquet file
  VectorWriter(const VectorWriter&) = delete;
  VectorWriter& operator=(const VectorWriter&) = delete;

  void Add(int64_t row, const KeyValue* key, std::string_view text, std::span<const float> embedding);
  //! Writes the Parquet file and returns its path (valid until the writer is destroyed).
  std::string Finish();
  //! Ends appending and hands the table over to the caller (who drops it); returns its name.
  //! The writer then neither writes Parquet nor drops the table.
  std::string Keep();
  uint64_t rows() const { return rows_; }

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
  uint64_t rows_ = 0;
};

}  // namespace lakehouse::search
