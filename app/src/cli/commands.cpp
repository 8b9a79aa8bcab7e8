#include "commands.h"

#include <editline/readline.h>
#include <fmt/format.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <initializer_list>
#include <iostream>
#include <nlohmann/json.hpp>
#include <utility>

#include "lakehouse/shared/error.h"
#include "lakehouse/shared/http_client.h"
#include "table.h"

namespace lakehouse::app::cli {

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr int kExitRefused = 1;
constexpr int kExitUsage = 2;
constexpr int kExitUnreachable = 3;
constexpr int kTableRowLimit = 10000;

//! The server answered with an error: its message, exit code 1.
struct Refused : std::runtime_error {
  using std::runtime_error::runtime_error;
};
//! The command line asked for something impossible: exit code 2.
struct Usage : std::runtime_error {
  using std::runtime_error::runtime_error;
};

using HttpResult = lakehouse::HttpResponse;
using SinkFn = std::function<bool(std::string_view chunk)>;
using ProgressFn = std::function<void(uint64_t sent, uint64_t total)>;

//! The server at `base` through the shared HTTP client: the API key as a Bearer token, no overall
//! timeout (downloads may be long), and transport failures as lakehouse errors (exit code 3).
class Http {
 public:
  Http(std::string base, std::string api_key) : base_(std::move(base)), api_key_(std::move(api_key)) {
    while (!base_.empty() && base_.back() == '/') base_.pop_back();
  }

  HttpResult Get(const std::string& path, const SinkFn& sink = {}) {
    HttpRequest request = Request("GET", path, "");
    request.on_data = sink;
    return Perform(request);
  }
  HttpResult Post(const std::string& path, std::string body, const std::string& content_type, const SinkFn& sink = {}) {
    HttpRequest request = Request("POST", path, content_type);
    request.body = std::move(body);
    request.on_data = sink;
    return Perform(request);
  }
  HttpResult Delete(const std::string& path) { return Perform(Request("DELETE", path, "")); }
  //! Sends `file` (of `size` bytes) as the request body, streamed from disk.
  HttpResult Upload(const std::string& method, const std::string& path, std::FILE* file, uint64_t size,
                    const ProgressFn& progress) {
    HttpRequest request = Request(method, path, "application/octet-stream");
    request.upload_file = file;
    request.upload_size = size;
    request.on_upload_progress = progress;
    return Perform(request);
  }

  const std::string& base() const { return base_; }

 private:
  HttpRequest Request(const std::string& method, const std::string& path, const std::string& content_type) const {
    HttpRequest request;
    request.method = method;
    request.url = base_ + path;
    request.content_type = content_type;
    if (!api_key_.empty()) request.headers.push_back("Authorization: Bearer " + api_key_);
    request.timeout_ms = 0;
    request.connect_timeout_ms = 5000;
    request.use_env_proxy = true;
    return request;
  }

  HttpResult Perform(const HttpRequest& request) {
    HttpResult r = client_.Send(request);
    if (r.transport_error == 0) return r;
    if (r.connect_failed) {
      Fail(ErrorCode::kUnavailable,
           "cannot reach the server at {} ({}); start it with `lakehouse serve` or set --url / LAKEHOUSE_URL", base_,
           r.error);
    }
    if (r.status >= 200 && r.status < 300) {
      Fail(ErrorCode::kUnavailable, "the response from {} was cut off: {}", base_, r.error);
    }
    if (r.status == 0) Fail(ErrorCode::kUnavailable, "request to {} failed: {}", request.url, r.error);
    return r;
  }

  std::string base_;
  std::string api_key_;
  HttpClient client_;
};

//! The server's error message from a JSON error body ({"error": {"code", "message"}}), or the body.
std::string ErrorMessage(const HttpResult& result) {
  auto j = nlohmann::json::parse(result.body, nullptr, false);
  if (j.is_object() && j.contains("error") && j["error"].is_object()) {
    return j["error"].value("message", result.body);
  }
  if (result.body.empty()) return "HTTP " + std::to_string(result.status);
  return result.body;
}

const HttpResult& Check(const HttpResult& r) {
  if (r.status < 200 || r.status >= 300) throw Refused(ErrorMessage(r));
  return r;
}

std::string Escape(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '_' || c == '-' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += fmt::format("%{:02X}", c);
    }
  }
  return out;
}

