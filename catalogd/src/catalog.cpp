// The catalog: an in-memory index over manifests that live in object storage.
//
// Object storage is the truth; memory is a cache of each dataset's head. A commit writes the next
// version's manifest with PutIfAbsent BEFORE memory changes (write-ahead), so:
//  - a crash before the put leaves the old head; after it, the new head is found by Rebuild();
//  - two writers (threads or processes) racing for version N get exactly one winner; the loser
//    reloads the dataset's head from storage and rebuilds its commit on top of it (or answers 409
//    when the request pinned expected_version / the new head makes the request invalid).
// See docs/adr/0004-catalog.md.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <shared_mutex>
#include <thread>

#include "catalog_internal.h"
#include "lakehouse/catalogd/catalog.h"
#include "lakehouse/shared/error.h"
#include "lakehouse/shared/logging.h"
#include "lakehouse/shared/telemetry.h"

namespace lakehouse::catalogd {

void ParallelFor(size_t n, size_t threads, const std::function<void(size_t)>& fn) {
  threads = std::max<size_t>(1, std::min(threads, n));
  if (threads <= 1) {
    for (size_t i = 0; i < n; ++i) fn(i);
    return;
  }
  std::atomic<size_t> next{0};
  std::exception_ptr first_error;
  std::mutex error_mu;
  std::vector<std::thread> pool;
  pool.reserve(threads);
  for (size_t t = 0; t < threads; ++t) {
    pool.emplace_back([&] {
      for (;;) {
        size_t i = next.fetch_add(1);
        if (i >= n) return;
        try {
          fn(i);
        } catch (...) {
          std::lock_guard lock(error_mu);
          if (!first_error) first_error = std::current_exception();
          next.store(n);  // stop handing out work
        }
      }
    });
  }
  for (auto& th : pool) th.join();
  if (first_error) std::rethrow_exception(first_error);
}

namespace {

constexpr int kMaxCommitAttempts = 64;

std::string_view OpName(CommitOp op) {
  static constexpr std::string_view kNames[] = {"create", "append", "replace", "delete"};  // in CommitOp's order
  const auto i = static_cast<size_t>(op);
  return i < std::size(kNames) ? kNames[i] : "unknown";
}

VersionSummary Summarize(const DatasetManifest& m) {
  return VersionSummary{m.version,      m.operation,      m.created_at_ms, m.row_count(),
                        m.byte_count(), m.schema_version, m.tombstone};
}

//! Parses a manifest read from `key`; nullopt (with a warning) when it is torn or not ours.
std::optional<DatasetManifest> ParseManifest(const ParsedManifestKey& key, const std::string& text) {
  try {
    auto manifest = nlohmann::json::parse(text).get<DatasetManifest>();
    if (manifest.dataset != key.dataset || manifest.version != key.version) {
      log::Warn("catalog: manifest content does not match its key; ignored",
                {{"key", ManifestKey(key.dataset, key.version)},
                 {"dataset", manifest.dataset},
                 {"version", manifest.version}});
      return std::nullopt;
    }
    return manifest;
  } catch (const nlohmann::json::exception& e) {
    log::Warn("catalog: unparsable manifest ignored",
              {{"key", ManifestKey(key.dataset, key.version)}, {"error", e.what()}});
    return std::nullopt;
  }
}

//! In-memory state of one dataset. `commit_mu` serialises this process's commits to it; `mu`
//! guards the fields and is held only briefly (never across storage I/O).
struct DatasetState {
  std::mutex commit_mu;
  mutable std::mutex mu;
  std::optional<DatasetManifest> head;           //!< newest readable manifest (may be a tombstone)
  uint64_t max_version = 0;                      //!< newest version key seen, readable or not
  std::map<uint64_t, VersionSummary> summaries;  //!< immutable once written; filled lazily
};

class CatalogImpl final : public Catalog {
 public:
  explicit CatalogImpl(storaged::ObjectStore& store) : store_(store) {}

