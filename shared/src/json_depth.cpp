#include "lakehouse/shared/json_depth.h"

#include "lakehouse/shared/error.h"

namespace lakehouse {

void JsonDepth::Feed(std::string_view text) {
  for (const char c : text) {
    if (in_string_) {
      if (escaped_) {
        escaped_ = false;
      } else if (c == '\\') {
        escaped_ = true;
      } else if (c == '"') {
        in_string_ = false;
      }
      continue;
    }
    switch (c) {
      case '"':
        in_string_ = true;
        break;
      case '[':
      case '{':
        if (++depth_ > max_depth_) max_depth_ = depth_;
        break;
      case ']':
      case '}':
        if (depth_ > 0) --depth_;
        break;
      default:
        break;
    }
  }
}

int JsonNestingDepth(std::string_view text) {
  JsonDepth depth;
  depth.Feed(text);
  return depth.max_depth();
}

void CheckJsonDepth(std::string_view text, int max_depth, std::string_view what) {
  const int depth = JsonNestingDepth(text);
  if (depth > max_depth) {
    Fail(ErrorCode::kInvalidArgument, "{} nests {} levels deep; the limit is {} (limits.max_json_depth)", what, depth,
         max_depth);
  }
}

}  // namespace lakehouse
