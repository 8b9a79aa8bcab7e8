#pragma once
// The gateway's handler API: what a route handler sees. Deliberately free of Beast/Asio headers
// so route files compile fast. The server (gateway/src/server.cpp) implements these over Beast.
//
// Handlers throw lakehouse::Error for request-ending errors; the server turns it into
//   {"error":{"code":"not_found","message":"...","request_id":"..."}} with the mapped status,
// as long as the response has not started streaming. After Begin(), a thrown error aborts the
// connection (the client sees a truncated chunked body, never a silently short result).
#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lakehouse/shared/error.h"
#include "lakehouse/shared/io.h"

namespace lakehouse::gateway {

struct Principal;  // lakehouse/gateway/auth.h

class Request {
 public:
  virtual ~Request() = default;
  virtual std::string_view method() const = 0;
  //! Percent-decoded path without the query string, e.g. "/api/v1/datasets/sales".
  virtual std::string_view path() const = 0;
  //! Raw query string without '?', e.g. "format=csv&limit=10".
  virtual std::string_view raw_query() const = 0;
  virtual std::optional<std::string> Header(std::string_view name) const = 0;
  //! Percent-decoded query parameter.
  virtual std::optional<std::string> Query(std::string_view name) const = 0;
  //! Path parameter captured by "{name}" in the route pattern; throws if the route has none.
  virtual const std::string& Param(std::string_view name) const = 0;
  virtual const std::string& request_id() const = 0;
  //! Content-Length when the client sent one (absent for chunked uploads).
  virtual std::optional<uint64_t> content_length() const = 0;
  //! The body as a stream, read as the handler consumes it (never buffered whole). The route's
  //! body limit applies: reading past it throws Error(kPayloadTooLarge).
  virtual ByteSource& Body() = 0;
  //! The whole body (for small JSON bodies), within the route's body limit.
  std::string ReadBody();
  //! The body parsed as a JSON object; throws Error(kInvalidArgument) saying what is wrong.
  nlohmann::json ReadJson();

  //! The API key the request authenticated with (set by the router's guard before the handler
  //! runs); null when auth is off or the route is public: then nothing is restricted.
  const Principal* principal() const { return principal_.get(); }
  void set_principal(std::shared_ptr<const Principal> principal) { principal_ = std::move(principal); }

 private:
  std::shared_ptr<const Principal> principal_;
};

class Response {
 public:
  virtual ~Response() = default;
  virtual void SetHeader(std::string name, std::string value) = 0;
  //! A complete response with a body.
  virtual void Send(int status, std::string_view body, std::string_view content_type) = 0;
  //! Starts a chunked, streamed response. Then Write() any number of times and End().
  virtual void Begin(int status, std::string_view content_type) = 0;
  //! Starts a streamed response of a known length (sent as Content-Length, not chunked): the
  //! Write() calls must add up to exactly `content_length` bytes before End().
  virtual void BeginSized(int status, std::string_view content_type, uint64_t content_length) = 0;
  //! Writes one chunk; returns false when the client is gone (stop producing).
  virtual bool Write(std::string_view data) = 0;
  virtual void End() = 0;
  //! Write(data) then End(), which a response may send together (one write for a small body).
  virtual bool WriteAndEnd(std::string_view data) {
    const bool ok = data.empty() || Write(data);
    End();
    return ok;
  }
  //! True when the client closed its side (cheap poll; for cancelling long work).
  virtual bool ClientGone() = 0;
  virtual bool started() const = 0;
  void Json(int status, const nlohmann::json& body);
};

using Handler = std::function<void(Request&, Response&)>;

//! The route a request matched: its method and pattern ("/api/v1/datasets/{name}"); both empty when
//! no route matched (the request is then answered 404/405 after the guard passes it).
struct RouteRef {
  std::string_view method;
  std::string_view pattern;
};

//! What the guard decided about one request.
struct GuardResult {
  std::optional<ErrorCode> error;  //!< refuse with this code and `message` (a JSON error)
  std::string message;
  bool answered = false;  //!< a CORS preflight: answer 204 with `headers`, no route runs
  //! Headers of the response, whatever it is (WWW-Authenticate, CORS).
  std::vector<std::pair<std::string, std::string>> headers;
  //! Log an audit line (key id, action, dataset, status) when the request ends.
  bool audit = false;
  std::string audit_dataset;
};

//! Runs before a request reaches its route, before its body is read, on the I/O thread: it must not
//! block. May set the request's principal.
using Guard = std::function<GuardResult(Request& request, const RouteRef& route)>;

struct RouteOptions {
  //! Run on the I/O thread: only for handlers that never block (health, static files).
  bool inline_handler = false;
  //! Body limit for this route; 0 means the server's default (server.max_body_bytes).
  uint64_t max_body_bytes = 0;
};

//! Routes by method and pattern. Patterns are literal segments and "{param}" segments; a final
//! "{param...}" captures the rest of the path (slashes included). Unknown path -> 404; known
//! path with another method -> 405 with an Allow header.
class Router {
 public:
  void Add(std::string_view method, std::string_view pattern, Handler handler, RouteOptions options = {});

  struct Match {
    RouteRef route;  //!< the matched route (empty when none)
    const Handler* handler = nullptr;
    const RouteOptions* options = nullptr;
    const std::string* pattern = nullptr;  //!< the route template (metrics and span names)
    std::map<std::string, std::string, std::less<>> params;
    std::vector<std::string> allowed_methods;  //!< set when the path matched but the method did not
  };
  Match Find(std::string_view method, std::string_view path) const;
  //! (method, pattern) of every route, in the order they were added.
  std::vector<std::pair<std::string, std::string>> List() const;

  //! The guard every request passes first (auth, Host, Origin: gateway/src/auth_guard.cpp).
  void SetGuard(Guard guard) { guard_ = std::move(guard); }
  const Guard& guard() const { return guard_; }

 private:
  struct Route {
    std::string method;
    std::string pattern;
    std::vector<std::string> segments;
    Handler handler;
    RouteOptions options;
  };
  std::vector<Route> routes_;
  Guard guard_;
};

}  // namespace lakehouse::gateway
