#pragma once
// DuckDB's spill files behind a scheme of their own. When external access is turned off, DuckDB
// adds its temp_directory to allowed_directories, so user SQL (glob, read_blob, read_text...) could
// list and read the spill files of other running queries: blocks of datasets the caller may not be
// granted. The engine therefore gives DuckDB "lakehouse-spill://<absolute temp dir>" as its
// temp_directory. This file system maps that scheme onto the local directory for DuckDB's buffer
// manager, which calls without a client context, and refuses every call made for a query (a
// FileOpener that carries a ClientContext). Handles it opens are the local file system's own, so
// reads and writes of spilled blocks cost nothing extra.
#include <string>

#include "duckdb.hpp"

namespace lakehouse::queryd {

//! "lakehouse-spill://" + the absolute form of `temp_dir` (DuckDB's temp_directory setting).
std::string SpillDirectoryUrl(const std::string& temp_dir);

//! The file system to register with DuckDB (FileSystem::RegisterSubSystem).
duckdb::unique_ptr<duckdb::FileSystem> MakeSpillFileSystem();

}  // namespace lakehouse::queryd