std::string Bytes(double n) {
  const char* units[] = {"B", "KB", "MB", "GB", "TB"};
  int i = 0;
  while (n >= 1024 && i < 4) {
    n /= 1024;
    ++i;
  }
  return i == 0 ? fmt::format("{:.0f} B", n) : fmt::format("{:.1f} {}", n, units[i]);
}

//! A table for RenderTable with these columns (name, DuckDB type) and no rows yet.
nlohmann::json EmptyTable(std::initializer_list<std::pair<const char*, const char*>> columns) {
  nlohmann::json table{{"columns", nlohmann::json::array()}, {"rows", nlohmann::json::array()}};
  for (const auto& [name, type] : columns) table["columns"].push_back({{"name", name}, {"type", type}});
  return table;
}

size_t TerminalWidth() {
  winsize ws{};
  if (isatty(STDOUT_FILENO) && ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) return ws.ws_col;
  if (const char* cols = std::getenv("COLUMNS")) return static_cast<size_t>(std::strtoul(cols, nullptr, 10));
  return 0;
}

std::string Trim(const std::string& s) {
  size_t a = s.find_first_not_of(" \t\r\n");
  if (a == std::string::npos) return "";
  size_t b = s.find_last_not_of(" \t\r\n");
  return s.substr(a, b - a + 1);
}

//! True when `sql` ends with a ';' outside quotes and comments (a complete statement).
bool Complete(const std::string& sql) {
  char quote = 0;
  bool last_semicolon = false;
  for (size_t i = 0; i < sql.size(); ++i) {
    char c = sql[i];
    if (quote != 0) {
      if (c == quote) quote = 0;
      continue;
    }
    if (c == '-' && i + 1 < sql.size() && sql[i + 1] == '-') {
      while (i < sql.size() && sql[i] != '\n') ++i;
      continue;
    }
    if (c == '\'' || c == '"') {
      quote = c;
      last_semicolon = false;
    } else if (c == ';') {
      last_semicolon = true;
    } else if (!std::isspace(static_cast<unsigned char>(c))) {
      last_semicolon = false;
    }
  }
  return quote == 0 && last_semicolon;
}

}  // namespace

struct ClientCommands::State {
  CLI::App* sql = nullptr;
  CLI::App* datasets = nullptr;
  CLI::App* describe = nullptr;
  CLI::App* upload = nullptr;
  CLI::App* download = nullptr;
  CLI::App* keys = nullptr;
  CLI::App* keys_create = nullptr;
  CLI::App* keys_list = nullptr;
  CLI::App* keys_revoke = nullptr;
  std::string role;
  std::string grants;
  std::string expires;
  std::string key_id;
  std::string url;
  std::string format = "table";
  std::string query;
  std::string name;
  std::string file;
  std::string upload_format;
  bool append = false;
  bool replace = false;
  int64_t version = 0;
  bool timer = false;

  std::unique_ptr<Http> http;

  void Connect() {
    std::string base = url;
    if (base.empty()) {
      const char* env = std::getenv("LAKEHOUSE_URL");
      base = env != nullptr && *env != 0 ? env : "http://127.0.0.1:8080";
    }
    if (base.find("://") == std::string::npos) base = "http://" + base;
    const char* key = std::getenv("LAKEHOUSE_API_KEY");
    http = std::make_unique<Http>(base, key != nullptr ? key : "");
  }

  // ---- sql ------------------------------------------------------------------------------------

  void RunSql(const std::string& text) {
    auto start = Clock::now();
    nlohmann::json body{{"sql", text}};
    if (format == "table") {
      body["format"] = "json";
      body["limit"] = kTableRowLimit;
      auto r = Check(http->Post("/api/v1/query", body.dump(), "application/json"));
      auto result = nlohmann::json::parse(r.body);
      std::cout << RenderTable(result, TerminalWidth());
    } else {
      body["format"] = format;
      Check(http->Post("/api/v1/query", body.dump(), "application/json", [](std::string_view chunk) {
        std::cout.write(chunk.data(), static_cast<std::streamsize>(chunk.size()));
        return static_cast<bool>(std::cout);
      }));
    }
    std::cout.flush();
    if (timer) {
      double secs = std::chrono::duration<double>(Clock::now() - start).count();
      std::cerr << fmt::format("Run Time (s): real {:.3f}\n", secs);
    }
  }

