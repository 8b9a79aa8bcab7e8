// Prepared plans reused per connection (queryd/src/plan_cache.h): a repeated query skips the
// binder and planner, yet never answers from a version, a grant or a clock that changed since its
// plan was made. And what else a pooled connection must not carry over.
#include <gtest/gtest.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>
#include <vector>

#include "lakehouse/shared/error.h"
#include "lakehouse/testing/errors.h"
#include "query_test_util.h"

namespace lakehouse::queryd::testing {
namespace {

using lakehouse::testing::CodeOf;
using nlohmann::json;

class PlanCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    stack_ = Stack::Make("local");
    stack_->Commit("t", "SELECT range AS x FROM range(10)");
  }
  json Plans() { return stack_->engine->Health()["plans"]; }
  uint64_t Hits() { return Plans()["hits"].get<uint64_t>(); }
  json Run(const std::string& sql, QueryStats* stats = nullptr) {
    return json::parse(stack_->Run(sql, ResultFormat::kJson, std::nullopt, stats));
  }
  //! Runs `sql` as a caller who may read only `readable`; returns its error's code, if it failed.
  std::optional<ErrorCode> RunAs(const std::string& sql, const std::string& readable, std::string* message = nullptr) {
    QueryRequest request;
    request.sql = sql;
    request.may_read = [readable](std::string_view dataset) { return dataset == readable; };
    request.principal = "API key k1";
    StringSink sink;
    try {
      stack_->engine->Execute(request, sink);
    } catch (const Error& e) {
      if (message != nullptr) *message = e.what();
      return e.code();
    }
    return std::nullopt;
  }
  std::unique_ptr<Stack> stack_;
};

TEST_F(PlanCacheTest, ARepeatedQueryRunsItsCachedPlanWithTheSameResultAndStats) {
  const std::string sql = "SELECT count(*) AS n, sum(x) AS s FROM t WHERE x > 2";
  QueryStats first;
  const json expected = Run(sql, &first)["rows"];  // planned as usual
  const uint64_t prepared = Plans()["prepared"].get<uint64_t>();
  QueryStats second;
  EXPECT_EQ(Run(sql, &second)["rows"], expected);  // prepared and cached
  EXPECT_EQ(Plans()["prepared"].get<uint64_t>(), prepared + 1);
  EXPECT_EQ(second.bytes_scanned, first.bytes_scanned);
  EXPECT_EQ(expected, json::parse(R"([[7, "42"]])"));  // sum(BIGINT) is a HUGEINT: a string
  const uint64_t hits = Hits();
  for (int i = 0; i < 5; ++i) {
    QueryStats again;
    EXPECT_EQ(Run(sql, &again)["rows"], expected) << i;
    // The scan accounting of a cached run is the first run's (objects listed, opened, bytes).
    EXPECT_EQ(again.objects_scanned, first.objects_scanned) << i;
    EXPECT_EQ(again.objects_pruned, first.objects_pruned) << i;
    EXPECT_EQ(again.bytes_scanned, first.bytes_scanned) << i;
  }
  EXPECT_EQ(Hits(), hits + 5);
  // Other formats reuse the plan too, and a different text is a different plan.
  EXPECT_EQ(stack_->Run(sql, ResultFormat::kCsv), "n,s\r\n7,42\r\n");
  EXPECT_EQ(Hits(), hits + 6);
  EXPECT_EQ(Run("SELECT count(*) AS n FROM t")["rows"][0][0], 10);
  EXPECT_EQ(Run("SELECT count(*) AS n FROM t")["rows"][0][0], 10);
  EXPECT_EQ(Hits(), hits + 6);
}

TEST_F(PlanCacheTest, ACommitMakesTheNextRunPlanTheNewVersion) {
  const std::string sql = "SELECT count(*) FROM t";
  EXPECT_EQ(Run(sql)["rows"][0][0], 10);
  EXPECT_EQ(Run(sql)["rows"][0][0], 10);  // cached
  EXPECT_EQ(Run(sql)["rows"][0][0], 10);  // and reused
  const uint64_t hits = Hits();
  EXPECT_GE(hits, 1u);
  stack_->Commit("t", "SELECT range AS x FROM range(5)", catalogd::CommitOp::kAppend);
  EXPECT_EQ(Run(sql)["rows"][0][0], 15);  // the head moved: planned afresh
  EXPECT_EQ(Hits(), hits);
  EXPECT_EQ(Run(sql)["rows"][0][0], 15);  // and that plan is reused
  EXPECT_EQ(Hits(), hits + 1);
  stack_->Commit("t", "SELECT range AS x FROM range(3)", catalogd::CommitOp::kReplace);
  EXPECT_EQ(Run(sql)["rows"][0][0], 3);
  // A pinned version stays the same plan across commits.
  const std::string pinned = "SELECT count(*) FROM dataset_version('t', 1)";
  EXPECT_EQ(Run(pinned)["rows"][0][0], 10);
  EXPECT_EQ(Run(pinned)["rows"][0][0], 10);
  stack_->Commit("t", "SELECT range AS x FROM range(1)", catalogd::CommitOp::kAppend);
  const uint64_t before = Hits();
  EXPECT_EQ(Run(pinned)["rows"][0][0], 10);
  EXPECT_EQ(Hits(), before + 1);
}

