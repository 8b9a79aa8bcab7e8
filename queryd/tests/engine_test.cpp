// The query engine over real parts: a local object store (and radosgw under the rgw fixture), the
// real catalog, DuckDB, Parquet files written by a separate DuckDB.
#include <gtest/gtest.h>

#include <atomic>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <thread>

#include "arrow_ipc_generated.h"
#include "encoders.h"
#include "lakehouse/aibridge/aibridge.h"
#include "lakehouse/ingest/ingest.h"
#include "lakehouse/search/search.h"
#include "lakehouse/shared/error.h"
#include "lakehouse/shared/memory_budget.h"
#include "lakehouse/testing/errors.h"
#include "query_test_util.h"

namespace lakehouse::queryd::testing {
namespace {

using nlohmann::json;
namespace fb = org::apache::arrow::flatbuf;

using lakehouse::testing::CodeOf;

class EngineTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "s3" && !lakehouse::testing::S3Available()) GTEST_SKIP() << "no radosgw (rgw fixture)";
    stack_ = Stack::Make(GetParam());
    stack_->Commit("sales",
                   "SELECT i AS id, 'item_' || (i % 7) AS item, ((i % 100) * 0.25)::DECIMAL(13,4) AS price, "
                   "DATE '2024-01-01' + (i % 30)::INTEGER AS day FROM range(1000) t(i)");
  }
  json RunJson(const std::string& sql, std::optional<uint64_t> limit = std::nullopt) {
    return json::parse(stack_->Run(sql, ResultFormat::kJson, limit));
  }
  //! Runs `sql`, expects it to fail with `expected` and returns the error's message.
  std::string MessageOfFailure(const std::string& sql, ErrorCode expected) {
    std::string message;
    EXPECT_EQ(CodeOf([&] { RunJson(sql); }, &message), expected) << sql;
    return message;
  }
  std::unique_ptr<Stack> stack_;
};

TEST_P(EngineTest, SelectStarLimitTenReturnsTheFirstRows) {
  auto result = RunJson("SELECT * FROM sales ORDER BY id LIMIT 10");
  ASSERT_EQ(result["rows"].size(), 10u);
  EXPECT_EQ(result["columns"][0], (json{{"name", "id"}, {"type", "BIGINT"}}));
  EXPECT_EQ(result["columns"][2]["type"], "DECIMAL(13,4)");
  EXPECT_EQ(result["rows"][3], (json{3, "item_3", "0.7500", "2024-01-04"}));
  EXPECT_EQ(result["stats"]["rows"], 10);
  EXPECT_EQ(result["stats"]["truncated"], false);
}

TEST_P(EngineTest, AggregatesOverTheDataset) {
  auto result = RunJson("SELECT item, count(*) AS n, sum(price) AS total FROM sales GROUP BY item ORDER BY item");
  ASSERT_EQ(result["rows"].size(), 7u);
  EXPECT_EQ(result["rows"][0][0], "item_0");
  EXPECT_EQ(result["rows"][0][1], 143);
}

TEST_P(EngineTest, UnknownTableIs404NamingIt) {
  const std::string message = MessageOfFailure("SELECT * FROM no_such_dataset", ErrorCode::kNotFound);
  EXPECT_NE(message.find("no_such_dataset"), std::string::npos) << message;
}

TEST_P(EngineTest, UnknownTableSuggestsCloseDatasetNames) {
  std::string message = MessageOfFailure("SELECT * FROM sale", ErrorCode::kNotFound);
  EXPECT_NE(message.find("did you mean 'sales'"), std::string::npos) << message;
  EXPECT_EQ(message.find("pg_"), std::string::npos) << "no DuckDB system tables in suggestions: " << message;
  message = MessageOfFailure("SELECT * FROM zzzzzzzzzzzz", ErrorCode::kNotFound);
  EXPECT_EQ(message.find("did you mean"), std::string::npos) << message;
}

TEST_P(EngineTest, SyntaxErrorIs400WithDuckDBsMessage) {
  const std::string message = MessageOfFailure("SELEC * FROM sales", ErrorCode::kInvalidArgument);
  EXPECT_NE(message.find("syntax error"), std::string::npos) << message;
}

TEST_P(EngineTest, NewVersionsAreSeenAndOldOnesStayQueryable) {
  EXPECT_EQ(RunJson("SELECT count(*) FROM sales")["rows"][0][0], 1000);  // resolved and cached
  stack_->Commit("sales",
                 "SELECT i AS id, 'item_x' AS item, 1.5::DECIMAL(13,4) AS price, DATE '2024-02-01' AS day "
                 "FROM range(1000, 1500) t(i)",
                 catalogd::CommitOp::kAppend);
  EXPECT_EQ(RunJson("SELECT count(*) FROM sales")["rows"][0][0], 1500);  // the commit invalidated the cache
  EXPECT_EQ(RunJson("SELECT count(*) FROM dataset_version('sales', 1)")["rows"][0][0], 1000);
  EXPECT_EQ(RunJson("SELECT count(*) FROM dataset_version('sales', 2)")["rows"][0][0], 1500);
  MessageOfFailure("SELECT * FROM dataset_version('sales', 9)", ErrorCode::kNotFound);
}

