#pragma once
// Parquet results (format=parquet): the statement runs as DuckDB's own
//   COPY (<statement>) TO 'lakehouse-export://<token>' (FORMAT parquet)
// into a write-only file system over the engine's temp directory; the finished file is then
// streamed to the client and removed. User SQL cannot reach it: COPY is not a statement users may
// send (sandbox.cpp), and the file system refuses every read, listing and glob.
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

#include "duckdb.hpp"
#include "lakehouse/queryd/query.h"

namespace lakehouse::queryd {

//! Where Parquet results are written while they are built: "lakehouse-export" beside
//! QueryConfig::temp_dir (else in the system temp directory), never inside the spill directory,
//! which has its own guarded file system (spill_fs.h).
std::filesystem::path ExportDirectory(const QueryConfig& config);

//! The file system to register with DuckDB; writes above `max_bytes` (0 = none) fail the query.
duckdb::unique_ptr<duckdb::FileSystem> MakeExportFileSystem(std::filesystem::path directory, uint64_t max_bytes);

//! One Parquet result file: a fresh name, removed on destruction.
class ExportFile {
 public:
  explicit ExportFile(const QueryConfig& config);
  ~ExportFile();
  ExportFile(const ExportFile&) = delete;
  ExportFile& operator=(const ExportFile&) = delete;

  const std::string& url() const { return url_; }  //!< what COPY writes to
  const std::filesystem::path& path() const { return path_; }

 private:
  std::string url_;
  std::filesystem::path path_;
};

//! `SELECT` statement -> `COPY (SELECT ...) TO url (FORMAT parquet)`, at most `limit` rows.
//! Throws Error(kInvalidArgument) for statements that are not a plain query (EXPLAIN...).
duckdb::unique_ptr<duckdb::SQLStatement> WrapInParquetCopy(duckdb::unique_ptr<duckdb::SQLStatement> statement,
                                                           const std::string& url, std::optional<uint64_t> limit);

}  // namespace lakehouse::queryd
