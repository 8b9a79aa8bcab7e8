#include <gtest/gtest.h>

#include "lakehouse/iceberg/iceberg.h"

namespace lakehouse::iceberg {
namespace {

TEST(IcebergTypes, MapsDuckDbTypes) {
  EXPECT_EQ(IcebergType("BIGINT"), "long");
  EXPECT_EQ(IcebergType("INTEGER"), "int");
  EXPECT_EQ(IcebergType("VARCHAR"), "string");
  EXPECT_EQ(IcebergType("DECIMAL(18,3)"), "decimal(18, 3)");
  EXPECT_EQ(IcebergType("TIMESTAMP WITH TIME ZONE"), "timestamptz");
  EXPECT_EQ(IcebergType("HUGEINT"), "");
  EXPECT_EQ(IcebergType("INTEGER[]"), "");
  EXPECT_EQ(IcebergType("INTERVAL"), "");
}

TEST(IcebergTypes, SingleValueSerialisation) {
  EXPECT_EQ(SingleValue("int", "1"), std::string("\x01\x00\x00\x00", 4));
  EXPECT_EQ(SingleValue("long", "-1"), std::string(8, '\xff'));
  EXPECT_EQ(SingleValue("date", "1970-01-02"), std::string("\x01\x00\x00\x00", 4));
  EXPECT_EQ(SingleValue("timestamp", "1970-01-01 00:00:01"), std::string("\x40\x42\x0f\x00\x00\x00\x00\x00", 8));
  EXPECT_EQ(SingleValue("string", "abc"), "abc");
  EXPECT_EQ(SingleValue("boolean", "true"), std::string(1, '\x01'));
  // Decimal: unscaled, big-endian two's complement, fewest bytes.
  EXPECT_EQ(SingleValue("decimal(9, 2)", "1.00"), std::string("\x64", 1));
  EXPECT_EQ(SingleValue("decimal(9, 2)", "-1.28"), std::string("\x80", 1));
  EXPECT_EQ(SingleValue("decimal(9, 2)", "-0.01"), std::string("\xff", 1));
  EXPECT_EQ(SingleValue("long", "x"), std::nullopt);
  EXPECT_EQ(SingleValue("double", "nan"), std::nullopt);
  EXPECT_EQ(SingleValue("uuid", "00000000-0000-0000-0000-000000000000"), std::nullopt);
}

}  // namespace
}  // namespace lakehouse::iceberg

#include <avro.h>

#include <cstdio>
#include <filesystem>

#include "../src/avro.h"
#include "lakehouse/catalogd/catalog.h"
#include "lakehouse/shared/error.h"
#include "lakehouse/storaged/object_store.h"

namespace lakehouse::iceberg {
namespace {

//! A catalog (rebuilt, so empty) on a local store in a fresh temp folder, removed at the end.
struct LocalCatalog {
  explicit LocalCatalog(const std::string& prefix)
      : dir(std::filesystem::temp_directory_path() / (prefix + RandomHexId())),
        store(storaged::MakeLocalStore({.root = dir.string(), .presign_secret = ""})),
        catalog(catalogd::MakeCatalog(*store)) {
    catalog->Rebuild();
  }
  ~LocalCatalog() { std::filesystem::remove_all(dir); }
  LocalCatalog(const LocalCatalog&) = delete;
  LocalCatalog& operator=(const LocalCatalog&) = delete;