TEST_P(EngineTest, ObjectsThatNoLongerMatchTheManifestFailNamingTheDataset) {
  // A manifest that claims a column type its file does not have.
  Schema schema;
  const std::string path = stack_->maker.Write("SELECT 1::INTEGER AS a, 'x' AS b", &schema);
  FileSource source(path);
  const std::string key = catalogd::NewDataKey("drifted");
  auto info = stack_->store->store->Put(key, source);
  catalogd::CommitRequest request;
  request.dataset = "drifted";
  request.schema = {{"a", "BIGINT", true}, {"b", "VARCHAR", true}};
  request.objects.push_back({{stack_->store->store->Bucket(), key, info.size, info.etag}, 1});
  stack_->catalog->Commit(request);
  const std::string message = MessageOfFailure("SELECT * FROM drifted", ErrorCode::kConflict);
  EXPECT_NE(message.find("drifted"), std::string::npos) << message;
  EXPECT_NE(message.find("manifest -> file): a: BIGINT -> INTEGER"), std::string::npos) << message;
}

TEST_P(EngineTest, AppendsThatChangedTheSchemaReadOlderObjectsByName) {
  stack_->Commit("evolving", "SELECT * FROM (VALUES (1::INTEGER, 'x'), (2, 'y')) t(a, b)");
  // New column c (schema version 2), then a widened to BIGINT (schema version 3).
  stack_->Commit("evolving", "SELECT 3::INTEGER AS a, 'z' AS b, 1.5::DOUBLE AS c", catalogd::CommitOp::kAppend, true);
  auto v2 = RunJson("SELECT * FROM evolving ORDER BY a");
  EXPECT_EQ(v2["rows"], json::parse(R"([[1,"x",null],[2,"y",null],[3,"z",1.5]])"));
  stack_->Commit("evolving", "SELECT 4::BIGINT AS a, 'w' AS b, 2.5::DOUBLE AS c", catalogd::CommitOp::kAppend, true);
  auto v3 = RunJson("SELECT * FROM evolving ORDER BY a");
  EXPECT_EQ(v3["columns"][0]["type"], "BIGINT");
  EXPECT_EQ(v3["rows"].size(), 4u);
  EXPECT_EQ(v3["rows"][3], json::parse(R"([4,"w",2.5])"));
  // Older versions keep their own schema.
  EXPECT_EQ(RunJson("SELECT * FROM dataset_version('evolving', 1) ORDER BY a")["columns"].size(), 2u);
}

INSTANTIATE_TEST_SUITE_P(Local, EngineTest, ::testing::Values("local"));
INSTANTIATE_TEST_SUITE_P(S3, EngineTest, ::testing::Values("s3"));

// ---- Sandbox and limits (local store) ----------------------------------------------------------

class SandboxTest : public ::testing::Test {
 protected:
  void SetUp() override {
    stack_ = Stack::Make("local");
    stack_->Commit("t", "SELECT range AS x FROM range(10)");
  }
  std::unique_ptr<Stack> stack_;
};

TEST_F(SandboxTest, WritesSettingsFilesAndExtensionsAreRefused) {
  const std::vector<std::string> refused = {
      "CREATE TABLE x AS SELECT 1",
      "INSERT INTO t VALUES (1)",
      "ATTACH '/tmp/x.db' AS x",
      "INSTALL httpfs",
      "LOAD httpfs",
      "SET threads = 8",
      "SET enable_external_access = true",
      "RESET lock_configuration",
      "PRAGMA threads = 8",
      "COPY t TO '/tmp/out.csv'",
      "EXPORT DATABASE '/tmp/db'",
      "CALL pragma_version()",
      "CREATE MACRO m() AS 1",
      "DETACH memory",
      "SELECT * FROM read_parquet('/etc/passwd')",
      "SELECT * FROM read_csv('/etc/passwd')",
      "SELECT * FROM read_text('/etc/passwd')",
      "SELECT * FROM '/etc/passwd'",
      "SELECT * FROM read_csv('http://127.0.0.1:1/x.csv')",
      "SELECT * FROM read_json('lakehouse://_catalog/t/00000000000000000001.json')",
      "SELECT * FROM read_parquet('lakehouse:/../../etc/passwd')",
      "SELECT * FROM glob('/etc/*')",
      "SELECT 1; SELECT 2",
  };
  for (const auto& sql : refused) {
    std::string message;
    const ErrorCode code = CodeOf([&] { stack_->Run(sql); }, &message);
    EXPECT_TRUE(code == ErrorCode::kInvalidArgument || code == ErrorCode::kUnavailable ||
                (code == ErrorCode::kNotFound && sql.find("FROM '") != std::string::npos))
        << sql << " -> " << message;
    EXPECT_EQ(message.find("root:"), std::string::npos) << sql << " leaked: " << message;
  }
  std::string message;
  CodeOf([&] { stack_->Run("ATTACH '/tmp/x.db' AS x"); }, &message);
  EXPECT_NE(message.find("ATTACH statements are not allowed"), std::string::npos) << message;
  CodeOf([&] { stack_->Run("SELECT * FROM read_csv('/etc/passwd')"); }, &message);
  EXPECT_NE(message.find("not allowed"), std::string::npos) << message;
  // The engine still works afterwards, settings unchanged.
  EXPECT_NE(stack_->Run("SELECT current_setting('threads')").find("[2]"), std::string::npos);
}

TEST_F(SandboxTest, ReadOnlyStatementFormsAreAccepted) {
  for (const std::string sql :
       {"SELECT * FROM t", "WITH a AS (SELECT x FROM t) SELECT sum(x) FROM a", "VALUES (1), (2)", "FROM t",
        "EXPLAIN SELECT * FROM t", "DESCRIBE t", "SUMMARIZE t", "SHOW TABLES", "DESCRIBE SELECT 1 AS y"}) {
    EXPECT_NO_THROW(stack_->Run(sql)) << sql;
  }
}

