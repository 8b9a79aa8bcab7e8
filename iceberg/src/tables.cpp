// Iceberg table metadata derived from the catalog's manifests, one snapshot per version.
//
// The metadata of a version is a pure function of the dataset's history up to that version, so
// writing it again after a crash gives the same objects (same keys, same lengths). Objects are
// written manifests first, then the manifest list, then the metadata JSON, each with
// put-if-absent: a metadata JSON that exists implies everything it points at exists.
#include <algorithm>
#include <condition_variable>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "avro.h"
#include "internal.h"
#include "lakehouse/catalogd/catalog.h"
#include "lakehouse/iceberg/iceberg.h"
#include "lakehouse/shared/error.h"
#include "lakehouse/shared/logging.h"
#include "lakehouse/storaged/object_store.h"

namespace lakehouse::iceberg {

namespace {

using nlohmann::json;

//! A data file that is live in the current snapshot, with where it came from.
struct LiveFile {
  DataObject object;
  int64_t snapshot_id = 0;      //!< snapshot that added it
  int64_t sequence_number = 0;  //!< its data sequence number
};

//! A manifest in the current manifest list, with the files still live in it.
struct ManifestRef {
  ManifestFile file;
  std::vector<LiveFile> live;
};

struct Field {
  int32_t id = 0;
  std::string type;  //!< Iceberg type
};

//! Everything needed to write the next snapshot without rereading history.
struct TableState {
  uint64_t version = 0;  //!< last version folded in (0: none)
  bool live = false;     //!< false before the first version and after a tombstone
  std::string uuid;
  int32_t last_column_id = 0;
  std::map<std::string, Field> fields;  //!< by column name: ids are never reused
  json schemas = json::array();
  json current_fields = json::array();
  int current_schema_id = -1;
  json snapshots = json::array();
  json snapshot_log = json::array();
  int64_t last_updated_ms = 0;
  std::vector<ManifestRef> manifests;
  std::vector<std::string> unmapped;  //!< columns with no Iceberg type in the current schema
  //! Name-mapping entries of unmapped columns (by name: DuckDB type + entry). They take ids outside
  //! the schema so readers that apply the mapping to a whole Parquet file find every column.
  std::map<std::string, std::pair<std::string, json>> unmapped_mapping;
  //! Folded from a version whose earlier history expired (retention): `manifests` then describe
  //! the live files, but not the manifest files the stored snapshots list, so the next snapshot
  //! written rewrites them all (Fold) instead of listing them.
  bool rebased = false;
};

//! Splits "a, b(c, d), e" at top-level commas.
std::vector<std::string> SplitTopLevel(std::string_view s) {
  std::vector<std::string> parts;
  int depth = 0;
  bool quoted = false;
  std::string cur;
  for (char c : s) {
    if (c == '"') quoted = !quoted;
    if (!quoted && (c == '(' || c == '[')) ++depth;
    if (!quoted && (c == ')' || c == ']')) --depth;
    if (!quoted && depth == 0 && c == ',') {
      parts.push_back(cur);
      cur.clear();
      continue;
    }
    if (!(cur.empty() && c == ' ')) cur += c;
  }
  if (!cur.empty()) parts.push_back(cur);
  return parts;
}

//! A name-mapping entry for a column of DuckDB type `type`, nested fields included (Parquet names:
//! LIST/ARRAY -> element, MAP -> key/value, STRUCT -> its fields), ids taken from `next_id`.
json MappingEntry(const std::string& name, const std::string& type, int32_t& next_id) {
  json entry = {{"field-id", ++next_id}, {"names", {name}}};
  json children = json::array();
  if (type.ends_with("]")) {
    size_t open = type.rfind('[');
    children.push_back(MappingEntry("element", type.substr(0, open), next_id));
  } else if (type.starts_with("STRUCT(") && type.ends_with(")")) {
    for (const auto& part : SplitTopLevel(std::string_view(type).substr(7, type.size() - 8))) {
      size_t space = part.starts_with('"') ? part.find('"', 1) + 1 : part.find(' ');
      if (space == std::string::npos || space >= part.size()) continue;
      std::string child = part.substr(0, space);
      if (child.size() >= 2 && child.front() == '"') child = child.substr(1, child.size() - 2);
      children.push_back(MappingEntry(child, part.substr(space + 1), next_id));
    }
  } else if (type.starts_with("MAP(") && type.ends_with(")")) {
    auto kv = SplitTopLevel(std::string_view(type).substr(4, type.size() - 5));
    if (kv.size() == 2) {
      children.push_back(MappingEntry("key", kv[0], next_id));
      children.push_back(MappingEntry("value", kv[1], next_id));
    }
  }
  if (!children.empty()) entry["fields"] = children;
  return entry;
}

//! Type promotions Iceberg allows in schema evolution (spec: "Schema Evolution").
bool CanPromote(const std::string& from, const std::string& to) {
  if (from == to) return true;
  if (from == "int" && to == "long") return true;
  if (from == "float" && to == "double") return true;
  if (from.starts_with("decimal(") && to.starts_with("decimal(")) {
    int p1 = 0, s1 = 0, p2 = 0, s2 = 0;
    if (std::sscanf(from.c_str(), "decimal(%d, %d)", &p1, &s1) == 2 &&
        std::sscanf(to.c_str(), "decimal(%d, %d)", &p2, &s2) == 2) {
      return s1 == s2 && p2 >= p1;
    }
  }
  return false;
}

//! A stable table uuid (RFC 4122 layout) for one life of a dataset (a re-created dataset is a new table).
std::string TableUuid(const std::string& dataset, uint64_t first_version) {
  std::string h = Sha256Hex("lakehouse-iceberg:" + dataset + ":" + std::to_string(first_version)).substr(0, 32);
  h[12] = '4';
  h[16] = "89ab"[h[16] % 4];
  return h.substr(0, 8) + "-" + h.substr(8, 4) + "-" + h.substr(12, 4) + "-" + h.substr(16, 4) + "-" + h.substr(20);
}

//! The version an Iceberg metadata key of `dataset` was written for, with the order a cleanup
//! removes it in (0 metadata JSON, 1 manifest list, 2 manifest: pointers before what they point
//! at, so a half-done cleanup never leaves a metadata file that names a missing object). The key
//! must be exactly one catalogd's layout builds; anything else is nullopt (and never removed).
std::optional<std::pair<uint64_t, int>> IcebergKeyVersion(const std::string& dataset, const std::string& key) {
  const std::string dir = catalogd::IcebergTablePrefix(dataset) + "metadata/";
  if (!key.starts_with(dir)) return std::nullopt;
  std::string_view name = std::string_view(key).substr(dir.size());
  int order = 0;
  if (name.starts_with("snap-")) {
    name.remove_prefix(5);
    order = 1;
  }
  constexpr size_t kDigits = 20;
  if (name.size() < kDigits || name.substr(0, kDigits).find_first_not_of("0123456789") != std::string_view::npos) {
    return std::nullopt;
  }
  const uint64_t version = std::stoull(std::string(name.substr(0, kDigits)));
  if (order == 1) {
    if (key != catalogd::IcebergManifestListKey(dataset, version)) return std::nullopt;
  } else if (key == catalogd::IcebergMetadataKey(dataset, version)) {
    order = 0;
  } else {
    const std::string_view rest = name.substr(kDigits);  // "-m<n>.avro"
    int index = -1;
    if (rest.starts_with("-m") && rest.ends_with(".avro")) {
      const std::string digits(rest.substr(2, rest.size() - 7));
      if (!digits.empty() && digits.size() < 9 && digits.find_first_not_of("0123456789") == std::string::npos) {
        index = std::stoi(digits);
      }
    }
    if (index < 0 || key != catalogd::IcebergManifestKey(dataset, version, index)) return std::nullopt;
    order = 2;
  }
  return std::pair{version, order};
}

//! "_iceberg/": the root of every table location (catalogd's IcebergTablePrefix without a dataset).
std::string IcebergRoot() {
  const std::string probe = catalogd::IcebergTablePrefix("x");
  return probe.substr(0, probe.size() - 2);
}

class Tables final : public IcebergTables {
 public:
  Tables(storaged::ObjectStore& store, catalogd::Catalog& catalog, IcebergOptions options)
      : store_(store), catalog_(catalog), options_(std::move(options)) {
    if (options_.enabled) worker_ = std::thread([this] { Work(); });
  }

