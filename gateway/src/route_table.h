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

//! What a request needs to reach a route (auth_guard.cpp enforces it before the body is read;
//! docs/api/auth.md). Every entry must say: a route cannot be added without deciding.
enum class Permission {
  kPublic,        //!< anyone (health, the UI's static files, presigned object URLs: the signature is the credential)
  kScrape,        //!< any valid key, or the configured scrape token (auth.scrape_token): /ready, /metrics
  kRead,          //!< any valid key; the handler restricts what it reads to the key's grants (SQL, lists)
  kReadDataset,   //!< a key granted the dataset in the path ({name}, or {table} under /iceberg)
  kWrite,         //!< a writer or admin key; the handler checks the datasets it writes
  kWriteDataset,  //!< a writer or admin key granted the dataset in the path
  kAdmin,         //!< an admin key (key management)
};

struct RouteEntry {
  std::string_view method;
  std::string_view path;     //!< pattern: "{param}" segments, a final "{param...}" takes the rest
  Permission permission;     //!< what a request needs (auth_guard.cpp)
  std::string_view area;     //!< health, datasets, objects, query, ai, auth, iceberg, ui
  std::string_view handler;  //!< the function that serves it (for readers and docs/api.md)
  //! Bound by BuildRouter; null when the route's owner registers it itself (the server's health
  //! routes; routes_iceberg.cpp; routes_ui.cpp). BuildRouter checks those registrations against this table.
  RouteHandler bind = nullptr;
  RouteKind kind = RouteKind::kDefault;
};

//! Every route of the HTTP API, in the order docs/api.md lists them.
const std::vector<RouteEntry>& RouteTable();

}  // namespace lakehouse::gateway
