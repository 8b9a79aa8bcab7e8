#pragma once
// Request parameters, parsed one way for every route: unsigned integers, flags, dataset names.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lakehouse/gateway/http.h"

namespace lakehouse::gateway {

//! The whole of `text` as an unsigned decimal integer; nullopt when it is not one (empty, sign,
//! other characters, overflow).
std::optional<uint64_t> ParseUint(std::string_view text);
//! A non-negative integer query parameter (nullopt when absent or empty); throws 400 naming it
//! when it is not one.
std::optional<uint64_t> UintParam(const Request& req, std::string_view name);
//! A 1/0 (true/false, yes/no; present and empty = 1) query parameter; absent = false.
bool FlagParam(const Request& req, std::string_view name);
//! A comma-separated list query parameter ("a,b", blanks trimmed): nullopt when absent, an empty
//! list when present and empty; throws 400 naming it when an item is empty ("a,,b").
std::optional<std::vector<std::string>> ListParam(const Request& req, std::string_view name);
//! The dataset name from the path ("{name}"), validated (400 naming the rule otherwise).
std::string DatasetParam(const Request& req);

}  // namespace lakehouse::gateway