  ~Tables() override {
    {
      std::lock_guard lock(pending_mu_);
      stopping_ = true;
    }
    pending_cv_.notify_all();
    if (worker_.joinable()) worker_.join();
  }
  Tables(const Tables&) = delete;
  Tables& operator=(const Tables&) = delete;

  bool enabled() const override { return options_.enabled; }

  //! Queues the dataset for the background writer: the commit's caller does not wait for the
  //! Iceberg files (Load catches up by itself when it is asked first). Only the version is kept:
  //! a copy of the manifest would cost the committer as much as the dataset's object list.
  void OnCommit(const DatasetManifest& manifest) override {
    if (!options_.enabled) return;
    {
      std::lock_guard lock(pending_mu_);
      auto [it, inserted] = pending_.try_emplace(manifest.dataset, manifest.version);
      if (!inserted && it->second < manifest.version) it->second = manifest.version;
    }
    pending_cv_.notify_one();
  }

  void Flush() override {
    std::unique_lock lock(pending_mu_);
    pending_cv_.wait(lock, [this] { return (pending_.empty() && busy_ == 0) || stopping_; });
  }

  size_t SyncAll() override {
    if (!options_.enabled) return 0;
    FinishCleanups();
    size_t updated = 0;
    for (const auto& d : catalog_.List()) {
      try {
        auto entry = Entry(d.name);
        std::lock_guard lock(entry->mu);
        if (CatchUp(d.name, *entry, 0)) ++updated;
      } catch (const std::exception& e) {
        log::Warn("iceberg: metadata sync failed", {{"dataset", d.name}, {"error", e.what()}});
      }
    }
    return updated;
  }