  void Rebuild() override {
    auto started = std::chrono::steady_clock::now();
    // One listing of the whole catalog, grouped by dataset; then only each dataset's newest
    // manifest is read (older ones only when the newest is unreadable), in parallel.
    std::map<std::string, std::vector<uint64_t>> versions;
    size_t keys = 0;
    for (const auto& info : store_.ListAll(kCatalogPrefix)) {
      auto parsed = ParseManifestKey(info.key);
      if (!parsed) continue;
      versions[parsed->dataset].push_back(parsed->version);
      ++keys;
    }
    const auto listed_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started).count();
    struct Loaded {
      std::string name;
      std::vector<uint64_t> versions;
      std::optional<DatasetManifest> head;
    };
    std::vector<Loaded> loaded;
    loaded.reserve(versions.size());
    for (auto& [name, v] : versions) {
      std::sort(v.begin(), v.end());
      loaded.push_back({name, std::move(v), std::nullopt});
    }
    // The checkpoint's head of a dataset is used when the listing shows no newer version key
    // (manifests are immutable, so it is that very manifest); the others are read.
    auto snapshot = ReadSnapshot();
    std::vector<size_t> to_read;
    for (size_t i = 0; i < loaded.size(); ++i) {
      auto it = snapshot.find(loaded[i].name);
      if (it != snapshot.end() && it->second.version == loaded[i].versions.back()) {
        loaded[i].head = std::move(it->second);
      } else {
        to_read.push_back(i);
      }
    }
    ParallelFor(to_read.size(), ReadThreads(), [&](size_t j) {
      auto& l = loaded[to_read[j]];
      l.head = ReadNewestReadable(l.name, l.versions);
    });

    std::unique_lock lock(index_mu_);
    std::map<std::string, std::shared_ptr<DatasetState>> next;
    for (auto& l : loaded) {
      auto it = index_.find(l.name);
      auto state = it != index_.end() ? it->second : std::make_shared<DatasetState>();
      std::lock_guard state_lock(state->mu);
      state->head = std::move(l.head);
      state->max_version = l.versions.back();
      next.emplace(l.name, std::move(state));
    }
    index_ = std::move(next);
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
    log::Info("catalog rebuilt", {{"datasets", loaded.size()},
                                  {"manifests", keys},
                                  {"from_snapshot", loaded.size() - to_read.size()},
                                  {"manifests_read", to_read.size()},
                                  {"list_ms", listed_ms},
                                  {"ms", ms.count()}});
  }

  std::vector<DatasetSummary> List() override {
    std::vector<DatasetSummary> out;
    std::shared_lock lock(index_mu_);
    for (const auto& [name, state] : index_) {
      std::lock_guard state_lock(state->mu);
      if (!state->head || state->head->tombstone) continue;
      const auto& h = *state->head;
      out.push_back({name, h.version, h.schema_version, h.row_count(), h.byte_count(), h.created_at_ms});
    }
    return out;  // the index is a std::map: already sorted by name
  }

  DatasetManifest Head(const std::string& dataset) override {
    telemetry::Span span("catalogd.head");
    span.Set("dataset.name", dataset);
    auto state = Find(dataset);
    if (state) {
      std::lock_guard lock(state->mu);
      if (state->head && !state->head->tombstone) return *state->head;
      if (state->head)
        Fail(ErrorCode::kNotFound, "dataset '{}' was deleted (version {})", dataset, state->head->version);
    }
    Fail(ErrorCode::kNotFound, "dataset '{}' does not exist", dataset);
  }

  DatasetManifest Get(const std::string& dataset, uint64_t version) override {
    telemetry::Span span("catalogd.get");
    span.Set("dataset.name", dataset);
    DatasetId::Parse(dataset);
    if (auto state = Find(dataset)) {
      std::lock_guard lock(state->mu);
      if (state->head && state->head->version == version) return *state->head;
    }
    if (version == 0) Fail(ErrorCode::kNotFound, "dataset '{}' has no version 0 (versions start at 1)", dataset);
    auto manifest = ReadManifest({dataset, version});
    if (!manifest) Fail(ErrorCode::kNotFound, "dataset '{}' has no version {}", dataset, version);
    // Versions before a later tombstone were deleted with the dataset (their data is collected).
    for (const auto& v : Versions(dataset)) {
      if (v.tombstone && v.version > version) {
        Fail(ErrorCode::kNotFound, "dataset '{}' version {} was deleted with the dataset at version {}", dataset,
             version, v.version);
      }
    }
    return *manifest;
  }

