// Manifest records: complete manifests (format 1) and delta manifests (format 2), and applying a
// chain of deltas to a complete manifest. See docs/adr/0004-catalog.md, "Manifest checkpoints".
#include <nlohmann/json.hpp>

#include <set>

#include "catalog_internal.h"
#include "lakehouse/catalogd/catalog.h"
#include "lakehouse/shared/logging.h"

namespace lakehouse::catalogd {

namespace {

constexpr int kDeltaFormat = 2;

//! Every field of `m` but its objects (copying them would cost as much as the history).
DatasetManifest Header(const DatasetManifest& m) {
  DatasetManifest h;
  h.dataset = m.dataset;
  h.version = m.version;
  h.parent_version = m.parent_version;
  h.operation = m.operation;
  h.created_at_ms = m.created_at_ms;
  h.tombstone = m.tombstone;
  h.schema_version = m.schema_version;
  h.schema = m.schema;
  h.fingerprint = m.fingerprint;
  h.properties = m.properties;
  h.partition_by = m.partition_by;
  return h;
}

}  // namespace

nlohmann::json CommitResponseJson(const DatasetManifest& m, std::span<const DataObject> added) {
  nlohmann::json j = Header(m);
  j["objects"] = nlohmann::json::array();
  for (const auto& o : added) j["objects"].push_back(o);
  j["row_count"] = m.row_count();
  j["byte_count"] = m.byte_count();
  j["object_count"] = m.objects.size();
  return j;
}

std::string EncodeManifest(const DatasetManifest& manifest) { return nlohmann::json(manifest).dump(); }

std::string EncodeDelta(const DatasetManifest& version, uint64_t base, const Totals& totals,
                        std::span<const DataObject> added, const std::vector<std::string>& removed) {
  nlohmann::json j = Header(version);
  j.erase("objects");  // absent on purpose: a reader of format 1 refuses the record instead of misreading it
  j["format"] = kDeltaFormat;
  j["row_count"] = totals.rows;
  j["byte_count"] = totals.bytes;
  j["object_count"] = totals.objects;
  nlohmann::json delta = {{"base", base}, {"removed", removed}};
  delta["added"] = nlohmann::json::array();
  for (const auto& o : added) delta["added"].push_back(o);
  j["delta"] = std::move(delta);
  return j.dump();
}

std::optional<ManifestRecord> ParseRecord(const ParsedManifestKey& key, const std::string& text) {
  try {
    auto j = nlohmann::json::parse(text);
    ManifestRecord r;
    if (j.contains("delta")) {
      auto& delta = j.at("delta");
      r.base = delta.at("base").get<uint64_t>();
      delta.at("removed").get_to(r.removed);
      j["objects"] = std::move(delta.at("added"));
      r.rows = j.at("row_count").get<uint64_t>();
      r.bytes = j.at("byte_count").get<uint64_t>();
      r.object_count = j.at("object_count").get<uint64_t>();
    }
    r.manifest = j.get<DatasetManifest>();
    if (!r.base) {
      r.rows = r.manifest.row_count();
      r.bytes = r.manifest.byte_count();
      r.object_count = r.manifest.objects.size();
    }
    if (r.manifest.dataset != key.dataset || r.manifest.version != key.version || (r.base && *r.base >= key.version)) {
      log::Warn("catalog: manifest content does not match its key; ignored",
                {{"key", ManifestKey(key.dataset, key.version)},
                 {"dataset", r.manifest.dataset},
                 {"version", r.manifest.version}});
      return std::nullopt;
    }
    return r;
  } catch (const nlohmann::json::exception& e) {
    log::Warn("catalog: unparsable manifest ignored",
              {{"key", ManifestKey(key.dataset, key.version)}, {"error", e.what()}});
    return std::nullopt;
  }
}

std::optional<DatasetManifest> ApplyDeltas(DatasetManifest base, const std::vector<const ManifestRecord*>& chain) {
  // `chain` is newest first; each delta's base is the next one's version (the last one's is `base`).
  for (auto it = chain.rbegin(); it != chain.rend(); ++it) {
    const ManifestRecord& d = **it;
    if (!d.base || *d.base != base.version) return std::nullopt;
    std::vector<DataObject> objects = std::move(base.objects);
    if (!d.removed.empty()) {
      const std::set<std::string> gone(d.removed.begin(), d.removed.end());
      std::erase_if(objects, [&](const DataObject& o) { return gone.contains(o.ref.key); });
    }
    objects.insert(objects.end(), d.manifest.objects.begin(), d.manifest.objects.end());
    base = Header(d.manifest);
    base.objects = std::move(objects);
    if (base.objects.size() != d.object_count || base.row_count() != d.rows || base.byte_count() != d.bytes) {
      log::Warn("catalog: a delta manifest does not add up to the totals it records; version unreadable",
                {{"dataset", d.manifest.dataset}, {"version", d.manifest.version}});
      return std::nullopt;
    }
  }
  return base;
}

}  // namespace lakehouse::catalogd