  LoadedTable Load(const std::string& dataset) override {
    if (!options_.enabled) {
      Fail(ErrorCode::kUnavailable, "Iceberg metadata is disabled on this server (iceberg.enabled = false)");
    }
    DatasetId::Parse(dataset);
    catalog_.Head(dataset);  // kNotFound for a missing or deleted dataset
    auto entry = Entry(dataset);
    std::lock_guard lock(entry->mu);
    CatchUp(dataset, *entry, 0);
    if (!entry->state.live) Fail(ErrorCode::kNotFound, "dataset '{}' was deleted", dataset);
    LoadedTable table;
    table.metadata_location = Location(catalogd::IcebergMetadataKey(dataset, entry->state.version));
    table.metadata = MetadataJson(dataset, entry->state);
    if (store_.Kind() == "s3") {
      table.config["s3.endpoint"] = options_.s3_endpoint;
      table.config["s3.region"] = options_.s3_region;
      table.config["s3.path-style-access"] = options_.s3_path_style ? "true" : "false";
      table.config["client.region"] = options_.s3_region;
    }
    return table;
  }

  size_t CollectExpired(int64_t min_age_ms) override {
    if (!options_.enabled) return 0;
    const int64_t cutoff = NowMs() - min_age_ms;
    size_t deleted = 0;
    for (const auto& d : catalog_.List()) {
      try {
        deleted += CollectExpiredOf(d.name, cutoff);
      } catch (const std::exception& e) {
        // Nothing is lost: the files stay until the next collection.
        log::Warn("iceberg: cleanup of expired versions' metadata failed", {{"dataset", d.name}, {"error", e.what()}});
      }
    }
    return deleted;
  }

  std::string Location(const std::string& key) const override {
    if (auto path = store_.LocalPath(key)) {
      return "file://" + std::filesystem::absolute(*path).lexically_normal().string();
    }
    return "s3://" + store_.Bucket() + "/" + key;
  }

 private:
  struct DatasetEntry {
    std::mutex mu;
    TableState state;
  };

  //! The background writer: folds queued datasets up to their newest known version.
  void Work() {
    std::unique_lock lock(pending_mu_);
    while (true) {
      pending_cv_.wait(lock, [this] { return stopping_ || !pending_.empty(); });
      if (stopping_) return;
      auto node = pending_.extract(pending_.begin());
      ++busy_;
      lock.unlock();
      const std::string& dataset = node.key();
      try {
        auto entry = Entry(dataset);
        std::lock_guard entry_lock(entry->mu);
        CatchUp(dataset, *entry, node.mapped());
      } catch (const std::exception& e) {
        // Not lost: the next commit, the next start or the next Load writes what is missing.
        log::Warn("iceberg: metadata write failed", {{"dataset", dataset}, {"error", e.what()}});
      }
      lock.lock();
      --busy_;
      pending_cv_.notify_all();
    }
  }

