#pragma once
// Shared by queryd's tests and tools: a real object store + real catalog + the engine, and
// datasets made by a separate DuckDB (C API) writing Parquet, uploaded and committed like ingest does.
#include <duckdb.h>

#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "lakehouse/catalogd/catalog.h"
#include "lakehouse/queryd/query.h"
#include "lakehouse/storaged/object_store.h"
#include "lakehouse/testing/string_sink.h"
#include "test_stores.h"

namespace lakehouse::queryd::testing {

using lakehouse::testing::StringSink;

//! Keeps every byte and which threads wrote them.
class RecordingSink final : public ResultSink {
 public:
  void Begin(std::string_view) override {}
  bool Write(std::string_view bytes) override {
    std::lock_guard lock(mu);
    if (fail_after_writes >= 0 && writes >= fail_after_writes) return false;
    ++writes;
    body.append(bytes);
    writers.insert(std::this_thread::get_id());
    return true;
  }
  bool ClientGone() override { return false; }
  std::mutex mu;
  std::string body;
  std::set<std::thread::id> writers;
  int writes = 0;
  int fail_after_writes = -1;  //!< refuse writes after this many (a client that left)
};

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