  void Tables() {
    auto r = Check(http->Get("/api/v1/datasets"));
    auto list = nlohmann::json::parse(r.body);
    auto table = EmptyTable(
        {{"name", "VARCHAR"}, {"rows", "BIGINT"}, {"size", "VARCHAR"}, {"version", "BIGINT"}, {"updated", "VARCHAR"}});
    for (const auto& d : list["datasets"]) {
      table["rows"].push_back({d["name"], d["rows"], Bytes(d["bytes"].get<double>()), d["version"], d["updated"]});
    }
    if (format == "json") {
      std::cout << list.dump() << "\n";
    } else if (format == "csv") {
      std::cout << "name,rows,bytes,version,updated\n";
      for (const auto& d : list["datasets"]) {
        std::cout << fmt::format("{},{},{},{},{}\n", d["name"].get<std::string>(), d["rows"].dump(), d["bytes"].dump(),
                                 d["version"].dump(), d["updated"].get<std::string>());
      }
    } else {
      std::cout << RenderTable(table, TerminalWidth());
    }
  }

  void Schema(const std::string& dataset) {
    auto r = Check(http->Get("/api/v1/datasets/" + Escape(dataset)));
    auto d = nlohmann::json::parse(r.body);
    if (format == "json") {
      std::cout << d.dump() << "\n";
      return;
    }
    std::cout << fmt::format("{}  v{} · {} rows · {} · updated {}\n", d["name"].get<std::string>(),
                             d["version"].get<int64_t>(), d["rows"].get<int64_t>(), Bytes(d["bytes"].get<double>()),
                             d["updated"].get<std::string>());
    auto schema = EmptyTable({{"column", "VARCHAR"}, {"type", "VARCHAR"}, {"nullable", "VARCHAR"}});
    for (const auto& c : d["schema"]) {
      schema["rows"].push_back({c["name"], c["type"], c.value("nullable", true) ? "yes" : "no"});
    }
    std::cout << RenderTable(schema, TerminalWidth());
    auto versions =
        EmptyTable({{"version", "BIGINT"}, {"operation", "VARCHAR"}, {"rows", "BIGINT"}, {"created", "VARCHAR"}});
    for (const auto& v : d["versions"]) {
      versions["rows"].push_back({v["version"], v["operation"], v["rows"], v["created_at"]});
    }
    std::cout << RenderTable(versions, TerminalWidth());
  }

  //! One line of input (REPL or piped script); `buffer` collects a multi-line statement.
  //! Returns false on .quit.
  bool Feed(const std::string& line, std::string& buffer, bool& failed) {
    std::string trimmed = Trim(line);
    try {
      if (buffer.empty() && !trimmed.empty() && trimmed[0] == '.') {
        std::istringstream words(trimmed);
        std::string cmd, arg;
        words >> cmd >> arg;
        if (cmd == ".quit" || cmd == ".exit") return false;
        if (cmd == ".tables") {
          std::string saved = format;
          format = "table";
          Tables();
          format = saved;
        } else if (cmd == ".schema") {
          if (arg.empty()) throw Usage(".schema needs a dataset name: .schema NAME");
          Schema(arg);
        } else if (cmd == ".timer") {
          if (arg != "on" && arg != "off") throw Usage(".timer on|off");
          timer = arg == "on";
        } else if (cmd == ".help") {
          std::cout << "SQL statements end with ';'. Commands:\n"
                       "  .tables          list datasets\n"
                       "  .schema NAME     columns and versions of a dataset\n"
                       "  .timer on|off    print each statement's run time\n"
                       "  .quit            leave (also Ctrl-D)\n";
        } else {
          throw Usage("unknown command " + cmd + " (try .help)");
        }
        return true;
      }
      if (trimmed.empty() && buffer.empty()) return true;
      buffer += line + "\n";
      if (Complete(buffer)) {
        std::string statement = Trim(buffer);
        buffer.clear();
        while (!statement.empty() && statement.back() == ';')
          statement = Trim(statement.substr(0, statement.size() - 1));
        if (!statement.empty()) RunSql(statement);
      }
    } catch (const Refused& e) {
      std::cerr << "Error: " << e.what() << "\n";
      failed = true;
    } catch (const Usage& e) {
      std::cerr << "Error: " << e.what() << "\n";
      failed = true;
    }
    return true;
  }