  std::shared_ptr<DatasetEntry> Entry(const std::string& dataset) {
    std::lock_guard lock(mu_);
    auto& e = entries_[dataset];
    if (!e) e = std::make_shared<DatasetEntry>();
    return e;
  }

  //! A deleted table's metadata goes with it: every Iceberg object of `dataset` written for a
  //! version up to `tombstone` (the delete) belongs to a table life that has ended; versions after
  //! it (the dataset created again) are a live table and are never touched. Called with the
  //! dataset's entry locked, so no writer folds it meanwhile. A crash halfway leaves a subset,
  //! metadata JSON first gone; FinishCleanups on the next start removes the rest.
  size_t RemoveDeletedMetadata(const std::string& dataset, uint64_t tombstone) {
    std::vector<std::pair<int, std::string>> doomed;
    for (const auto& info : store_.ListAll(catalogd::IcebergTablePrefix(dataset))) {
      auto parsed = IcebergKeyVersion(dataset, info.key);
      if (parsed && parsed->first <= tombstone) doomed.emplace_back(parsed->second, info.key);
    }
    std::sort(doomed.begin(), doomed.end());
    for (const auto& [order, key] : doomed) store_.Delete(key);
    if (!doomed.empty()) {
      log::Info("iceberg: metadata of a deleted table removed",
                {{"dataset", dataset}, {"deleted_at_version", tombstone}, {"objects", doomed.size()}});
    }
    return doomed.size();
  }

  //! CollectExpired for one dataset: versions below its oldest live version F expired when F's
  //! expiry marker was written; once that is older than `cutoff` their metadata goes. A manifest
  //! list only ever drops manifests (a rewrite replaces them), so a manifest of an expired version
  //! that snapshot F does not list is listed by no live snapshot, now or later.
  size_t CollectExpiredOf(const std::string& dataset, int64_t cutoff) {
    const auto versions = catalog_.Versions(dataset);
    if (versions.empty() || versions.front().version <= 1) return 0;
    const uint64_t first_live = versions.front().version;
    const auto marker = store_.Head(catalogd::ExpiryKey(dataset, first_live));
    if (!marker || marker->last_modified_ms > cutoff) return 0;  // not expired, or within the window
    auto entry = Entry(dataset);
    std::lock_guard lock(entry->mu);  // no fold meanwhile
    std::string list;
    try {
      list = store_.GetBytes(catalogd::IcebergManifestListKey(dataset, first_live));
    } catch (const Error& e) {
      if (e.code() == ErrorCode::kNotFound) return 0;  // not written up to F yet: decide next time
      throw;
    }
    const auto paths = ManifestListPaths(list);
    const std::set<std::string> listed(paths.begin(), paths.end());
    std::vector<std::pair<int, std::string>> doomed;
    for (const auto& info : store_.ListAll(catalogd::IcebergTablePrefix(dataset))) {
      auto parsed = IcebergKeyVersion(dataset, info.key);
      if (!parsed || parsed->first >= first_live) continue;
      if (parsed->second == 2 && listed.contains(Location(info.key))) continue;
      doomed.emplace_back(parsed->second, info.key);
    }
    std::sort(doomed.begin(), doomed.end());  // metadata JSONs, then manifest lists, then manifests
    for (const auto& [order, key] : doomed) store_.Delete(key);
    // The table metadata answered from now on lists live snapshots only (as Iceberg's own
    // snapshot expiry does); metadata files already written keep theirs (immutable).
    auto expired = [&](const json& s) { return s["snapshot-id"].get<uint64_t>() < first_live; };
    auto& st = entry->state;
    st.snapshots.erase(std::remove_if(st.snapshots.begin(), st.snapshots.end(), expired), st.snapshots.end());
    st.snapshot_log.erase(std::remove_if(st.snapshot_log.begin(), st.snapshot_log.end(), expired),
                          st.snapshot_log.end());
    if (!doomed.empty()) {
      log::Info("iceberg: metadata of expired versions removed",
                {{"dataset", dataset}, {"first_live_version", first_live}, {"objects", doomed.size()}});
    }
    return doomed.size();
  }