  std::filesystem::path dir;
  std::unique_ptr<storaged::ObjectStore> store;
  std::unique_ptr<catalogd::Catalog> catalog;
};

//! Reads an Avro container file back with libavro: the record count, and the header's schema text.
size_t CountRecords(const std::string& bytes) {
  auto path = std::filesystem::temp_directory_path() / ("iceberg-test-" + RandomHexId() + ".avro");
  {
    FILE* f = std::fopen(path.c_str(), "wb");
    std::fwrite(bytes.data(), 1, bytes.size(), f);
    std::fclose(f);
  }
  avro_file_reader_t reader = nullptr;
  EXPECT_EQ(avro_file_reader(path.c_str(), &reader), 0) << avro_strerror();
  avro_schema_t schema = avro_file_reader_get_writer_schema(reader);
  avro_value_iface_t* iface = avro_generic_class_from_schema(schema);
  avro_value_t value;
  avro_generic_value_new(iface, &value);
  size_t n = 0;
  while (avro_file_reader_read_value(reader, &value) == 0) ++n;
  avro_value_decref(&value);
  avro_value_iface_decref(iface);
  avro_schema_decref(schema);  // avro_file_reader_get_writer_schema hands out a new reference
  avro_file_reader_close(reader);
  std::filesystem::remove(path);
  return n;
}

TEST(IcebergAvro, ManifestAndListReadBackWithFieldIdsAndMetadata) {
  std::vector<ManifestEntry> entries(3);
  for (size_t i = 0; i < entries.size(); ++i) {
    entries[i].file_path = "file:///x/" + std::to_string(i) + ".parquet";
    entries[i].record_count = 10;
    entries[i].value_counts[1] = 10;
    entries[i].lower_bounds[1] = std::string("\0\0\0\0", 4);
  }
  std::string manifest = EncodeManifest(entries, {{"schema-id", "0"}, {"format-version", "2"}});
  EXPECT_EQ(CountRecords(manifest), 3U);
  EXPECT_NE(manifest.find("\"field-id\":2"), std::string::npos);
  EXPECT_NE(manifest.find("schema-id"), std::string::npos);

  std::vector<ManifestFile> files(2);
  files[0].manifest_path = "file:///x/m0.avro";
  files[1].manifest_path = "file:///x/m1.avro";
  std::string list = EncodeManifestList(files, {{"snapshot-id", "7"}});
  EXPECT_EQ(CountRecords(list), 2U);
  EXPECT_NE(list.find("\"field-id\":500"), std::string::npos);
  EXPECT_EQ(CountRecords(EncodeManifestList({}, {})), 0U);
}

TEST(IcebergTables, CommitsBecomeSnapshotsAndMissingMetadataIsRegenerated) {
  LocalCatalog local("iceberg-tables-");
  auto& store = local.store;
  auto& catalog = local.catalog;
  auto tables = MakeIcebergTables(*store, *catalog, {});
  catalog->AddListener([&](const DatasetManifest& m) { tables->OnCommit(m); });

  auto commit = [&](catalogd::CommitOp op, Schema schema, bool allow_change) {
    std::string key = catalogd::NewDataKey("t");
    store->PutBytes(key, "PAR1 not really parquet PAR1");
    catalogd::CommitRequest r;
    r.dataset = "t";
    r.op = op;
    r.schema = std::move(schema);
    r.allow_schema_change = allow_change;
    r.objects = {DataObject{ObjectRef{"local", key, 28, ""}, 5, {}, {ColumnStats{"a", 5, 1, 0, "1", "9"}}}};
    return *catalog->Commit(r);
  };
  commit(catalogd::CommitOp::kCreate, {{"a", "BIGINT", true}}, false);
  commit(catalogd::CommitOp::kAppend, {{"a", "BIGINT", true}, {"b", "INTEGER[]", true}}, true);
  commit(catalogd::CommitOp::kReplace, {{"a", "BIGINT", true}}, true);
  tables->Flush();
  ASSERT_TRUE(store->Head(catalogd::IcebergMetadataKey("t", 3)));

  LoadedTable t = tables->Load("t");
  EXPECT_EQ(t.metadata["current-snapshot-id"], 3);
  EXPECT_EQ(t.metadata["snapshots"].size(), 3U);
  EXPECT_EQ(t.metadata["snapshots"][2]["summary"]["operation"], "overwrite");
  EXPECT_EQ(t.metadata["snapshots"][2]["summary"]["deleted-data-files"], "2");
  EXPECT_EQ(t.metadata["schemas"].size(), 1U);  // b has no Iceberg type: same field list

  // Lost metadata (a crash after our commit) comes back, identical, on the next load.
  std::string before = store->GetBytes(catalogd::IcebergMetadataKey("t", 3));
  store->Delete(catalogd::IcebergMetadataKey("t", 3));
  auto fresh = MakeIcebergTables(*store, *catalog, {});
  EXPECT_EQ(fresh->Load("t").metadata, t.metadata);
  EXPECT_EQ(store->GetBytes(catalogd::IcebergMetadataKey("t", 3)), before);

  // Switched off: nothing is written and Load says why.
  IcebergOptions off;
  off.enabled = false;
  EXPECT_THROW(MakeIcebergTables(*store, *catalog, off)->Load("t"), Error);
  tables.reset();
}

}  // namespace
}  // namespace lakehouse::iceberg

