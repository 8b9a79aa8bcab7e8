#include "lakehouse/app/supervisor.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <thread>

// The project's one libcurl client; it lives in aibridge today (the renovation moves it to shared).
#include "lakehouse/shared/error.h"
#include "lakehouse/shared/http_client.h"
#include "lakehouse/shared/logging.h"

extern char** environ;

namespace lakehouse::app {
namespace {

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

uint16_t FreePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) Fail(ErrorCode::kInternal, "socket() failed while picking a free port");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    ::close(fd);
    Fail(ErrorCode::kInternal, "could not pick a free 127.0.0.1 port");
  }
  ::close(fd);
  return ntohs(addr.sin_port);
}

std::string Trim(std::string url) {
  while (!url.empty() && url.back() == '/') url.pop_back();
  if (!url.empty() && url.find("://") == std::string::npos) url = "http://" + url;  // OLLAMA_HOST style
  return url;
}

struct Child {
  std::string name;         // "sidecar" | "model server"
  std::string health_path;  // probed with GET
  std::string url;
  bool managed = false;
  std::vector<std::string> argv;
  std::map<std::string, std::string> env;
  std::string log_path;
  pid_t pid = -1;
  std::string status = "stopped";  // starting | ok | unhealthy | restarting | stopped | down
  int restarts = 0;
  int failures = 0;
  int64_t backoff_ms = 0;
  Clock::time_point started{};
  Clock::time_point next_restart{};
  Clock::time_point next_probe{};
  Clock::time_point term_sent{};
  bool terminating = false;
  std::string kind;     // model server: "ollama" | "bundled"
  bool initial = true;  // the next spawn is the first one (not counted as a restart)
  int exits = 0;        // times the process exited
  int last_status = 0;  // its last wait status
};

bool IsAiHome(const std::filesystem::path& dir) {
  std::error_code ec;
  return std::filesystem::is_regular_file(dir / "sidecar" / "app.py", ec) &&
         std::filesystem::is_regular_file(dir / "modelserver" / "server.py", ec);
}

}  // namespace

