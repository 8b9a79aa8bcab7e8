#pragma once
// URL helpers for the gateway: percent-decoding and query strings.
#include <functional>
#include <map>
#include <string>
#include <string_view>

#include "lakehouse/shared/strings.h"

namespace lakehouse::gateway {

//! Decodes %XX escapes (and '+' as a space when asked); malformed escapes are kept literally.
using lakehouse::PercentDecode;
//! Parses "a=1&b=x%20y" into a map; a key without '=' maps to "". The last duplicate wins.
std::map<std::string, std::string, std::less<>> ParseQueryString(std::string_view query);

}  // namespace lakehouse::gateway
