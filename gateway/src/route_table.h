#pragma once
// The one list of every HTTP route: path, method, area, handler. Adding a route is one entry in
// route_table.cpp (plus its handler in routes_<area>.cpp); docs/api.md's route index is checked
// against this table by gateway/tests/route_table_test.cpp.
#include <cstdint>
#include <string_view>
#include <vector>

#include "lakehouse/gateway/gateway.h"

namespace lakehouse::gateway {

using RouteHandler = void (*)(const Services& services, Request& req, Response& res);

//! Body limit of the AI routes: the sidecar allows 8 MiB of text; JSON adds quoting.
inline constexpr uint64_t kAiBodyLimit = 16ull << 20;

//! The body limit and thread a route runs with.
enum class RouteKind {
  kDefault,  //!< worker thread, server.max_body_bytes
  kUpload,   //!< worker thread, Services::max_upload_bytes
  kInline,   //!< I/O thread (never blocks), no body
  kAi,       //!< worker thread, kAiBodyLimit (texts for the models)
};

struct RouteEntry {
  std::string_view method;
  std::string_view path;     //!< pattern: "{param}" segments, a final "{param...}" takes the rest
  std::string_view area;     //!< health, datasets, objects, query, ai, iceberg, ui
  std::string_view handler;  //!< the function that serves it (for readers and docs/api.md)
  //! Bound by BuildRouter; null when the route's owner registers it itself (the server's health
  //! routes; routes_iceberg.cpp; routes_ui.cpp). BuildRouter checks those registrations against this table.
  RouteHandler bind = nullptr;
  RouteKind kind = RouteKind::kDefault;
};

//! Every route of the HTTP API, in the order docs/api.md lists them.
const std::vector<RouteEntry>& RouteTable();

}  // namespace lakehouse::gateway
