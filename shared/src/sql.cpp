#include "lakehouse/shared/sql.h"

namespace lakehouse {
namespace {

std::string Quoted(std::string_view text, char quote) {
  std::string out(1, quote);
  for (char c : text) {
    if (c == quote) out.push_back(quote);
    out.push_back(c);
  }
  out.push_back(quote);
  return out;
}

}  // namespace

std::string SqlLiteral(std::string_view text) { return Quoted(text, '\''); }
std::string SqlIdentifier(std::string_view name) { return Quoted(name, '"'); }

}  // namespace lakehouse