pid_t SpawnProcess(const std::vector<std::string>& argv_in, const std::map<std::string, std::string>& extra_env,
                   const std::string& log_path, const std::string& what, bool inherit_stdout) {
  std::vector<std::string> env_strings;
  std::map<std::string, std::string> merged;
  for (char** e = environ; *e; ++e) {
    std::string kv(*e);
    auto eq = kv.find('=');
    if (eq != std::string::npos) merged[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  for (const auto& [k, v] : extra_env) merged[k] = v;
  env_strings.reserve(merged.size());
  for (const auto& [k, v] : merged) env_strings.push_back(fmt::format("{}={}", k, v));
  std::vector<std::string> args = argv_in;
  std::vector<char*> envp, argv;
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  for (auto& s : args) argv.push_back(s.data());
  argv.push_back(nullptr);
  int log_fd = -1;
  if (!log_path.empty()) log_fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  const pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid < 0) Fail(ErrorCode::kInternal, "fork() failed starting {}", what);
  if (pid == 0) {
    ::setpgid(0, 0);
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (::getppid() != parent) ::_exit(1);
    // The parent may block signals in every thread (sigwait): the child starts with none blocked.
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    int devnull = ::open("/dev/null", O_RDONLY);
    if (devnull >= 0) ::dup2(devnull, 0);
    if (log_fd >= 0) {
      ::dup2(log_fd, 1);
      ::dup2(log_fd, 2);
    } else if (!inherit_stdout) {
      ::dup2(2, 1);  // the service's stdout carries its JSON logs: children write to stderr
    }
    ::close_range(3, ~0U, 0);
    ::execve(argv[0], argv.data(), envp.data());
    ::_exit(127);
  }
  if (log_fd >= 0) ::close(log_fd);
  ::setpgid(pid, pid);
  return pid;
}

int TerminateProcess(pid_t pid, int64_t timeout_ms) {
  ::kill(-pid, SIGTERM);
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  int st = 0;
  while (::waitpid(pid, &st, WNOHANG) == 0) {
    if (Clock::now() >= deadline) {
      ::kill(-pid, SIGKILL);
      ::waitpid(pid, &st, 0);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return st;
}

std::string FindAiHome(const std::string& exe) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::path bindir = fs::weakly_canonical(fs::path(exe), ec).parent_path();
  if (ec || bindir.empty()) return "";
  if (fs::path installed = bindir.parent_path() / "share" / "lakehouse"; IsAiHome(installed)) {
    return installed.lexically_normal().string();
  }
  for (fs::path dir = bindir;; dir = dir.parent_path()) {
    if (IsAiHome(dir)) return dir.string();
    if (dir == dir.parent_path()) return "";
  }
}

std::string FindAiHome() {
  std::error_code ec;
  auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? std::string() : FindAiHome(exe.string());
}

class AiSupervisor::Impl {
 public:
  explicit Impl(SupervisorConfig config) : cfg_(std::move(config)) {
    if (cfg_.home.empty()) cfg_.home = FindAiHome();
    if (cfg_.python.empty() && !cfg_.home.empty()) cfg_.python = cfg_.home + "/.venv/bin/python";
    if (cfg_.ollama_url.empty()) {
      const char* env = std::getenv("OLLAMA_HOST");
      cfg_.ollama_url = env && *env ? env : "http://127.0.0.1:11434";
    }
    cfg_.ollama_url = Trim(cfg_.ollama_url);
    cfg_.sidecar_url = Trim(cfg_.sidecar_url);
    if (cfg_.model_server == "always") cfg_.model_server = "bundled";
    if (cfg_.model_server == "never") cfg_.model_server = "external";
    LH_USER_CHECK(cfg_.model_server == "auto" || cfg_.model_server == "external" || cfg_.model_server == "bundled",
                  "ai.model_server must be auto, always (bundled) or never (external), got \"{}\"", cfg_.model_server);
    // The sidecar's address is fixed now, so callers can point a client at it before Start().
    if (cfg_.sidecar_url.empty() && cfg_.sidecar_port == 0) cfg_.sidecar_port = FreePort();
  }

  ~Impl() { Stop(); }

  void Start() {
    std::unique_lock lock(mu_);
    if (running_) return;
    model_ = Child{};
    model_.name = "model server";
    model_.health_path = "/api/version";
    sidecar_ = Child{};
    sidecar_.name = "sidecar";
    sidecar_.health_path = "/health";

    // 1. The Ollama API: a real Ollama when one answers (mode auto/external), else the bundled server.
    bool spawn_model = cfg_.model_server == "bundled";
    if (cfg_.model_server == "auto") spawn_model = !Probe(cfg_.ollama_url + "/api/version", 1000);
    if (spawn_model) {
      uint16_t port = cfg_.model_server_port ? cfg_.model_server_port : FreePort();
      model_.kind = "bundled";
      Manage(model_, port, {cfg_.python, cfg_.home + "/modelserver/server.py", "--port", std::to_string(port)},
             "modelserver.log", "/modelserver/server.py", "the bundled model server");
    } else {
      model_.url = cfg_.ollama_url;
      model_.kind = "ollama";
    }

    // 2. The sidecar, pointed at that Ollama API.
    if (cfg_.sidecar_url.empty()) {
      const uint16_t port = cfg_.sidecar_port;
      Manage(sidecar_, port,
             {cfg_.python, "-m", "uvicorn", "app:app", "--app-dir", cfg_.home + "/sidecar", "--host", "127.0.0.1",
              "--port", std::to_string(port), "--log-level", "warning", "--no-access-log"},
             "sidecar.log", "/sidecar/app.py", "the AI sidecar");
      sidecar_.env["OLLAMA_HOST"] = model_.url;
      if (spawn_model) sidecar_.env["SIDECAR_DEFAULTS"] = "bundled";
      if (!cfg_.embed_model.empty()) sidecar_.env["EMBED_MODEL"] = cfg_.embed_model;
      if (!cfg_.gen_model.empty()) sidecar_.env["GEN_MODEL"] = cfg_.gen_model;
      if (!cfg_.rerank_model.empty()) sidecar_.env["RERANK_MODEL"] = cfg_.rerank_model;
    } else {
      sidecar_.url = cfg_.sidecar_url;
    }

    log::Info("ai supervisor starting", {{"model_server", model_.url},
                                         {"model_server_kind", model_.kind},
                                         {"sidecar", sidecar_.url},
                                         {"sidecar_managed", sidecar_.managed}});
    // The watcher thread forks every child (PR_SET_PDEATHSIG fires when the *thread* that forked
    // a child ends, and Start() may run on a short-lived thread). Both children start at once; the
    // sidecar copes with a model server that is not up yet. External ones are only watched.
    for (Child* c : {&model_, &sidecar_}) {
      c->status = c->managed ? "restarting" : "starting";
      c->next_restart = Clock::now();
      c->initial = true;
    }
    running_ = true;
    stopping_ = false;
    watcher_ = std::thread([this] { Watch(); });
    cv_.notify_all();
    lock.unlock();
    // When a spawned child does not come up, Start() reports it but the watcher keeps restarting
    // it (with backoff): the caller may serve without AI meanwhile.
    std::string failure;
    for (Child* c : {&model_, &sidecar_}) {
      if (!c->managed) continue;
      try {
        WaitHealthy(*c);
      } catch (const Error& e) {
        failure = e.what();
        break;
      }
    }
    if (!failure.empty()) {
      Fail(ErrorCode::kUnavailable, "{} (the supervisor keeps restarting it; AI requests answer 503 meanwhile)",
           failure);
    }
  }

  void Stop() {
    {
      std::lock_guard lock(mu_);
      if (!running_ && sidecar_.pid < 0 && model_.pid < 0) return;
      stopping_ = true;
    }
    cv_.notify_all();
    if (watcher_.joinable()) watcher_.join();
    std::lock_guard lock(mu_);
    // Sidecar first (it depends on the model server), each SIGTERM then SIGKILL after the grace period.
    for (Child* c : {&sidecar_, &model_}) Terminate(*c);
    running_ = false;
  }

  std::string sidecar_url() const {
    if (!cfg_.sidecar_url.empty()) return cfg_.sidecar_url;
    return fmt::format("http://127.0.0.1:{}", cfg_.sidecar_port);
  }
  std::string model_server_url() const {
    std::lock_guard lock(mu_);
    return model_.url;
  }

  json Health() const {
    std::lock_guard lock(mu_);
    auto one = [](const Child& c) {
      json j{{"url", c.url}, {"managed", c.managed}, {"status", c.status}, {"restarts", c.restarts}};
      if (c.managed) {
        j["pid"] = c.pid;
        j["log"] = c.log_path.empty() ? json(nullptr) : json(c.log_path);
      }
      if (!c.kind.empty()) j["kind"] = c.kind;
      return j;
    };
    return json{{"sidecar", one(sidecar_)}, {"model_server", one(model_)}};
  }

 private:
  //! Makes `child` a process this supervisor starts: `argv` serving on 127.0.0.1:`port`, the
  //! extra environment, its log file. Fails now, naming it, when the AI home, `script` (below the
  //! home) or the venv's Python is missing.
  void Manage(Child& child, uint16_t port, std::vector<std::string> argv, const std::string& log_file,
              const std::string& script, const char* what) {
    child.url = fmt::format("http://127.0.0.1:{}", port);
    child.managed = true;
    child.argv = std::move(argv);
    child.env = cfg_.extra_env;
    child.log_path = LogPath(log_file);
    RequireHome();
    RequireFile(cfg_.home + script, what);
    RequireFile(cfg_.python, "the Python venv (run scripts/setup.sh)");
  }

  std::string LogPath(const std::string& file) const {
    if (cfg_.log_dir.empty()) return "";
    std::filesystem::create_directories(cfg_.log_dir);
    return cfg_.log_dir + "/" + file;
  }

  void RequireHome() const {
    if (cfg_.home.empty()) {
      Fail(ErrorCode::kUnavailable,
           "cannot find the AI home (the folder holding sidecar/ and modelserver/) next to this binary "
           "(<bindir>/../share/lakehouse or an ancestor of <bindir>): set ai.home (LAKEHOUSE_AI_HOME, "
           "--ai-home), or ai.sidecar_url to use a running sidecar");
    }
  }

  static void RequireFile(const std::string& path, const char* what) {
    if (!std::filesystem::exists(path)) {
      Fail(ErrorCode::kUnavailable,
           "cannot start {}: {} is missing (run scripts/setup.sh, set ai.home / ai.python, or set the AI "
           "URLs in the config to use running services)",
           what, path);
    }
  }

  bool Probe(const std::string& url, int64_t timeout_ms) {
    HttpRequest r;
    r.url = url;
    r.timeout_ms = timeout_ms;
    r.connect_timeout_ms = std::min<int64_t>(timeout_ms, 500);
    HttpResponse out = http_.Send(r);
    return out.transport_error == 0 && out.status == 200;
  }

  void Spawn(Child& c) {
    const pid_t pid = SpawnProcess(c.argv, c.env, c.log_path, "the AI " + c.name);
    c.pid = pid;
    c.started = Clock::now();
    c.next_probe = c.started;
    c.failures = 0;
    c.terminating = false;
    c.status = "starting";
    log::Info("ai child started", {{"child", c.name}, {"pid", pid}, {"url", c.url}});
  }

  //! Waits until `c` answers its health check; fails early when the watcher saw it exit.
  void WaitHealthy(Child& c) {
    const auto deadline = Clock::now() + std::chrono::milliseconds(cfg_.start_timeout_ms);
    std::string url;
    while (Clock::now() < deadline) {
      {
        std::lock_guard lock(mu_);
        url = c.url + c.health_path;
        if (c.exits > 0) {
          Fail(ErrorCode::kUnavailable, "the AI {} exited while starting (wait status {}){}", c.name, c.last_status,
               c.log_path.empty() ? std::string(": see stderr") : ": see " + c.log_path);
        }
      }
      if (Probe(url, 1000)) {
        std::lock_guard lock(mu_);
        c.status = "ok";
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    Fail(ErrorCode::kUnavailable, "the AI {} at {} did not answer {} within {} ms{}", c.name, c.url, c.health_path,
         cfg_.start_timeout_ms, c.log_path.empty() ? std::string(": see stderr") : ": see " + c.log_path);
  }

  //! SIGTERM to the child's process group, SIGKILL after stop_timeout_ms; reaps it. Holds mu_.
  void Terminate(Child& c) {
    if (!c.managed || c.pid <= 0) return;
    TerminateProcess(c.pid, cfg_.stop_timeout_ms);
    log::Info("ai child stopped", {{"child", c.name}, {"pid", c.pid}});
    c.pid = -1;
    c.status = "stopped";
  }

  void Watch() {
    std::unique_lock lock(mu_);
    while (!stopping_) {
      for (Child* c : {&model_, &sidecar_}) Tend(*c, lock);
      cv_.wait_for(lock, std::chrono::milliseconds(100), [this] { return stopping_; });
    }
  }

  //! One watcher step for one child: reap/restart a dead one, probe a live one. Holds mu_ on entry.
  void Tend(Child& c, std::unique_lock<std::mutex>& lock) {
    const auto now = Clock::now();
    if (c.managed && c.pid > 0) {
      int st = 0;
      if (::waitpid(c.pid, &st, WNOHANG) == c.pid) {
        ++c.exits;
        c.last_status = st;
        c.backoff_ms = c.backoff_ms == 0 ? cfg_.restart_backoff_ms : std::min(c.backoff_ms * 2, cfg_.max_backoff_ms);
        log::Warn("ai child exited; restarting",
                  {{"child", c.name}, {"pid", c.pid}, {"wait_status", st}, {"restart_in_ms", c.backoff_ms}});
        c.pid = -1;
        c.status = "restarting";
        c.next_restart = now + std::chrono::milliseconds(c.backoff_ms);
        return;
      }
      if (c.terminating && now - c.term_sent > std::chrono::milliseconds(cfg_.stop_timeout_ms)) {
        ::kill(-c.pid, SIGKILL);
      }
    }
    if (c.managed && c.pid < 0) {
      if (now >= c.next_restart) {
        if (!c.initial) ++c.restarts;
        c.initial = false;
        try {
          Spawn(c);
        } catch (const Error& e) {
          log::Error("ai child restart failed", {{"child", c.name}, {"error", e.what()}});
          c.next_restart = now + std::chrono::milliseconds(cfg_.max_backoff_ms);
        }
      }
      return;
    }
    if (now < c.next_probe || c.terminating) return;
    c.next_probe = now + std::chrono::milliseconds(cfg_.health_interval_ms);
    const std::string url = c.url + c.health_path;
    lock.unlock();
    const bool ok = Probe(url, 2000);
    lock.lock();
    if (stopping_) return;
    if (ok) {
      c.failures = 0;
      c.status = "ok";
      // Healthy for a minute: the next crash restarts quickly again.
      if (now - c.started > std::chrono::seconds(60)) c.backoff_ms = 0;
      return;
    }
    ++c.failures;
    const bool in_startup =
        c.managed && c.status == "starting" && now - c.started < std::chrono::milliseconds(cfg_.start_timeout_ms);
    if (in_startup) return;
    c.status = c.managed ? "unhealthy" : "down";
    if (c.managed && c.failures >= cfg_.health_failures_to_restart && c.pid > 0) {
      log::Warn("ai child not answering; killing it for a restart",
                {{"child", c.name}, {"pid", c.pid}, {"failed_probes", c.failures}});
      ::kill(-c.pid, SIGTERM);
      c.terminating = true;
      c.term_sent = now;
    }
  }

  SupervisorConfig cfg_;
  HttpClient http_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool running_ = false;
  bool stopping_ = false;
  Child model_, sidecar_;
  std::thread watcher_;
};

AiSupervisor::AiSupervisor(SupervisorConfig config) : impl_(std::make_unique<Impl>(std::move(config))) {}
AiSupervisor::~AiSupervisor() = default;
void AiSupervisor::Start() { impl_->Start(); }
void AiSupervisor::Stop() { impl_->Stop(); }
std::string AiSupervisor::sidecar_url() const { return impl_->sidecar_url(); }
std::string AiSupervisor::model_server_url() const { return impl_->model_server_url(); }
nlohmann::json AiSupervisor::Health() const { return impl_->Health(); }

// ---- ProcessSupervisor ------------------------------------------------------------------------

bool TcpReachable(const std::string& address, int timeout_ms) {
  const auto colon = address.rfind(':');
  if (colon == std::string::npos) return false;
  std::string host = address.substr(0, colon);
  if (host.size() > 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
  const std::string port = address.substr(colon + 1);
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (::getaddrinfo(host.c_str(), port.c_str(), &hints, &found) != 0 || found == nullptr) return false;
  bool ok = false;
  for (addrinfo* a = found; a != nullptr && !ok; a = a->ai_next) {
    int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) continue;
    if (::connect(fd, a->ai_addr, a->ai_addrlen) == 0) {
      ok = true;
    } else if (errno == EINPROGRESS) {
      pollfd p{fd, POLLOUT, 0};
      int err = 0;
      socklen_t len = sizeof(err);
      ok = ::poll(&p, 1, timeout_ms) == 1 && ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0;
    }
    ::close(fd);
  }
  ::freeaddrinfo(found);
  return ok;
}

class ProcessSupervisor::Impl {
 public:
  explicit Impl(ProcessSupervisorOptions options) : opt_(options) {}
  ~Impl() { Stop(); }

  bool Start(std::vector<ProcessSpec> specs) {
    {
      std::lock_guard lock(mu_);
      if (stopping_) return false;  // stopped before it started
      if (running_) Fail(ErrorCode::kInternal, "the process supervisor is already running");
      running_ = true;
      // The watcher thread forks every process (PR_SET_PDEATHSIG follows the forking thread) and
      // stops them too, so they outlive nothing but it.
      watcher_ = std::thread([this] { Watch(); });
    }
    for (auto& spec : specs) {
      const std::string name = spec.name;
      const std::string ready = spec.ready_address;
      {
        std::lock_guard lock(mu_);
        if (stopping_) return false;
        auto proc = std::make_unique<Proc>();
        proc->spec = std::move(spec);
        proc->next_start = Clock::now();
        procs_.push_back(std::move(proc));
      }
      cv_.notify_all();
      if (!ready.empty() && !WaitReady(name, ready)) return false;
    }
    return true;
  }

  void Stop() {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
      if (!running_) return;
    }
    cv_.notify_all();
    if (watcher_.joinable()) watcher_.join();
    std::lock_guard lock(mu_);
    running_ = false;
  }

  json Health() const {
    std::lock_guard lock(mu_);
    json out = json::array();
    for (const auto& p : procs_) {
      out.push_back({{"name", p->spec.name},
                     {"pid", p->pid},
                     {"status", p->pid > 0 ? "running" : "restarting"},
                     {"restarts", p->restarts}});
    }
    return out;
  }

 private:
  struct Proc {
    ProcessSpec spec;
    pid_t pid = -1;
    int restarts = 0;
    bool started_once = false;
    int64_t backoff_ms = 0;
    Clock::time_point started{};
    Clock::time_point next_start{};
  };

  //! False when stopping meanwhile.
  bool WaitReady(const std::string& name, const std::string& address) {
    const auto deadline = Clock::now() + std::chrono::milliseconds(opt_.start_timeout_ms);
    while (Clock::now() < deadline) {
      {
        std::lock_guard lock(mu_);
        if (stopping_) return false;
      }
      if (TcpReachable(address, 200)) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    Fail(ErrorCode::kUnavailable, "{} did not listen on {} within {} ms (it is restarted while it exits)", name,
         address, opt_.start_timeout_ms);
  }

  void Watch() {
    std::unique_lock lock(mu_);
    while (!stopping_) {
      const auto now = Clock::now();
      for (auto& p : procs_) Tend(*p, now);
      cv_.wait_for(lock, std::chrono::milliseconds(50), [this] { return stopping_; });
    }
    // Reverse order: the gateway drains before the services it calls go away.
    for (auto it = procs_.rbegin(); it != procs_.rend(); ++it) {
      Proc& p = **it;
      if (p.pid <= 0) continue;
      const int st = TerminateProcess(p.pid, opt_.stop_timeout_ms);
      log::Info("process stopped", {{"process", p.spec.name}, {"pid", p.pid}, {"wait_status", st}});
      p.pid = -1;
    }
  }

  //! Holds mu_: reaps `p` when it exited and schedules its restart; starts it when due.
  void Tend(Proc& p, Clock::time_point now) {
    if (p.pid > 0) {
      int st = 0;
      if (::waitpid(p.pid, &st, WNOHANG) != p.pid) {
        if (now - p.started > std::chrono::seconds(60)) p.backoff_ms = 0;  // up for a minute: restart fast again
        return;
      }
      p.backoff_ms = p.backoff_ms == 0 ? opt_.restart_backoff_ms : std::min(p.backoff_ms * 2, opt_.max_backoff_ms);
      log::Warn("process exited; restarting", {{"process", p.spec.name},
                                               {"pid", p.pid},
                                               {"exit_code", WIFEXITED(st) ? WEXITSTATUS(st) : -1},
                                               {"signal", WIFSIGNALED(st) ? WTERMSIG(st) : 0},
                                               {"restart_in_ms", p.backoff_ms}});
      p.pid = -1;
      p.next_start = now + std::chrono::milliseconds(p.backoff_ms);
      return;
    }
    if (now < p.next_start) return;
    try {
      p.pid = SpawnProcess(p.spec.argv, p.spec.env, "", p.spec.name, /*inherit_stdout=*/true);
      p.started = now;
      if (p.started_once) ++p.restarts;
      p.started_once = true;
      log::Info("process started", {{"process", p.spec.name}, {"pid", p.pid}, {"restarts", p.restarts}});
    } catch (const std::exception& e) {
      log::Error("process start failed", {{"process", p.spec.name}, {"error", e.what()}});
      p.next_start = now + std::chrono::milliseconds(opt_.max_backoff_ms);
    }
  }

  ProcessSupervisorOptions opt_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool running_ = false;
  bool stopping_ = false;
  std::vector<std::unique_ptr<Proc>> procs_;
  std::thread watcher_;
};

ProcessSupervisor::ProcessSupervisor(ProcessSupervisorOptions options) : impl_(std::make_unique<Impl>(options)) {}
ProcessSupervisor::~ProcessSupervisor() = default;
bool ProcessSupervisor::Start(std::vector<ProcessSpec> processes) { return impl_->Start(std::move(processes)); }
void ProcessSupervisor::Stop() { impl_->Stop(); }
nlohmann::json ProcessSupervisor::Health() const { return impl_->Health(); }

}  // namespace lakehouse::app