  int Repl() {
    std::string buffer;
    bool failed = false;
    if (!isatty(STDIN_FILENO)) {
      std::string line;
      while (std::getline(std::cin, line)) {
        if (!Feed(line, buffer, failed)) break;
      }
      if (!Trim(buffer).empty()) Feed(";", buffer, failed);
      return failed ? kExitRefused : 0;
    }
    std::string history;
    if (const char* home = std::getenv("HOME")) history = std::string(home) + "/.lakehouse_history";
    using_history();
    if (!history.empty()) read_history(history.c_str());
    std::cout << "Lakehouse SQL on " << http->base() << ". Statements end with ';'; .help for commands.\n";
    for (;;) {
      char* raw = readline(buffer.empty() ? "lakehouse> " : "      ...> ");
      if (raw == nullptr) break;
      std::string line(raw);
      std::free(raw);
      if (!Trim(line).empty()) add_history(line.c_str());
      if (!Feed(line, buffer, failed)) break;
    }
    if (!history.empty()) write_history(history.c_str());
    std::cout << "\n";
    return 0;
  }

  int Sql() {
    if (format != "table" && format != "csv" && format != "json" && format != "arrow") {
      throw Usage("--format must be table, csv, json or arrow");
    }
    if (format == "arrow" && isatty(STDOUT_FILENO)) {
      throw Usage("--format arrow writes binary Arrow IPC: redirect it to a file or a pipe");
    }
    if (query.empty()) return Repl();
    RunSql(query);
    return 0;
  }

  // ---- upload / download ----------------------------------------------------------------------

  int Upload() {
    if (append && replace) throw Usage("--append and --replace exclude each other");
    std::error_code ec;
    uint64_t size = fs::file_size(file, ec);
    if (ec) throw Usage(fmt::format("cannot read {}: {}", file, ec.message()));
    std::unique_ptr<std::FILE, decltype(&std::fclose)> in(std::fopen(file.c_str(), "rb"), std::fclose);
    if (!in) throw Usage(fmt::format("cannot open {}", file));
    std::string path = "/api/v1/datasets/" + Escape(name) + (append ? "/append" : "");
    if (!upload_format.empty()) path += "?format=" + Escape(upload_format);
    const bool tty = isatty(STDERR_FILENO) != 0;
    auto start = Clock::now();
    auto last = start - std::chrono::seconds(1);
    bool converting = false;
    auto progress = [&](uint64_t sent, uint64_t total) {
      if (!tty) return;
      auto now = Clock::now();
      if (sent < total && now - last < std::chrono::milliseconds(100)) return;
      if (sent >= total && converting) return;
      last = now;
      double secs = std::chrono::duration<double>(now - start).count();
      double rate = secs > 0 ? static_cast<double>(sent) / secs : 0;
      double eta = rate > 0 ? static_cast<double>(total - sent) / rate : 0;
      int pct = total > 0 ? static_cast<int>(100 * sent / total) : 100;
      int filled = pct * 30 / 100;
      std::string bar =
          std::string(static_cast<size_t>(filled), '#') + std::string(static_cast<size_t>(30 - filled), '-');
      if (sent >= total) {
        converting = true;
        std::cerr << fmt::format("\r[{}] {} sent; converting and committing...\033[K", bar,
                                 Bytes(static_cast<double>(total)))
                  << std::flush;
      } else {
        std::cerr << fmt::format("\r[{}] {:3d}% {} / {}  {}/s  ETA {:.0f}s\033[K", bar, pct,
                                 Bytes(static_cast<double>(sent)), Bytes(static_cast<double>(total)), Bytes(rate), eta)
                  << std::flush;
      }
    };
    HttpResult r = http->Upload(replace ? "PUT" : "POST", path, in.get(), size, progress);
    if (tty) std::cerr << "\r\033[K" << std::flush;
    Check(r);
    auto m = nlohmann::json::parse(r.body);
    double secs = std::chrono::duration<double>(Clock::now() - start).count();
    std::cout << fmt::format("{} v{}: {} rows, {} ({}) in {:.2f} s\n", m["dataset"].get<std::string>(),
                             m["version"].get<int64_t>(), m["row_count"].get<int64_t>(),
                             Bytes(m["byte_count"].get<double>()), m["ingest"].value("format", ""), secs);
    return 0;
  }

  // ---- keys ------------------------------------------------------------------------------------

