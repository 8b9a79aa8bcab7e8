#pragma once
// Nesting depth of JSON text, measured without parsing it. JSON parsers and DuckDB's JSON
// functions recurse once per level: a 20 KB body of '[' nested 10,000 deep overflows the stack of
// the thread that reads it. Input is checked with this first and refused past a limit.
#include <cstdint>
#include <string_view>

namespace lakehouse {

//! Default of the operator's limit on JSON nesting (request bodies, JSON/NDJSON uploads, the
//! recursive JSON functions of SQL). Real documents stay far below it; the stack is safe far above.
constexpr int kDefaultMaxJsonDepth = 256;

//! Tracks the depth of JSON text fed in pieces. String literals (with escapes) are skipped, so
//! brackets inside strings do not count. Malformed text is not an error here: the parser says so.
class JsonDepth {
 public:
  void Feed(std::string_view text);
  int max_depth() const { return max_depth_; }

 private:
  int depth_ = 0;
  int max_depth_ = 0;
  bool in_string_ = false;
  bool escaped_ = false;
};

//! The deepest nesting in `text`.
int JsonNestingDepth(std::string_view text);

//! Throws Error(kInvalidArgument) naming `what` when `text` nests deeper than `max_depth`.
void CheckJsonDepth(std::string_view text, int max_depth, std::string_view what);

}  // namespace lakehouse