namespace lakehouse::iceberg {
namespace {

//! Every Iceberg object of `dataset` in the store.
std::vector<std::string> IcebergKeys(storaged::ObjectStore& store, const std::string& dataset) {
  std::vector<std::string> keys;
  for (const auto& info : store.ListAll(catalogd::IcebergTablePrefix(dataset))) keys.push_back(info.key);
  return keys;
}

}  // namespace

TEST(IcebergTables, DeletingADatasetRemovesItsMetadataAndARestartFinishesAHalfDoneCleanup) {
  LocalCatalog local("iceberg-delete-");
  auto& store = local.store;
  auto& catalog = local.catalog;
  std::unique_ptr<IcebergTables> tables = MakeIcebergTables(*store, *catalog, {});
  catalog->AddListener([&](const DatasetManifest& m) {
    if (tables) tables->OnCommit(m);
  });
  auto commit = [&](const std::string& dataset, catalogd::CommitOp op) {
    catalogd::CommitRequest r;
    r.dataset = dataset;
    r.op = op;
    if (op != catalogd::CommitOp::kDelete) {
      std::string key = catalogd::NewDataKey(dataset);
      store->PutBytes(key, "PAR1 not really parquet PAR1");
      r.schema = {{"a", "BIGINT", true}};
      r.objects = {DataObject{ObjectRef{"local", key, 28, ""}, 5, {}, {ColumnStats{"a", 5, 1, 0, "1", "9"}}}};
    }
    return *catalog->Commit(r);
  };

  // Two tables; deleting one removes all its metadata (JSON, manifest lists, manifests) and
  // nothing of the other.
  commit("gone", catalogd::CommitOp::kCreate);
  commit("gone", catalogd::CommitOp::kAppend);
  commit("kept", catalogd::CommitOp::kCreate);
  tables->Flush();
  const auto kept_before = IcebergKeys(*store, "kept");
  ASSERT_EQ(IcebergKeys(*store, "gone").size(), 2U * 3U);  // per version: JSON, list, one manifest
  ASSERT_EQ(kept_before.size(), 3U);
  EXPECT_EQ(commit("gone", catalogd::CommitOp::kDelete).version, 3U);
  tables->Flush();
  EXPECT_EQ(IcebergKeys(*store, "gone"), std::vector<std::string>{});
  EXPECT_EQ(IcebergKeys(*store, "kept"), kept_before);
  EXPECT_THROW(tables->Load("gone"), Error);
  // Data objects are the garbage collector's business, not this cleanup's.
  EXPECT_EQ(store->ListAll("data/gone/").size(), 2U);

  // Created again: a new table whose metadata starts after the delete and loads.
  commit("gone", catalogd::CommitOp::kCreate);
  tables->Flush();
  EXPECT_EQ(IcebergKeys(*store, "gone").size(), 3U);
  EXPECT_EQ(tables->Load("gone").metadata["current-snapshot-id"], 4);
  commit("dead", catalogd::CommitOp::kCreate);
  tables->Flush();
  ASSERT_EQ(IcebergKeys(*store, "dead").size(), 3U);

  // A crash halfway through a cleanup: the delete (v5) is committed while no writer runs, and
  // of the old table's metadata only the JSON of v4 is gone (the cleanup's first step); then the
  // dataset is created again (v6) before the restart. The restart removes the rest of v4's
  // objects and keeps the live table's (v6).
  // "dead" is deleted while no writer runs and stays deleted: only the start's sweep sees it.
  tables.reset();
  commit("dead", catalogd::CommitOp::kDelete);
  commit("gone", catalogd::CommitOp::kDelete);
  store->Delete(catalogd::IcebergMetadataKey("gone", 4));
  commit("gone", catalogd::CommitOp::kCreate);
  tables = MakeIcebergTables(*store, *catalog, {});
  // Metadata of the live table written by a writer that ran before (its v6 files) survives too.
  tables->SyncAll();
  const auto after = IcebergKeys(*store, "gone");
  ASSERT_EQ(after.size(), 3U);
  for (const auto& key : after) EXPECT_NE(key.find("00000000000000000006"), std::string::npos) << key;
  LoadedTable live = tables->Load("gone");
  EXPECT_EQ(live.metadata["current-snapshot-id"], 6);
  EXPECT_EQ(live.metadata["snapshots"].size(), 1U);
  EXPECT_EQ(IcebergKeys(*store, "dead"), std::vector<std::string>{});
  EXPECT_EQ(IcebergKeys(*store, "kept"), kept_before);

  // Idempotent: another start with nothing to clean removes nothing.
  MakeIcebergTables(*store, *catalog, {})->SyncAll();
  EXPECT_EQ(IcebergKeys(*store, "gone"), after);

  // Keys that are not the layout's (a stray object) are never removed.
  store->PutBytes(catalogd::IcebergTablePrefix("gone") + "metadata/notes.txt", "x");
  commit("gone", catalogd::CommitOp::kDelete);
  tables->Flush();
  EXPECT_EQ(IcebergKeys(*store, "gone"),
            std::vector<std::string>{catalogd::IcebergTablePrefix("gone") + "metadata/notes.txt"});
  tables.reset();
}

}  // namespace lakehouse::iceberg

