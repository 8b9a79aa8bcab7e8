#pragma once
// Helpers shared by the catalog's source files (not part of the public interface).
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "lakehouse/shared/types.h"

namespace lakehouse::catalogd {

struct ParsedManifestKey {
  std::string dataset;
  uint64_t version = 0;
};

//! Splits "_catalog/<dataset>/<20 digits>.json"; nullopt for any other key.
std::optional<ParsedManifestKey> ParseManifestKey(std::string_view key);

//! What a key under _catalog/<dataset>/ is (ParseCatalogKey).
enum class CatalogKeyKind { kManifest, kCheckpoint, kExpiry };
struct ParsedCatalogKey {
  std::string dataset;
  uint64_t version = 0;
  CatalogKeyKind kind = CatalogKeyKind::kManifest;
};
//! Manifest, checkpoint ("<20 digits>.checkpoint.json") or expiry marker ("<20 digits>.expired.json")
//! keys; nullopt for any other key.
std::optional<ParsedCatalogKey> ParseCatalogKey(std::string_view key);

//! One stored manifest: complete (format 1: `manifest` lists every object) or a delta (format 2:
//! `manifest.objects` holds only the objects it added to version `base`, `removed` the keys it
//! dropped from it). The totals are the version's, for both kinds (manifest_log.cpp).
struct ManifestRecord {
  DatasetManifest manifest;
  std::optional<uint64_t> base;
  std::vector<std::string> removed;
  uint64_t rows = 0;
  uint64_t bytes = 0;
  uint64_t object_count = 0;
};

//! Row, byte and object totals of a version, without walking its object list twice.
struct Totals {
  uint64_t rows = 0;
  uint64_t bytes = 0;
  uint64_t objects = 0;
  static Totals Of(std::span<const DataObject> objects) {
    Totals t;
    for (const auto& o : objects) {
      t.rows += o.row_count;
      t.bytes += o.ref.size;
    }
    t.objects = objects.size();
    return t;
  }
  Totals operator+(const Totals& o) const { return {rows + o.rows, bytes + o.bytes, objects + o.objects}; }
};

//! A complete manifest's stored text.
std::string EncodeManifest(const DatasetManifest& manifest);
//! A delta's stored text: `version` is the version it describes (its header is taken from it, its
//! objects are ignored), `totals` that version's totals, `added` and `removed` what changed since
//! version `base`.
std::string EncodeDelta(const DatasetManifest& version, uint64_t base, const Totals& totals,
                        std::span<const DataObject> added, const std::vector<std::string>& removed);
//! Parses a record read from `key`; nullopt (with a warning) when it is torn or not ours.
std::optional<ManifestRecord> ParseRecord(const ParsedManifestKey& key, const std::string& text);
//! Applies deltas (newest first, each based on the next; the last based on `base`) to `base`;
//! nullopt when they do not chain or their totals do not add up.
std::optional<DatasetManifest> ApplyDeltas(DatasetManifest base, const std::vector<const ManifestRecord*>& chain);

//! Same column names and types in the same order (shared/types.h; nullability is not compared: a
//! nullable column accepts data from a NOT NULL one and the other way round).
using lakehouse::SameColumns;

//! Runs fn(i) for i in [0, n) on up to `threads` threads; rethrows the first exception.
void ParallelFor(size_t n, size_t threads, const std::function<void(size_t)>& fn);

}  // namespace lakehouse::catalogd
