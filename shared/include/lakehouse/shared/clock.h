#pragma once
// The one wall-clock helper: epoch times and their RFC 3339 text.
#include <cstdint>
#include <string>

namespace lakehouse {

//! Milliseconds since the unix epoch.
int64_t NowMs();
//! Seconds since the unix epoch.
int64_t NowSeconds();
//! RFC 3339 UTC text for epoch milliseconds, e.g. "2026-11-24T22:10:00.000Z".
std::string FormatTimeMs(int64_t ms);

}  // namespace lakehouse
