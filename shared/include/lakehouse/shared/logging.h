#pragma once
// Structured logs: one JSON object per line on stdout ({"ts","level","msg", ...fields}).
#include <nlohmann/json.hpp>

#include <string_view>

namespace lakehouse::log {

enum class Level { kDebug, kInfo, kWarn, kError };

//! Parses "debug" | "info" | "warn" | "error"; throws Error(kInvalidArgument) otherwise.
Level ParseLevel(std::string_view text);
//! Sets the minimum level; call once at start-up (default: info).
void Init(Level level);
bool Enabled(Level level);
//! Writes one JSON line. `fields` must be an object (or null); its keys are merged into the line.
void Event(Level level, std::string_view msg, const nlohmann::json& fields = nullptr);

inline void Debug(std::string_view msg, const nlohmann::json& f = nullptr) { Event(Level::kDebug, msg, f); }
inline void Info(std::string_view msg, const nlohmann::json& f = nullptr) { Event(Level::kInfo, msg, f); }
inline void Warn(std::string_view msg, const nlohmann::json& f = nullptr) { Event(Level::kWarn, msg, f); }
inline void Error(std::string_view msg, const nlohmann::json& f = nullptr) { Event(Level::kError, msg, f); }

}  // namespace lakehouse::log