  std::vector<VersionSummary> Versions(const std::string& dataset) override {
    DatasetId::Parse(dataset);
    auto state = Find(dataset);
    if (!state) Fail(ErrorCode::kNotFound, "dataset '{}' does not exist", dataset);
    // Version keys come from storage (other processes may have committed); summaries of versions
    // already seen are cached, the others read once.
    std::vector<uint64_t> missing;
    std::vector<uint64_t> all;
    for (const auto& info : store_.ListAll(ManifestPrefix(dataset))) {
      auto parsed = ParseManifestKey(info.key);
      if (parsed && parsed->dataset == dataset) all.push_back(parsed->version);
    }
    {
      std::lock_guard lock(state->mu);
      for (uint64_t v : all) {
        if (!state->summaries.contains(v)) missing.push_back(v);
      }
    }
    std::vector<std::optional<DatasetManifest>> read(missing.size());
    ParallelFor(missing.size(), ReadThreads(), [&](size_t i) { read[i] = ReadManifest({dataset, missing[i]}); });
    std::vector<VersionSummary> out;
    std::lock_guard lock(state->mu);
    for (auto& m : read) {
      if (m) state->summaries.emplace(m->version, Summarize(*m));
    }
    for (const auto& [v, s] : state->summaries) out.push_back(s);
    if (out.empty()) Fail(ErrorCode::kNotFound, "dataset '{}' does not exist", dataset);
    return out;
  }

  DatasetManifest Commit(const CommitRequest& request) override {
    DatasetId::Parse(request.dataset);
    for (const auto& o : request.objects) storaged::ValidateKey(o.ref.key);
    if (request.op != CommitOp::kDelete) CheckPartitioning(request);
    auto state = FindOrCreate(request.dataset);
    DatasetManifest committed;
    {
      std::lock_guard commit_lock(state->commit_mu);
      std::mt19937 rng(std::random_device{}());
      for (int attempt = 0;; ++attempt) {
        std::optional<DatasetManifest> head;
        uint64_t max_version = 0;
        {
          std::lock_guard lock(state->mu);
          head = state->head;
          max_version = state->max_version;
        }
        DatasetManifest next;
        try {
          next = BuildNext(request, head, max_version);
        } catch (const Error& e) {
          // Memory may be stale when another process commits to the same store: before answering
          // 404/409, check storage once; if it knows a newer version, decide again on that.
          if (attempt > 0 || (e.code() != ErrorCode::kConflict && e.code() != ErrorCode::kNotFound)) throw;
          if (Reload(request.dataset, *state) == max_version) throw;
          continue;
        }
        std::string text = nlohmann::json(next).dump();
        if (PutManifest(ManifestKey(next.dataset, next.version), text)) {
          std::lock_guard lock(state->mu);
          state->max_version = std::max(state->max_version, next.version);
          state->head = next;
          state->summaries.emplace(next.version, Summarize(next));
          committed = std::move(next);
          break;
        }
        // Another writer (another process, or a catalog instance over the same store) took this
        // version. Learn the real head from storage and try again on top of it.
        log::Debug("catalog: lost a commit race; reloading",
                   {{"dataset", request.dataset}, {"version", next.version}, {"attempt", attempt}});
        if (attempt + 1 >= kMaxCommitAttempts) {
          Fail(ErrorCode::kConflict,
               "dataset '{}': gave up after {} attempts because other writers kept committing first; retry the "
               "request",
               request.dataset, kMaxCommitAttempts);
        }
        Reload(request.dataset, *state);
        std::uniform_int_distribution<int> jitter(0, 200 * std::min(attempt + 1, 10));
        std::this_thread::sleep_for(std::chrono::microseconds(jitter(rng)));
      }
    }
    Notify(committed);
    return committed;
  }

  void AddListener(CommitListener listener) override {
    std::lock_guard lock(listeners_mu_);
    listeners_.push_back(std::move(listener));
  }