  //! On start: every dataset with Iceberg metadata whose catalog history has a delete gets the
  //! metadata up to its last delete removed (a cleanup a crash interrupted). A dataset the catalog
  //! does not know is left alone (the catalog decides what is dead, not a listing).
  void FinishCleanups() {
    std::set<std::string> datasets;
    const std::string root = IcebergRoot();
    for (const auto& info : store_.ListAll(root)) {
      const size_t slash = info.key.find('/', root.size());
      if (slash != std::string::npos) datasets.insert(info.key.substr(root.size(), slash - root.size()));
    }
    for (const auto& dataset : datasets) {
      try {
        uint64_t tombstone = 0;
        for (const auto& v : catalog_.Versions(dataset)) {
          if (v.tombstone) tombstone = std::max(tombstone, v.version);
        }
        if (tombstone == 0) continue;
        auto entry = Entry(dataset);
        std::lock_guard lock(entry->mu);
        RemoveDeletedMetadata(dataset, tombstone);
      } catch (const std::exception& e) {
        log::Warn("iceberg: cleanup of a deleted table's metadata failed; retried on the next start",
                  {{"dataset", dataset}, {"error", e.what()}});
      }
    }
  }

  //! Folds every version up to the catalog's head (or `committed`, a version just committed, when
  //! newer; 0: none) into the state, writing the metadata of each. Returns true when anything was
  //! folded in.
  bool CatchUp(const std::string& dataset, DatasetEntry& entry, uint64_t committed) {
    TableState& state = entry.state;
    if (committed != 0 && committed <= state.version) return false;
    if (committed != 0 && committed == state.version + 1 && (state.version > 0 || committed == 1)) {
      try {
        Fold(dataset, state, catalog_.Get(dataset, committed));
      } catch (...) {
        state = TableState{};  // half-folded: reread history next time
        throw;
      }
      return true;
    }
    // Behind by more than one version (a start, a lost race, a failed write): reread history.
    std::vector<catalogd::VersionSummary> versions = catalog_.Versions(dataset);
    if (versions.empty()) return false;
    uint64_t target = versions.back().version;
    target = std::max(target, committed);
    if (target <= state.version) return false;
    uint64_t from = state.version + 1;
    if (state.version == 0 || state.version + 1 < versions.front().version) {
      // Start after the last tombstone before the target: earlier versions belong to a deleted table.
      state = TableState{};
      from = versions.front().version;
      state.rebased = from > 1;  // versions before it expired (a tombstone below resets this)
      for (const auto& v : versions) {
        if (v.tombstone && v.version <= target) from = v.version;
      }
    }
    try {
      for (uint64_t v = from; v <= target; ++v) {
        Fold(dataset, state, catalog_.Get(dataset, v));
      }
    } catch (...) {
      state = TableState{};  // half-folded: reread history next time
      throw;
    }
    return true;
  }

