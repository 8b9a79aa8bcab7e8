// The catalog over real object stores: the local filesystem backend and Ceph radosgw.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <atomic>
#include <mutex>
#include <set>
#include <thread>

#include "lakehouse/catalogd/catalog.h"
#include "lakehouse/shared/error.h"
#include "lakehouse/testing/errors.h"
#include "lakehouse/testing/s3.h"
#include "test_stores.h"

namespace lakehouse::catalogd {
namespace {

using lakehouse::testing::CodeOf;
using testing::MakeTestStore;
using testing::TestStore;

Schema SalesSchema() { return {{"id", "BIGINT", true}, {"price", "DOUBLE", true}}; }

class CatalogTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "s3" && !testing::S3Available()) GTEST_SKIP() << "LAKEHOUSE_S3_ENV_FILE not set";
    t_ = MakeTestStore(GetParam());
    catalog_ = MakeCatalog(*t_->store);
    catalog_->Rebuild();
  }

  //! Puts a small real object under data/<dataset>/ and returns it as a DataObject.
  DataObject Data(const std::string& dataset, uint64_t rows = 10) {
    std::string key = NewDataKey(dataset);
    auto info = t_->store->PutBytes(key, "PAR1-not-really-parquet-" + key);
    return DataObject{ObjectRef{t_->store->Bucket(), key, info.size, info.etag}, rows};
  }

  DatasetManifest Commit(const std::string& dataset, CommitOp op, std::vector<DataObject> objects,
                         Schema schema = SalesSchema()) {
    CommitRequest r;
    r.dataset = dataset;
    r.op = op;
    r.schema = std::move(schema);
    r.objects = std::move(objects);
    return *catalog_->Commit(r);
  }

  std::unique_ptr<TestStore> t_;
  std::unique_ptr<Catalog> catalog_;
};

// issue 13: Commit returns the new head itself (shared, immutable), and an append reuses the head's
// object list instead of copying it - but never one somebody still holds: a manifest returned by
// an earlier commit stays exactly what it was while later appends commit.
TEST_P(CatalogTest, CommittedManifestsStayWholeWhileLaterAppendsReuseTheHeadsList) {
  auto commit = [&](CommitOp op, std::vector<DataObject> objects) {
    CommitRequest r;
    r.dataset = "grow";
    r.op = op;
    r.schema = SalesSchema();
    r.objects = std::move(objects);
    return catalog_->Commit(r);
  };
  const auto a = Data("grow"), b = Data("grow"), c = Data("grow"), d = Data("grow");
  commit(CommitOp::kCreate, {a});
  const auto v2 = commit(CommitOp::kAppend, {b});  // held: the next append must copy
  auto v3 = commit(CommitOp::kAppend, {c});
  EXPECT_EQ(v2->objects, (std::vector<DataObject>{a, b}));
  EXPECT_EQ(v3->objects, (std::vector<DataObject>{a, b, c}));
  EXPECT_EQ(catalog_->Head("grow"), *v3) << "Commit returns the head";
  const auto head_copy = catalog_->Head("grow");
  const uint64_t v3_version = v3->version;
  const DatasetManifest v3_value = *v3;
  v3.reset();                      // the last holder goes away: the next append takes the list over
  commit(CommitOp::kAppend, {d});  // its result is dropped at once
  EXPECT_EQ(head_copy, v3_value) << "a copy taken by Head is its own";
  const auto v5 = commit(CommitOp::kAppend, {Data("grow")});
  EXPECT_EQ(v5->objects.size(), 5u);
  EXPECT_EQ(std::vector<DataObject>(v5->objects.begin(), v5->objects.begin() + 4),
            (std::vector<DataObject>{a, b, c, d}));
  EXPECT_EQ(v5->row_count(), 50u);
  // Every version reads back whole from storage, and the summaries hold the totals.
  auto fresh = MakeCatalog(*t_->store);
  fresh->Rebuild();
  EXPECT_EQ(fresh->Get("grow", v3_version), v3_value);
  EXPECT_EQ(fresh->Head("grow"), *v5);
  const auto versions = fresh->Versions("grow");
  ASSERT_EQ(versions.size(), 5u);
  EXPECT_EQ(versions[3].rows, 40u);
  EXPECT_EQ(catalog_->Versions("grow")[4].rows, 50u);
}