  int Keys() {
    if (keys_create->parsed()) {
      nlohmann::json body{{"role", role}, {"datasets", grants}};
      if (!expires.empty()) body["expires_in"] = expires;
      if (!name.empty()) body["name"] = name;
      auto created = nlohmann::json::parse(Check(http->Post("/api/v1/keys", body.dump(), "application/json")).body);
      std::cerr << fmt::format("created {} key {} (datasets: {}; expires: {}); it is shown only now:\n",
                               created["role"].get<std::string>(), created["id"].get<std::string>(),
                               created["datasets"].empty() ? "all" : grants,
                               created["expires"].is_null() ? "never" : created["expires"].get<std::string>());
      std::cout << created["key"].get<std::string>() << "\n";
      return 0;
    }
    if (keys_revoke->parsed()) {
      auto revoked = nlohmann::json::parse(Check(http->Delete("/api/v1/keys/" + Escape(key_id))).body);
      std::cout << fmt::format("revoked key {}\n", revoked["id"].get<std::string>());
      return 0;
    }
    auto list = nlohmann::json::parse(Check(http->Get("/api/v1/keys")).body);
    if (format == "json") {
      std::cout << list.dump() << "\n";
      return 0;
    }
    auto table = EmptyTable({{"id", "VARCHAR"},
                             {"role", "VARCHAR"},
                             {"datasets", "VARCHAR"},
                             {"status", "VARCHAR"},
                             {"created", "VARCHAR"},
                             {"expires", "VARCHAR"},
                             {"name", "VARCHAR"}});
    for (const auto& k : list["keys"]) {
      std::string datasets;
      for (const auto& d : k["datasets"]) datasets += (datasets.empty() ? "" : ",") + d.get<std::string>();
      table["rows"].push_back({k["id"], k["role"], datasets.empty() ? "*" : datasets, k["status"], k["created"],
                               k["expires"].is_null() ? "never" : k["expires"], k["name"]});
    }
    std::cout << RenderTable(table, TerminalWidth());
    return 0;
  }

  //! Streams `path` into `target` (a temporary file renamed into place when complete; "-" = stdout).
  void Fetch(const std::string& path, const std::string& target) {
    if (target == "-") {
      Check(http->Get(path, [](std::string_view chunk) {
        std::cout.write(chunk.data(), static_cast<std::streamsize>(chunk.size()));
        return static_cast<bool>(std::cout);
      }));
      return;
    }
    std::string tmp = target + ".part";
    std::unique_ptr<std::FILE, decltype(&std::fclose)> out(std::fopen(tmp.c_str(), "wb"), std::fclose);
    if (!out) throw Usage(fmt::format("cannot write {}", tmp));
    HttpResult r;
    try {
      r = http->Get(path, [&](std::string_view chunk) {
        return std::fwrite(chunk.data(), 1, chunk.size(), out.get()) == chunk.size();
      });
    } catch (...) {
      out.reset();
      fs::remove(tmp);
      throw;
    }
    bool ok = std::fflush(out.get()) == 0;
    out.reset();
    if (r.status < 200 || r.status >= 300 || !ok) {
      fs::remove(tmp);
      if (!ok) throw Refused(fmt::format("cannot write {}", target));
      Check(r);
    }
    fs::rename(tmp, target);
  }

  int Download() {
    std::string base = "/api/v1/datasets/" + Escape(name);
    auto manifest =
        nlohmann::json::parse(Check(http->Get(version > 0 ? fmt::format("{}/versions/{}", base, version) : base)).body);
    if (manifest.contains("head")) manifest = manifest["head"];
    int64_t v = manifest["version"].get<int64_t>();
    const auto& objects = manifest["objects"];
    if (objects.empty()) throw Refused(fmt::format("{} v{} has no data objects", name, v));
    if (objects.size() == 1) {
      Fetch(fmt::format("{}/data?version={}&object=0", base, v), file);
      if (file != "-") std::cerr << fmt::format("wrote {} ({} v{})\n", file, name, v);
      return 0;
    }
    if (file == "-") throw Usage("this version has several Parquet objects; give a file name, not -");
    fs::path target(file);
    for (size_t i = 0; i < objects.size(); ++i) {
      std::string part =
          (target.parent_path() / fmt::format("{}-{}{}", target.stem().string(), i, target.extension().string()))
              .string();
      Fetch(fmt::format("{}/data?version={}&object={}", base, v, i), part);
      std::cerr << fmt::format("wrote {} ({} rows)\n", part, objects[i].value("row_count", int64_t{0}));
    }
    return 0;
  }
};