  size_t CollectGarbage(int64_t min_age_ms) override {
    const int64_t cutoff = NowMs() - min_age_ms;
    // Data objects are listed BEFORE manifests: an object whose commit lands after the manifest
    // listing was written after this point, so it is younger than min_age_ms and kept.
    auto data = store_.ListAll(kDataPrefix);
    auto staging = store_.ListAll(kStagingPrefix);
    std::vector<ParsedManifestKey> manifests;
    for (const auto& info : store_.ListAll(kCatalogPrefix)) {
      if (auto parsed = ParseManifestKey(info.key)) manifests.push_back(std::move(*parsed));
    }
    std::vector<std::optional<DatasetManifest>> read(manifests.size());
    ParallelFor(manifests.size(), ReadThreads(), [&](size_t i) {
      // Storage errors propagate (and abort the collection); only unreadable manifests are skipped.
      read[i] = ReadManifest(manifests[i]);
    });
    // A tombstone ends the history it closes: versions before a dataset's latest tombstone no
    // longer hold their objects, so deleting a dataset frees its data.
    std::map<std::string, uint64_t> last_tombstone;
    for (const auto& m : read) {
      if (m && m->tombstone) last_tombstone[m->dataset] = std::max(last_tombstone[m->dataset], m->version);
    }
    std::set<std::string> referenced;
    for (const auto& m : read) {
      if (!m) continue;
      auto t = last_tombstone.find(m->dataset);
      if (t != last_tombstone.end() && m->version < t->second) continue;
      for (const auto& o : m->objects) referenced.insert(o.ref.key);
    }

    size_t deleted = 0;
    for (const auto* list : {&data, &staging}) {
      for (const auto& info : *list) {
        if (referenced.contains(info.key) || info.last_modified_ms > cutoff) continue;
        store_.Delete(info.key);
        ++deleted;
      }
    }
    log::Info("catalog garbage collected",
              {{"deleted", deleted}, {"data_objects", data.size()}, {"manifests", manifests.size()}});
    Checkpoint();
    return deleted;
  }

  void Checkpoint() override {
    nlohmann::json heads = nlohmann::json::array();
    {
      std::shared_lock lock(index_mu_);
      for (const auto& [name, state] : index_) {
        std::lock_guard state_lock(state->mu);
        if (state->head) heads.push_back(*state->head);
      }
    }
    store_.PutBytes(kSnapshotKey, nlohmann::json{{"format", 1}, {"created_at_ms", NowMs()}, {"heads", heads}}.dump());
  }

 private:
  size_t ReadThreads() const { return store_.Kind() == "local" ? 4 : 32; }

  std::shared_ptr<DatasetState> Find(const std::string& dataset) {
    std::shared_lock lock(index_mu_);
    auto it = index_.find(dataset);
    return it == index_.end() ? nullptr : it->second;
  }

  std::shared_ptr<DatasetState> FindOrCreate(const std::string& dataset) {
    if (auto state = Find(dataset)) return state;
    std::unique_lock lock(index_mu_);
    auto& slot = index_[dataset];
    if (!slot) slot = std::make_shared<DatasetState>();
    return slot;
  }

  //! Put-if-absent of a manifest; true when this writer created it, false when another writer
  //! holds the key. When the put fails with an unknown outcome (timeout, connection reset after
  //! the request was sent), the key is read back: our bytes there mean the commit happened (the
  //! text is unique: it holds the time and fresh object keys). Throws kUnavailable when storage
  //! stays unreachable, saying that the outcome is unknown.
  bool PutManifest(const std::string& key, const std::string& text) {
    telemetry::Span span("catalogd.commit");
    span.Set("catalog.manifest_key", key);
    const bool committed = TryPutManifest(key, text);
    span.Set("catalog.conflict", !committed);
    telemetry::metrics::Commit(committed);
    return committed;
  }
  bool TryPutManifest(const std::string& key, const std::string& text) {
    for (int attempt = 0;; ++attempt) {
      try {
        if (attempt == 0) return store_.PutIfAbsent(key, text).has_value();
        std::string stored;
        try {
          stored = store_.GetBytes(key);
        } catch (const Error& e) {
          if (e.code() != ErrorCode::kNotFound) throw;
          return store_.PutIfAbsent(key, text).has_value();  // never landed: try again
        }
        return stored == text;
      } catch (const Error& e) {
        if (e.code() != ErrorCode::kUnavailable && e.code() != ErrorCode::kInternal &&
            e.code() != ErrorCode::kTimeout) {
          throw;
        }
        if (attempt >= 3) {
          Fail(ErrorCode::kUnavailable,
               "storage failed while writing {} and the commit's outcome is unknown ({}); re-read the dataset before "
               "retrying",
               key, e.what());
        }
        log::Warn("catalog: manifest put failed; checking whether it landed", {{"key", key}, {"error", e.what()}});
        std::this_thread::sleep_for(std::chrono::milliseconds(50 << attempt));
      }
    }
  }