  //! Applies one version: schema evolution, the manifests that add/remove files, the manifest
  //! list and the metadata JSON (each written unless it exists already).
  void Fold(const std::string& dataset, TableState& state, const DatasetManifest& m) {
    if (m.tombstone) {
      state = TableState{};
      state.version = m.version;
      RemoveDeletedMetadata(dataset, m.version);
      return;
    }
    const bool exists = store_.Head(catalogd::IcebergMetadataKey(dataset, m.version)).has_value();
    if (!state.live) {
      const uint64_t version = state.version;
      const bool rebased = state.rebased;
      state = TableState{};
      state.version = version;
      state.live = true;
      state.rebased = rebased;
      state.uuid = TableUuid(dataset, m.version);
      if (rebased && exists) {
        // The table began before its expired history: keep the uuid its metadata has.
        state.uuid = json::parse(store_.GetBytes(catalogd::IcebergMetadataKey(dataset, m.version))).at("table-uuid");
      }
    }
    const auto snapshot_id = static_cast<int64_t>(m.version);
    const auto sequence = static_cast<int64_t>(m.version);

    // Schema: ids by column name; a type Iceberg cannot promote to gets a fresh id.
    json fields = json::array();
    state.unmapped.clear();
    for (const auto& column : m.schema) {
      std::string type = IcebergType(column.type);
      if (type.empty()) {
        state.unmapped.push_back(column.name);
        auto known = state.unmapped_mapping.find(column.name);
        if (known == state.unmapped_mapping.end() || known->second.first != column.type) {
          state.unmapped_mapping[column.name] = {column.type,
                                                 MappingEntry(column.name, column.type, state.last_column_id)};
        }
        continue;
      }
      auto it = state.fields.find(column.name);
      if (it == state.fields.end() || !CanPromote(it->second.type, type)) {
        state.fields[column.name] = Field{++state.last_column_id, type};
      } else {
        it->second.type = type;
      }
      fields.push_back(
          {{"id", state.fields[column.name].id}, {"name", column.name}, {"required", false}, {"type", type}});
    }
    if (state.current_schema_id < 0 || fields != state.current_fields) {
      state.current_schema_id = static_cast<int>(state.schemas.size());
      state.current_fields = fields;
      state.schemas.push_back({{"type", "struct"}, {"schema-id", state.current_schema_id}, {"fields", fields}});
    }
    const json& schema = state.schemas.back();

    // Files: what this version adds and removes relative to the previous snapshot.
    std::set<std::string> now;
    for (const auto& o : m.objects) now.insert(o.ref.key);
    std::set<std::string> before;
    for (const auto& ref : state.manifests) {
      for (const auto& f : ref.live) before.insert(f.object.ref.key);
    }
    std::vector<ManifestRef> next;
    std::map<std::string, std::string> manifest_meta = {
        {"schema", schema.dump()}, {"schema-id", std::to_string(state.current_schema_id)},
        {"partition-spec", "[]"},  {"partition-spec-id", "0"},
        {"format-version", "2"},   {"content", "data"}};
    int64_t added_files = 0, added_rows = 0, deleted_files = 0, deleted_rows = 0;
    int manifest_index = 0;

    std::vector<ManifestEntry> added_entries;
    std::vector<LiveFile> added_live;
    for (const auto& o : m.objects) {
      if (before.contains(o.ref.key)) continue;
      added_entries.push_back(Entry(EntryStatus::kAdded, LiveFile{o, snapshot_id, sequence}, state));
      added_live.push_back(LiveFile{o, snapshot_id, sequence});
      ++added_files;
      added_rows += static_cast<int64_t>(o.row_count);
    }
    if (!added_entries.empty()) {
      ManifestRef ref;
      ref.file = WriteManifest(dataset, m.version, manifest_index++, added_entries, manifest_meta, exists);
      ref.file.added_snapshot_id = snapshot_id;
      ref.file.added_files_count = static_cast<int32_t>(added_entries.size());
      ref.file.added_rows_count = added_rows;
      ref.live = std::move(added_live);
      next.push_back(std::move(ref));
    }

    // Manifests holding a removed file are rewritten: removed -> DELETED, the rest -> EXISTING.
    std::vector<ManifestEntry> rewritten;
    std::vector<LiveFile> survivors;
    int64_t existing_rows = 0;
    std::vector<ManifestRef> kept;
    for (auto& ref : state.manifests) {
      bool touched = state.rebased && !exists;  // rebased: the stored manifests differ from `ref`
      for (const auto& f : ref.live) touched = touched || !now.contains(f.object.ref.key);
      if (!touched) {
        kept.push_back(std::move(ref));
        continue;
      }
      for (const auto& f : ref.live) {
        if (now.contains(f.object.ref.key)) {
          rewritten.push_back(Entry(EntryStatus::kExisting, f, state));
          survivors.push_back(f);
          existing_rows += static_cast<int64_t>(f.object.row_count);
        } else {
          ManifestEntry e = Entry(EntryStatus::kDeleted, f, state);
          e.snapshot_id = snapshot_id;
          rewritten.push_back(std::move(e));
          ++deleted_files;
          deleted_rows += static_cast<int64_t>(f.object.row_count);
        }
      }
    }
    if (!rewritten.empty()) {
      ManifestRef ref;
      ref.file = WriteManifest(dataset, m.version, manifest_index++, rewritten, manifest_meta, exists);
      ref.file.added_snapshot_id = snapshot_id;
      ref.file.existing_files_count = static_cast<int32_t>(survivors.size());
      ref.file.deleted_files_count = static_cast<int32_t>(deleted_files);
      ref.file.existing_rows_count = existing_rows;
      ref.file.deleted_rows_count = deleted_rows;
      int64_t min_seq = sequence;
      for (const auto& f : survivors) min_seq = std::min(min_seq, f.sequence_number);
      ref.file.min_sequence_number = min_seq;
      ref.live = std::move(survivors);
      next.push_back(std::move(ref));
    }
    for (auto& ref : kept) {
      if (!ref.live.empty()) next.push_back(std::move(ref));
    }

    // Manifest list.
    std::vector<ManifestFile> list;
    list.reserve(next.size());
    for (const auto& ref : next) list.push_back(ref.file);
    const bool has_parent = !state.snapshots.empty();
    std::map<std::string, std::string> list_meta = {
        {"snapshot-id", std::to_string(snapshot_id)},
        {"parent-snapshot-id", has_parent ? std::to_string(snapshot_id - 1) : "null"},
        {"sequence-number", std::to_string(sequence)},
        {"format-version", "2"}};
    const std::string list_key = catalogd::IcebergManifestListKey(dataset, m.version);
    if (!exists) store_.PutIfAbsent(list_key, EncodeManifestList(list, list_meta));

    // Snapshot.
    uint64_t total_rows = 0;
    size_t total_files = 0;
    for (const auto& ref : next) {
      for (const auto& f : ref.live) {
        total_rows += f.object.row_count;
        ++total_files;
      }
    }
    std::string operation = deleted_files == 0 ? "append" : (added_files == 0 ? "delete" : "overwrite");
    // Iceberg wants snapshot times in order; commit times of racing writers can be a little out of it.
    state.last_updated_ms = std::max(state.last_updated_ms, m.created_at_ms);
    json snapshot = {{"snapshot-id", snapshot_id},
                     {"sequence-number", sequence},
                     {"timestamp-ms", state.last_updated_ms},
                     {"manifest-list", Location(list_key)},
                     {"schema-id", state.current_schema_id},
                     {"summary",
                      {{"operation", operation},
                       {"lakehouse.operation", m.operation},
                       {"lakehouse.version", std::to_string(m.version)},
                       {"added-data-files", std::to_string(added_files)},
                       {"added-records", std::to_string(added_rows)},
                       {"deleted-data-files", std::to_string(deleted_files)},
                       {"deleted-records", std::to_string(deleted_rows)},
                       {"total-data-files", std::to_string(total_files)},
                       {"total-records", std::to_string(total_rows)},
                       {"total-delete-files", "0"},
                       {"total-position-deletes", "0"},
                       {"total-equality-deletes", "0"}}}};
    if (has_parent) snapshot["parent-snapshot-id"] = state.snapshots.back()["snapshot-id"];
    state.snapshots.push_back(std::move(snapshot));
    state.snapshot_log.push_back({{"timestamp-ms", state.last_updated_ms}, {"snapshot-id", snapshot_id}});
    state.manifests = std::move(next);
    state.version = m.version;
    if (!exists) state.rebased = false;

    if (!exists)
      store_.PutIfAbsent(catalogd::IcebergMetadataKey(dataset, m.version), MetadataJson(dataset, state).dump());
  }

