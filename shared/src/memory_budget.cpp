#include "lakehouse/shared/memory_budget.h"

#include <cctype>
#include <charconv>
#include <string>

#include "lakehouse/shared/error.h"

namespace lakehouse {

uint64_t ParseByteSize(std::string_view text) {
  auto bad = [&]() {
    Fail(ErrorCode::kInvalidArgument,
         "invalid memory size '{}': use a number with an optional unit, e.g. 1GB, 512MiB or 1000000 (bytes)",
         text.substr(0, 40));
  };
  std::string_view rest = text;
  while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
  double number = 0;
  auto [end, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), number);
  if (ec != std::errc() || number < 0) bad();
  rest = std::string_view(end, static_cast<size_t>(rest.data() + rest.size() - end));
  std::string unit;
  for (char c : rest) {
    if (c != ' ') unit.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  }
  double multiplier = 0;
  if (unit.empty() || unit == "b" || unit == "byte" || unit == "bytes") {
    multiplier = 1;
  } else if (unit == "kb" || unit == "k") {
    multiplier = 1e3;
  } else if (unit == "mb" || unit == "m") {
    multiplier = 1e6;
  } else if (unit == "gb" || unit == "g") {
    multiplier = 1e9;
  } else if (unit == "tb" || unit == "t") {
    multiplier = 1e12;
  } else if (unit == "kib") {
    multiplier = 1024.0;
  } else if (unit == "mib") {
    multiplier = 1024.0 * 1024;
  } else if (unit == "gib") {
    multiplier = 1024.0 * 1024 * 1024;
  } else if (unit == "tib") {
    multiplier = 1024.0 * 1024 * 1024 * 1024;
  } else {
    bad();
  }
  return static_cast<uint64_t>(number * multiplier);
}

DuckDbBudget SplitDuckDbBudget(std::string_view memory_limit) {
  const uint64_t total = ParseByteSize(memory_limit);
  DuckDbBudget budget;
  budget.ingest_bytes = total / 4;
  budget.search_bytes = total / 16;
  budget.query_bytes = total - budget.ingest_bytes - budget.search_bytes;
  return budget;
}

std::string DuckDbBytes(uint64_t bytes) { return std::to_string(bytes) + " bytes"; }

}  // namespace lakehouse
