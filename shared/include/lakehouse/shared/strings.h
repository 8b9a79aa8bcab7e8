#pragma once
// Small text helpers shared by the services.
#include <string>
#include <string_view>
#include <vector>

namespace lakehouse {

//! A comma-separated list as its items, spaces around each trimmed and empty items dropped:
//! " a, b ,," -> {"a", "b"}.
std::vector<std::string> SplitList(std::string_view text);

//! Decodes %XX escapes (and '+' as a space when asked); malformed escapes are kept literally.
std::string PercentDecode(std::string_view text, bool plus_as_space);

}  // namespace lakehouse
