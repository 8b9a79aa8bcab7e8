#pragma once
// Helpers shared by the catalog's source files (not part of the public interface).
#include <cstdint>
#include <functional>
#include <optional>
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

//! Same column names and types in the same order (shared/types.h; nullability is not compared: a
//! nullable column accepts data from a NOT NULL one and the other way round).
using lakehouse::SameColumns;

//! Runs fn(i) for i in [0, n) on up to `threads` threads; rethrows the first exception.
void ParallelFor(size_t n, size_t threads, const std::function<void(size_t)>& fn);

}  // namespace lakehouse::catalogd