TEST_F(SandboxTest, TimeoutCancelsTheQueryWith408) {
  StringSink sink;
  QueryRequest request;
  request.sql = "SELECT count(*) FROM range(100000000000) a, range(10) b WHERE a.range + b.range = 7";
  request.timeout_ms = 300;
  const auto start = std::chrono::steady_clock::now();
  std::string message;
  EXPECT_EQ(CodeOf([&] { stack_->engine->Execute(request, sink); }, &message), ErrorCode::kTimeout);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  EXPECT_NE(message.find("300 ms"), std::string::npos) << message;
  EXPECT_EQ(sink.begins, 0);  // nothing was sent: the route can still answer 408
}

TEST_F(SandboxTest, ClientThatLeavesCancelsAStreamingQuery) {
  StringSink sink;
  sink.fail_after_writes = 2;
  QueryRequest request;
  request.sql = "SELECT range AS a, range * 2 AS b FROM range(1000000000)";
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(CodeOf([&] { stack_->engine->Execute(request, sink); }), ErrorCode::kCancelled);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  // And a client that is gone before any output (polled while the query computes).
  StringSink gone;
  gone.gone = true;
  request.sql = "SELECT count(*) FROM range(100000000000) a, range(10) b WHERE a.range + b.range = 7";
  EXPECT_EQ(CodeOf([&] { stack_->engine->Execute(request, gone); }), ErrorCode::kCancelled);
}

// A client that leaves a streaming cross join while the worker threads still run its tasks: the
// query's connection is closed only after those tasks have finished (a connection destroyed while
// the cancellation unwound the stack used to leave them running against a freed executor, which
// crashed the server).
TEST_F(SandboxTest, ClientLeavingAStreamingCrossJoinDoesNotCrashTheEngine) {
  stack_->Commit("big", "SELECT range AS id, 'name' || range AS name FROM range(200000)");
  for (const auto format : {ResultFormat::kArrow, ResultFormat::kJson, ResultFormat::kArrow}) {
    StringSink sink;
    sink.fail_after_writes = 3;
    QueryRequest request;
    request.sql = "SELECT a.id, b.id AS id2, a.name FROM big a, big b";
    request.format = format;
    EXPECT_EQ(CodeOf([&] { stack_->engine->Execute(request, sink); }), ErrorCode::kCancelled);
  }
  EXPECT_EQ(stack_->Run("SELECT count(*) AS n FROM big", ResultFormat::kCsv), "n\r\n200000\r\n");
}

TEST_F(SandboxTest, ResultsStreamInManyWritesAndLimitTruncates) {
  StringSink sink;
  QueryRequest request;
  request.sql = "SELECT range AS a, 'row ' || range AS b FROM range(300000)";
  auto stats = stack_->engine->Execute(request, sink);
  EXPECT_EQ(stats.rows, 300000u);
  EXPECT_GT(sink.writes, 5);  // flushed as it went, not once at the end
  EXPECT_EQ(sink.begins, 1);
  EXPECT_EQ(sink.content_type, "application/json");
  EXPECT_EQ(json::parse(sink.body)["rows"].size(), 300000u);

  QueryStats limited;
  auto body = json::parse(stack_->Run("SELECT * FROM range(5000)", ResultFormat::kJson, 10, &limited));
  EXPECT_EQ(body["rows"].size(), 10u);
  EXPECT_TRUE(limited.truncated);
  EXPECT_EQ(body["stats"]["truncated"], true);
  stack_->Run("SELECT * FROM range(10)", ResultFormat::kJson, 10, &limited);
  EXPECT_FALSE(limited.truncated);
}

TEST_F(SandboxTest, ConnectionsAreReusedWithoutCarryingAQuerysStateOver) {
  const auto created = [&] { return stack_->engine->Health()["connections"]["created"].get<uint64_t>(); };
  const uint64_t before = created();
  // A query cut by its limit (it interrupts its connection) and one refused by its grants...
  QueryStats limited;
  EXPECT_EQ(json::parse(stack_->Run("SELECT * FROM range(100000)", ResultFormat::kJson, 10, &limited))["rows"].size(),
            10u);
  EXPECT_TRUE(limited.truncated);
  QueryRequest refused;
  refused.sql = "SELECT count(*) AS n FROM t";
  refused.may_read = [](std::string_view) { return false; };
  refused.principal = "API key k1";
  StringSink refused_sink;
  EXPECT_EQ(CodeOf([&] { stack_->engine->Execute(refused, refused_sink); }), ErrorCode::kPermissionDenied);
  // ...leave nothing behind: later queries (without grants) run whole, on reused connections.
  for (int i = 0; i < 20; ++i) {
    auto body = json::parse(stack_->Run("SELECT count(*) AS n FROM t"));
    ASSERT_EQ(body["rows"][0][0], 10) << i;
  }
  QueryStats whole;
  EXPECT_EQ(
      json::parse(stack_->Run("SELECT * FROM range(5000)", ResultFormat::kJson, std::nullopt, &whole))["rows"].size(),
      5000u);
  EXPECT_FALSE(whole.truncated);
  // One connection served them all but the refused query's (not given back after an error).
  EXPECT_LE(created() - before, 2u);
  EXPECT_GE(stack_->engine->Health()["connections"]["idle"].get<uint64_t>(), 1u);
}