  //! A manifest entry for `file`, its column stats keyed by the current field ids.
  static ManifestEntry Entry(EntryStatus status, const LiveFile& file, const TableState& state) {
    ManifestEntry e;
    e.status = status;
    e.file_path = file.object.ref.key;  // WriteManifest turns keys into locations
    e.snapshot_id = file.snapshot_id;
    e.sequence_number = file.sequence_number;
    e.file_sequence_number = file.sequence_number;
    e.record_count = static_cast<int64_t>(file.object.row_count);
    e.file_size_in_bytes = static_cast<int64_t>(file.object.ref.size);
    for (const auto& s : file.object.stats) {
      auto it = state.fields.find(s.name);
      if (it == state.fields.end()) continue;
      const Field& field = it->second;
      if (s.bytes > 0) e.column_sizes[field.id] = static_cast<int64_t>(s.bytes);
      e.value_counts[field.id] = static_cast<int64_t>(s.values);
      e.null_value_counts[field.id] = static_cast<int64_t>(s.nulls);
      if (s.min) {
        if (auto b = LowerBound(field.type, *s.min)) e.lower_bounds[field.id] = *b;
      }
      if (s.max) {
        if (auto b = UpperBound(field.type, *s.max)) e.upper_bounds[field.id] = *b;
      }
    }
    return e;
  }

