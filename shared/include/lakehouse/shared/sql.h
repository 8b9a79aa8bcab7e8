#pragma once
// The one SQL quoting helper (DuckDB dialect), for the few places that still write SQL text.
#include <string>
#include <string_view>

namespace lakehouse {

//! 'text' with every ' doubled: a string literal.
std::string SqlLiteral(std::string_view text);
//! "name" with every " doubled: an identifier, whatever characters it holds.
std::string SqlIdentifier(std::string_view name);

}  // namespace lakehouse
