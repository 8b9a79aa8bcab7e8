#pragma once
// Internals shared by the iceberg library's files.
#include <optional>
#include <string>

namespace lakehouse::iceberg {

//! A lower bound for `text` (strings truncated to a prefix); nullopt when none can be written.
std::optional<std::string> LowerBound(const std::string& iceberg_type, const std::string& text);
//! An upper bound for `text` (long strings get none); nullopt when none can be written.
std::optional<std::string> UpperBound(const std::string& iceberg_type, const std::string& text);

}  // namespace lakehouse::iceberg