TEST_F(SandboxTest, LargeResultsAreEncodedAndSentOffTheQueryThreadInOrder) {
  const std::string sql =
      "SELECT range AS a, 'row ' || range AS b, (range * 0.01)::DECIMAL(18,2) AS c FROM range(200000) ORDER BY a";
  for (auto format : {ResultFormat::kJson, ResultFormat::kNdjson, ResultFormat::kCsv, ResultFormat::kArrow}) {
    RecordingSink sink;
    QueryRequest request;
    request.sql = sql;
    request.format = format;
    EXPECT_EQ(stack_->engine->Execute(request, sink).rows, 200000u);
    EXPECT_TRUE(sink.writers.size() > 1 || !sink.writers.contains(std::this_thread::get_id()))
        << "format " << static_cast<int>(format) << ": every write came from the query's thread";
    if (format == ResultFormat::kJson) {
      const auto rows = json::parse(sink.body)["rows"];
      ASSERT_EQ(rows.size(), 200000u);
      for (size_t i = 0; i < rows.size(); i += 997) {
        ASSERT_EQ(rows[i][0], i);
        ASSERT_EQ(rows[i][1], "row " + std::to_string(i));
      }
    } else if (format == ResultFormat::kCsv) {
      // Lines in order: the header, then "i,row i,..." for every i.
      size_t pos = sink.body.find("\r\n") + 2;
      for (uint64_t i = 0; i < 200000; ++i) {
        const std::string prefix = std::to_string(i) + ",row " + std::to_string(i) + ",";
        ASSERT_EQ(sink.body.compare(pos, prefix.size(), prefix), 0) << "row " << i;
        pos = sink.body.find("\r\n", pos) + 2;
      }
      EXPECT_EQ(pos, sink.body.size());
    } else if (format == ResultFormat::kNdjson) {
      size_t pos = 0;
      for (uint64_t i = 0; i < 200000; ++i) {
        const size_t end = sink.body.find('\n', pos);
        ASSERT_NE(end, std::string::npos);
        if (i % 1009 == 0) {
          ASSERT_EQ(json::parse(sink.body.substr(pos, end - pos))["a"], i);
        }
        pos = end + 1;
      }
      EXPECT_EQ(pos, sink.body.size());
    }
  }
  // Arrow's batches in order: EncodingTest.ArrowIpcStreamIsWellFormed (4 batches).
}

TEST_F(SandboxTest, ConcurrentQueriesSeeWholeVersionsWhileCommitsLand) {
  std::atomic<bool> stop{false};
  std::atomic<int> failures{0};
  std::vector<std::thread> readers;
  readers.reserve(4);
  for (int t = 0; t < 4; ++t) {
    readers.emplace_back([&] {
      int64_t last = 0;
      while (!stop) {
        try {
          const int64_t n = json::parse(stack_->Run("SELECT count(*) FROM t"))["rows"][0][0];
          // Each append adds 10 rows: a count is always a whole version, never going back.
          if (n % 10 != 0 || n < last) failures++;
          last = n;
        } catch (const std::exception& e) {
          ADD_FAILURE() << e.what();
          failures++;
        }
      }
    });
  }
  for (int i = 0; i < 8; ++i) stack_->Commit("t", "SELECT range AS x FROM range(10)", catalogd::CommitOp::kAppend);
  stop = true;
  for (auto& r : readers) r.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(json::parse(stack_->Run("SELECT count(*) FROM t"))["rows"][0][0], 90);
}

TEST_F(SandboxTest, AnEngineDestroyedBeforeItsCatalogIsNotCalledBack) {
  auto second = MakeQueryEngine(*stack_->catalog, *stack_->store->store, QueryConfig{});
  StringSink sink;
  second->Execute(QueryRequest{"SELECT count(*) FROM t", ResultFormat::kJson, std::nullopt, std::nullopt}, sink);
  second.reset();
  // The catalog still holds the destroyed engine's listener: a commit must not reach it.
  stack_->Commit("t", "SELECT range AS x FROM range(10)", catalogd::CommitOp::kAppend);
  EXPECT_EQ(json::parse(stack_->Run("SELECT count(*) FROM t"))["rows"][0][0], 20);
}

// ---- Encodings ---------------------------------------------------------------------------------

const char* kTypesSql = R"sql(
SELECT * FROM (VALUES
  (true, 1::TINYINT, 300::SMALLINT, 70000::INTEGER, 9007199254740993::BIGINT, 255::UTINYINT, 18446744073709551615::UBIGINT,
   170141183460469231731687303715884105727::HUGEINT, 1.5::FLOAT, 0.1::DOUBLE, 123.4::DECIMAL(4,1),
   -123456789012345.678::DECIMAL(18,3), 12345678901234567890.0123456789::DECIMAL(30,10),
   'plain', 'a "quoted", comma' || chr(10) || 'newline é', '\x00\x01AB'::BLOB, DATE '2024-02-29', TIME '13:14:15.5',
   TIMESTAMP '2024-02-29 13:14:15.123456', TIMESTAMP_MS '1969-12-31 23:59:59.999', TIMESTAMP_NS '2024-01-01 00:00:00.000000001',
   TIMESTAMPTZ '2024-05-06 07:08:09+00', INTERVAL '1 year 2 months 3 days 04:05:06', [1, NULL, 3], ['x', 'y'],
   {'k': 1, 's': 'v'}, MAP {'a': 1, 'b': 2}, [1, 2, 3]::INTEGER[3], 'abc'::ENUM('abc', 'def'),
   '6ba7b810-9dad-11d1-80b4-00c04fd430c8'::UUID, NULL, ''),
  (NULL, NULL, NULL, NULL, -5, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
   NULL, NULL, NULL, [], NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)
) t(b, i8, i16, i32, i64, u8, u64, h, f32, f64, d4, d18, d30, s, s_special, bin, dt, tm, ts, ts_ms, ts_ns, tstz, iv,
    li, ls, st, mp, arr, en, id, nul, empty)
)sql";

