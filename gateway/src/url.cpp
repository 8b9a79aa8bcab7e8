#include "url.h"

namespace lakehouse::gateway {

std::map<std::string, std::string, std::less<>> ParseQueryString(std::string_view query) {
  std::map<std::string, std::string, std::less<>> out;
  size_t i = 0;
  while (i <= query.size()) {
    size_t amp = query.find('&', i);
    if (amp == std::string_view::npos) amp = query.size();
    std::string_view part = query.substr(i, amp - i);
    if (!part.empty()) {
      size_t eq = part.find('=');
      if (eq == std::string_view::npos) {
        out[PercentDecode(part, true)] = "";
      } else {
        out[PercentDecode(part.substr(0, eq), true)] = PercentDecode(part.substr(eq + 1), true);
      }
    }
    i = amp + 1;
  }
  return out;
}

}  // namespace lakehouse::gateway
