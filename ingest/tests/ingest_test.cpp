// Ingest with real DuckDB over real object stores: good uploads become versions, bad ones leave
// nothing behind.
#include <duckdb.h>
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "ingest_internal.h"
#include "lakehouse/ingest/ingest.h"
#include "lakehouse/shared/error.h"
#include "lakehouse/testing/errors.h"
#include "test_stores.h"

namespace lakehouse::ingest {
namespace {

namespace fs = std::filesystem;
using catalogd::CommitOp;
using lakehouse::testing::CodeOf;

std::string ManifestKeyOf(const std::string& dataset) { return catalogd::ManifestKey(dataset, 1); }

//! A second, independent DuckDB used by the tests to make input files and read results back.
class Duck {
 public:
  Duck() {
    duckdb_open(nullptr, &db_);
    duckdb_connect(db_, &con_);
    Run("SET threads=2");
  }
  ~Duck() {
    duckdb_disconnect(&con_);
    duckdb_close(&db_);
  }
  std::string Scalar(const std::string& sql) {
    duckdb_result r;
    if (duckdb_query(con_, sql.c_str(), &r) != DuckDBSuccess) {
      std::string e = duckdb_result_error(&r);
      duckdb_destroy_result(&r);
      throw std::runtime_error(e);
    }
    char* v = duckdb_value_varchar(&r, 0, 0);
    std::string out = v ? v : "";
    duckdb_free(v);
    duckdb_destroy_result(&r);
    return out;
  }
  void Run(const std::string& sql) { Scalar(sql); }