  //! The checkpoint's heads by dataset; empty when there is none or it is unreadable.
  std::map<std::string, DatasetManifest> ReadSnapshot() {
    std::map<std::string, DatasetManifest> out;
    std::string text;
    try {
      text = store_.GetBytes(kSnapshotKey);
    } catch (const Error& e) {
      if (e.code() == ErrorCode::kNotFound) return out;
      throw;
    }
    try {
      const auto doc = nlohmann::json::parse(text);  // named: a temporary would die before the loop
      for (const auto& h : doc.at("heads")) {
        auto m = h.get<DatasetManifest>();
        if (DatasetId::IsValid(m.dataset)) out[m.dataset] = std::move(m);
      }
    } catch (const nlohmann::json::exception& e) {
      log::Warn("catalog: unreadable snapshot ignored", {{"key", kSnapshotKey}, {"error", e.what()}});
      out.clear();
    }
    return out;
  }

  //! Reads one manifest; nullopt when missing or unreadable. Storage failures throw.
  std::optional<DatasetManifest> ReadManifest(const ParsedManifestKey& key) {
    std::string text;
    try {
      text = store_.GetBytes(ManifestKey(key.dataset, key.version));
    } catch (const Error& e) {
      if (e.code() == ErrorCode::kNotFound) return std::nullopt;
      throw;
    }
    return ParseManifest(key, text);
  }

  //! The newest readable manifest among `versions` (sorted ascending).
  std::optional<DatasetManifest> ReadNewestReadable(const std::string& dataset, const std::vector<uint64_t>& versions) {
    for (auto it = versions.rbegin(); it != versions.rend(); ++it) {
      if (auto m = ReadManifest({dataset, *it})) return m;
    }
    return std::nullopt;
  }

  //! Re-reads one dataset's head from storage; returns the newest version key now known.
  uint64_t Reload(const std::string& dataset, DatasetState& state) {
    std::vector<uint64_t> versions;
    for (const auto& info : store_.ListAll(ManifestPrefix(dataset))) {
      auto parsed = ParseManifestKey(info.key);
      if (parsed && parsed->dataset == dataset) versions.push_back(parsed->version);
    }
    std::sort(versions.begin(), versions.end());
    auto head = ReadNewestReadable(dataset, versions);
    std::lock_guard lock(state.mu);
    if (!versions.empty()) state.max_version = std::max(state.max_version, versions.back());
    if (head && (!state.head || head->version > state.head->version)) state.head = std::move(head);
    return state.max_version;
  }

  //! The request's partition columns are valid for its schema and every object has a value for
  //! each of them (and no others).
  static void CheckPartitioning(const CommitRequest& request) {
    if (ResolvePartitionColumns(request.schema, request.partition_by) != request.partition_by) {
      Fail(ErrorCode::kInvalidArgument, "partition columns ({}) must be spelled as the schema spells them",
           fmt::join(request.partition_by, ", "));
    }
    for (const auto& o : request.objects) {
      const bool matches = o.partition_values.size() == request.partition_by.size() &&
                           std::all_of(request.partition_by.begin(), request.partition_by.end(),
                                       [&](const std::string& c) { return o.partition_values.contains(c); });
      if (!matches) {
        std::vector<std::string> has;
        for (const auto& [column, value] : o.partition_values) has.push_back(column);
        Fail(ErrorCode::kInvalidArgument,
             "data object '{}' has partition values for ({}) but the commit is "
             "partitioned by ({})",
             o.ref.key, fmt::join(has, ", "), fmt::join(request.partition_by, ", "));
      }
    }
  }

  //! An append is partitioned as the head is, and keeps the types of its partition columns.
  static void CheckAppendPartitioning(const CommitRequest& request, const DatasetManifest& head) {
    if (request.partition_by != head.partition_by) {
      Fail(ErrorCode::kConflict,
           "dataset '{}' is partitioned by ({}) but the appended data is partitioned by ({}); appends are partitioned "
           "as the dataset is (a replace repartitions it: PUT /api/v1/datasets/{}?partition_by=...)",
           request.dataset, fmt::join(head.partition_by, ", "), fmt::join(request.partition_by, ", "), request.dataset);
    }
    for (const auto& column : head.partition_by) {
      auto old_col = std::find_if(head.schema.begin(), head.schema.end(), [&](auto& c) { return c.name == column; });
      auto new_col =
          std::find_if(request.schema.begin(), request.schema.end(), [&](auto& c) { return c.name == column; });
      if (old_col != head.schema.end() && new_col != request.schema.end() && !SameType(old_col->type, new_col->type)) {
        Fail(ErrorCode::kConflict,
             "partition column '{}' of dataset '{}' is {} and cannot change type to {} by an append; replace the "
             "dataset to change it",
             column, request.dataset, old_col->type, new_col->type);
      }
    }
  }