TEST(EncodingTest, JsonKeepsExactValuesAndTypes) {
  auto stack = Stack::Make("local");
  auto result = json::parse(stack->Run(kTypesSql));
  const auto& row = result["rows"][0];
  std::map<std::string, json> v;
  for (size_t i = 0; i < result["columns"].size(); ++i) v[result["columns"][i]["name"]] = row[i];
  EXPECT_EQ(v["b"], true);
  EXPECT_EQ(v["i8"], 1);
  EXPECT_EQ(v["i64"], "9007199254740993");  // > 2^53: a string
  EXPECT_EQ(result["rows"][1][4], -5);      // small: a number
  EXPECT_EQ(v["u64"], "18446744073709551615");
  EXPECT_EQ(v["h"], "170141183460469231731687303715884105727");
  EXPECT_EQ(v["f32"], 1.5);
  EXPECT_EQ(v["f64"], 0.1);
  EXPECT_EQ(v["d4"], "123.4");
  EXPECT_EQ(v["d18"], "-123456789012345.678");
  EXPECT_EQ(v["d30"], "12345678901234567890.0123456789");
  EXPECT_EQ(v["s_special"], "a \"quoted\", comma\nnewline \xc3\xa9");
  EXPECT_EQ(v["bin"], "AAFBQg==");
  EXPECT_EQ(v["dt"], "2024-02-29");
  EXPECT_EQ(v["tm"], "13:14:15.5");
  EXPECT_EQ(v["ts"], "2024-02-29T13:14:15.123456");
  EXPECT_EQ(v["ts_ms"], "1969-12-31T23:59:59.999");
  EXPECT_EQ(v["ts_ns"], "2024-01-01T00:00:00.000000001");
  EXPECT_EQ(v["tstz"], "2024-05-06T07:08:09Z");
  EXPECT_EQ(v["iv"], "1 year 2 months 3 days 04:05:06");
  EXPECT_EQ(v["li"], (json{1, nullptr, 3}));
  EXPECT_EQ(v["st"], (json{{"k", 1}, {"s", "v"}}));
  EXPECT_EQ(v["mp"], json::parse(R"([{"key":"a","value":1},{"key":"b","value":2}])"));
  EXPECT_EQ(v["arr"], (json{1, 2, 3}));
  EXPECT_EQ(v["en"], "abc");
  EXPECT_EQ(v["id"], "6ba7b810-9dad-11d1-80b4-00c04fd430c8");
  EXPECT_TRUE(v["nul"].is_null());
  EXPECT_EQ(v["empty"], "");
  for (size_t i = 0; i < row.size(); ++i) {
    if (result["columns"][i]["name"] != "i64" && result["columns"][i]["name"] != "li") {
      EXPECT_TRUE(result["rows"][1][i].is_null()) << result["columns"][i]["name"];
    }
  }
  EXPECT_EQ(result["columns"][11]["type"], "DECIMAL(18,3)");
  EXPECT_EQ(result["columns"][28]["type"], "ENUM('abc', 'def')");
}

TEST(EncodingTest, CsvIsRfc4180WithAHeader) {
  auto stack = Stack::Make("local");
  const std::string csv = stack->Run(
      "SELECT 1 AS \"a,b\", 'x\"y' AS q, NULL AS n, '' AS e, 12.50::DECIMAL(5,2) AS d, [1,2] AS l", ResultFormat::kCsv);
  EXPECT_EQ(csv, "\"a,b\",q,n,e,d,l\r\n1,\"x\"\"y\",,\"\",12.50,\"[1,2]\"\r\n");
}

// ADR 0012: decimals are formatted from a stack buffer, 64-bit when the value fits, 128-bit beyond;
// every case of leading zeros, sign and scale, in JSON (quoted: exact) and CSV.
TEST(EncodingTest, DecimalsKeepSignLeadingZerosAndScale) {
  auto stack = Stack::Make("local");
  const char* sql =
      "SELECT -0.05::DECIMAL(4,2) AS a, 0::DECIMAL(4,2) AS b, -5::DECIMAL(3,0) AS c, 0.001::DECIMAL(38,37) AS d, "
      "(-12345678901234567890.0123456789)::DECIMAL(30,10) AS e, 18446744073709551616::DECIMAL(38,0) AS f, "
      "-0.0000000000000000000000000000000000001::DECIMAL(38,37) AS g";
  const auto json = nlohmann::json::parse(stack->Run(sql));
  EXPECT_EQ(json["rows"][0], nlohmann::json::parse(R"(["-0.05","0.00","-5","0.0010000000000000000000000000000000000",
      "-12345678901234567890.0123456789","18446744073709551616","-0.0000000000000000000000000000000000001"])"));
  EXPECT_EQ(stack->Run(sql, ResultFormat::kCsv),
            "a,b,c,d,e,f,g\r\n-0.05,0.00,-5,0.0010000000000000000000000000000000000,-12345678901234567890.0123456789,"
            "18446744073709551616,-0.0000000000000000000000000000000000001\r\n");
}