ClientCommands::ClientCommands(CLI::App& app) : state_(std::make_unique<State>()) {
  State& s = *state_;
  auto add_url = [&s](CLI::App* cmd) {
    cmd->add_option("--url", s.url, "server URL (default $LAKEHOUSE_URL, else http://127.0.0.1:8080)");
  };
  s.sql = app.add_subcommand("sql", "run SQL on a server; an interactive shell when no SQL is given");
  add_url(s.sql);
  s.sql->add_option("--format,-f", s.format, "table | csv | json | arrow")->capture_default_str();
  s.sql->add_option("query", s.query, "one SQL statement (omit for the shell; piped input runs as a script)");
  s.sql->footer(
      "Shell commands: .tables, .schema NAME, .timer on|off, .help, .quit. LAKEHOUSE_API_KEY is sent as a "
      "Bearer token.\nExit codes: 0 ok, 1 the server refused, 2 bad usage, 3 server unreachable.");

  s.datasets = app.add_subcommand("datasets", "list the datasets of a server");
  add_url(s.datasets);
  s.datasets->add_option("--format,-f", s.format, "table | csv | json")->capture_default_str();

  s.describe = app.add_subcommand("describe", "schema and versions of a dataset");
  add_url(s.describe);
  s.describe->add_option("name", s.name, "dataset name")->required();
  s.describe->add_option("--format,-f", s.format, "table | json")->capture_default_str();

  s.upload =
      app.add_subcommand("upload", "upload a Parquet/CSV/JSON/NDJSON file as a dataset (progress on a terminal)");
  add_url(s.upload);
  s.upload->add_option("file", s.file, "file to upload")->required();
  s.upload->add_option("name", s.name, "dataset name")->required();
  s.upload->add_flag("--append", s.append, "add the file as a new version of an existing dataset");
  s.upload->add_flag("--replace", s.replace, "replace the dataset's data with the file");
  s.upload->add_option("--format", s.upload_format, "parquet | csv | json | ndjson (default: sniffed)");

  s.download = app.add_subcommand("download", "download a dataset's Parquet data to a file (- for stdout)");
  add_url(s.download);
  s.download->add_option("name", s.name, "dataset name")->required();
  s.download->add_option("file", s.file, "target file; NAME-<i>.parquet parts when the version has several")
      ->required();
  s.download->add_option("--version", s.version, "an older version (default: the head)");

  s.keys = app.add_subcommand("keys", "manage API keys (needs an admin key in LAKEHOUSE_API_KEY)");
  s.keys->require_subcommand(1);
  s.keys_create = s.keys->add_subcommand("create", "create a key; prints it once on stdout");
  add_url(s.keys_create);
  s.keys_create->add_option("--role", s.role, "reader | writer | admin")->required();
  s.keys_create->add_option("--datasets", s.grants, "datasets it may use: names and prefixes, e.g. 'sales,web_*'");
  s.keys_create->add_option("--expires", s.expires, "lifetime, e.g. 30d, 12h (default: never)");
  s.keys_create->add_option("--name", s.name, "a note saying whose key it is");
  s.keys_list = s.keys->add_subcommand("list", "list the keys (no secrets)");
  add_url(s.keys_list);
  s.keys_list->add_option("--format,-f", s.format, "table | json")->capture_default_str();
  s.keys_revoke = s.keys->add_subcommand("revoke", "revoke a key (every server refuses it within auth.refresh_ms)");
  add_url(s.keys_revoke);
  s.keys_revoke->add_option("id", s.key_id, "the key's id (from keys list)")->required();
}

ClientCommands::~ClientCommands() = default;

std::optional<int> ClientCommands::Run() {
  State& s = *state_;
  CLI::App* given = nullptr;
  for (CLI::App* cmd : {s.sql, s.datasets, s.describe, s.upload, s.download, s.keys}) {
    if (cmd->parsed()) given = cmd;
  }
  if (given == nullptr) return std::nullopt;
  try {
    s.Connect();
    if (given == s.sql) return s.Sql();
    if (given == s.datasets) {
      s.Tables();
      return 0;
    }
    if (given == s.describe) {
      s.Schema(s.name);
      return 0;
    }
    if (given == s.upload) return s.Upload();
    if (given == s.keys) return s.Keys();
    return s.Download();
  } catch (const Refused& e) {
    std::cerr << "lakehouse: " << e.what() << "\n";
    return kExitRefused;
  } catch (const Usage& e) {
    std::cerr << "lakehouse: " << e.what() << "\n";
    return kExitUsage;
  } catch (const Error& e) {
    std::cerr << "lakehouse: " << e.what() << "\n";
    return e.code() == ErrorCode::kUnavailable ? kExitUnreachable : kExitRefused;
  }
}

}  // namespace lakehouse::app::cli
