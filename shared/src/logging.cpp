#include "lakehouse/shared/logging.h"

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <atomic>

#include "lakehouse/shared/error.h"
#include "lakehouse/shared/telemetry.h"
#include "lakehouse/shared/types.h"

namespace lakehouse::log {
namespace {

std::atomic<int> g_level{static_cast<int>(Level::kInfo)};

spdlog::logger& Logger() {
  // The message is already a complete JSON object; spdlog only serialises writers onto stdout.
  static std::shared_ptr<spdlog::logger> logger = [] {
    auto sink = std::make_shared<spdlog::sinks::stdout_sink_mt>();
    auto l = std::make_shared<spdlog::logger>("lakehouse", sink);
    l->set_pattern("%v");
    l->set_level(spdlog::level::trace);
    l->flush_on(spdlog::level::trace);
    return l;
  }();
  return *logger;
}

std::string_view LevelName(Level level) {
  static constexpr std::string_view kNames[] = {"debug", "info", "warn", "error"};  // in Level's order
  const auto i = static_cast<size_t>(level);
  return i < std::size(kNames) ? kNames[i] : "info";
}

}  // namespace

Level ParseLevel(std::string_view text) {
  if (text == "debug") return Level::kDebug;
  if (text == "info") return Level::kInfo;
  if (text == "warn" || text == "warning") return Level::kWarn;
  if (text == "error") return Level::kError;
  Fail(ErrorCode::kInvalidArgument, "unknown log level '{}': use debug, info, warn or error", text);
}

void Init(Level level) {
  g_level = static_cast<int>(level);
  Logger();
}

bool Enabled(Level level) { return static_cast<int>(level) >= g_level.load(std::memory_order_relaxed); }

void Event(Level level, std::string_view msg, const nlohmann::json& fields) {
  if (!Enabled(level)) return;
  nlohmann::json line = {{"ts", FormatTimeMs(NowMs())}, {"level", LevelName(level)}, {"msg", msg}};
  if (fields.is_object()) {
    for (auto it = fields.begin(); it != fields.end(); ++it) line[it.key()] = it.value();
  }
  if (const auto trace = telemetry::Current(); trace.valid()) {  // the span this line belongs to
    line["trace_id"] = trace.TraceIdHex();
    line["span_id"] = trace.SpanIdHex();
  }
  Logger().info(line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

}  // namespace lakehouse::log