TEST(EncodingTest, NdjsonIsOneObjectPerLine) {
  auto stack = Stack::Make("local");
  EXPECT_EQ(stack->Run("SELECT range AS x, 'v' || range AS y FROM range(2)", ResultFormat::kNdjson),
            "{\"x\":0,\"y\":\"v0\"}\n{\"x\":1,\"y\":\"v1\"}\n");
}

// ADR 0012, fifth session: the common kinds are written by typed cell writers into a stack buffer,
// long strings and other kinds by the generic path; both must write exactly these bytes.
TEST(EncodingTest, TypedAndGenericCellsWriteTheSameText) {
  auto stack = Stack::Make("local");
  const char* sql =
      "SELECT 'nan'::DOUBLE AS a, '-inf'::DOUBLE AS b, 'inf'::FLOAT AS c, 0.1::FLOAT AS d, (-9007199254740993)::BIGINT "
      "AS e, 255::UTINYINT AS f, chr(1) || '\\' || chr(9) || 'x,\"y' AS g, '' AS h, NULL::INTEGER AS i, DATE "
      "'2024-02-29' AS j, TIMESTAMPTZ '2024-05-06 07:08:09.5+00' AS k, -0.05::DECIMAL(4,2) AS l, [1, NULL]::INTEGER[] "
      "AS m, repeat('\"q,', 9000) AS n";
  const std::string long_json = [] {
    std::string s;
    for (int i = 0; i < 9000; ++i) s += "\\\"q,";
    return s;
  }();
  const std::string long_csv = [] {
    std::string s;
    for (int i = 0; i < 9000; ++i) s += "\"\"q,";
    return s;
  }();
  EXPECT_EQ(
      stack->Run(sql, ResultFormat::kNdjson),
      "{\"a\":\"NaN\",\"b\":\"-Infinity\",\"c\":\"Infinity\",\"d\":0.1,\"e\":\"-9007199254740993\",\"f\":255,"
      "\"g\":\"\\u0001\\\\\\tx,\\\"y\",\"h\":\"\",\"i\":null,\"j\":\"2024-02-29\",\"k\":\"2024-05-06T07:08:09.5Z\","
      "\"l\":\"-0.05\",\"m\":[1,null],\"n\":\"" +
          long_json + "\"}\n");
  EXPECT_EQ(stack->Run(sql, ResultFormat::kCsv),
            "a,b,c,d,e,f,g,h,i,j,k,l,m,n\r\nNaN,-Infinity,Infinity,0.1,-9007199254740993,255,\"\x01\\\tx,\"\"y\",\"\",,"
            "2024-02-29,2024-05-06T07:08:09.5Z,-0.05,\"[1,null]\",\"" +
                long_csv + "\"\r\n");
}

// ADR 0012, fifth session: doubles and floats are formatted from Dragonbox's shortest digits; the
// text must be exactly std::to_chars's (the encoders' output is unchanged).
template <typename T, typename Bits>
void ExpectShortestLikeToChars(T v) {
  char want[64];
  char got[64];
  const std::string_view expected(want, static_cast<size_t>(std::to_chars(want, want + sizeof(want), v).ptr - want));
  const std::string_view actual(got, static_cast<size_t>(WriteShortest(got, v) - got));
  Bits bits = 0;
  std::memcpy(&bits, &v, sizeof(v));
  ASSERT_EQ(actual, expected) << "bits " << bits;
}

TEST(EncodingTest, ShortestFloatsAreWrittenAsToCharsWritesThem) {
  std::mt19937_64 rng(15);
  std::vector<double> doubles = {0.0,
                                 -0.0,
                                 1.0,
                                 -1.0,
                                 0.1,
                                 100.0,
                                 1e15,
                                 1e16,
                                 1e17,
                                 123456789012345678.0,
                                 1e21,
                                 1e22,
                                 1e-5,
                                 1e-4,
                                 0.001,
                                 5e-324,
                                 2.2250738585072014e-308,
                                 1.7976931348623157e308,
                                 9.5,
                                 0.30000000000000004,
                                 1e100,
                                 1.5e-100,
                                 1234.5678,
                                 2.0e-7};
  for (int i = 0; i < 2000000; ++i) {
    const uint64_t bits = rng();
    double d = 0;
    std::memcpy(&d, &bits, sizeof(d));
    if (std::isfinite(d)) doubles.push_back(d);
    doubles.push_back(static_cast<double>(static_cast<int64_t>(bits >> 20)) / 100.0);  // money-like values
    doubles.push_back(static_cast<double>(bits >> (bits % 64)));                       // integers of every size
  }
  for (const double d : doubles) ExpectShortestLikeToChars<double, uint64_t>(d);
  for (int i = 0; i < 1000000; ++i) {
    const auto bits = static_cast<uint32_t>(rng());
    float f = 0;
    std::memcpy(&f, &bits, sizeof(f));
    if (std::isfinite(f)) ExpectShortestLikeToChars<float, uint32_t>(f);
    ExpectShortestLikeToChars<float, uint32_t>(static_cast<float>(static_cast<int32_t>(bits >> 8)) / 100.0f);
  }
}

