#pragma once
// Shared by queryd's tests and tools: a real object store + real catalog + the engine, and
// datasets made by a separate DuckDB (C API) writing Parquet, uploaded and committed like ingest does.
#include <duckdb.h>

#include <memory>
#include <string>
#include <vector>

#include "lakehouse/catalogd/catalog.h"
#include "lakehouse/queryd/query.h"
#include "lakehouse/storaged/object_store.h"
#include "lakehouse/testing/string_sink.h"
#include "test_stores.h"

namespace lakehouse::queryd::testing {

using lakehouse::testing::StringSink;

//! A DuckDB used only to produce Parquet files for test datasets.
class ParquetMaker {
 public:
  ParquetMaker();
  ~ParquetMaker();
  //! Writes the rows of `select_sql` to a Parquet file; returns its path and schema.
  std::string Write(const std::string& select_sql, Schema* schema);

 private:
  duckdb_database db_ = nullptr;
  duckdb_connection con_ = nullptr;
  std::string dir_;
  int counter_ = 0;
};

struct Stack {
  std::unique_ptr<lakehouse::testing::TestStore> store;
  std::unique_ptr<catalogd::Catalog> catalog;
  std::unique_ptr<QueryEngine> engine;
  ParquetMaker maker;

  static std::unique_ptr<Stack> Make(const std::string& kind, QueryConfig config = {});
  //! Uploads the rows of `select_sql` as one object and commits it (create/append/replace).
  DatasetManifest Commit(const std::string& dataset, const std::string& select_sql,
                         catalogd::CommitOp op = catalogd::CommitOp::kCreate, bool allow_schema_change = false);
  //! Runs SQL; returns the body. Throws lakehouse::Error like the engine.
  std::string Run(const std::string& sql, ResultFormat format = ResultFormat::kJson,
                  std::optional<uint64_t> limit = std::nullopt, QueryStats* stats = nullptr);
};

}  // namespace lakehouse::queryd::testing