TEST_P(CatalogTest, CreateAppendReplaceDeleteMakeVersions) {
  auto a = Data("sales", 10);
  auto v1 = Commit("sales", CommitOp::kCreate, {a});
  EXPECT_EQ(v1.version, 1u);
  EXPECT_FALSE(v1.parent_version.has_value());
  EXPECT_EQ(v1.row_count(), 10u);
  EXPECT_EQ(v1.fingerprint, Fingerprint(SalesSchema()));
  EXPECT_EQ(t_->store->GetBytes(ManifestKey("sales", 1)).find("\"version\":1") != std::string::npos, true);

  auto b = Data("sales", 5);
  auto v2 = Commit("sales", CommitOp::kAppend, {b});
  EXPECT_EQ(v2.version, 2u);
  EXPECT_EQ(v2.parent_version, 1u);
  ASSERT_EQ(v2.objects.size(), 2u);
  EXPECT_EQ(v2.objects[0], a);
  EXPECT_EQ(v2.objects[1], b);
  EXPECT_EQ(v2.row_count(), 15u);

  auto c = Data("sales", 7);
  auto v3 = Commit("sales", CommitOp::kReplace, {c});
  EXPECT_EQ(v3.version, 3u);
  ASSERT_EQ(v3.objects.size(), 1u);
  EXPECT_EQ(v3.objects[0], c);

  EXPECT_EQ(catalog_->Head("sales"), v3);
  EXPECT_EQ(catalog_->Get("sales", 2), v2);
  auto list = catalog_->List();
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0].name, "sales");
  EXPECT_EQ(list[0].version, 3u);
  EXPECT_EQ(list[0].rows, 7u);

  auto v4 = Commit("sales", CommitOp::kDelete, {});
  EXPECT_TRUE(v4.tombstone);
  EXPECT_EQ(v4.version, 4u);
  EXPECT_TRUE(catalog_->List().empty());
  EXPECT_EQ(CodeOf([&] { catalog_->Head("sales"); }), ErrorCode::kNotFound);
  // A delete ends the dataset's history: older versions are gone with it (GC frees their data).
  EXPECT_EQ(CodeOf([&] { catalog_->Get("sales", 2); }), ErrorCode::kNotFound);
  EXPECT_EQ(catalog_->Get("sales", 4), v4);

  auto versions = catalog_->Versions("sales");
  ASSERT_EQ(versions.size(), 4u);
  EXPECT_EQ(versions[0].operation, "create");
  EXPECT_EQ(versions[1].operation, "append");
  EXPECT_EQ(versions[1].rows, 15u);
  EXPECT_EQ(versions[2].operation, "replace");
  EXPECT_TRUE(versions[3].tombstone);

  // Re-creating after a delete continues the version numbers.
  auto v5 = Commit("sales", CommitOp::kCreate, {Data("sales", 1)});
  EXPECT_EQ(v5.version, 5u);
  EXPECT_EQ(v5.parent_version, 4u);
  EXPECT_EQ(catalog_->Head("sales").version, 5u);
}

TEST_P(CatalogTest, ErrorsAreUserErrorsWithCodes) {
  Commit("sales", CommitOp::kCreate, {Data("sales")});
  EXPECT_EQ(CodeOf([&] { Commit("sales", CommitOp::kCreate, {Data("sales")}); }), ErrorCode::kConflict);
  EXPECT_EQ(CodeOf([&] { Commit("missing", CommitOp::kAppend, {Data("missing")}); }), ErrorCode::kNotFound);
  EXPECT_EQ(CodeOf([&] { Commit("missing", CommitOp::kReplace, {}); }), ErrorCode::kNotFound);
  EXPECT_EQ(CodeOf([&] { Commit("missing", CommitOp::kDelete, {}); }), ErrorCode::kNotFound);
  EXPECT_EQ(CodeOf([&] { Commit("Bad-Name", CommitOp::kCreate, {}); }), ErrorCode::kInvalidArgument);
  EXPECT_EQ(CodeOf([&] { Commit("../etc", CommitOp::kCreate, {}); }), ErrorCode::kInvalidArgument);
  EXPECT_EQ(CodeOf([&] { catalog_->Head("missing"); }), ErrorCode::kNotFound);
  EXPECT_EQ(CodeOf([&] { catalog_->Get("sales", 9); }), ErrorCode::kNotFound);
  EXPECT_EQ(CodeOf([&] { catalog_->Versions("missing"); }), ErrorCode::kNotFound);
  // Nothing of the failed commits became visible.
  EXPECT_EQ(catalog_->Head("sales").version, 1u);
  EXPECT_EQ(catalog_->List().size(), 1u);
  EXPECT_TRUE(t_->store->ListAll("_catalog/missing/").empty());
}

TEST_P(CatalogTest, SchemaChangeIsRefusedNamingColumnsUnlessAllowed) {
  Commit("sales", CommitOp::kCreate, {Data("sales")});
  Schema changed = {{"id", "BIGINT", true}, {"price", "VARCHAR", true}, {"qty", "INTEGER", true}};
  try {
    Commit("sales", CommitOp::kAppend, {Data("sales")}, changed);
    FAIL() << "append with another schema was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kConflict);
    std::string msg = e.what();
    EXPECT_NE(msg.find("price: DOUBLE -> VARCHAR"), std::string::npos) << msg;
    EXPECT_NE(msg.find("added qty"), std::string::npos) << msg;
    EXPECT_NE(msg.find("allow_schema_change"), std::string::npos) << msg;
  }
  EXPECT_EQ(catalog_->Head("sales").version, 1u);

  CommitRequest r;
  r.dataset = "sales";
  r.op = CommitOp::kAppend;
  r.schema = changed;
  r.objects = {Data("sales")};
  r.allow_schema_change = true;
  auto v2 = *catalog_->Commit(r);
  EXPECT_EQ(v2.schema_version, 2u);
  EXPECT_EQ(v2.schema, changed);
  EXPECT_EQ(v2.fingerprint, Fingerprint(changed));

  // Nullability alone is not a schema change.
  Schema not_null = changed;
  for (auto& c : not_null) c.nullable = false;
  auto v3 = Commit("sales", CommitOp::kAppend, {Data("sales")}, not_null);
  EXPECT_EQ(v3.schema_version, 2u);
  EXPECT_EQ(v3.schema, changed);
}

TEST_P(CatalogTest, ExpectedVersionIsAnOptimisticCheck) {
  Commit("sales", CommitOp::kCreate, {Data("sales")});
  CommitRequest r;
  r.dataset = "sales";
  r.op = CommitOp::kReplace;
  r.schema = SalesSchema();
  r.objects = {Data("sales")};
  r.expected_version = 7;
  EXPECT_EQ(CodeOf([&] { catalog_->Commit(r); }), ErrorCode::kConflict);
  r.expected_version = 1;
  EXPECT_EQ(catalog_->Commit(r)->version, 2u);
  EXPECT_EQ(CodeOf([&] { catalog_->Commit(r); }), ErrorCode::kConflict);  // now stale
}

