#include <nlohmann/json.hpp>

#include "lakehouse/gateway/http.h"
#include "lakehouse/shared/error.h"
#include "lakehouse/shared/json_depth.h"

namespace lakehouse::gateway {
namespace {

std::vector<std::string> SplitPath(std::string_view path) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < path.size()) {
    while (i < path.size() && path[i] == '/') ++i;
    size_t j = path.find('/', i);
    if (j == std::string_view::npos) j = path.size();
    if (j > i) out.emplace_back(path.substr(i, j - i));
    i = j;
  }
  return out;
}

bool IsParam(std::string_view seg) { return seg.size() >= 2 && seg.front() == '{' && seg.back() == '}'; }
bool IsRestParam(std::string_view seg) {
  return IsParam(seg) && seg.size() > 5 && seg.substr(seg.size() - 4) == "...}";
}

}  // namespace

void Router::Add(std::string_view method, std::string_view pattern, Handler handler, RouteOptions options) {
  routes_.push_back(Route{std::string(method), std::string(pattern), SplitPath(pattern), std::move(handler), options});
}

std::vector<std::pair<std::string, std::string>> Router::List() const {
  std::vector<std::pair<std::string, std::string>> out;
  out.reserve(routes_.size());
  for (const auto& route : routes_) out.emplace_back(route.method, route.pattern);
  return out;
}

Router::Match Router::Find(std::string_view method, std::string_view path) const {
  Match result;
  const auto segments = SplitPath(path);
  for (const auto& route : routes_) {
    std::map<std::string, std::string, std::less<>> params;
    bool matched = true;
    size_t i = 0;
    for (; i < route.segments.size(); ++i) {
      const auto& seg = route.segments[i];
      if (IsRestParam(seg)) {
        if (i >= segments.size()) {
          matched = false;
          break;
        }
        std::string rest;
        for (size_t k = i; k < segments.size(); ++k) {
          if (!rest.empty()) rest += '/';
          rest += segments[k];
        }
        params[seg.substr(1, seg.size() - 5)] = std::move(rest);
        i = segments.size();
        break;
      }
      if (i >= segments.size()) {
        matched = false;
        break;
      }
      if (IsParam(seg)) {
        params[seg.substr(1, seg.size() - 2)] = segments[i];
      } else if (seg != segments[i]) {
        matched = false;
        break;
      }
    }
    if (!matched || i != segments.size()) continue;
    if (route.method != method && !(method == "HEAD" && route.method == "GET")) {
      result.allowed_methods.push_back(route.method);
      continue;
    }
    result.route = RouteRef{route.method, route.pattern};
    result.handler = &route.handler;
    result.options = &route.options;
    result.pattern = &route.pattern;
    result.params = std::move(params);
    return result;
  }
  return result;
}

std::string Request::ReadBody() {
  std::string out;
  char buf[16384];
  for (;;) {
    size_t n = Body().Read(buf, sizeof buf);
    if (n == 0) break;
    out.append(buf, n);
  }
  return out;
}

nlohmann::json Request::ReadJson() {
  std::string body = ReadBody();
  if (body.empty()) Fail(ErrorCode::kInvalidArgument, "the request body is empty: send a JSON object");
  // The parser recurses per level: refuse deep nesting before it sees the body.
  CheckJsonDepth(body, kDefaultMaxJsonDepth, "the request body");
  nlohmann::json j = nlohmann::json::parse(body, nullptr, false);
  if (j.is_discarded()) Fail(ErrorCode::kInvalidArgument, "the request body is not valid JSON");
  if (!j.is_object()) Fail(ErrorCode::kInvalidArgument, "the request body must be a JSON object");
  return j;
}

void Response::Json(int status, const nlohmann::json& body) {
  Send(status, body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace), "application/json");
}

}  // namespace lakehouse::gateway
