// The web UI: serves the built single-page app (ui/, built by scripts/setup.d/50-ui.sh into
// ui/dist) as static files. See docs/api.md "Web UI".
//
//   GET /                       index.html (Cache-Control: no-cache)
//   GET /assets/{file...}       Vite's content-hashed bundles (Cache-Control: immutable, 1 year)
//   GET /favicon.svg            other top-level files of the build
//   GET /datasets, /sql, ...    the app's own pages (SPA fallback): index.html
//
// Only these paths are served, so /api/..., /health and /ready keep their own meaning and an
// unknown API path is still a JSON 404. The directory is `server.ui_dir`, or found next to the
// binary (a build tree's ui/dist, or an install's share/lakehouse/ui).
#include <filesystem>
#include <fstream>
#include <sstream>

#include "routes.h"

namespace lakehouse::gateway {

namespace {

namespace fs = std::filesystem;

//! The app's client-side pages: each answers with index.html (the app routes on the path).
constexpr std::string_view kAppPages[] = {"datasets", "sql", "search", "status", "upload"};

std::string_view ContentType(const fs::path& file) {
  static const std::pair<std::string_view, std::string_view> kTypes[] = {
      {".html", "text/html; charset=utf-8"},
      {".js", "text/javascript; charset=utf-8"},
      {".mjs", "text/javascript; charset=utf-8"},
      {".css", "text/css; charset=utf-8"},
      {".json", "application/json"},
      {".map", "application/json"},
      {".svg", "image/svg+xml"},
      {".png", "image/png"},
      {".ico", "image/x-icon"},
      {".woff2", "font/woff2"},
      {".wasm", "application/wasm"},
      {".txt", "text/plain; charset=utf-8"},
  };
  std::string ext = file.extension().string();
  for (const auto& [suffix, type] : kTypes) {
    if (ext == suffix) return type;
  }
  return "application/octet-stream";
}

//! The UI directory: the configured one, else the first build output found above the binary.
fs::path FindUiDir(const std::string& configured) {
  if (!configured.empty()) return fs::path(configured);
  std::error_code ec;
  fs::path dir = fs::read_symlink("/proc/self/exe", ec).parent_path();
  for (int up = 0; up < 5 && !dir.empty(); ++up) {
    for (const char* candidate : {"ui/dist", "share/lakehouse/ui"}) {
      if (fs::is_regular_file(dir / candidate / "index.html", ec)) return dir / candidate;
    }
    if (dir == dir.parent_path()) break;
    dir = dir.parent_path();
  }
  return {};
}

//! A relative path made only of plain names (no "..", ".", empty parts, backslashes or NULs).
bool SafeRelative(std::string_view rel) {
  if (rel.empty()) return false;
  size_t start = 0;
  while (start <= rel.size()) {
    size_t end = rel.find('/', start);
    if (end == std::string_view::npos) end = rel.size();
    std::string_view part = rel.substr(start, end - start);
    if (part.empty() || part == "." || part == ".." || part.find('\\') != std::string_view::npos ||
        part.find('\0') != std::string_view::npos) {
      return false;
    }
    start = end + 1;
  }
  return true;
}

class UiFiles {
 public:
  explicit UiFiles(fs::path root) : root_(std::move(root)) {
    std::error_code ec;
    if (!root_.empty() && !fs::is_regular_file(root_ / "index.html", ec)) root_.clear();
  }

  //! Sends `rel` (a path below the UI directory) or a JSON 404.
  void Serve(std::string_view rel, bool immutable, Response& res) const {
    if (root_.empty()) {
      Fail(ErrorCode::kNotFound,
           "the web UI is not built: run scripts/setup.sh (it builds ui/ into ui/dist) or point server.ui_dir at a "
           "directory with index.html");
    }
    if (!SafeRelative(rel)) Fail(ErrorCode::kNotFound, "no such file in the web UI: '{}'", rel);
    fs::path file = root_ / fs::path(std::string(rel));
    std::error_code ec;
    if (!fs::is_regular_file(file, ec)) Fail(ErrorCode::kNotFound, "no such file in the web UI: '{}'", rel);
    std::ifstream in(file, std::ios::binary);
    std::ostringstream body;
    body << in.rdbuf();
    if (!in) Fail(ErrorCode::kInternal, "cannot read web UI file '{}'", rel);
    res.SetHeader("Cache-Control", immutable ? "public, max-age=31536000, immutable" : "no-cache");
    res.SetHeader("X-Content-Type-Options", "nosniff");
    res.Send(200, body.str(), ContentType(file));
  }

  void Index(Response& res) const {
    res.SetHeader("Content-Security-Policy",
                  "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
                  "connect-src 'self'; frame-ancestors 'none'");
    Serve("index.html", false, res);
  }

 private:
  fs::path root_;
};

}  // namespace

void RegisterUiRoutes(Router& router, const Services& services) {
  auto files = std::make_shared<const UiFiles>(FindUiDir(services.ui_dir));
  RouteOptions inline_route{.inline_handler = true};
  router.Add(
      "GET", "/", [files](Request&, Response& res) { files->Index(res); }, inline_route);
  router.Add(
      "GET", "/assets/{file...}",
      [files](Request& req, Response& res) { files->Serve("assets/" + req.Param("file"), true, res); }, inline_route);
  router.Add(
      "GET", "/favicon.svg", [files](Request&, Response& res) { files->Serve("favicon.svg", false, res); },
      inline_route);
  for (std::string_view page : kAppPages) {
    std::string pattern = "/" + std::string(page);
    router.Add(
        "GET", pattern, [files](Request&, Response& res) { files->Index(res); }, inline_route);
    router.Add(
        "GET", pattern + "/{rest...}", [files](Request&, Response& res) { files->Index(res); }, inline_route);
  }
}

}  // namespace lakehouse::gateway