//! A minimal IPC stream walker: checks framing, alignment and flatbuffer validity of each message.
struct IpcMessage {
  const fb::Message* message;
  const uint8_t* body;
};
std::vector<IpcMessage> ParseIpc(const std::string& stream) {
  std::vector<IpcMessage> out;
  size_t pos = 0;
  while (true) {
    EXPECT_LE(pos + 8, stream.size());
    uint32_t marker = 0;
    int32_t length = 0;
    std::memcpy(&marker, stream.data() + pos, 4);
    std::memcpy(&length, stream.data() + pos + 4, 4);
    EXPECT_EQ(marker, 0xFFFFFFFFu);
    pos += 8;
    if (length == 0) break;
    EXPECT_EQ((pos + static_cast<size_t>(length)) % 8, 0u);
    flatbuffers::Verifier verifier(reinterpret_cast<const uint8_t*>(stream.data() + pos), static_cast<size_t>(length));
    EXPECT_TRUE(fb::VerifyMessageBuffer(verifier));
    const auto* message = fb::GetMessage(stream.data() + pos);
    pos += static_cast<size_t>(length);
    out.push_back({message, reinterpret_cast<const uint8_t*>(stream.data() + pos)});
    pos += static_cast<size_t>(message->bodyLength());
  }
  EXPECT_EQ(pos, stream.size());
  return out;
}

TEST(EncodingTest, ArrowIpcStreamIsWellFormed) {
  auto stack = Stack::Make("local");
  const std::string stream =
      stack->Run("SELECT range AS id, CASE WHEN range % 3 = 0 THEN NULL ELSE 'v' || range END AS s FROM range(200000)",
                 ResultFormat::kArrow);
  auto messages = ParseIpc(stream);
  ASSERT_GE(messages.size(), 3u);  // schema + several batches
  ASSERT_EQ(messages[0].message->header_type(), fb::MessageHeader_Schema);
  const auto* schema = messages[0].message->header_as_Schema();
  ASSERT_EQ(schema->fields()->size(), 2u);
  EXPECT_EQ(schema->fields()->Get(0)->name()->str(), "id");
  EXPECT_EQ(schema->fields()->Get(0)->type_type(), fb::Type_Int);
  EXPECT_EQ(schema->fields()->Get(0)->type_as_Int()->bitWidth(), 64);
  EXPECT_EQ(schema->fields()->Get(1)->type_type(), fb::Type_Utf8);
  int64_t rows = 0;
  int64_t expected_next = 0;
  for (size_t m = 1; m < messages.size(); ++m) {
    ASSERT_EQ(messages[m].message->header_type(), fb::MessageHeader_RecordBatch);
    const auto* batch = messages[m].message->header_as_RecordBatch();
    ASSERT_EQ(batch->nodes()->size(), 2u);
    ASSERT_EQ(batch->buffers()->size(), 5u);  // id: validity, values; s: validity, offsets, data
    EXPECT_GT(batch->nodes()->Get(1)->null_count(), 0);
    const auto* values = batch->buffers()->Get(1);
    for (int64_t i = 0; i < batch->length(); ++i) {
      int64_t v = 0;
      std::memcpy(&v, messages[m].body + values->offset() + i * 8, 8);
      ASSERT_EQ(v, expected_next++);
    }
    rows += batch->length();
  }
  EXPECT_EQ(rows, 200000);
}

TEST(EncodingTest, EmptyResultsKeepTheirColumns) {
  auto stack = Stack::Make("local");
  const char* sql = "SELECT range AS id, 'x' AS s FROM range(10) WHERE range > 100";
  auto result = json::parse(stack->Run(sql));
  EXPECT_EQ(result["columns"].size(), 2u);
  EXPECT_TRUE(result["rows"].empty());
  EXPECT_EQ(stack->Run(sql, ResultFormat::kCsv), "id,s\r\n");
  EXPECT_EQ(stack->Run(sql, ResultFormat::kNdjson), "");
  const std::string stream = stack->Run(sql, ResultFormat::kArrow);
  auto messages = ParseIpc(stream);
  ASSERT_EQ(messages.size(), 1u);  // the schema, then end of stream
  EXPECT_EQ(messages[0].message->header_as_Schema()->fields()->size(), 2u);
}

TEST(EncodingTest, FormatNamesAndAcceptHeaders) {
  EXPECT_EQ(ParseResultFormat("ARROW"), ResultFormat::kArrow);
  EXPECT_THROW(ParseResultFormat("xml"), Error);
  EXPECT_EQ(FormatFromAccept("text/html, text/csv;q=0.9"), ResultFormat::kCsv);
  EXPECT_EQ(FormatFromAccept("application/vnd.apache.arrow.stream"), ResultFormat::kArrow);
  EXPECT_EQ(FormatFromAccept("*/*"), std::nullopt);
  EXPECT_EQ(PreviewSql("sales", 5), "SELECT * FROM \"sales\" LIMIT 5");
  EXPECT_THROW(PreviewSql("bad name\"", 5), Error);
}

// ---- Remote reads: range GETs with footer cache, no whole-file downloads -----------------------

class RemoteReadTest : public ::testing::TestWithParam<std::string> {};