 private:
  duckdb_database db_ = nullptr;
  duckdb_connection con_ = nullptr;
};

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class IngestTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "s3" && !testing::S3Available()) GTEST_SKIP() << "LAKEHOUSE_S3_ENV_FILE not set";
    t_ = testing::MakeTestStore(GetParam());
    catalog_ = catalogd::MakeCatalog(*t_->store);
    catalog_->Rebuild();
    work_ = testing::MakeTempDir("ingest");
    temp_ = work_ + "/tmp";
    ingest_ = MakeIngestor(*t_->store, *catalog_, IngestOptions{temp_, "512MB", 2});
  }
  void TearDown() override {
    ingest_.reset();
    if (!work_.empty()) fs::remove_all(work_);
  }

  std::string MakeParquet(const std::string& name, int rows, const std::string& extra_cols = "") {
    std::string path = work_ + "/" + name;
    duck_.Run("COPY (SELECT range AS id, range * 1.5 AS price, 'item' || range AS label" + extra_cols + " FROM range(" +
              std::to_string(rows) + ")) TO '" + path + "' (FORMAT parquet)");
    return path;
  }

  IngestResult Upload(const std::string& dataset, CommitOp op, std::string_view body, std::optional<Format> format,
                      bool allow_schema_change = false,
                      std::optional<std::vector<std::string>> partition_by = std::nullopt) {
    IngestRequest r;
    r.dataset = dataset;
    r.op = op;
    r.format = format;
    r.allow_schema_change = allow_schema_change;
    r.partition_by = std::move(partition_by);
    StringSource source(body);
    return ingest_->Ingest(r, source);
  }

  //! Runs `sql` over a stored data object (read back to a file named `t` in the query).
  std::string OverObject(const DataObject& o, const std::string& sql) {
    std::string path = work_ + "/readback-" + RandomHexId() + ".parquet";
    { std::ofstream(path, std::ios::binary) << t_->store->GetBytes(o.ref.key); }
    auto out = duck_.Scalar("WITH t AS (SELECT * FROM read_parquet('" + path + "')) " + sql);
    fs::remove(path);
    return out;
  }

  //! Reads a stored data object back with DuckDB and counts its rows.
  uint64_t CountRows(const DataObject& o) {
    std::string path = work_ + "/readback-" + RandomHexId() + ".parquet";
    { std::ofstream(path, std::ios::binary) << t_->store->GetBytes(o.ref.key); }
    auto n = std::stoull(duck_.Scalar("SELECT count(*) FROM read_parquet('" + path + "')"));
    fs::remove(path);
    return n;
  }

  //! Expects `fn` to fail with `code` and a message containing `needle`, and nothing to be visible.
  //! Writes a valid 100k-row zstd Parquet file at `path` and returns its bytes with 4 KB of random
  //! bytes at a third of its length: the footer still reads, the pages do not.
  std::string WriteDamagedParquet(const std::string& path) {
    duck_.Run("COPY (SELECT range AS id, md5(range::VARCHAR) AS h FROM range(100000)) TO '" + path +
              "' (FORMAT parquet, COMPRESSION zstd)");
    std::string bytes = ReadFile(path);
    std::mt19937 rng(14);
    for (size_t i = 0; i < 4096; ++i) bytes[bytes.size() / 3 + i] = static_cast<char>(rng());
    return bytes;
  }

  void ExpectRejected(const std::string& dataset, ErrorCode code, const std::string& needle,
                      const std::function<void()>& fn) {
    size_t data_before = t_->store->ListAll("data/").size();
    try {
      fn();
      ADD_FAILURE() << "upload to " << dataset << " was accepted";
    } catch (const Error& e) {
      std::fprintf(stderr, "rejected %s: %s\n", dataset.c_str(), e.what());
      EXPECT_EQ(e.code(), code) << e.what();
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
    EXPECT_EQ(t_->store->ListAll("data/").size(), data_before) << "a rejected upload left a data object";
    EXPECT_EQ(catalog_->CollectGarbage(-60'000), 0u) << "a rejected upload left an orphan";
    for (const auto& entry : fs::directory_iterator(temp_)) {
      EXPECT_FALSE(entry.path().filename().string().starts_with("ingest-")) << "temp file left: " << entry.path();
    }
  }

  Duck duck_;
  std::unique_ptr<testing::TestStore> t_;
  std::unique_ptr<catalogd::Catalog> catalog_;
  std::unique_ptr<Ingestor> ingest_;
  std::string work_;
  std::string temp_;
};

TEST_P(IngestTest, ParquetIsStoredAsIsWithSchemaAndRowCount) {
  auto path = MakeParquet("a.parquet", 1000);
  auto bytes = ReadFile(path);
  auto r = Upload("sales", CommitOp::kCreate, bytes, std::nullopt);  // sniffed
  EXPECT_EQ(r.format, Format::kParquet);
  EXPECT_EQ(r.manifest->version, 1u);
  EXPECT_EQ(r.manifest->row_count(), 1000u);
  EXPECT_EQ(r.bytes_received, bytes.size());
  ASSERT_EQ(r.manifest->schema.size(), 3u);
  EXPECT_EQ(r.manifest->schema[0].name, "id");
  EXPECT_EQ(r.manifest->schema[0].type, "BIGINT");
  EXPECT_EQ(r.manifest->schema[1].type, "DECIMAL(21,1)");
  EXPECT_EQ(r.manifest->schema[2].type, "VARCHAR");
  EXPECT_EQ(r.object.ref.size, bytes.size());
  EXPECT_EQ(t_->store->GetBytes(r.object.ref.key), bytes);  // byte for byte
  EXPECT_EQ(catalog_->Head("sales"), *r.manifest);

  auto r2 = Upload("sales", CommitOp::kAppend, ReadFile(MakeParquet("b.parquet", 500)), Format::kParquet);
  EXPECT_EQ(r2.manifest->version, 2u);
  EXPECT_EQ(r2.manifest->row_count(), 1500u);
  uint64_t total = 0;
  for (const auto& o : r2.manifest->objects) total += CountRows(o);
  EXPECT_EQ(total, 1500u);
}

TEST_P(IngestTest, CsvJsonAndNdjsonBecomeZstdParquet) {
  std::string csv = "id,price,label\n1,2.5,a\n2,3.5,b\n3,4.5,\"c, with comma\"\n";
  auto r = Upload("events", CommitOp::kCreate, csv, Format::kCsv);
  EXPECT_EQ(r.manifest->row_count(), 3u);
  EXPECT_EQ(CountRows(r.object), 3u);
  EXPECT_EQ(r.manifest->schema,
            (Schema{{"id", "BIGINT", true}, {"price", "DOUBLE", true}, {"label", "VARCHAR", true}}));
  // Stored as Parquet with zstd pages.
  std::string path = work_ + "/check.parquet";
  { std::ofstream(path, std::ios::binary) << t_->store->GetBytes(r.object.ref.key); }
  EXPECT_EQ(duck_.Scalar("SELECT DISTINCT compression FROM parquet_metadata('" + path + "')"), "ZSTD");

  std::string json = R"([{"id": 4, "price": 5.5, "label": "d"}, {"id": 5, "price": 6.5, "label": "e"}])";
  auto r2 = Upload("events", CommitOp::kAppend, json, std::nullopt);  // sniffed as JSON
  EXPECT_EQ(r2.format, Format::kJson);
  EXPECT_EQ(r2.manifest->row_count(), 5u);

  std::string ndjson = "{\"id\": 6, \"price\": 7.5, \"label\": \"f\"}\n{\"id\": 7, \"price\": 8.5, \"label\": \"g\"}\n";
  auto r3 = Upload("events", CommitOp::kAppend, ndjson, Format::kNdjson);
  EXPECT_EQ(r3.manifest->version, 3u);
  EXPECT_EQ(r3.manifest->row_count(), 7u);

  // Semicolon CSV: the delimiter comes from the header line.
  auto r4 = Upload("semi", CommitOp::kCreate, "a;b\n1;x\n2;y\n", std::nullopt);
  EXPECT_EQ(r4.format, Format::kCsv);
  EXPECT_EQ(r4.manifest->schema.size(), 2u);

  // Replace swaps the objects.
  auto r5 = Upload("events", CommitOp::kReplace, "id,price,label\n9,1.0,z\n", Format::kCsv);
  EXPECT_EQ(r5.manifest->objects.size(), 1u);
  EXPECT_EQ(r5.manifest->row_count(), 1u);
}

TEST_P(IngestTest, BadInputIsRejectedAndLeavesNothing) {
  auto good = ReadFile(MakeParquet("good.parquet", 100));
  // A ragged row far beyond DuckDB's sniffing sample is still an error (strict mode).
  std::string long_csv = "a,b\n";
  for (int i = 0; i < 60000; ++i) long_csv += std::to_string(i) + "," + std::to_string(i * 2) + "\n";
  long_csv += "1,2,3\n";
  struct BadUpload {
    std::string body;
    std::optional<Format> format;
    std::string message;
  };
  const std::vector<BadUpload> bad_uploads = {
      {"id,price\n1,2\n", Format::kParquet, "not a Parquet file"},
      {good.substr(0, good.size() / 2), std::nullopt, "truncated Parquet"},
      // Right magic at both ends, garbage in between: DuckDB cannot read the footer.
      {"PAR1" + std::string(200, 'x') + "PAR1", std::nullopt, "invalid Parquet"},
      {"a,b\n1,2\n3,4,5\n6,7\n", Format::kCsv, "invalid CSV"},
      {"a,b\n1,2\n3\n", std::nullopt, "invalid CSV"},
      // DuckDB's sniffer would otherwise skip leading rows to find a consistent shape (data loss).
      {"a,b\n1,2\n3,4,5\n", Format::kCsv, "invalid CSV"},
      {"title line\na,b\n1,2\n", Format::kCsv, "invalid CSV"},
      {long_csv, Format::kCsv, "invalid CSV"},
      {"", Format::kCsv, "empty body"},
      {"[{\"a\": 1}, {\"a\": ", Format::kJson, "invalid JSON"},
      {std::string("\x00\x01\x02\xff", 4), std::nullopt, "not Parquet, CSV or JSON"},
  };
  for (const auto& bad : bad_uploads) {
    SCOPED_TRACE(bad.message + ": " + bad.body.substr(0, 40));
    ExpectRejected("bad", ErrorCode::kInvalidArgument, bad.message,
                   [&] { Upload("bad", CommitOp::kCreate, bad.body, bad.format); });
  }
  ExpectRejected("Bad-Name", ErrorCode::kInvalidArgument, "invalid dataset name",
                 [&] { Upload("Bad-Name", CommitOp::kCreate, good, std::nullopt); });
  ExpectRejected("bad", ErrorCode::kNotFound, "does not exist",
                 [&] { Upload("bad", CommitOp::kAppend, good, std::nullopt); });
  EXPECT_TRUE(t_->store->ListAll("_catalog/bad/").empty());
  EXPECT_TRUE(catalog_->List().empty());

  // A duplicate create and a schema change are refused by the catalog after the data was
  // stored: the data object must be deleted again.
  Upload("sales", CommitOp::kCreate, good, std::nullopt);
  ExpectRejected("sales", ErrorCode::kConflict, "already exists",
                 [&] { Upload("sales", CommitOp::kCreate, good, std::nullopt); });
  auto other = ReadFile(MakeParquet("other.parquet", 10, ", true AS flag"));
  ExpectRejected("sales", ErrorCode::kConflict, "added flag (BOOLEAN)",
                 [&] { Upload("sales", CommitOp::kAppend, other, std::nullopt); });
  IngestRequest pinned{"sales", CommitOp::kReplace, std::nullopt, false, 7, {}};
  ExpectRejected("sales", ErrorCode::kConflict, "not the expected version 7", [&] {
    StringSource s(good);
    ingest_->Ingest(pinned, s);
  });
  EXPECT_EQ(catalog_->Head("sales").version, 1u);
  EXPECT_EQ(t_->store->ListAll("data/").size(), 1u);

  // With allow_schema_change the same upload is a new schema version.
  auto r = Upload("sales", CommitOp::kAppend, other, std::nullopt, true);
  EXPECT_EQ(r.manifest->schema_version, 2u);
}

TEST_P(IngestTest, DeepJsonAndDamagedParquetAreRefused) {
  // Issue 14: '[' * 10000 as JSON crashed the process inside DuckDB's JSON reader.
  const std::string deep = std::string(10000, '[') + std::string(10000, ']');
  ExpectRejected("deep", ErrorCode::kInvalidArgument, "levels deep",
                 [&] { Upload("deep", CommitOp::kCreate, deep, Format::kJson); });
  ExpectRejected("deep", ErrorCode::kInvalidArgument, "levels deep",
                 [&] { Upload("deep", CommitOp::kCreate, "{\"a\": " + deep + "}\n", Format::kNdjson); });
  ExpectRejected("deep", ErrorCode::kInvalidArgument, "levels deep",
                 [&] { Upload("deep", CommitOp::kCreate, deep, std::nullopt); });
  // Nesting within the limit (and brackets inside strings) is fine.
  auto ok = Upload("nested", CommitOp::kCreate, R"([{"a": [[1, 2]], "s": "[[[[[[["}])", Format::kJson);
  EXPECT_EQ(ok.manifest->row_count(), 1u);

  // Issue 14: a valid file with random bytes written at a third of its length passed the footer
  // check; every later sum() failed with a ZSTD error.
  std::string path = work_ + "/damaged.parquet";
  std::string bytes = WriteDamagedParquet(path);
  ExpectRejected("damaged", ErrorCode::kInvalidArgument, "damaged Parquet",
                 [&] { Upload("damaged", CommitOp::kCreate, bytes, std::nullopt); });
  EXPECT_EQ(Upload("intact", CommitOp::kCreate, ReadFile(path), std::nullopt).manifest->row_count(), 100000u);
}

// issue 13: a partitioned upload becomes one object per partition value set, keyed
// data/<dataset>/<col>=<value>/..., each complete (partition columns included) and listed with
// its values; appends are split the same way; a replace can repartition.
TEST_P(IngestTest, PartitionedUploadsWriteOneObjectPerPartitionValueSet) {
  // 3 days x 4 regions (one of them SQL NULL, one the string 'NULL', which must stay apart).
  std::string csv = "id,day,region,amount\n";
  const char* regions[] = {"eu", "us west", "NULL", ""};
  int id = 0;
  for (int day = 1; day <= 3; ++day) {
    for (const char* region : regions) {
      for (int k = 0; k < day; ++k) csv += fmt::format("{},2024-03-0{},{},{}.5\n", id++, day, region, id);
    }
  }
  auto r = Upload("sales", CommitOp::kCreate, csv, Format::kCsv, false, std::vector<std::string>{"day", "REGION"});
  EXPECT_EQ(r.manifest->partition_by, (std::vector<std::string>{"day", "region"}));  // spelled as the schema does
  EXPECT_EQ(r.manifest->row_count(), static_cast<uint64_t>(id));
  ASSERT_EQ(r.manifest->objects.size(), 12u);
  EXPECT_EQ(r.objects, r.manifest->objects);
  std::set<std::pair<std::optional<std::string>, std::optional<std::string>>> seen;
  for (const auto& o : r.manifest->objects) {
    ASSERT_EQ(o.partition_values.size(), 2u);
    const auto& day = o.partition_values.at("day");
    const auto& region = o.partition_values.at("region");
    ASSERT_TRUE(day.has_value());
    seen.emplace(day, region);
    const std::string prefix = "data/sales/day=" + *day + "/region=" + catalogd::EncodePartitionValue(region) + "/";
    EXPECT_TRUE(o.ref.key.starts_with(prefix)) << o.ref.key << " vs " << prefix;
    // The object holds exactly its partition's rows, with every column.
    EXPECT_EQ(OverObject(o, "SELECT count(*) FROM t"), std::to_string(o.row_count));
    EXPECT_EQ(OverObject(o,
                         "SELECT string_agg(DISTINCT CAST(day AS VARCHAR) || '|' || coalesce(region, '<null>')) "
                         "FROM t"),
              *day + "|" + region.value_or("<null>"));
    EXPECT_EQ(OverObject(o, "SELECT string_agg(column_name, ',') FROM (DESCRIBE t)"), "id,day,region,amount");
    EXPECT_EQ(o.row_count, static_cast<uint64_t>(day->back() - '0'));
  }
  EXPECT_EQ(seen.size(), 12u);
  EXPECT_TRUE(seen.contains({"2024-03-02", std::nullopt}));
  EXPECT_TRUE(seen.contains({"2024-03-02", "NULL"}));

  // An append is partitioned as the dataset is, with or without naming the columns.
  auto a = Upload("sales", CommitOp::kAppend, "id,day,region,amount\n100,2024-03-09,eu,1.0\n101,2024-03-01,eu,2\n",
                  Format::kCsv);
  EXPECT_EQ(a.manifest->partition_by, r.manifest->partition_by);
  ASSERT_EQ(a.objects.size(), 2u);
  EXPECT_EQ(a.manifest->objects.size(), 14u);
  for (const auto& o : a.objects) EXPECT_TRUE(o.ref.key.starts_with("data/sales/day=2024-03-0")) << o.ref.key;
  a = Upload("sales", CommitOp::kAppend, "id,day,region,amount\n102,2024-03-09,eu,1.0\n", Format::kCsv, false,
             std::vector<std::string>{"Day", "region"});
  EXPECT_EQ(a.manifest->objects.size(), 15u);

  // A replace keeps the partitioning unless it names other columns; an empty list removes it.
  auto same = Upload("sales", CommitOp::kReplace, csv, Format::kCsv);
  EXPECT_EQ(same.manifest->partition_by, r.manifest->partition_by);
  EXPECT_EQ(same.manifest->objects.size(), 12u);
  auto by_day = Upload("sales", CommitOp::kReplace, csv, Format::kCsv, false, std::vector<std::string>{"day"});
  EXPECT_EQ(by_day.manifest->partition_by, std::vector<std::string>{"day"});
  EXPECT_EQ(by_day.manifest->objects.size(), 3u);
  auto flat = Upload("sales", CommitOp::kReplace, csv, Format::kCsv, false, std::vector<std::string>{});
  EXPECT_TRUE(flat.manifest->partition_by.empty());
  ASSERT_EQ(flat.manifest->objects.size(), 1u);
  EXPECT_TRUE(flat.manifest->objects[0].partition_values.empty());
  EXPECT_EQ(flat.manifest->objects[0].ref.key.find('='), std::string::npos);
  EXPECT_EQ(flat.manifest->row_count(), static_cast<uint64_t>(id));

  // A partitioned upload with no rows commits no objects.
  auto empty = Upload("empty", CommitOp::kCreate, "id,day\n", Format::kCsv, false, std::vector<std::string>{"id"});
  EXPECT_TRUE(empty.manifest->objects.empty());
  EXPECT_EQ(empty.manifest->partition_by, std::vector<std::string>{"id"});
}

TEST_P(IngestTest, BadPartitioningIsRejectedAndLeavesNothing) {
  const std::string csv = "id,day,price,flag,label\n1,2024-01-01,1.5,true,a\n2,2024-01-02,2.5,false,b\n";
  auto partitioned = [&](const std::string& dataset, std::vector<std::string> columns, const std::string& body) {
    Upload(dataset, CommitOp::kCreate, body, Format::kCsv, false, std::move(columns));
  };
  ExpectRejected("bad", ErrorCode::kInvalidArgument, "partition column 'region' is not a column of the data", [&] {
    partitioned("bad", {"day", "region"}, csv);
  });
  ExpectRejected("bad", ErrorCode::kInvalidArgument,
                 "partition column 'price' has type DOUBLE; partition columns must be integers",
                 [&] { partitioned("bad", {"price"}, csv); });
  ExpectRejected("bad", ErrorCode::kInvalidArgument, "DATE, VARCHAR or BOOLEAN",
                 [&] { partitioned("bad", {"price"}, csv); });
  ExpectRejected("bad", ErrorCode::kInvalidArgument, "named twice", [&] { partitioned("bad", {"day", "DAY"}, csv); });
  ExpectRejected("bad", ErrorCode::kInvalidArgument, "letters, digits and '_'",
                 [&] { partitioned("bad", {"da-y"}, csv); });
  ExpectRejected("bad", ErrorCode::kInvalidArgument, "at most 8", [&] {
    partitioned("bad", {"a", "b", "c", "d", "e", "f", "g", "h", "i"}, csv);
  });
  ExpectRejected("bad", ErrorCode::kInvalidArgument, "too long to name an object key",
                 [&] { partitioned("bad", {"label"}, "id,label\n1," + std::string(300, 'x') + "\n"); });
  // Too many partitions: a clear limit, checked before anything is written.
  auto small =
      MakeIngestor(*t_->store, *catalog_,
                   IngestOptions{.temp_dir = temp_, .memory_limit = "512MB", .threads = 2, .max_partitions = 5});
  std::string many = "id,day\n";
  for (int i = 0; i < 6; ++i) many += fmt::format("{},2024-01-0{}\n", i, i + 1);
  ExpectRejected("bad", ErrorCode::kInvalidArgument,
                 "6 distinct values of its partition columns (day); one upload "
                 "may write at most 5 partitions (ingest.max_partitions)",
                 [&] {
                   IngestRequest r{"bad", CommitOp::kCreate, Format::kCsv, false, std::nullopt, {}};
                   r.partition_by = std::vector<std::string>{"day"};
                   StringSource source(many);
                   small->Ingest(r, source);
                 });
  EXPECT_TRUE(catalog_->List().empty());

  // Appends are partitioned as the dataset is: other columns are a conflict (a replace repartitions).
  partitioned("sales", {"day"}, csv);
  ExpectRejected("sales", ErrorCode::kConflict, "is partitioned by (day)", [&] {
    Upload("sales", CommitOp::kAppend, csv, Format::kCsv, false, std::vector<std::string>{"flag"});
  });
  ExpectRejected("sales", ErrorCode::kInvalidArgument, "partition column 'day' is not a column of the data", [&] {
    Upload("sales", CommitOp::kAppend, "id,price,flag,label\n3,1.0,true,c\n", Format::kCsv, true);
  });
  EXPECT_EQ(catalog_->Head("sales").version, 1u);
}

// issue 13: compaction rewrites small objects (per partition) into one holding the same rows, as
// a new version; older versions still read their own objects.
TEST_P(IngestTest, CompactionRewritesSmallObjectsWithTheSameRows) {
  auto csv = [](int from, int n) {
    std::string out = "id,day,amount\n";
    for (int i = from; i < from + n; ++i) out += fmt::format("{},2024-03-0{},{}.5\n", i, 1 + i % 3, i);
    return out;
  };
  Upload("events", CommitOp::kCreate, csv(0, 30), Format::kCsv, false, std::vector<std::string>{"day"});
  for (int a = 1; a < 5; ++a) Upload("events", CommitOp::kAppend, csv(a * 30, 30), Format::kCsv);
  const auto before = catalog_->Head("events");
  ASSERT_EQ(before.objects.size(), 15u);  // 5 uploads x 3 days

  auto r = ingest_->Compact("events", ingest_->DefaultCompaction());
  EXPECT_TRUE(r.compacted);
  EXPECT_EQ(r.objects_before, 15u);
  EXPECT_EQ(r.objects_after, 3u);
  EXPECT_EQ(r.objects_rewritten, 15u);
  EXPECT_EQ(r.manifest.version, before.version + 1);
  EXPECT_EQ(r.manifest.operation, "compact");
  EXPECT_EQ(r.manifest.row_count(), 150u);
  EXPECT_EQ(r.manifest.partition_by, std::vector<std::string>{"day"});
  uint64_t total = 0;
  for (const auto& o : r.manifest.objects) {
    ASSERT_TRUE(o.partition_values.at("day").has_value());
    const std::string day = *o.partition_values.at("day");
    EXPECT_NE(o.ref.key.find("/day=" + day + "/"), std::string::npos) << o.ref.key;
    EXPECT_EQ(OverObject(o, "SELECT count(*) FROM t WHERE day <> DATE '" + day + "'"), "0")
        << "rows left their partition";
    EXPECT_EQ(OverObject(o, "SELECT count(*) FROM t"), std::to_string(o.row_count));
    total += std::stoull(OverObject(o, "SELECT sum(id) FROM t"));
    EXPECT_FALSE(o.stats.empty());
  }
  EXPECT_EQ(total, 149u * 150 / 2) << "the same rows";
  for (const auto& o : catalog_->Get("events", before.version).objects) {
    EXPECT_TRUE(t_->store->Head(o.ref.key).has_value()) << "an older version lost an object";
  }
  // Nothing small is left to merge: a second run changes nothing.
  auto again = ingest_->Compact("events", ingest_->DefaultCompaction());
  EXPECT_FALSE(again.compacted);
  EXPECT_EQ(again.manifest.version, r.manifest.version);
  // A target below every object's size leaves them alone.
  Upload("big", CommitOp::kCreate, csv(0, 10), Format::kCsv);
  Upload("big", CommitOp::kAppend, csv(10, 10), Format::kCsv);
  EXPECT_FALSE(ingest_->Compact("big", CompactionOptions{.target_bytes = 10}).compacted);
  EXPECT_EQ(CodeOf([&] { ingest_->Compact("missing", ingest_->DefaultCompaction()); }), ErrorCode::kNotFound);
}

// issue 13: appends racing a compaction are never lost (the commit is rebuilt on the new head).
TEST_P(IngestTest, CompactionDuringAppendsLosesNoAppend) {
  auto csv = [](int from, int n) {
    std::string out = "id,amount\n";
    for (int i = from; i < from + n; ++i) out += fmt::format("{},{}.5\n", i, i);
    return out;
  };
  Upload("busy", CommitOp::kCreate, csv(0, 10), Format::kCsv);
  for (int a = 1; a < 6; ++a) Upload("busy", CommitOp::kAppend, csv(a * 10, 10), Format::kCsv);
  std::atomic<int> appended{6};
  std::thread writer([&] {
    for (int a = 6; a < 14; ++a) {
      Upload("busy", CommitOp::kAppend, csv(a * 10, 10), Format::kCsv);
      ++appended;
    }
  });
  int compactions = 0;
  while (appended < 14) {
    if (ingest_->Compact("busy", ingest_->DefaultCompaction()).compacted) ++compactions;
  }
  writer.join();
  EXPECT_GE(compactions, 1);
  const auto head = catalog_->Head("busy");
  EXPECT_EQ(head.row_count(), 140u) << "an append was lost";
  uint64_t sum = 0;
  for (const auto& o : head.objects) sum += std::stoull(OverObject(o, "SELECT sum(id) FROM t"));
  EXPECT_EQ(sum, 139u * 140 / 2);
}

// issue 13: registering files already in the bucket commits them without copying; bad keys are
// refused with what was wrong and nothing becomes visible.
TEST_P(IngestTest, RegisterCommitsExistingFilesWithoutCopying) {
  auto put = [&](const std::string& key, const std::string& path) { t_->store->PutBytes(key, ReadFile(path)); };
  put("imports/a.parquet", MakeParquet("a.parquet", 100));
  put("imports/b.parquet", MakeParquet("b.parquet", 50));
  put("imports/c.parquet", MakeParquet("c.parquet", 7));
  put("imports/other-columns.parquet", MakeParquet("x.parquet", 5, ", 1 AS extra"));
  t_->store->PutBytes("imports/notes.txt", "hello, not parquet at all");
  const auto data_before = t_->store->ListAll("data/").size();

  auto r = ingest_->Register({"reg", {"imports/a.parquet", "imports/b.parquet"}});
  EXPECT_EQ(r.manifest->version, 1u);
  EXPECT_EQ(r.manifest->operation, "create");
  EXPECT_EQ(r.manifest->row_count(), 150u);
  ASSERT_EQ(r.manifest->objects.size(), 2u);
  EXPECT_EQ(r.manifest->objects[0].ref.key, "imports/a.parquet") << "registered objects are not copied";
  EXPECT_FALSE(r.manifest->objects[0].stats.empty());
  EXPECT_EQ(t_->store->ListAll("data/").size(), data_before);
  auto v2 = ingest_->Register({"reg", {"imports/c.parquet"}});
  EXPECT_EQ(v2.manifest->operation, "append");
  EXPECT_EQ(v2.manifest->row_count(), 157u);

  auto refused = [&](const std::vector<std::string>& keys, ErrorCode code, const std::string& needle) {
    std::string message;
    EXPECT_EQ(CodeOf([&] { ingest_->Register({"reg", keys}); }, &message), code) << message;
    EXPECT_NE(message.find(needle), std::string::npos) << message;
    EXPECT_EQ(catalog_->Head("reg").version, 2u);
  };
  refused({"imports/missing.parquet"}, ErrorCode::kInvalidArgument, "does not exist");
  refused({"imports/notes.txt"}, ErrorCode::kInvalidArgument, "not a valid Parquet file");
  refused({"imports/other-columns.parquet"}, ErrorCode::kConflict, "extra");
  refused({"imports/a.parquet"}, ErrorCode::kConflict, "already belongs");
  Upload("neighbour", CommitOp::kCreate, "id,price,label\n1,2.5,x\n", Format::kCsv);
  refused({catalog_->Head("neighbour").objects[0].ref.key}, ErrorCode::kInvalidArgument, "another dataset");
  refused({ManifestKeyOf("neighbour")}, ErrorCode::kInvalidArgument, "reserved");
  refused({"../etc/passwd"}, ErrorCode::kInvalidArgument, "");
  refused({}, ErrorCode::kInvalidArgument, "at least one");
  // Damaged pages behind a good footer are refused as for an upload.
  std::string path = work_ + "/damaged.parquet";
  std::string bytes = WriteDamagedParquet(path);
  t_->store->PutBytes("imports/damaged.parquet", bytes);
  std::string message;
  EXPECT_EQ(CodeOf(
                [&] {
                  ingest_->Register({"fresh", {"imports/damaged.parquet"}});
                },
                &message),
            ErrorCode::kInvalidArgument);
  EXPECT_NE(message.find("damaged"), std::string::npos) << message;
  EXPECT_EQ(CodeOf([&] { catalog_->Head("fresh"); }), ErrorCode::kNotFound);
  // Refused registrations never delete the caller's files.
  EXPECT_TRUE(t_->store->Head("imports/notes.txt").has_value());
  EXPECT_TRUE(t_->store->Head("imports/damaged.parquet").has_value());
}

// issue 13: files under hive-style keys register into a partitioned dataset: the values come
// from the key (as queryd reads them) and every row of the file must hold them; bad keys and
// files are refused with what was wrong and nothing is committed.
TEST_P(IngestTest, RegisterIntoPartitionedDatasetReadsValuesFromKeys) {
  Upload("ev", CommitOp::kCreate, "id,day,region\n1,2024-03-01,eu\n2,2024-03-02,us\n", Format::kCsv, false,
         std::vector<std::string>{"day", "region"});
  auto file = [&](const std::string& name, const std::string& select) {
    std::string path = work_ + "/" + name;
    duck_.Run("COPY (" + select + ") TO '" + path + "' (FORMAT parquet)");
    return ReadFile(path);
  };
  const std::string rows = "SELECT range AS id, DATE '2024-03-05' AS day, 'eu west' AS region FROM range(10)";
  t_->store->PutBytes("data/ev/day=2024-03-05/region=eu%20west/imported.parquet", file("a.parquet", rows));
  t_->store->PutBytes("data/ev/day=2024-3-6/region=NULL/b.parquet",
                      file("b.parquet", "SELECT 99::BIGINT AS id, DATE '2024-03-06' AS day, NULL::VARCHAR AS region"));
  auto r = ingest_->Register(
      {"ev",
       {"data/ev/day=2024-03-05/region=eu%20west/imported.parquet", "data/ev/day=2024-3-6/region=NULL/b.parquet"}});
  EXPECT_EQ(r.manifest->operation, "append");
  EXPECT_EQ(r.manifest->partition_by, (std::vector<std::string>{"day", "region"}));
  ASSERT_EQ(r.objects.size(), 2u);
  EXPECT_EQ(r.objects[0].partition_values, (PartitionValues{{"day", "2024-03-05"}, {"region", "eu west"}}));
  // Values are recorded as the manifest writes them (CAST(v AS VARCHAR)), SQL NULL as null.
  EXPECT_EQ(r.objects[1].partition_values, (PartitionValues{{"day", "2024-03-06"}, {"region", std::nullopt}}));
  EXPECT_EQ(r.manifest->row_count(), 13u);

  // Bad input: a clear 400, nothing committed, the files left alone.
  t_->store->PutBytes("data/ev/day=2024-03-07/region=eu/mixed.parquet",
                      file("mixed.parquet",
                           "SELECT range AS id, DATE '2024-03-07' + range::INTEGER AS day, 'eu' AS "
                           "region FROM range(3)"));
  t_->store->PutBytes("data/ev/region=eu/day=2024-03-07/swapped.parquet", file("s.parquet", rows));
  t_->store->PutBytes("data/ev/day=2024-03-07/other.parquet", file("o.parquet", rows));
  t_->store->PutBytes("data/ev/day=notadate/region=eu/x.parquet", file("x.parquet", rows));
  t_->store->PutBytes("data/ev/day=2024-03-05/region=eu%20west/extra/deep.parquet", file("d.parquet", rows));
  t_->store->PutBytes("imports/ev.parquet", file("i.parquet", rows));
  t_->store->PutBytes("data/ev/day=2024-03-05/region=eu%20west/noday.parquet",
                      file("n.parquet", "SELECT 1::BIGINT AS id, 'eu west' AS region"));
  const auto version = catalog_->Head("ev").version;
  auto refused = [&](const std::string& key, const std::string& needle) {
    std::string message;
    EXPECT_EQ(CodeOf([&] { ingest_->Register({"ev", {key}}); }, &message), ErrorCode::kInvalidArgument) << key;
    EXPECT_NE(message.find(needle), std::string::npos) << message;
    EXPECT_EQ(catalog_->Head("ev").version, version);
    EXPECT_TRUE(t_->store->Head(key).has_value()) << "a refused registration deleted " << key;
  };
  refused("data/ev/day=2024-03-07/region=eu/mixed.parquet", "2 of its rows hold another value");
  refused("data/ev/region=eu/day=2024-03-07/swapped.parquet", "does not name partition column 'day'");
  refused("data/ev/day=2024-03-07/other.parquet", "does not name partition column 'region'");
  refused("data/ev/day=notadate/region=eu/x.parquet", "which is not a DATE value");
  refused("data/ev/day=2024-03-05/region=eu%20west/extra/deep.parquet", "other path segments");
  refused("imports/ev.parquet", "is not under data/ev/");
  refused("data/ev/day=2024-03-05/region=eu%20west/noday.parquet", "has no column 'day'");
  // The registered rows are what a query sees.
  EXPECT_EQ(catalog_->Head("ev").objects.size(), 4u);
}

INSTANTIATE_TEST_SUITE_P(Local, IngestTest, ::testing::Values("local"));
INSTANTIATE_TEST_SUITE_P(S3, IngestTest, ::testing::Values("s3"));

TEST(Format, ResolvesFromParamContentTypeOrSniffing) {
  EXPECT_EQ(ResolveFormat(std::string("CSV"), std::string("application/json")), Format::kCsv);
  EXPECT_EQ(ResolveFormat(std::nullopt, std::string("application/vnd.apache.parquet")), Format::kParquet);
  EXPECT_EQ(ResolveFormat(std::nullopt, std::string("text/csv; charset=utf-8")), Format::kCsv);
  EXPECT_EQ(ResolveFormat(std::nullopt, std::string("application/x-ndjson")), Format::kNdjson);
  EXPECT_EQ(ResolveFormat(std::nullopt, std::string("application/x-www-form-urlencoded")), std::nullopt);
  EXPECT_EQ(ResolveFormat(std::nullopt, std::nullopt), std::nullopt);
  EXPECT_EQ(ResolveFormat(std::string("jsonl"), std::nullopt), Format::kNdjson);
  try {
    ResolveFormat(std::string("xlsx"), std::nullopt);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kUnsupportedMedia);
    EXPECT_NE(std::string(e.what()).find("parquet, csv, json or ndjson"), std::string::npos);
  }
  try {
    ResolveFormat(std::nullopt, std::string("image/png"));
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kUnsupportedMedia);
  }
  EXPECT_EQ(SniffFormat("PAR1...."), Format::kParquet);
  EXPECT_EQ(SniffFormat("  \n[{\"a\":1}]"), Format::kJson);
  EXPECT_EQ(SniffFormat("a,b\n1,2\n"), Format::kCsv);
  EXPECT_EQ(SniffCsvDelimiter("a\tb\tc\n1\t2\t3"), '\t');
  EXPECT_EQ(SniffCsvDelimiter("\"x;y\",b,c\n"), ',');
}

}  // namespace
}  // namespace lakehouse::ingest