TEST_P(CatalogTest, ListenersSeeEveryCommit) {
  std::vector<uint64_t> seen;
  catalog_->AddListener([&](const DatasetManifest& m) { seen.push_back(m.version); });
  Commit("sales", CommitOp::kCreate, {Data("sales")});
  Commit("sales", CommitOp::kAppend, {Data("sales")});
  EXPECT_EQ(CodeOf([&] { Commit("sales", CommitOp::kCreate, {}); }), ErrorCode::kConflict);
  EXPECT_EQ(seen, (std::vector<uint64_t>{1, 2}));
}

//! Appends from many threads; returns the acknowledged (version, object) pairs.
std::vector<std::pair<uint64_t, DataObject>> RaceAppends(std::vector<Catalog*> catalogs, int threads_per_catalog,
                                                         int appends_each, const std::function<DataObject()>& data) {
  std::mutex mu;
  std::vector<std::pair<uint64_t, DataObject>> acked;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (Catalog* c : catalogs) {
    for (int t = 0; t < threads_per_catalog; ++t) {
      threads.emplace_back([&, c] {
        for (int i = 0; i < appends_each; ++i) {
          CommitRequest r;
          r.dataset = "race";
          r.op = CommitOp::kAppend;
          r.schema = SalesSchema();
          r.objects = {data()};
          try {
            auto m = *c->Commit(r);
            std::lock_guard lock(mu);
            acked.emplace_back(m.version, r.objects[0]);
          } catch (const std::exception& e) {
            ++failures;
            ADD_FAILURE() << "append failed: " << e.what();
          }
        }
      });
    }
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  return acked;
}

void ExpectNoneLost(Catalog& catalog, const std::vector<std::pair<uint64_t, DataObject>>& acked, size_t expected) {
  ASSERT_EQ(acked.size(), expected);
  std::set<uint64_t> versions;
  for (const auto& [v, o] : acked) EXPECT_TRUE(versions.insert(v).second) << "version " << v << " acknowledged twice";
  auto head = catalog.Head("race");
  EXPECT_EQ(head.version, expected + 1);
  std::set<std::string> keys;
  for (const auto& o : head.objects) keys.insert(o.ref.key);
  EXPECT_EQ(keys.size(), expected + 1);  // the create's object + every append's
  for (const auto& [v, o] : acked) {
    EXPECT_TRUE(keys.contains(o.ref.key)) << "acknowledged append at version " << v << " lost";
    auto m = catalog.Get("race", v);  // every acknowledged version is readable and holds its object
    EXPECT_EQ(m.version, v);
    EXPECT_EQ(m.objects.back(), o);
  }
  auto all = catalog.Versions("race");
  EXPECT_EQ(all.size(), expected + 1);
}

TEST_P(CatalogTest, EightWritersInOneProcessLoseNothing) {
  Commit("race", CommitOp::kCreate, {Data("race")});
  const int each = GetParam() == "s3" ? 5 : 25;
  auto acked = RaceAppends({catalog_.get()}, 8, each, [&] { return Data("race"); });
  ExpectNoneLost(*catalog_, acked, 8u * each);
  auto fresh = MakeCatalog(*t_->store);
  fresh->Rebuild();
  EXPECT_EQ(fresh->Head("race"), catalog_->Head("race"));
}

TEST_P(CatalogTest, TwoCatalogsOverOneStoreRaceThroughPutIfAbsent) {
  // Two catalog instances with their own store clients: two "processes" whose only shared state
  // is object storage. Put-if-absent must make every acknowledged commit survive.
  auto store2 = t_->Reopen();
  auto other = MakeCatalog(*store2);
  Commit("race", CommitOp::kCreate, {Data("race")});
  other->Rebuild();
  const int each = GetParam() == "s3" ? 5 : 20;
  auto acked = RaceAppends({catalog_.get(), other.get()}, 4, each, [&] { return Data("race"); });
  auto fresh = MakeCatalog(*t_->store);
  fresh->Rebuild();
  ExpectNoneLost(*fresh, acked, 8u * each);

  // A create racing against an existing dataset from a stale instance is still refused.
  auto stale = MakeCatalog(*store2);  // never rebuilt: knows nothing
  EXPECT_EQ(CodeOf([&] {
              stale->Commit({"race", CommitOp::kCreate, SalesSchema(), {}, false, {}, {}});
            }),
            ErrorCode::kConflict);
}

TEST_P(CatalogTest, RebuildRestoresTheSameState) {
  Commit("alpha", CommitOp::kCreate, {Data("alpha", 3)});
  Commit("alpha", CommitOp::kAppend, {Data("alpha", 4)});
  Commit("beta", CommitOp::kCreate, {Data("beta", 5)});
  Commit("beta", CommitOp::kReplace, {Data("beta", 6)});
  Commit("gone", CommitOp::kCreate, {Data("gone", 1)});
  Commit("gone", CommitOp::kDelete, {});

  auto fresh = MakeCatalog(*t_->store);
  fresh->Rebuild();
  auto a = catalog_->List();
  auto b = fresh->List();
  ASSERT_EQ(a.size(), 2u);
  ASSERT_EQ(b.size(), a.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].name, b[i].name);
    EXPECT_EQ(a[i].version, b[i].version);
    EXPECT_EQ(a[i].rows, b[i].rows);
    EXPECT_EQ(a[i].bytes, b[i].bytes);
    EXPECT_EQ(a[i].updated_at_ms, b[i].updated_at_ms);
    EXPECT_EQ(fresh->Head(a[i].name), catalog_->Head(a[i].name));
  }
  EXPECT_EQ(CodeOf([&] { fresh->Head("gone"); }), ErrorCode::kNotFound);
  EXPECT_EQ(fresh->Versions("gone").size(), 2u);
  // The rebuilt catalog continues where the old one stopped.
  CommitRequest r{"gone", CommitOp::kCreate, SalesSchema(), {Data("gone")}, false, {}, {}};
  EXPECT_EQ(fresh->Commit(r)->version, 3u);
}

