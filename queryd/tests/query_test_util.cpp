#include "query_test_util.h"

#include <filesystem>
#include <stdexcept>

#include "lakehouse/shared/io.h"
#include "lakehouse/shared/types.h"

namespace lakehouse::queryd::testing {

namespace {
void Check(duckdb_state state, duckdb_result* result, const std::string& what) {
  if (state == DuckDBSuccess) return;
  std::string message = result ? duckdb_result_error(result) : "";
  if (result) duckdb_destroy_result(result);
  throw std::runtime_error(what + ": " + message);
}
}  // namespace

ParquetMaker::ParquetMaker() {
  dir_ = lakehouse::testing::MakeTempDir("parquet");
  duckdb_config config;
  duckdb_create_config(&config);
  duckdb_set_config(config, "autoinstall_known_extensions", "false");
  duckdb_set_config(config, "autoload_known_extensions", "false");
  duckdb_set_config(config, "threads", "2");
  char* error = nullptr;
  if (duckdb_open_ext(nullptr, &db_, config, &error) != DuckDBSuccess) {
    std::string message = error ? error : "";
    duckdb_free(error);
    duckdb_destroy_config(&config);
    throw std::runtime_error("duckdb_open_ext: " + message);
  }
  duckdb_destroy_config(&config);
  duckdb_connect(db_, &con_);
}

ParquetMaker::~ParquetMaker() {
  duckdb_disconnect(&con_);
  duckdb_close(&db_);
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

std::string ParquetMaker::Write(const std::string& select_sql, Schema* schema) {
  const std::string path = dir_ + "/" + std::to_string(++counter_) + ".parquet";
  duckdb_result result;
  Check(duckdb_query(con_,
                     ("COPY (" + select_sql + ") TO '" + path + "' (FORMAT parquet, ROW_GROUP_SIZE 100000)").c_str(),
                     &result),
        &result, "COPY");
  duckdb_destroy_result(&result);
  Check(duckdb_query(con_, ("DESCRIBE SELECT * FROM read_parquet('" + path + "')").c_str(), &result), &result,
        "DESCRIBE");
  schema->clear();
  for (idx_t row = 0; row < duckdb_row_count(&result); ++row) {
    char* name = duckdb_value_varchar(&result, 0, row);
    char* type = duckdb_value_varchar(&result, 1, row);
    char* null = duckdb_value_varchar(&result, 2, row);
    schema->push_back(ColumnSchema{name, type, std::string(null) != "NO"});
    duckdb_free(name);
    duckdb_free(type);
    duckdb_free(null);
  }
  duckdb_destroy_result(&result);
  return path;
}

std::unique_ptr<Stack> Stack::Make(const std::string& kind, QueryConfig config) {
  auto stack = std::make_unique<Stack>();
  stack->store = lakehouse::testing::MakeTestStore(kind);
  stack->catalog = catalogd::MakeCatalog(*stack->store->store);
  stack->catalog->Rebuild();
  stack->engine = MakeQueryEngine(*stack->catalog, *stack->store->store, config);
  return stack;
}

DatasetManifest Stack::Commit(const std::string& dataset, const std::string& select_sql, catalogd::CommitOp op,
                              bool allow_schema_change) {
  Schema schema;
  const std::string path = maker.Write(select_sql, &schema);
  FileSource source(path);
  const std::string key = catalogd::NewDataKey(dataset);
  auto info = store->store->Put(key, source);
  uint64_t rows = 0;
  {
    duckdb_database db;
    duckdb_connection con;
    duckdb_open(nullptr, &db);
    duckdb_connect(db, &con);
    duckdb_result result;
    duckdb_query(con, ("SELECT count(*) FROM read_parquet('" + path + "')").c_str(), &result);
    rows = static_cast<uint64_t>(duckdb_value_int64(&result, 0, 0));
    duckdb_destroy_result(&result);
    duckdb_disconnect(&con);
    duckdb_close(&db);
  }
  catalogd::CommitRequest request;
  request.dataset = dataset;
  request.op = op;
  request.schema = schema;
  request.allow_schema_change = allow_schema_change;
  request.objects.push_back(DataObject{ObjectRef{store->store->Bucket(), key, info.size, info.etag}, rows});
  return *catalog->Commit(request);
}

std::string Stack::Run(const std::string& sql, ResultFormat format, std::optional<uint64_t> limit, QueryStats* stats) {
  StringSink sink;
  QueryRequest request;
  request.sql = sql;
  request.format = format;
  request.limit = limit;
  auto s = engine->Execute(request, sink);
  if (stats) *stats = s;
  return sink.body;
}

}  // namespace lakehouse::queryd::testing