TEST_F(PlanCacheTest, ACachedPlanHoldsNoOperatorStateBetweenRuns) {
  // DuckDB keeps a plan's operator states (a hash table, sorted data) until the plan runs again;
  // the cache frees them when each run ends, so memory is not held by plans waiting for reuse.
  stack_->Commit("wide", "SELECT range AS k, range % 7 AS v FROM range(300000)");
  const std::string sql = "SELECT count(*) FROM wide a JOIN wide b USING (k)";
  const auto held = [&] {  // what DuckDB's buffer manager holds besides its caches
    return Run("SELECT coalesce(sum(memory_usage_bytes), 0)::BIGINT AS b FROM duckdb_memory() WHERE tag NOT IN "
               "('METADATA', 'EXTERNAL_FILE_CACHE', 'OBJECT_CACHE')")["rows"][0][0]
        .get<int64_t>();
  };
  const uint64_t hits = Hits();
  for (int i = 0; i < 3; ++i) EXPECT_EQ(Run(sql)["rows"][0][0], 300000) << i;
  EXPECT_EQ(Hits(), hits + 1);
  EXPECT_EQ(held(), 0) << "a cached plan kept memory of its last run (its join's state)";
}

TEST_F(PlanCacheTest, ADeletedDatasetIsNotFoundThoughItsPlanWasCached) {
  const std::string sql = "SELECT count(*) FROM t";
  for (int i = 0; i < 3; ++i) Run(sql);
  ASSERT_GE(Hits(), 1u);
  catalogd::CommitRequest drop;
  drop.dataset = "t";
  drop.op = catalogd::CommitOp::kDelete;
  stack_->catalog->Commit(drop);
  std::string message;
  EXPECT_EQ(CodeOf([&] { Run(sql); }, &message), ErrorCode::kNotFound);
  EXPECT_NE(message.find('t'), std::string::npos) << message;
}

TEST_F(PlanCacheTest, GrantsAreCheckedOnEveryRunOfACachedPlan) {
  stack_->Commit("secret", "SELECT 42 AS answer");
  const std::string sql = "SELECT answer FROM secret";
  for (int i = 0; i < 3; ++i) EXPECT_EQ(RunAs(sql, "secret"), std::nullopt);  // planned, cached, reused
  ASSERT_GE(Hits(), 1u);
  std::string message;
  EXPECT_EQ(RunAs(sql, "t", &message), ErrorCode::kPermissionDenied);
  EXPECT_NE(message.find("API key k1 may not read dataset 'secret'"), std::string::npos) << message;
  // (A failed query's connection is not pooled again, and its plans go with it.)
  EXPECT_EQ(RunAs(sql, "secret"), std::nullopt);
}

TEST_F(PlanCacheTest, FunctionsFixedPerQueryAndSearchesAreNotCached) {
  // now() is fixed for one query's duration: DuckDB binds it per query, so must every run.
  const std::string sql = "SELECT max(x) AS m, epoch_us(now()) AS us FROM t";
  const uint64_t hits = Hits();
  int64_t last = 0;
  for (int i = 0; i < 3; ++i) {
    const int64_t now = Run(sql)["rows"][0][1];
    EXPECT_GT(now, last) << i;
    last = now;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  EXPECT_EQ(Hits(), hits);
  EXPECT_EQ(Plans()["uncacheable"].get<uint64_t>(), 2u);  // the second and third run
  // Without a dataset, a plain statement is cached (nothing it read can change).
  for (int i = 0; i < 3; ++i) Run("SELECT 1 + 1");
  EXPECT_EQ(Hits(), hits + 1);
}

TEST_F(PlanCacheTest, ErrorsAreTheSameWhetherOrNotAPlanWasCached) {
  // A statement with parameters, one that fails to bind, one that fails while running.
  std::string message;
  EXPECT_EQ(CodeOf([&] { Run("SELECT $1 FROM t"); }, &message), ErrorCode::kInvalidArgument);
  EXPECT_EQ(CodeOf([&] { Run("SELECT no_such_column FROM t"); }, &message), ErrorCode::kInvalidArgument);
  EXPECT_NE(message.find("no_such_column"), std::string::npos) << message;
  const std::string failing = "SELECT CAST('x' || x AS INTEGER) FROM t";
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(CodeOf([&] { Run(failing); }, &message), ErrorCode::kInvalidArgument) << i;
    EXPECT_NE(message.find("x0"), std::string::npos) << message;
  }
}

//! What a pooled connection must not carry from one query to the next (its plans it may keep).
using PooledConnectionTest = PlanCacheTest;

TEST_F(PooledConnectionTest, SetseedDoesNotCarryOverToTheNextQuery) {
  // setseed() seeds random() on its connection: pooled again, the next query there (another
  // caller's) would draw the seeded, predictable sequence - the same value after every seeding.
  std::vector<double> drawn;
  for (int i = 0; i < 3; ++i) {
    Run("SELECT setseed(0.5) AS s");
    drawn.push_back(Run("SELECT random() AS r")["rows"][0][0].get<double>());
  }
  EXPECT_FALSE(drawn[0] == drawn[1] && drawn[1] == drawn[2]) << drawn[0];
}

}  // namespace
}  // namespace lakehouse::queryd::testing