TEST_P(CatalogTest, TornManifestIsIgnoredAndSkipped) {
  Commit("sales", CommitOp::kCreate, {Data("sales")});
  auto v2 = Commit("sales", CommitOp::kAppend, {Data("sales")});
  // A torn or foreign file where version 3 would go, plus junk keys under _catalog/.
  t_->store->PutBytes(ManifestKey("sales", 3), "{\"dataset\":\"sales\",\"vers");
  t_->store->PutBytes("_catalog/sales/notes.txt", "hello");
  t_->store->PutBytes(ManifestKey("torn", 1), "\x01\x02garbage");

  auto fresh = MakeCatalog(*t_->store);
  fresh->Rebuild();
  EXPECT_EQ(fresh->Head("sales"), v2);
  EXPECT_EQ(fresh->List().size(), 1u);
  EXPECT_EQ(CodeOf([&] { fresh->Head("torn"); }), ErrorCode::kNotFound);
  // The next commit skips the unreadable version number instead of fighting over it.
  CommitRequest r{"sales", CommitOp::kAppend, SalesSchema(), {Data("sales")}, false, {}, {}};
  auto v4 = *fresh->Commit(r);
  EXPECT_EQ(v4.version, 4u);
  EXPECT_EQ(v4.parent_version, 2u);
  EXPECT_EQ(v4.objects.size(), 3u);
  // The writer that still believes the head is 2 learns about 4 through put-if-absent.
  auto v5 = Commit("sales", CommitOp::kAppend, {Data("sales")});
  EXPECT_EQ(v5.version, 5u);
  EXPECT_EQ(v5.objects.size(), 4u);
}