  ManifestFile WriteManifest(const std::string& dataset, uint64_t version, int index,
                             std::vector<ManifestEntry> entries, const std::map<std::string, std::string>& meta,
                             bool exists) {
    for (auto& e : entries) e.file_path = Location(e.file_path);
    std::string key = catalogd::IcebergManifestKey(dataset, version, index);
    std::string bytes = EncodeManifest(entries, meta);
    if (!exists) store_.PutIfAbsent(key, bytes);
    ManifestFile file;
    file.manifest_path = Location(key);
    file.manifest_length = static_cast<int64_t>(bytes.size());
    file.sequence_number = static_cast<int64_t>(version);
    file.min_sequence_number = static_cast<int64_t>(version);
    return file;
  }

  json MetadataJson(const std::string& dataset, const TableState& state) const {
    json mapping = json::array();
    // One entry per name: the current column (mapped or not), else the last one of a dropped column.
    const std::set<std::string> unmapped_now(state.unmapped.begin(), state.unmapped.end());
    for (const auto& [name, field] : state.fields) {
      if (!unmapped_now.contains(name)) mapping.push_back({{"field-id", field.id}, {"names", {name}}});
    }
    for (const auto& [name, entry] : state.unmapped_mapping) {
      if (unmapped_now.contains(name) || !state.fields.contains(name)) mapping.push_back(entry.second);
    }
    json properties = {{"schema.name-mapping.default", mapping.dump()},
                       {"lakehouse.dataset", dataset},
                       {"lakehouse.version", std::to_string(state.version)},
                       {"format-version", "2"}};
    if (!state.unmapped.empty()) {
      std::string cols;
      for (const auto& c : state.unmapped) cols += (cols.empty() ? "" : ",") + c;
      properties["lakehouse.unmapped-columns"] = cols;
    }
    std::string prefix = catalogd::IcebergTablePrefix(dataset);
    std::string location = Location(prefix.substr(0, prefix.size() - 1));  // keys cannot end in '/'
    return {{"format-version", 2},
            {"table-uuid", state.uuid},
            {"location", location},
            {"last-sequence-number", state.version},
            {"last-updated-ms", state.last_updated_ms},
            {"last-column-id", state.last_column_id},
            {"current-schema-id", state.current_schema_id},
            {"schemas", state.schemas},
            {"default-spec-id", 0},
            {"partition-specs", json::array({{{"spec-id", 0}, {"fields", json::array()}}})},
            {"last-partition-id", 999},
            {"default-sort-order-id", 0},
            {"sort-orders", json::array({{{"order-id", 0}, {"fields", json::array()}}})},
            {"properties", properties},
            {"current-snapshot-id", state.snapshots.back()["snapshot-id"]},
            {"refs", {{"main", {{"snapshot-id", state.snapshots.back()["snapshot-id"]}, {"type", "branch"}}}}},
            {"snapshots", state.snapshots},
            {"snapshot-log", state.snapshot_log},
            {"metadata-log", json::array()}};
  }

  storaged::ObjectStore& store_;
  catalogd::Catalog& catalog_;
  IcebergOptions options_;
  std::mutex mu_;
  std::map<std::string, std::shared_ptr<DatasetEntry>> entries_;
  std::mutex pending_mu_;
  std::condition_variable pending_cv_;
  std::map<std::string, uint64_t> pending_;  //!< dataset -> newest committed version seen
  int busy_ = 0;
  bool stopping_ = false;
  std::thread worker_;
};

}  // namespace

std::unique_ptr<IcebergTables> MakeIcebergTables(storaged::ObjectStore& store, catalogd::Catalog& catalog,
                                                 IcebergOptions options) {
  return std::make_unique<Tables>(store, catalog, std::move(options));
}

}  // namespace lakehouse::iceberg
