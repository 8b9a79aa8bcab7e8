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
#include <deque>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <shared_mutex>
#include <span>
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
  static constexpr std::string_view kNames[] = {"create", "append",  "replace",
                                                "delete", "compact", "properties"};  // CommitOp order
  const auto i = static_cast<size_t>(op);
  return i < std::size(kNames) ? kNames[i] : "unknown";
}

VersionSummary Summarize(const ManifestRecord& r) {
  const auto& m = r.manifest;
  return VersionSummary{m.version, m.operation, m.created_at_ms, r.rows, r.bytes, m.schema_version, m.tombstone};
}

using ManifestPtr = std::shared_ptr<const DatasetManifest>;
//! The head as the catalog holds it: immutable for everyone else. Only a commit, under the
//! dataset's `mu` and when nothing but the state and that commit holds it, moves its object list
//! into the next head (Commit).
using HeadPtr = std::shared_ptr<DatasetManifest>;

//! The keys under one dataset's catalog prefix, by kind (each list sorted ascending).
struct DatasetKeys {
  std::vector<uint64_t> versions;
  std::vector<uint64_t> checkpoints;
  uint64_t first_live = 0;  //!< the newest expiry marker: versions below it have expired (0: none)

  void Add(const ParsedCatalogKey& k) {
    switch (k.kind) {
      case CatalogKeyKind::kManifest:
        versions.push_back(k.version);
        break;
      case CatalogKeyKind::kCheckpoint:
        checkpoints.push_back(k.version);
        break;
      case CatalogKeyKind::kExpiry:
        first_live = std::max(first_live, k.version);
        break;
    }
  }
  void Sort() {
    std::sort(versions.begin(), versions.end());
    std::sort(checkpoints.begin(), checkpoints.end());
  }
  //! Deltas since the newest checkpoint at or below `version` (an upper bound: complete
  //! manifests in between are not known from keys alone).
  uint64_t ChainAbove(uint64_t version) const {
    auto it = std::upper_bound(checkpoints.begin(), checkpoints.end(), version);
    return it == checkpoints.begin() ? version : version - *std::prev(it);
  }
};

//! In-memory state of one dataset. `commit_mu` serialises this process's commits to it; `mu`
//! guards the fields and is held only briefly (never across storage I/O).
struct DatasetState {
  std::mutex commit_mu;
  mutable std::mutex mu;
  HeadPtr head;                                  //!< newest readable manifest (may be a tombstone)
  Totals head_totals;                            //!< of `head` (an append adds to them)
  uint64_t max_version = 0;                      //!< newest version key seen, readable or not
  uint64_t chain = 0;                            //!< delta manifests since the head's last checkpoint
  uint64_t first_live = 0;                       //!< versions below this expired (retention)
  std::map<uint64_t, VersionSummary> summaries;  //!< immutable once written; filled lazily
};

class CatalogImpl final : public Catalog {
 public:
  CatalogImpl(storaged::ObjectStore& store, CatalogOptions options) : store_(store), options_(options) {
    options_.checkpoint_interval = std::max<uint64_t>(1, options_.checkpoint_interval);
  }

  void Rebuild() override {
    auto started = std::chrono::steady_clock::now();
    // One listing of the whole catalog, grouped by dataset; then only each dataset's newest
    // manifest is read (older ones only when the newest is unreadable), in parallel.
    std::map<std::string, DatasetKeys> versions;
    size_t keys = 0;
    for (const auto& info : store_.ListAll(kCatalogPrefix)) {
      auto parsed = ParseCatalogKey(info.key);
      if (!parsed) continue;
      versions[parsed->dataset].Add(*parsed);
      ++keys;
    }
    const auto listed_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started).count();
    struct Loaded {
      std::string name;
      DatasetKeys keys;
      std::optional<DatasetManifest> head;
    };
    std::vector<Loaded> loaded;
    loaded.reserve(versions.size());
    for (auto& [name, v] : versions) {
      if (v.versions.empty()) continue;  // markers only: not a dataset
      v.Sort();
      loaded.push_back({name, std::move(v), std::nullopt});
    }
    // The checkpoint's head of a dataset is used when the listing shows no newer version key
    // (manifests are immutable, so it is that very manifest); the others are read.
    auto snapshot = ReadSnapshot();
    std::vector<size_t> to_read;
    for (size_t i = 0; i < loaded.size(); ++i) {
      auto it = snapshot.find(loaded[i].name);
      if (it != snapshot.end() && it->second.version == loaded[i].keys.versions.back()) {
        loaded[i].head = std::move(it->second);
      } else {
        to_read.push_back(i);
      }
    }
    ParallelFor(to_read.size(), ReadThreads(), [&](size_t j) {
      auto& l = loaded[to_read[j]];
      l.head = ReadNewestReadable(l.name, l.keys);
    });