TEST_P(CatalogTest, GarbageCollectionKeepsReferencedAndYoungObjects) {
  auto kept = Data("sales");
  Commit("sales", CommitOp::kCreate, {kept});
  auto replaced = Data("sales");
  Commit("sales", CommitOp::kAppend, {replaced});
  Commit("sales", CommitOp::kReplace, {Data("sales")});  // `replaced` still referenced by v2
  auto orphan = Data("sales");                           // a failed upload: never committed
  t_->store->PutBytes("_staging/abc", "partial upload");

  // Young objects survive (an upload may be about to commit them).
  EXPECT_EQ(catalog_->CollectGarbage(60'000), 0u);
  EXPECT_TRUE(t_->store->Head(orphan.ref.key).has_value());

  EXPECT_EQ(catalog_->CollectGarbage(-60'000), 2u);  // everything counts as old
  EXPECT_FALSE(t_->store->Head(orphan.ref.key).has_value());
  EXPECT_FALSE(t_->store->Head("_staging/abc").has_value());
  EXPECT_TRUE(t_->store->Head(kept.ref.key).has_value());
  EXPECT_TRUE(t_->store->Head(replaced.ref.key).has_value());
  for (const auto& o : catalog_->Head("sales").objects) EXPECT_TRUE(t_->store->Head(o.ref.key).has_value());
  EXPECT_EQ(catalog_->CollectGarbage(-60'000), 0u);
}

TEST_P(CatalogTest, DeletingADatasetFreesItsDataAndHistory) {
  auto first = Data("trips");
  Commit("trips", CommitOp::kCreate, {first});
  auto second = Data("trips");
  Commit("trips", CommitOp::kAppend, {second});
  EXPECT_EQ(catalog_->Get("trips", 2).objects.size(), 2u);
  Commit("trips", CommitOp::kDelete, {});
  auto again = Data("trips");
  auto v4 = Commit("trips", CommitOp::kCreate, {again});  // re-created: history continues at v4

  EXPECT_EQ(catalog_->CollectGarbage(-60'000), 2u);
  EXPECT_FALSE(t_->store->Head(first.ref.key).has_value());
  EXPECT_FALSE(t_->store->Head(second.ref.key).has_value());
  EXPECT_TRUE(t_->store->Head(again.ref.key).has_value()) << "the live version keeps its data";
  EXPECT_EQ(catalog_->Head("trips"), v4);
  std::string message;
  EXPECT_EQ(CodeOf([&] { catalog_->Get("trips", 2); }, &message), ErrorCode::kNotFound);
  EXPECT_NE(message.find("deleted with the dataset at version 3"), std::string::npos) << message;
}

TEST_P(CatalogTest, SnapshotIsACacheNeverTheTruth) {
  Commit("alpha", CommitOp::kCreate, {Data("alpha")});
  Commit("alpha", CommitOp::kAppend, {Data("alpha")});
  Commit("beta", CommitOp::kCreate, {Data("beta")});
  Commit("gone", CommitOp::kCreate, {Data("gone")});
  Commit("gone", CommitOp::kDelete, {});
  catalog_->Checkpoint();
  const std::string key = "_catalog/_snapshot.json";
  ASSERT_TRUE(t_->store->Head(key).has_value());
  // After the checkpoint: a newer alpha, an unreadable beta v2, a brand-new dataset.
  auto alpha3 = Commit("alpha", CommitOp::kAppend, {Data("alpha")});
  t_->store->PutBytes(ManifestKey("beta", 2), "torn");
  auto gamma = Commit("gamma", CommitOp::kCreate, {Data("gamma")});

  auto expect_same = [&](const std::string& label) {
    SCOPED_TRACE(label);
    auto fresh = MakeCatalog(*t_->store);
    fresh->Rebuild();
    EXPECT_EQ(fresh->Head("alpha"), alpha3);
    EXPECT_EQ(fresh->Head("beta"), catalog_->Head("beta"));
    EXPECT_EQ(fresh->Head("gamma"), gamma);
    EXPECT_EQ(CodeOf([&] { fresh->Head("gone"); }), ErrorCode::kNotFound);
    EXPECT_EQ(fresh->List().size(), 3u);
    CommitRequest r{"beta", CommitOp::kAppend, SalesSchema(), {Data("beta")}, false, {}, {}};
    EXPECT_EQ(fresh->Commit(r)->version, 3u);  // skips the torn v2
    t_->store->Delete(ManifestKey("beta", 3));
  };
  expect_same("stale snapshot");
  // A snapshot claiming a version the listing does not show is not used.
  auto forged = catalog_->Head("alpha");
  forged.version = 99;
  t_->store->PutBytes(key, nlohmann::json{{"format", 1}, {"heads", {forged}}}.dump());
  expect_same("forged snapshot");
  t_->store->PutBytes(key, "{\"heads\": [garbage");
  expect_same("unreadable snapshot");
  // Garbage collection refreshes the snapshot; a rebuild from it alone gives the same heads.
  catalog_->CollectGarbage(60'000);
  auto fresh = MakeCatalog(*t_->store);
  fresh->Rebuild();
  EXPECT_EQ(fresh->Head("alpha"), alpha3);
  EXPECT_EQ(fresh->Head("gamma"), gamma);
  // Proof that the snapshot is read: with gamma's manifest made unreadable, its head still comes
  // back (from the snapshot entry, which is a copy of that immutable manifest).
  t_->store->PutBytes(ManifestKey("gamma", 1), "unreadable");
  auto from_snapshot = MakeCatalog(*t_->store);
  from_snapshot->Rebuild();
  EXPECT_EQ(from_snapshot->Head("gamma"), gamma);
}

// issue 13: the manifest records the partitioning; appends keep it; a replace changes it.
TEST_P(CatalogTest, PartitionedCommitsRecordPartitionValuesAndKeepThePartitioning) {
  const Schema schema = {{"id", "BIGINT", true}, {"day", "DATE", true}, {"price", "DOUBLE", true}};
  auto part = [&](const std::optional<std::string>& day) {
    PartitionValues values{{"day", day}};
    std::string key = NewPartitionedDataKey("sales", {"day"}, values);
    auto info = t_->store->PutBytes(key, "PAR1-not-really-parquet-" + key);
    return DataObject{ObjectRef{t_->store->Bucket(), key, info.size, info.etag}, 10, values};
  };
  auto commit = [&](CommitOp op, std::vector<DataObject> objects, std::vector<std::string> partition_by, Schema s) {
    CommitRequest r;
    r.dataset = "sales";
    r.op = op;
    r.schema = std::move(s);
    r.objects = std::move(objects);
    r.partition_by = std::move(partition_by);
    return *catalog_->Commit(r);
  };
  auto v1 = commit(CommitOp::kCreate, {part("2024-01-01"), part(std::nullopt)}, {"day"}, schema);
  EXPECT_EQ(v1.partition_by, std::vector<std::string>{"day"});
  ASSERT_EQ(v1.objects.size(), 2u);
  EXPECT_EQ(v1.objects[1].partition_values.at("day"), std::nullopt);
  EXPECT_TRUE(v1.objects[0].ref.key.starts_with("data/sales/day=2024-01-01/")) << v1.objects[0].ref.key;
  EXPECT_TRUE(v1.objects[1].ref.key.starts_with("data/sales/day=NULL/")) << v1.objects[1].ref.key;
  // Stored and read back (also after a rebuild) exactly.
  auto stored = nlohmann::json::parse(t_->store->GetBytes(ManifestKey("sales", 1)));
  EXPECT_EQ(stored["partition_by"], nlohmann::json::array({"day"}));
  EXPECT_EQ(stored["objects"][0]["partition_values"], nlohmann::json({{"day", "2024-01-01"}}));
  EXPECT_TRUE(stored["objects"][1]["partition_values"]["day"].is_null());
  auto fresh = MakeCatalog(*t_->store);
  fresh->Rebuild();
  EXPECT_EQ(fresh->Head("sales"), v1);

  auto v2 = commit(CommitOp::kAppend, {part("2024-01-02")}, {"day"}, schema);
  EXPECT_EQ(v2.partition_by, v1.partition_by);
  EXPECT_EQ(v2.objects.size(), 3u);
  std::string message;
  // An append partitioned otherwise (a replace repartitioned the dataset meanwhile) is a conflict.
  EXPECT_EQ(CodeOf([&] { commit(CommitOp::kAppend, {Data("sales")}, {}, schema); }, &message), ErrorCode::kConflict);
  EXPECT_NE(message.find("is partitioned by (day)"), std::string::npos) << message;
  // A partition column cannot change type by an append, even when schema changes are allowed.
  Schema retyped = {{"id", "BIGINT", true}, {"day", "VARCHAR", true}, {"price", "DOUBLE", true}};
  CommitRequest r;
  r.dataset = "sales";
  r.op = CommitOp::kAppend;
  r.schema = retyped;
  r.objects = {part("x")};
  r.partition_by = {"day"};
  r.allow_schema_change = true;
  EXPECT_EQ(CodeOf([&] { catalog_->Commit(r); }, &message), ErrorCode::kConflict);
  EXPECT_NE(message.find("partition column 'day'"), std::string::npos) << message;
  // Objects must carry a value for each partition column; partition columns must be valid.
  EXPECT_EQ(CodeOf([&] { commit(CommitOp::kAppend, {Data("sales")}, {"day"}, schema); }, &message),
            ErrorCode::kInvalidArgument);
  EXPECT_NE(message.find("partitioned by (day)"), std::string::npos) << message;
  EXPECT_EQ(CodeOf([&] { commit(CommitOp::kReplace, {}, {"price"}, schema); }, &message), ErrorCode::kInvalidArgument);
  EXPECT_NE(message.find("has type DOUBLE"), std::string::npos) << message;
  EXPECT_EQ(catalog_->Head("sales").version, 2u);

  // A replace repartitions (here: no partitioning at all).
  auto v3 = commit(CommitOp::kReplace, {Data("sales")}, {}, schema);
  EXPECT_TRUE(v3.partition_by.empty());
  EXPECT_EQ(t_->store->GetBytes(ManifestKey("sales", 3)).find("partition"), std::string::npos)
      << "an unpartitioned manifest keeps the old format";
}

// issue 13: appends store deltas; a checkpoint every K deltas; every version resolves the same
// after a rebuild, with or without checkpoints and the snapshot.
TEST_P(CatalogTest, AppendsStoreDeltasAndCheckpointsKeepResolvingBounded) {
  catalog_ = MakeCatalog(*t_->store, CatalogOptions{.checkpoint_interval = 5});
  catalog_->Rebuild();
  std::vector<DatasetManifest> committed{Commit("log", CommitOp::kCreate, {Data("log")})};
  for (int i = 0; i < 23; ++i) committed.push_back(Commit("log", CommitOp::kAppend, {Data("log", 3)}));
  ASSERT_EQ(committed.back().version, 24u);
  EXPECT_EQ(committed.back().objects.size(), 24u);
  EXPECT_EQ(committed.back().row_count(), 10u + 23 * 3);

  // An append's manifest holds only what it added: the 24th is as small as the 2nd.
  const auto second = t_->store->GetBytes(ManifestKey("log", 2));
  const auto last = t_->store->GetBytes(ManifestKey("log", 24));
  EXPECT_NE(last.find("\"delta\""), std::string::npos);
  EXPECT_EQ(nlohmann::json::parse(last).count("objects"), 0u) << "a format-1 reader must refuse a delta";
  EXPECT_LT(last.size(), second.size() + 64) << "append manifests grow with history";
  // A checkpoint (complete manifest) after every 5 deltas: versions 6, 11, 16, 21.
  for (uint64_t v : {6u, 11u, 16u, 21u}) {
    ASSERT_TRUE(t_->store->Head(CheckpointKey("log", v)).has_value()) << v;
    EXPECT_EQ(nlohmann::json::parse(t_->store->GetBytes(CheckpointKey("log", v))).at("objects").size(), v);
  }
  EXPECT_FALSE(t_->store->Head(CheckpointKey("log", 7)).has_value());

  auto check_all = [&](const std::string& label) {
    SCOPED_TRACE(label);
    auto fresh = MakeCatalog(*t_->store, CatalogOptions{.checkpoint_interval = 5});
    fresh->Rebuild();
    EXPECT_EQ(fresh->Head("log"), committed.back());
    for (const auto& m : committed) EXPECT_EQ(fresh->Get("log", m.version), m) << m.version;
    auto versions = fresh->Versions("log");
    ASSERT_EQ(versions.size(), committed.size());
    EXPECT_EQ(versions.back().rows, committed.back().row_count());
    EXPECT_EQ(versions[9].bytes, committed[9].byte_count());
  };
  check_all("with checkpoints");
  t_->store->Delete(CheckpointKey("log", 21));
  t_->store->Delete(CheckpointKey("log", 11));
  check_all("two checkpoints missing: longer chains");
  // A fresh catalog keeps appending on top of a resolved delta head.
  auto fresh = MakeCatalog(*t_->store, CatalogOptions{.checkpoint_interval = 5});
  fresh->Rebuild();
  CommitRequest r{"log", CommitOp::kAppend, SalesSchema(), {Data("log", 1)}, false, {}, {}};
  auto v25 = *fresh->Commit(r);
  EXPECT_EQ(v25.objects.size(), 25u);
  committed.push_back(v25);
  // Its catalog knew the chain since the last checkpoint (16) was long: it checkpointed at once.
  EXPECT_TRUE(t_->store->Head(CheckpointKey("log", 25)).has_value());
  t_->store->Delete(CheckpointKey("log", 25));
  // A delta that does not add up (a damaged record) makes its version unreadable, never wrong.
  auto damaged = nlohmann::json::parse(t_->store->GetBytes(ManifestKey("log", 25)));
  damaged["row_count"] = 1;
  t_->store->PutBytes(ManifestKey("log", 25), damaged.dump());
  auto after_damage = MakeCatalog(*t_->store);
  after_damage->Rebuild();
  EXPECT_EQ(after_damage->Head("log"), committed[23]) << "falls back to the newest readable version";
}

// issue 13: a compaction swaps objects for ones with the same rows; appends committed meanwhile
// survive; a replace meanwhile makes it fail with 409 and changes nothing.
TEST_P(CatalogTest, CompactionCommitKeepsConcurrentAppendsAndRefusesAfterReplace) {
  auto a = Data("c", 10);
  auto b = Data("c", 5);
  Commit("c", CommitOp::kCreate, {a});
  Commit("c", CommitOp::kAppend, {b});
  auto appended = Data("c", 7);  // lands after the compactor read version 2
  Commit("c", CommitOp::kAppend, {appended});
  auto merged = Data("c", 15);
  CommitRequest compact{"c", CommitOp::kCompact, SalesSchema(), {merged}, false, {}, {}};
  compact.remove_objects = {a.ref.key, b.ref.key};
  auto v4 = *catalog_->Commit(compact);
  EXPECT_EQ(v4.operation, "compact");
  ASSERT_EQ(v4.objects.size(), 2u);
  EXPECT_EQ(v4.objects[0], appended);
  EXPECT_EQ(v4.objects[1], merged);
  EXPECT_EQ(v4.row_count(), 22u);
  auto fresh = MakeCatalog(*t_->store);
  fresh->Rebuild();
  EXPECT_EQ(fresh->Head("c"), v4);
  EXPECT_EQ(fresh->Get("c", 3).objects.size(), 3u) << "older versions still read their objects";

  // Rows must match; objects must still be there.
  auto wrong = Data("c", 1);
  CommitRequest bad = compact;
  bad.objects = {wrong};
  bad.remove_objects = {appended.ref.key};
  EXPECT_EQ(CodeOf([&] { catalog_->Commit(bad); }), ErrorCode::kInternal) << "rows must match";
  Commit("c", CommitOp::kReplace, {Data("c", 2)});
  std::string message;
  CommitRequest stale = compact;
  stale.objects = {Data("c", 22)};
  stale.remove_objects = {appended.ref.key, merged.ref.key};
  EXPECT_EQ(CodeOf([&] { catalog_->Commit(stale); }, &message), ErrorCode::kConflict);
  EXPECT_NE(message.find("changed while it was being compacted"), std::string::npos) << message;
  EXPECT_EQ(catalog_->Head("c").version, 5u);
}

// issue 13: retention expires old versions (404 "expired"), keeps their objects for the safety
// window (a running query), then deletes them and their catalog files; orphans are reported.
TEST_P(CatalogTest, RetentionExpiresVersionsAndCollectsTheirObjectsAfterTheWindow) {
  catalog_ = MakeCatalog(*t_->store, CatalogOptions{.checkpoint_interval = 3, .retention = {.keep_versions = 2}});
  catalog_->Rebuild();
  std::vector<DataObject> objects;
  for (int i = 0; i < 4; ++i) {
    objects.push_back(Data("r", 10));
    Commit("r", i == 0 ? CommitOp::kCreate : CommitOp::kReplace, {objects.back()});
  }
  // Appends (deltas) on top: the first kept version then needs a checkpoint of its own.
  auto d5 = Data("r", 1);
  auto v5 = Commit("r", CommitOp::kAppend, {d5});
  auto d6 = Data("r", 1);
  auto v6 = Commit("r", CommitOp::kAppend, {d6});
  auto orphan = Data("r");
  auto live_other = Commit("other", CommitOp::kCreate, {Data("other")});
  live_other = Commit("other", CommitOp::kReplace, {Data("other")});

  auto first = catalog_->Collect(60'000);  // inside the window: expire, delete nothing
  EXPECT_EQ(first.versions_expired, 4u);
  EXPECT_EQ(first.objects_deleted, 0u);
  std::string message;
  EXPECT_EQ(CodeOf([&] { catalog_->Get("r", 2); }, &message), ErrorCode::kNotFound);
  EXPECT_NE(message.find("expired"), std::string::npos) << message;
  EXPECT_EQ(catalog_->Get("r", 5), v5);
  EXPECT_EQ(catalog_->Versions("r").size(), 2u);
  for (const auto& o : objects) EXPECT_TRUE(t_->store->Head(o.ref.key).has_value()) << "a query may still read it";
  EXPECT_TRUE(t_->store->Head(CheckpointKey("r", 5)).has_value());

  auto second = catalog_->Collect(-60'000);  // the window has passed
  EXPECT_EQ(second.versions_expired, 0u);
  EXPECT_EQ(second.objects_deleted, 4u);  // objects[0..2] and the orphan
  EXPECT_EQ(second.orphans_deleted, 1u);
  EXPECT_EQ(second.orphan_bytes_deleted, orphan.ref.size);
  EXPECT_EQ(second.bytes_deleted, objects[0].ref.size + objects[1].ref.size + objects[2].ref.size + orphan.ref.size);
  EXPECT_GE(second.manifests_deleted, 4u);
  for (int i = 0; i < 3; ++i) EXPECT_FALSE(t_->store->Head(objects[i].ref.key).has_value());
  for (const auto& o : v6.objects) EXPECT_TRUE(t_->store->Head(o.ref.key).has_value()) << o.ref.key;
  EXPECT_FALSE(t_->store->Head(ManifestKey("r", 1)).has_value());
  // "other" has a replaced version too, but keep_versions = 2 keeps both.
  for (const auto& o : catalog_->Get("other", 1).objects) EXPECT_TRUE(t_->store->Head(o.ref.key).has_value());

  auto fresh = MakeCatalog(*t_->store);
  fresh->Rebuild();
  EXPECT_EQ(fresh->Head("r"), v6);
  EXPECT_EQ(fresh->Get("r", 5), v5);
  EXPECT_EQ(CodeOf([&] { fresh->Get("r", 4); }, &message), ErrorCode::kNotFound);
  EXPECT_NE(message.find("expired"), std::string::npos) << message;
  EXPECT_EQ(fresh->Versions("r").size(), 2u);
  EXPECT_EQ(catalog_->Collect(-60'000).objects_deleted, 0u);

  // A dataset's own policy (a properties commit) overrides the default.
  CommitRequest keep_one{"other", CommitOp::kSetProperties, {}, {}, false, {}, {{"keep_versions", "1"}}};
  auto v3 = *catalog_->Commit(keep_one);
  EXPECT_EQ(v3.objects, live_other.objects);
  EXPECT_EQ(catalog_->Collect(-60'000).versions_expired, 2u);
  EXPECT_EQ(catalog_->Versions("other").size(), 1u);
  EXPECT_EQ(catalog_->Head("other").objects, live_other.objects);
  for (const auto& o : live_other.objects) EXPECT_TRUE(t_->store->Head(o.ref.key).has_value());
}

INSTANTIATE_TEST_SUITE_P(Local, CatalogTest, ::testing::Values("local"));
INSTANTIATE_TEST_SUITE_P(S3, CatalogTest, ::testing::Values("s3"));

TEST(SchemaDiff, NamesEveryDifferingColumn) {
  Schema a = {{"id", "BIGINT", true}, {"price", "DOUBLE", true}, {"note", "VARCHAR", true}};
  Schema b = {{"id", "BIGINT", false}, {"price", "VARCHAR", true}, {"qty", "INTEGER", true}};
  EXPECT_EQ(DescribeSchemaDiff(a, b),
            "id: nullable -> not null; price: DOUBLE -> VARCHAR; removed note (VARCHAR); added qty (INTEGER)");
  EXPECT_EQ(DescribeSchemaDiff(a, a), "");
  Schema swapped = {a[1], a[0], a[2]};
  EXPECT_EQ(DescribeSchemaDiff(a, swapped), "column order id,price,note -> price,id,note");
}

TEST(Layout, KeysFollowTheDocumentedLayout) {
  EXPECT_EQ(ManifestKey("sales", 42), "_catalog/sales/00000000000000000042.json");
  EXPECT_EQ(ManifestPrefix("sales"), "_catalog/sales/");
  auto key = NewDataKey("sales");
  EXPECT_TRUE(key.starts_with("data/sales/")) << key;
  EXPECT_TRUE(key.ends_with(".parquet")) << key;
  EXPECT_NE(NewDataKey("sales"), key);

  // Partitioned: one hive-style segment per partition column, in partition_by order.
  auto part = NewPartitionedDataKey("sales", {"region", "day"}, {{"day", "2024-03-01"}, {"region", "eu west/2"}});
  EXPECT_TRUE(part.starts_with("data/sales/region=eu%20west%2F2/day=2024-03-01/")) << part;
  EXPECT_TRUE(part.ends_with(".parquet")) << part;
  EXPECT_EQ(EncodePartitionValue(std::nullopt), "NULL");
  const std::pair<std::string, std::string> encoded[] = {
      {"NULL", "%4EULL"},  // the string, not SQL NULL
      {"nUlL", "%6EUlL"},     {"__HIVE_DEFAULT_PARTITION__", "%5F_HIVE_DEFAULT_PARTITION__"},
      {"a=b%c", "a%3Db%25c"}, {"", ""},
      {"-12.5_~", "-12.5_~"}, {"\xC3\xA9", "%C3%A9"},
  };
  for (const auto& [value, key] : encoded) EXPECT_EQ(EncodePartitionValue(value), key) << value;
  try {
    NewPartitionedDataKey("sales", {"s"}, {{"s", std::string(250, 'x')}});
    ADD_FAILURE() << "a 250-byte value made a key";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
  }
}

TEST(Layout, PartitionColumnsAreResolvedAgainstTheSchema) {
  Schema schema = {{"id", "BIGINT", true},           {"Day", "DATE", true},
                   {"ok", "BOOLEAN", true},          {"n", "UTINYINT", true},
                   {"price", "DECIMAL(18,3)", true}, {"at", "TIMESTAMP", true}};
  EXPECT_EQ(ResolvePartitionColumns(schema, {"day", "OK", "n", "id"}),
            (std::vector<std::string>{"Day", "ok", "n", "id"}));
  EXPECT_TRUE(ResolvePartitionColumns(schema, {}).empty());
  for (const auto& [columns, needle] : std::vector<std::pair<std::vector<std::string>, std::string>>{
           {{"price"}, "'price' has type DECIMAL(18,3); partition columns must be integers"},
           {{"at"}, "'at' has type TIMESTAMP"},
           {{"nope"}, "'nope' is not a column of the data; its columns are: id, Day, ok, n, price, at"},
           {{"id", "ID"}, "'id' is named twice"},
           {{"a b"}, "letters, digits and '_'"},
           {{""}, "letters, digits and '_'"}}) {
    try {
      ResolvePartitionColumns(schema, columns);
      ADD_FAILURE() << needle;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  }
}

TEST(Layout, ManifestsWithoutPartitioningStillRead) {
  // A manifest written before issue 13 (no partition_by, no partition_values) reads as unpartitioned.
  auto old = nlohmann::json::parse(R"({"format": 1, "dataset": "sales", "version": 3, "parent_version": 2,
    "operation": "append", "created_at_ms": 1795990000000, "tombstone": false, "schema_version": 1,
    "schema": [{"name": "id", "type": "BIGINT", "nullable": true}], "fingerprint": "abc",
    "objects": [{"bucket": "local", "key": "data/sales/x.parquet", "size": 10, "etag": "e", "row_count": 4}],
    "properties": {}})")
                 .get<DatasetManifest>();
  EXPECT_TRUE(old.partition_by.empty());
  ASSERT_EQ(old.objects.size(), 1u);
  EXPECT_TRUE(old.objects[0].partition_values.empty());
  EXPECT_EQ(nlohmann::json(old).dump().find("partition"), std::string::npos);
}

}  // namespace
}  // namespace lakehouse::catalogd

namespace lakehouse::catalogd {
namespace {

TEST(Unreachable, StorageDownIsUnavailableWithAnUnknownOutcome) {
  // A real S3 client against a port nobody listens on: every request fails to connect.
  storaged::S3StoreOptions o = testing::OfflineS3Options();
  o.timeout_ms = 2000;
  auto store = storaged::MakeS3Store(o);
  auto catalog = MakeCatalog(*store);
  try {
    catalog->Rebuild();
    FAIL() << "rebuild without storage succeeded";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kUnavailable) << e.what();
  }
  CommitRequest r{"sales", CommitOp::kCreate, {{"id", "BIGINT", true}}, {}, false, {}, {}};
  try {
    catalog->Commit(r);
    FAIL() << "commit without storage succeeded";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kUnavailable) << e.what();
    EXPECT_NE(std::string(e.what()).find("outcome is unknown"), std::string::npos) << e.what();
  }
  EXPECT_TRUE(catalog->List().empty());
  EXPECT_THROW(catalog->Head("sales"), Error);
}

}  // namespace
}  // namespace lakehouse::catalogd
