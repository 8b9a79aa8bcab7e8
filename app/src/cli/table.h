#pragma once
// Aligned table output of query results for the terminal, in the style of DuckDB's CLI: a box
// with the column names and types, numbers right-aligned, and columns shrunk (cells cut with "…")
// so the table fits the terminal width.
#include <nlohmann/json_fwd.hpp>

#include <string>

namespace lakehouse::app::cli {

//! Renders a query result in the API's JSON form ({"columns": [{name,type}], "rows": [[...]]}).
//! `width` is the terminal width; 0 means no limit.
std::string RenderTable(const nlohmann::json& result, size_t width);

//! One JSON value as table text: strings bare, NULL as "NULL", nested values as JSON.
std::string CellText(const nlohmann::json& value);

//! Display width of UTF-8 text (code points; wide characters count as one).
size_t DisplayWidth(const std::string& text);

}  // namespace lakehouse::app::cli
