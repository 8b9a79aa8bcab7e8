#include "table.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <vector>

namespace lakehouse::app::cli {

namespace {

bool IsNumericType(const std::string& type) {
  for (const char* t : {"INT", "DOUBLE", "FLOAT", "DECIMAL", "REAL", "NUMERIC"}) {
    if (type.find(t) != std::string::npos) return true;
  }
  return false;
}

//! The first `cols` display columns of `text`, with "…" when cut.
std::string Cut(const std::string& text, size_t cols) {
  if (DisplayWidth(text) <= cols) return text;
  if (cols == 0) return "";
  std::string out;
  size_t seen = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    auto c = static_cast<unsigned char>(text[i]);
    if ((c & 0xC0) != 0x80) {
      if (seen == cols - 1) break;
      ++seen;
    }
    out += text[i];
  }
  return out + "…";
}

std::string Pad(const std::string& text, size_t cols, bool right) {
  size_t w = DisplayWidth(text);
  std::string fill(w < cols ? cols - w : 0, ' ');
  return right ? fill + text : text + fill;
}

std::string Center(const std::string& text, size_t cols) {
  size_t w = DisplayWidth(text);
  size_t extra = w < cols ? cols - w : 0;
  return std::string(extra / 2, ' ') + text + std::string(extra - extra / 2, ' ');
}

std::string Rule(const std::vector<size_t>& widths, const char* left, const char* mid, const char* right) {
  std::string out = left;
  for (size_t i = 0; i < widths.size(); ++i) {
    for (size_t k = 0; k < widths[i] + 2; ++k) out += "─";
    out += i + 1 < widths.size() ? mid : right;
  }
  return out + "\n";
}

}  // namespace

size_t DisplayWidth(const std::string& text) {
  size_t n = 0;
  for (char ch : text) {
    if ((static_cast<unsigned char>(ch) & 0xC0) != 0x80) ++n;
  }
  return n;
}

std::string CellText(const nlohmann::json& value) {
  if (value.is_null()) return "NULL";
  if (value.is_string()) {
    std::string s = value.get<std::string>();
    for (char& c : s) {
      if (c == '\n' || c == '\r' || c == '\t') c = ' ';
    }
    return s;
  }
  return value.dump();
}

std::string RenderTable(const nlohmann::json& result, size_t width) {
  const auto& columns = result.at("columns");
  const auto& rows = result.at("rows");
  const size_t n = columns.size();
  if (n == 0) return "(no columns)\n";
  std::vector<std::string> names, types;
  std::vector<bool> numeric;
  for (const auto& c : columns) {
    names.push_back(c.value("name", ""));
    std::string type = c.value("type", "");
    std::transform(type.begin(), type.end(), type.begin(), [](unsigned char ch) { return std::tolower(ch); });
    types.push_back(type);
    numeric.push_back(IsNumericType(c.value("type", "")));
  }
  std::vector<std::vector<std::string>> cells;
  cells.reserve(rows.size());
  std::vector<size_t> widths(n, 1);
  for (size_t i = 0; i < n; ++i) widths[i] = std::max({widths[i], DisplayWidth(names[i]), DisplayWidth(types[i])});
  for (const auto& row : rows) {
    std::vector<std::string> line;
    for (size_t i = 0; i < n; ++i) {
      line.push_back(i < row.size() ? CellText(row[i]) : "");
      widths[i] = std::max(widths[i], std::min<size_t>(DisplayWidth(line.back()), 60));
    }
    cells.push_back(std::move(line));
  }
  // Shrink the widest column until the table fits: each column takes width + 3 ("│ x "), plus 1.
  auto total = [&] {
    size_t t = 1;
    for (size_t w : widths) t += w + 3;
    return t;
  };
  while (width > 0 && total() > width) {
    auto widest = std::max_element(widths.begin(), widths.end());
    if (*widest <= 4) break;
    --*widest;
  }
  std::string out = Rule(widths, "┌", "┬", "┐");
  for (const auto* header : {&names, &types}) {
    out += "│";
    for (size_t i = 0; i < n; ++i) out += " " + Center(Cut((*header)[i], widths[i]), widths[i]) + " │";
    out += "\n";
  }
  out += Rule(widths, "├", "┼", "┤");
  for (const auto& line : cells) {
    out += "│";
    for (size_t i = 0; i < n; ++i) out += " " + Pad(Cut(line[i], widths[i]), widths[i], numeric[i]) + " │";
    out += "\n";
  }
  out += Rule(widths, "└", "┴", "┘");
  size_t count = rows.size();
  out += "  " + std::to_string(count) + (count == 1 ? " row" : " rows");
  if (result.contains("stats") && result["stats"].value("truncated", false)) out += " (truncated)";
  return out + "\n";
}

}  // namespace lakehouse::app::cli