namespace lakehouse::iceberg {

// issue 13: when retention expires versions, their Iceberg metadata goes too (after the safety
// window), except the manifests the oldest kept snapshot still lists; the live table stays whole,
// also for a writer started after the expiry (its first new snapshot rewrites the manifests).
TEST(IcebergTables, ExpiredVersionsLoseTheirMetadataAndTheLiveTableStaysWhole) {
  LocalCatalog local("iceberg-expire-");
  auto& store = local.store;
  auto& catalog = local.catalog;
  std::unique_ptr<IcebergTables> tables = MakeIcebergTables(*store, *catalog, {});
  catalog->AddListener([&](const DatasetManifest& m) {
    if (tables) tables->OnCommit(m);
  });
  auto object = [&] {
    std::string key = catalogd::NewDataKey("t");
    store->PutBytes(key, "PAR1 not really parquet PAR1");
    return DataObject{ObjectRef{"local", key, 28, ""}, 5, {}, {ColumnStats{"a", 5, 1, 0, "1", "9"}}};
  };
  auto commit = [&](catalogd::CommitOp op, std::vector<DataObject> objects, std::vector<std::string> remove = {},
                    std::map<std::string, std::string> properties = {}) {
    catalogd::CommitRequest r;
    r.dataset = "t";
    r.op = op;
    r.schema = {{"a", "BIGINT", true}};
    r.objects = std::move(objects);
    r.remove_objects = std::move(remove);
    r.properties = std::move(properties);
    return *catalog->Commit(r);
  };
  const auto a = object(), b = object(), c = object(), d = object();
  commit(catalogd::CommitOp::kCreate, {a});                                      // v1: 1-m0 [a]
  commit(catalogd::CommitOp::kAppend, {b});                                      // v2: 2-m0 [b]
  commit(catalogd::CommitOp::kCompact, {c}, {b.ref.key});                        // v3: 3-m0 [c], 3-m1 [b deleted]
  commit(catalogd::CommitOp::kAppend, {d});                                      // v4: 4-m0 [d]; lists 1-m0, 3-m0
  commit(catalogd::CommitOp::kSetProperties, {}, {}, {{"keep_versions", "2"}});  // v5
  tables->Flush();
  ASSERT_EQ(tables->Load("t").metadata["snapshots"].size(), 5U);

  // Within the window nothing goes; after it, versions 1-3 lose their metadata JSONs, manifest
  // lists and the manifests snapshot 4 does not list (2-m0, 3-m1).
  catalog->Collect(int64_t{3'600'000});
  EXPECT_EQ(tables->CollectExpired(int64_t{3'600'000}), 0U);
  ASSERT_EQ(catalog->Versions("t").front().version, 4U);
  EXPECT_EQ(tables->CollectExpired(-1), 3U + 3U + 2U);
  std::vector<std::string> want = {catalogd::IcebergManifestKey("t", 1, 0), catalogd::IcebergManifestKey("t", 3, 0),
                                   catalogd::IcebergMetadataKey("t", 4),    catalogd::IcebergMetadataKey("t", 5),
                                   catalogd::IcebergManifestKey("t", 4, 0), catalogd::IcebergManifestListKey("t", 4),
                                   catalogd::IcebergManifestListKey("t", 5)};
  std::sort(want.begin(), want.end());
  auto have = IcebergKeys(*store, "t");
  std::sort(have.begin(), have.end());
  EXPECT_EQ(have, want);
  EXPECT_EQ(tables->CollectExpired(-1), 0U);  // idempotent

  // Whatever the current snapshot lists exists, and holds the live files (a, c, d).
  auto listed = [&](uint64_t version) {
    size_t entries = 0;
    for (const auto& path : ManifestListPaths(store->GetBytes(catalogd::IcebergManifestListKey("t", version)))) {
      const std::string key = path.substr(path.find("/_iceberg/") + 1);
      EXPECT_TRUE(store->Head(key)) << "snapshot " << version << " lists a missing manifest " << key;
      if (store->Head(key)) entries += CountRecords(store->GetBytes(key));
    }
    return entries;
  };
  EXPECT_EQ(listed(5), 3U);
  const auto loaded = tables->Load("t").metadata;
  ASSERT_EQ(loaded["snapshots"].size(), 2U) << "the expired snapshots leave the answered metadata";
  EXPECT_EQ(loaded["snapshots"][0]["snapshot-id"], 4);
  const std::string uuid = loaded["table-uuid"];

  // A writer started after the expiry folds from version 4 and its next snapshot stands on its
  // own: the same table, every live file listed once.
  tables = MakeIcebergTables(*store, *catalog, {});
  const auto e = object();
  commit(catalogd::CommitOp::kAppend, {e});  // v6
  tables->Flush();
  const auto after = tables->Load("t").metadata;
  EXPECT_EQ(after["current-snapshot-id"], 6);
  EXPECT_EQ(after["table-uuid"], uuid);
  EXPECT_EQ(after["snapshots"].back()["summary"]["total-data-files"], "4");
  EXPECT_EQ(listed(6), 4U) << "a, c, d as EXISTING and e as ADDED";
  tables.reset();
}

}  // namespace lakehouse::iceberg