TEST_P(RemoteReadTest, ColumnPruningReadsOnlyPartOfTheObject) {
  if (GetParam() == "s3" && !lakehouse::testing::S3Available()) GTEST_SKIP() << "no radosgw (rgw fixture)";
  QueryConfig config;
  config.force_range_reads = true;  // local: the store served through GetRange, like S3
  auto stack = Stack::Make(GetParam(), config);
  auto manifest = stack->Commit("wide",
                                "SELECT range AS id, md5(range::VARCHAR) AS a, md5((range + 1)::VARCHAR) AS b, "
                                "md5((range + 2)::VARCHAR) AS c FROM range(300000)");
  const uint64_t size = manifest.objects[0].ref.size;
  auto result = json::parse(stack->Run("SELECT sum(id) FROM wide"));
  EXPECT_EQ(result["rows"][0][0], "44999850000");
  auto health = stack->engine->Health();
  const uint64_t fetched = health["remote_reads"]["bytes"];
  EXPECT_GT(health["remote_reads"]["range_requests"].get<uint64_t>(), 1u);
  EXPECT_LT(fetched, size / 2) << "read " << fetched << " of " << size << " bytes for one of four columns";
  EXPECT_EQ(health["remote_reads"]["local_opens"], 0);
  // Row-group skipping: a filter on id touches one row group's worth of data.
  auto before = stack->engine->Health()["remote_reads"];
  EXPECT_EQ(json::parse(stack->Run("SELECT count(*) FROM wide WHERE id BETWEEN 5 AND 10"))["rows"][0][0], 6);
  auto after = stack->engine->Health()["remote_reads"];
  std::cerr << "remote reads: " << before.dump() << " -> " << after.dump() << " object " << size << "\n";
  EXPECT_LT(after["bytes"].get<uint64_t>() - before["bytes"].get<uint64_t>(), size / 4);
}

INSTANTIATE_TEST_SUITE_P(Local, RemoteReadTest, ::testing::Values("local"));
INSTANTIATE_TEST_SUITE_P(S3, RemoteReadTest, ::testing::Values("s3"));

//! "953.6 MiB" (DuckDB's rendering of a memory limit) -> bytes.
double DuckDbSizeToBytes(const std::string& text) {
  double value = 0;
  char unit[8] = {};
  EXPECT_EQ(std::sscanf(text.c_str(), "%lf %7s", &value, unit), 2) << text;
  const std::string u = unit;
  const double scale = u == "KiB"     ? 1024.0
                       : u == "MiB"   ? 1024.0 * 1024
                       : u == "GiB"   ? 1024.0 * 1024 * 1024
                       : u == "bytes" ? 1.0
                                      : 0.0;
  EXPECT_GT(scale, 0) << "unknown unit in " << text;
  return value * scale;
}

// ADR 0011: the process has one DuckDB memory budget. queryd's engine, ingest and search each open
// a DuckDB instance; the limits they enforce add up to the configured budget, not three times it.
TEST(MemoryBudget, QueryIngestAndSearchTogetherStayWithinTheConfiguredLimit) {
  for (const std::string budget : {"1GB", "600MiB"}) {
    QueryConfig config;
    config.memory_limit = budget;
    auto stack = Stack::Make("local", config);
    ingest::IngestOptions options;
    options.memory_limit = budget;
    options.temp_dir = stack->store->root + "/ingest-tmp";
    auto ingestor = ingest::MakeIngestor(*stack->store->store, *stack->catalog, options);
    aibridge::AiConfig ai_config;
    ai_config.sidecar_url = "http://127.0.0.1:9";  // never called: the search service only opens its DuckDB
    auto ai = aibridge::MakeAiBridge(ai_config);
    search::SearchOptions search_options;
    search_options.memory_limit = budget;
    search_options.temp_dir = stack->store->root + "/search-tmp";
    auto search = search::MakeSearchService(*stack->catalog, *ingestor, *stack->engine, *ai, *stack->store->store,
                                            search_options);

    const auto result = nlohmann::json::parse(stack->Run("SELECT current_setting('memory_limit') AS m"));
    const double query_bytes = DuckDbSizeToBytes(result["rows"][0][0].get<std::string>());
    const double ingest_bytes = DuckDbSizeToBytes(ingestor->MemoryLimit());
    const double search_bytes = DuckDbSizeToBytes(search->MemoryLimit());
    const double limit = static_cast<double>(ParseByteSize(budget));
    EXPECT_GT(query_bytes, 0.5 * limit) << budget;
    EXPECT_GT(ingest_bytes, 0.1 * limit) << budget;
    EXPECT_GT(search_bytes, 0.05 * limit) << budget;
    // DuckDB renders limits to 0.1 units: allow that rounding and nothing more.
    EXPECT_LE(query_bytes + ingest_bytes + search_bytes, limit * 1.001)
        << budget << ": " << query_bytes << " + " << ingest_bytes << " + " << search_bytes;
  }
}

// ADR 0012: each query's connection lets DuckDB's threads run QueryConfig::streaming_buffer_bytes
// ahead of the streamed result (DuckDB's own default is ~1 MB).
TEST(EngineSettings, QueriesSeeTheEnginesGlobalSettings) {
  // Set once on the engine's admin connection; a query's connection must see them (a session-only
  // SET left the Parquet metadata cache off for every query: a footer parse per query).
  auto stack = testing::Stack::Make("local");
  const auto result = nlohmann::json::parse(
      stack->Run("SELECT current_setting('parquet_metadata_cache') AS cache, current_setting('TimeZone') AS tz"));
  EXPECT_EQ(result["rows"][0][0], true);
  EXPECT_EQ(result["rows"][0][1], "UTC");
}

TEST(StreamingBuffer, QueriesUseTheConfiguredSize) {
  for (const auto& [bytes, shown] : {std::pair<uint64_t, std::string>{5000000, "4.7 MiB"}, {32ull << 20, "32.0 MiB"}}) {
    QueryConfig config;
    config.streaming_buffer_bytes = bytes;
    auto stack = testing::Stack::Make("local", config);
    const auto result = nlohmann::json::parse(stack->Run("SELECT current_setting('streaming_buffer_size') AS s"));
    EXPECT_EQ(result["rows"][0][0], shown) << bytes;
  }
}

}  // namespace
}  // namespace lakehouse::queryd::testing