  //! The manifest `request` would commit on top of `head`. Throws the request's 404/409.
  static DatasetManifest BuildNext(const CommitRequest& request, const std::optional<DatasetManifest>& head,
                                   uint64_t max_version) {
    const std::string& name = request.dataset;
    const bool live = head && !head->tombstone;
    const uint64_t current = live ? head->version : 0;
    const std::optional<uint64_t> live_version = live ? std::optional<uint64_t>(head->version) : std::nullopt;
    if (request.expected_version && *request.expected_version != current) {
      if (live) {
        Fail(ErrorCode::kConflict, "dataset '{}' is at version {}, not the expected version {}; re-read it and retry",
             name, current, *request.expected_version);
      }
      Fail(ErrorCode::kConflict, "dataset '{}' does not exist (expected version {}); expected_version=0 means absent",
           name, *request.expected_version);
    }

    DatasetManifest next;
    next.dataset = name;
    next.version = std::max(max_version, head ? head->version : 0) + 1;
    if (head) next.parent_version = head->version;
    next.operation = std::string(OpName(request.op));
    next.created_at_ms = NowMs();
    next.properties = request.properties;

    switch (request.op) {
      case CommitOp::kCreate:
        CheckCommitTarget(request.op, name, live_version);
        next.schema = request.schema;
        next.schema_version = head ? head->schema_version + (SameColumns(head->schema, request.schema) ? 0 : 1) : 1;
        next.objects = request.objects;
        next.partition_by = request.partition_by;
        break;
      case CommitOp::kAppend:
      case CommitOp::kReplace: {
        CheckCommitTarget(request.op, name, live_version);
        if (request.op == CommitOp::kAppend) CheckAppendPartitioning(request, *head);
        next.partition_by = request.partition_by;
        next.schema_version = head->schema_version;
        if (!SameColumns(head->schema, request.schema)) {
          if (!request.allow_schema_change) {
            Fail(ErrorCode::kConflict,
                 "schema of the uploaded data differs from dataset '{}' (schema version {}): {}. Send "
                 "allow_schema_change=1 to start a new schema version",
                 name, head->schema_version, DescribeSchemaDiff(head->schema, request.schema));
          }
          next.schema_version = head->schema_version + 1;
          next.schema = request.schema;
        } else {
          // Same columns: a column is nullable when either side allows nulls.
          next.schema = head->schema;
          for (size_t i = 0; i < next.schema.size(); ++i) {
            next.schema[i].nullable = next.schema[i].nullable || request.schema[i].nullable;
          }
        }
        if (request.op == CommitOp::kAppend) {
          next.objects = head->objects;
          next.objects.insert(next.objects.end(), request.objects.begin(), request.objects.end());
          for (const auto& [k, v] : head->properties) next.properties.try_emplace(k, v);
        } else {
          next.objects = request.objects;
        }
        break;
      }
      case CommitOp::kDelete:
        CheckCommitTarget(request.op, name, live_version);
        next.tombstone = true;
        next.schema = head->schema;
        next.schema_version = head->schema_version;
        break;
    }
    next.fingerprint = Fingerprint(next.schema);
    return next;
  }

  void Notify(const DatasetManifest& manifest) {
    std::vector<CommitListener> listeners;
    {
      std::lock_guard lock(listeners_mu_);
      listeners = listeners_;
    }
    for (const auto& l : listeners) {
      try {
        l(manifest);
      } catch (const std::exception& e) {
        // The commit is durable already; a listener failing must not turn it into an error.
        log::Error("catalog: commit listener failed", {{"dataset", manifest.dataset}, {"error", e.what()}});
      }
    }
  }

  storaged::ObjectStore& store_;
  std::shared_mutex index_mu_;
  std::map<std::string, std::shared_ptr<DatasetState>> index_;
  std::mutex listeners_mu_;
  std::vector<CommitListener> listeners_;
};

}  // namespace

std::unique_ptr<Catalog> MakeCatalog(storaged::ObjectStore& store) { return std::make_unique<CatalogImpl>(store); }

}  // namespace lakehouse::catalogd