    std::unique_lock lock(index_mu_);
    std::map<std::string, std::shared_ptr<DatasetState>> next;
    for (auto& l : loaded) {
      auto it = index_.find(l.name);
      auto state = it != index_.end() ? it->second : std::make_shared<DatasetState>();
      std::lock_guard state_lock(state->mu);
      state->head = l.head ? std::make_shared<DatasetManifest>(std::move(*l.head)) : nullptr;
      state->head_totals = state->head ? Totals::Of(state->head->objects) : Totals{};
      state->max_version = l.keys.versions.back();
      state->chain = state->head ? l.keys.ChainAbove(state->head->version) : 0;
      state->first_live = l.keys.first_live;
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
    auto keys = ListKeys(dataset);
    if (version < keys.first_live) {
      Fail(ErrorCode::kNotFound,
           "dataset '{}' version {} has expired under the dataset's retention policy (the oldest version kept is {})",
           dataset, version, keys.first_live);
    }
    auto manifest = Resolve(dataset, version, keys);
    if (!manifest) Fail(ErrorCode::kNotFound, "dataset '{}' has no version {}", dataset, version);
    // Versions before a later tombstone were deleted with the dataset (their data is collected).
    // Only the later versions are looked at: a cold read of a recent version costs the same at
    // version 10 and 10,000.
    auto state = FindOrCreate(dataset);
    for (const auto& [later, v] : SummariesFrom(dataset, *state, keys, version + 1)) {
      if (v.tombstone) {
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
    const auto keys = ListKeys(dataset);
    std::vector<VersionSummary> out;
    for (const auto& [v, s] : SummariesFrom(dataset, *state, keys, keys.first_live)) out.push_back(s);
    if (out.empty()) Fail(ErrorCode::kNotFound, "dataset '{}' does not exist", dataset);
    return out;
  }

  std::shared_ptr<const DatasetManifest> Commit(const CommitRequest& request) override {
    DatasetId::Parse(request.dataset);
    for (const auto& o : request.objects) storaged::ValidateKey(o.ref.key);
    if (request.op != CommitOp::kDelete && request.op != CommitOp::kSetProperties) CheckPartitioning(request);
    auto state = FindOrCreate(request.dataset);
    // An append and a property change keep the head's objects (plus the new ones): the next head
    // is built from the head's list without copying it (below), so a commit costs the same at 10
    // and at 10,000 objects. The rest build their whole list (their cost is their own data).
    const bool inherits = request.op == CommitOp::kAppend || request.op == CommitOp::kSetProperties;
    const Totals added = Totals::Of(request.objects);
    HeadPtr committed;
    {
      std::lock_guard commit_lock(state->commit_mu);
      std::mt19937 rng(std::random_device{}());
      for (int attempt = 0;; ++attempt) {
        HeadPtr head;
        Totals head_totals;
        uint64_t max_version = 0;
        {
          std::lock_guard lock(state->mu);
          head = state->head;
          head_totals = state->head_totals;
          max_version = state->max_version;
        }
        DatasetManifest next;
        try {
          next = BuildNext(request, head.get(), max_version);
        } catch (const Error& e) {
          // Memory may be stale when another process commits to the same store: before answering
          // 404/409, check storage once; if it knows a newer version, decide again on that.
          if (attempt > 0 || (e.code() != ErrorCode::kConflict && e.code() != ErrorCode::kNotFound)) throw;
          if (Reload(request.dataset, *state) == max_version) throw;
          continue;
        }
        // BuildNext left `next.objects` empty when it inherits: the totals say what it will hold.
        const Totals totals =
            inherits ? head_totals + (request.op == CommitOp::kAppend ? added : Totals{}) : Totals::Of(next.objects);
        // Appends and compactions store only what changed (a delta on the head), so a commit costs
        // the same at version 10 and 10,000; the rest are complete (their size is their own data).
        const bool delta = head && !head->tombstone && !next.tombstone &&
                           (request.op == CommitOp::kAppend || request.op == CommitOp::kCompact ||
                            request.op == CommitOp::kSetProperties);
        std::string text =
            delta ? EncodeDelta(next, head->version, totals,
                                request.op == CommitOp::kSetProperties ? std::span<const DataObject>{}
                                                                       : std::span<const DataObject>(request.objects),
                                request.remove_objects)
                  : EncodeManifest(next);
        if (PutManifest(ManifestKey(next.dataset, next.version), text)) {
          const VersionSummary summary{next.version, next.operation,      next.created_at_ms, totals.rows,
                                       totals.bytes, next.schema_version, next.tombstone};
          uint64_t chain = 0;
          auto publish = [&](HeadPtr stored) {  // with state->mu held
            state->max_version = std::max(state->max_version, stored->version);
            state->head = stored;
            state->head_totals = totals;
            state->summaries.emplace(stored->version, summary);
            state->chain = delta ? state->chain + 1 : 0;
            chain = state->chain;
            committed = std::move(stored);
          };
          {
            std::lock_guard lock(state->mu);
            // Nothing but the state and this commit holds the head (readers get copies or the
            // shared pointer under `mu`, so the count cannot grow behind our back): its object
            // list moves into the new head, in the same critical section, so no reader ever sees
            // the emptied old head.
            if (inherits && state->head == head && head.use_count() == 2) {
              next.objects = std::move(head->objects);
              if (request.op == CommitOp::kAppend) {
                next.objects.insert(next.objects.end(), request.objects.begin(), request.objects.end());
              }
              publish(std::make_shared<DatasetManifest>(std::move(next)));
            }
          }
          if (!committed) {
            // Someone still holds the old head (a previous commit's caller, a reload): copy it.
            if (inherits) {
              next.objects.reserve(head->objects.size() + request.objects.size());
              next.objects = head->objects;
              if (request.op == CommitOp::kAppend) {
                next.objects.insert(next.objects.end(), request.objects.begin(), request.objects.end());
              }
            }
            auto stored = std::make_shared<DatasetManifest>(std::move(next));
            std::lock_guard lock(state->mu);
            publish(std::move(stored));
          }
          if (chain >= options_.checkpoint_interval) WriteCheckpoint(*committed, *state);
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
    Notify(*committed);
    return committed;
  }

  void AddListener(CommitListener listener) override {
    std::lock_guard lock(listeners_mu_);
    listeners_.push_back(std::move(listener));
  }

  GcReport Collect(int64_t min_age_ms) override {
    const int64_t now = NowMs();
    const int64_t cutoff = now - min_age_ms;
    GcReport report;
    // Data objects are listed BEFORE manifests: an object whose commit lands after the manifest
    // listing was written after this point, so it is younger than min_age_ms and kept.
    auto data = store_.ListAll(kDataPrefix);
    auto staging = store_.ListAll(kStagingPrefix);
    std::map<std::string, DatasetKeys> keys;
    std::map<std::string, std::map<uint64_t, int64_t>> markers;  // dataset -> first live version -> written at
    std::vector<ParsedManifestKey> manifests;
    for (const auto& info : store_.ListAll(kCatalogPrefix)) {
      auto parsed = ParseCatalogKey(info.key);
      if (!parsed) continue;
      keys[parsed->dataset].Add(*parsed);
      if (parsed->kind == CatalogKeyKind::kManifest) manifests.push_back({parsed->dataset, parsed->version});
      if (parsed->kind == CatalogKeyKind::kExpiry) markers[parsed->dataset][parsed->version] = info.last_modified_ms;
    }
    for (auto& [name, k] : keys) k.Sort();
    std::vector<std::optional<ManifestRecord>> read(manifests.size());
    ParallelFor(manifests.size(), ReadThreads(), [&](size_t i) {
      // Storage errors propagate (and abort the collection); only unreadable manifests are skipped.
      read[i] = ReadRecord(manifests[i]);
    });
    std::map<std::string, std::map<uint64_t, const ManifestRecord*>> records;
    for (const auto& r : read) {
      if (r) records[r->manifest.dataset][r->manifest.version] = &*r;
    }

    std::set<std::string> referenced;  // by a version live now or within the safety window
    std::set<std::string> ever;        // by any manifest read (what is left over is an orphan)
    std::vector<std::string> catalog_garbage;
    for (auto& [name, by_version] : records) {
      auto& k = keys[name];
      for (const auto& [v, r] : by_version) {
        for (const auto& o : r->manifest.objects) ever.insert(o.ref.key);
      }
      // (1) Retention: a live dataset's old versions expire.
      const ManifestRecord& head = *by_version.rbegin()->second;
      if (!head.manifest.tombstone) {
        if (auto first_live = Expire(name, by_version, k, now, report)) {
          k.first_live = *first_live;
          markers[name][*first_live] = now;
        }
      }
      // (2) Versions before the newest marker older than the window, or before the latest
      // tombstone, no longer hold their objects.
      uint64_t collectable = 0;
      for (const auto& [first_live, at] : markers[name]) {
        if (at <= cutoff) collectable = std::max(collectable, first_live);
      }
      uint64_t floor = collectable;
      for (const auto& [v, r] : by_version) {
        if (r->manifest.tombstone) floor = std::max(floor, v);
      }
      auto live = by_version.lower_bound(floor);
      bool conservative = false;
      if (live != by_version.end() && live->second->base) {
        // The oldest live version is a delta: its complete object list comes from its checkpoint.
        if (auto full = Resolve(name, live->first, k)) {
          for (const auto& o : full->objects) referenced.insert(o.ref.key);
        } else {
          conservative = true;
        }
      }
      for (auto it = conservative ? by_version.begin() : live; it != by_version.end(); ++it) {
        for (const auto& o : it->second->manifest.objects) referenced.insert(o.ref.key);
      }
      // (3) Catalog files of versions expired longer than the window.
      if (collectable > 0 && !conservative) {
        for (uint64_t v : k.versions) {
          if (v < collectable) catalog_garbage.push_back(ManifestKey(name, v));
        }
        for (uint64_t v : k.checkpoints) {
          if (v < collectable) catalog_garbage.push_back(CheckpointKey(name, v));
        }
        for (const auto& [first_live, at] : markers[name]) {
          if (first_live < collectable) catalog_garbage.push_back(ExpiryKey(name, first_live));
        }
      }
    }

    std::vector<const storaged::ObjectInfo*> doomed;
    for (const auto* list : {&data, &staging}) {
      for (const auto& info : *list) {
        if (referenced.contains(info.key) || info.last_modified_ms > cutoff) {
          ++report.objects_kept;
          continue;
        }
        doomed.push_back(&info);
        ++report.objects_deleted;
        report.bytes_deleted += info.size;
        if (!ever.contains(info.key)) {
          ++report.orphans_deleted;
          report.orphan_bytes_deleted += info.size;
        }
      }
    }
    // Deletes are independent: run them on the read pool (one at a time was ~150/s on local disk).
    ParallelFor(doomed.size(), ReadThreads(), [&](size_t i) { store_.Delete(doomed[i]->key); });
    ParallelFor(catalog_garbage.size(), ReadThreads(), [&](size_t i) { store_.Delete(catalog_garbage[i]); });
    report.manifests_deleted = catalog_garbage.size();
    log::Info("catalog garbage collected", {{"deleted", report.objects_deleted},
                                            {"bytes", report.bytes_deleted},
                                            {"orphans", report.orphans_deleted},
                                            {"versions_expired", report.versions_expired},
                                            {"manifests_deleted", report.manifests_deleted},
                                            {"data_objects", data.size()},
                                            {"manifests", manifests.size()}});
    Checkpoint();
    return report;
  }

  int64_t GcMinAgeMs() const override { return options_.gc_min_age_ms; }

  void Checkpoint() override {
    nlohmann::json heads = nlohmann::json::array();
    {
      std::shared_lock lock(index_mu_);
      for (const auto& [name, state] : index_) {
        std::lock_guard state_lock(state->mu);
        if (state->head) heads.push_back(*state->head);  // always complete in memory
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

  //! Reads one stored manifest record; nullopt when missing or unreadable. Storage failures throw.
  std::optional<ManifestRecord> ReadRecord(const ParsedManifestKey& key) {
    std::string text;
    try {
      text = store_.GetBytes(ManifestKey(key.dataset, key.version));
    } catch (const Error& e) {
      if (e.code() == ErrorCode::kNotFound) return std::nullopt;
      throw;
    }
    return ParseRecord(key, text);
  }

  //! The checkpoint of one version; nullopt when missing, unreadable or not that version's.
  std::optional<DatasetManifest> ReadCheckpoint(const std::string& dataset, uint64_t version) {
    std::string text;
    try {
      text = store_.GetBytes(CheckpointKey(dataset, version));
    } catch (const Error& e) {
      if (e.code() == ErrorCode::kNotFound) return std::nullopt;
      throw;
    }
    auto r = ParseRecord({dataset, version}, text);
    if (!r || r->base) return std::nullopt;
    return std::move(r->manifest);
  }

  //! The complete manifest of one version: the manifest itself when complete, else the newest
  //! checkpoint (or complete manifest) below it plus the deltas in between, read in parallel.
  //! nullopt when the version is missing, unreadable or its chain is broken.
  std::optional<DatasetManifest> Resolve(const std::string& dataset, uint64_t version, const DatasetKeys& keys) {
    if (std::binary_search(keys.checkpoints.begin(), keys.checkpoints.end(), version)) {
      if (auto m = ReadCheckpoint(dataset, version)) return m;
    }
    auto top = ReadRecord({dataset, version});
    if (!top) return std::nullopt;
    if (!top->base) return std::move(top->manifest);
    auto cp = std::lower_bound(keys.checkpoints.begin(), keys.checkpoints.end(), version);
    const uint64_t checkpoint = cp == keys.checkpoints.begin() ? 0 : *std::prev(cp);
    std::vector<uint64_t> between;
    for (auto it = std::upper_bound(keys.versions.begin(), keys.versions.end(), checkpoint);
         it != keys.versions.end() && *it < version; ++it) {
      between.push_back(*it);
    }
    std::vector<std::optional<ManifestRecord>> read(between.size());
    ParallelFor(between.size(), ReadThreads(), [&](size_t i) { read[i] = ReadRecord({dataset, between[i]}); });
    std::map<uint64_t, const ManifestRecord*> by_version;
    for (const auto& r : read) {
      if (r) by_version.emplace(r->manifest.version, &*r);
    }
    std::deque<ManifestRecord> extra;  // records outside the prefetched range (stable addresses)
    std::vector<const ManifestRecord*> chain{&*top};
    for (uint64_t at = *top->base;;) {
      if (at == checkpoint && checkpoint != 0) {
        if (auto base = ReadCheckpoint(dataset, at)) return ApplyDeltas(std::move(*base), chain);
      }
      const ManifestRecord* r = nullptr;
      if (auto it = by_version.find(at); it != by_version.end()) {
        r = it->second;
      } else if (auto fetched = ReadRecord({dataset, at})) {
        r = &extra.emplace_back(std::move(*fetched));
      }
      if (!r) {
        log::Warn("catalog: a delta manifest's base is unreadable; version unreadable",
                  {{"dataset", dataset}, {"version", version}, {"base", at}});
        return std::nullopt;
      }
      if (!r->base) return ApplyDeltas(r->manifest, chain);
      chain.push_back(r);
      at = *r->base;
    }
  }

  //! Summaries of the versions in `keys` from `from` on (and not expired). Version keys come from
  //! storage (other processes may have committed); summaries already seen are cached (manifests
  //! are immutable), the others read once, in parallel.
  std::map<uint64_t, VersionSummary> SummariesFrom(const std::string& dataset, DatasetState& state,
                                                   const DatasetKeys& keys, uint64_t from) {
    from = std::max(from, keys.first_live);
    std::vector<uint64_t> missing;
    {
      std::lock_guard lock(state.mu);
      for (auto it = std::lower_bound(keys.versions.begin(), keys.versions.end(), from); it != keys.versions.end();
           ++it) {
        if (!state.summaries.contains(*it)) missing.push_back(*it);
      }
    }
    std::vector<std::optional<ManifestRecord>> read(missing.size());
    ParallelFor(missing.size(), ReadThreads(), [&](size_t i) { read[i] = ReadRecord({dataset, missing[i]}); });
    std::lock_guard lock(state.mu);
    state.first_live = std::max(state.first_live, keys.first_live);
    for (auto& r : read) {
      if (r) state.summaries.emplace(r->manifest.version, Summarize(*r));
    }
    return {state.summaries.lower_bound(std::max(from, state.first_live)), state.summaries.end()};
  }

  //! The dataset's retention policy: its own properties, else the default.
  RetentionPolicy PolicyOf(const DatasetManifest& head) const {
    RetentionPolicy policy = options_.retention;
    auto number = [&](std::string_view key) -> std::optional<double> {
      auto it = head.properties.find(std::string(key));
      if (it == head.properties.end()) return std::nullopt;
      try {
        return std::stod(it->second);
      } catch (const std::exception&) {
        return std::nullopt;  // validated when set; never expire on doubt
      }
    };
    if (auto v = number(kKeepVersionsProperty)) policy.keep_versions = static_cast<uint64_t>(*v);
    if (auto v = number(kKeepDaysProperty)) policy.keep_days = *v;
    return policy;
  }

  //! Expires the versions of one live dataset that its policy no longer keeps: makes the first
  //! kept version resolvable on its own (a checkpoint), then writes the expiry marker. Returns the
  //! new first live version, nullopt when nothing (new) expires.
  std::optional<uint64_t> Expire(const std::string& name, const std::map<uint64_t, const ManifestRecord*>& by_version,
                                 const DatasetKeys& keys, int64_t now, GcReport& report) {
    const ManifestRecord& head = *by_version.rbegin()->second;
    const RetentionPolicy policy = PolicyOf(head.manifest);
    if (policy.keep_versions == 0 && policy.keep_days <= 0) return std::nullopt;
    const auto keep_ms = static_cast<int64_t>(policy.keep_days * 86'400'000.0);
    uint64_t newest_expired = 0;
    uint64_t rank = 0;  // 0 = the head
    for (auto it = by_version.rbegin(); it != by_version.rend(); ++it, ++rank) {
      if (it->first < keys.first_live || rank == 0) continue;
      const bool by_count = policy.keep_versions == 0 || rank >= policy.keep_versions;
      const bool by_age = policy.keep_days <= 0 || it->second->manifest.created_at_ms < now - keep_ms;
      if (by_count && by_age) {
        newest_expired = it->first;
        break;
      }
    }
    if (newest_expired == 0) return std::nullopt;
    const uint64_t first_live = by_version.upper_bound(newest_expired)->first;  // the head at most
    if (by_version.at(first_live)->base &&
        !std::binary_search(keys.checkpoints.begin(), keys.checkpoints.end(), first_live)) {
      auto full = Resolve(name, first_live, keys);
      if (!full) {
        log::Warn("catalog: cannot resolve the oldest version retention keeps; nothing expires",
                  {{"dataset", name}, {"version", first_live}});
        return std::nullopt;
      }
      store_.PutIfAbsent(CheckpointKey(name, first_live), EncodeManifest(*full));
    }
    store_.PutIfAbsent(ExpiryKey(name, first_live),
                       nlohmann::json{{"dataset", name}, {"first_live_version", first_live}, {"at_ms", now}}.dump());
    for (auto it = by_version.lower_bound(keys.first_live); it != by_version.end() && it->first < first_live; ++it) {
      ++report.versions_expired;
    }
    if (auto state = Find(name)) {
      std::lock_guard lock(state->mu);
      state->first_live = std::max(state->first_live, first_live);
    }
    log::Info("catalog: versions expired", {{"dataset", name}, {"first_live_version", first_live}});
    return first_live;
  }

  //! Lists one dataset's catalog keys.
  DatasetKeys ListKeys(const std::string& dataset) {
    DatasetKeys keys;
    for (const auto& info : store_.ListAll(ManifestPrefix(dataset))) {
      auto parsed = ParseCatalogKey(info.key);
      if (parsed && parsed->dataset == dataset) keys.Add(*parsed);
    }
    keys.Sort();
    return keys;
  }

  //! The newest readable version among `keys` (resolved).
  std::optional<DatasetManifest> ReadNewestReadable(const std::string& dataset, const DatasetKeys& keys) {
    for (auto it = keys.versions.rbegin(); it != keys.versions.rend(); ++it) {
      if (auto m = Resolve(dataset, *it, keys)) return m;
    }
    return std::nullopt;
  }

  //! Writes the checkpoint of `m` (the head just committed); a failure only costs longer reads.
  void WriteCheckpoint(const DatasetManifest& m, DatasetState& state) {
    try {
      store_.PutIfAbsent(CheckpointKey(m.dataset, m.version), EncodeManifest(m));
      std::lock_guard lock(state.mu);
      if (state.head && state.head->version == m.version) state.chain = 0;
    } catch (const Error& e) {
      log::Warn("catalog: checkpoint write failed; resolving takes longer until the next one",
                {{"dataset", m.dataset}, {"version", m.version}, {"error", e.what()}});
    }
  }

  //! Re-reads one dataset's head from storage; returns the newest version key now known.
  uint64_t Reload(const std::string& dataset, DatasetState& state) {
    auto keys = ListKeys(dataset);
    auto head = ReadNewestReadable(dataset, keys);
    std::lock_guard lock(state.mu);
    if (!keys.versions.empty()) state.max_version = std::max(state.max_version, keys.versions.back());
    state.first_live = std::max(state.first_live, keys.first_live);
    if (head && (!state.head || head->version > state.head->version)) {
      state.chain = keys.ChainAbove(head->version);
      state.head = std::make_shared<DatasetManifest>(std::move(*head));
      state.head_totals = Totals::Of(state.head->objects);
    }
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

  //! A compaction on top of `head`: the head's objects without `remove_objects`, then the new
  //! ones, which hold exactly the rows removed. 409 when a removed object left the head meanwhile.
  static void BuildCompaction(const CommitRequest& request, const DatasetManifest& head, DatasetManifest& next) {
    if (request.remove_objects.empty() || request.objects.empty()) {
      Fail(ErrorCode::kInvalidArgument, "a compaction of dataset '{}' must name the objects it rewrites",
           request.dataset);
    }
    if (request.partition_by != head.partition_by || !SameColumns(head.schema, request.schema)) {
      Fail(ErrorCode::kConflict,
           "dataset '{}' changed its schema or partitioning while it was being compacted; nothing was changed, "
           "compact again",
           request.dataset);
    }
    const std::set<std::string> gone(request.remove_objects.begin(), request.remove_objects.end());
    uint64_t removed_rows = 0;
    size_t found = 0;
    next.objects.reserve(head.objects.size());
    for (const auto& o : head.objects) {
      if (gone.contains(o.ref.key)) {
        removed_rows += o.row_count;
        ++found;
      } else {
        next.objects.push_back(o);
      }
    }
    if (found != gone.size()) {
      Fail(ErrorCode::kConflict,
           "dataset '{}' changed while it was being compacted ({} of the {} rewritten objects are no longer in "
           "version {}); nothing was changed, compact again",
           request.dataset, gone.size() - found, gone.size(), head.version);
    }
    uint64_t added_rows = 0;
    for (const auto& o : request.objects) added_rows += o.row_count;
    if (added_rows != removed_rows) {
      Fail(ErrorCode::kInternal, "compaction of dataset '{}' would change the row count from {} to {}; refused",
           request.dataset, removed_rows, added_rows);
    }
    next.objects.insert(next.objects.end(), request.objects.begin(), request.objects.end());
    next.schema = head.schema;
    next.schema_version = head.schema_version;
    next.partition_by = head.partition_by;
    next.properties = head.properties;
  }

  //! The manifest `request` would commit on top of `head`. Throws the request's 404/409.
  //! An append and a property change leave `objects` empty: the caller adds the head's (Commit).
  static DatasetManifest BuildNext(const CommitRequest& request, const DatasetManifest* head, uint64_t max_version) {
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
          for (const auto& [k, v] : head->properties) next.properties.try_emplace(k, v);
        } else {
          next.objects = request.objects;
        }
        break;
      }
      case CommitOp::kCompact:
        CheckCommitTarget(CommitOp::kAppend, name, live_version);
        BuildCompaction(request, *head, next);
        break;
      case CommitOp::kSetProperties:
        CheckCommitTarget(CommitOp::kAppend, name, live_version);
        next.schema = head->schema;
        next.schema_version = head->schema_version;
        next.partition_by = head->partition_by;
        next.properties = head->properties;
        for (const auto& [k, v] : request.properties) {
          if (v.empty()) {
            next.properties.erase(k);
          } else {
            next.properties[k] = v;
          }
        }
        break;
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
  CatalogOptions options_;
  std::shared_mutex index_mu_;
  std::map<std::string, std::shared_ptr<DatasetState>> index_;
  std::mutex listeners_mu_;
  std::vector<CommitListener> listeners_;
};

}  // namespace

std::unique_ptr<Catalog> MakeCatalog(storaged::ObjectStore& store, CatalogOptions options) {
  return std::make_unique<CatalogImpl>(store, options);
}

}  // namespace lakehouse::catalogd
