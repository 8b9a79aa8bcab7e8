#include "params.h"

#include <charconv>

#include "lakehouse/shared/error.h"
#include "lakehouse/shared/types.h"

namespace lakehouse::gateway {

std::optional<uint64_t> ParseUint(std::string_view text) {
  uint64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

std::optional<uint64_t> UintParam(const Request& req, std::string_view name) {
  const std::optional<std::string> text = req.Query(name);
  if (!text || text->empty()) return std::nullopt;
  auto value = ParseUint(*text);
  if (!value) {
    Fail(ErrorCode::kInvalidArgument, "query parameter {} must be a non-negative integer, got '{}'", name,
         text->substr(0, 40));
  }
  return value;
}

bool FlagParam(const Request& req, std::string_view name) {
  auto text = req.Query(name);
  if (!text) return false;
  if (*text == "" || *text == "1" || *text == "true" || *text == "yes") return true;
  if (*text == "0" || *text == "false" || *text == "no") return false;
  Fail(ErrorCode::kInvalidArgument, "query parameter {} must be 1 or 0, got '{}'", name, text->substr(0, 40));
}

std::optional<std::vector<std::string>> ListParam(const Request& req, std::string_view name) {
  const std::optional<std::string> text = req.Query(name);
  if (!text) return std::nullopt;
  std::vector<std::string> items;
  std::string_view rest = *text;
  if (rest.find_first_not_of(' ') == std::string_view::npos) return items;
  for (;;) {
    const size_t comma = rest.find(',');
    std::string_view item = rest.substr(0, comma);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    if (item.empty()) {
      Fail(ErrorCode::kInvalidArgument, "query parameter {} has an empty item in '{}'; separate names with commas",
           name, text->substr(0, 80));
    }
    items.emplace_back(item);
    if (comma == std::string_view::npos) return items;
    rest.remove_prefix(comma + 1);
  }
}

std::string DatasetParam(const Request& req) { return DatasetId::Parse(req.Param("name")).str(); }

}  // namespace lakehouse::gateway
