#pragma once
// Starts and watches the AI child processes of `lakehouse serve`: the Python sidecar (uvicorn from
// a venv) and, when no Ollama answers at the configured address, the bundled model server
// (modelserver/server.py). app/ owns every service's lifetime, these children included. Children listen on 127.0.0.1
// only, are health-checked, restarted with backoff when they exit or stop answering, and stopped (SIGTERM, then
// SIGKILL) by Stop(). Either child can instead be given as a URL, and is then only health-checked, never spawned.
#include <sys/types.h>
#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace lakehouse::app {

struct SupervisorConfig {
  //! The directory holding sidecar/ and modelserver/ (the "AI home"). Empty: FindAiHome() from
  //! the running binary. Nothing about the source tree is compiled in.
  std::string home;
  //! Python with the sidecar's packages (default: <home>/.venv/bin/python).
  std::string python;

  //! A running sidecar to use as is (not spawned). Empty: spawn one.
  std::string sidecar_url;
  uint16_t sidecar_port = 0;  //!< port for the spawned sidecar; 0 picks a free one

  //! Where an Ollama API may answer (default: $OLLAMA_HOST, else http://127.0.0.1:11434).
  std::string ollama_url;
  //! "auto": use the Ollama at ollama_url if it answers, else spawn the bundled model server;
  //! "external" (alias "never"): never spawn (ollama_url must answer eventually); "bundled" (alias
  //! "always"): always spawn it.
  std::string model_server = "auto";
  uint16_t model_server_port = 0;  //!< port for the bundled model server; 0 picks a free one

  //! Passed to the sidecar when non-empty (else the sidecar's own defaults/environment apply).
  std::string embed_model, gen_model, rerank_model;
  //! Extra environment for both children (e.g. MODELSERVER_GGUF=/path/model.gguf).
  std::map<std::string, std::string> extra_env;

  //! Children's stdout/stderr go to <log_dir>/{sidecar,modelserver}.log; empty: inherit stderr.
  std::string log_dir;
  int64_t start_timeout_ms = 30000;    //!< Start() fails when a child is not healthy by then
  int64_t health_interval_ms = 1000;   //!< health probe period per child
  int health_failures_to_restart = 5;  //!< consecutive failed probes of a live child -> restart
  int64_t restart_backoff_ms = 500;    //!< first restart delay; doubles up to max_backoff_ms
  int64_t max_backoff_ms = 30000;
  int64_t stop_timeout_ms = 5000;  //!< SIGTERM grace before SIGKILL
};

//! The AI home of an installed or built binary at `exe`: <bindir>/../share/lakehouse when it holds
//! sidecar/app.py (an installed tree), else the nearest ancestor of <bindir> that does (a binary
//! under build/ in a checkout). Empty when neither exists.
std::string FindAiHome(const std::string& exe);
//! FindAiHome of the running binary (/proc/self/exe).
std::string FindAiHome();

class AiSupervisor {
 public:
  explicit AiSupervisor(SupervisorConfig config);
  ~AiSupervisor();  //!< calls Stop()
  AiSupervisor(const AiSupervisor&) = delete;
  AiSupervisor& operator=(const AiSupervisor&) = delete;

  //! Probes/spawns the model server, then the sidecar; returns when both answer their health
  //! checks. When a spawned child does not come up within start_timeout_ms, throws
  //! Error(kUnavailable) naming it (and its log) but keeps restarting it in the background (with
  //! backoff) until Stop(): AI requests answer 503 until it is up.
  void Start();
  //! Stops the watcher and the spawned children. Idempotent.
  void Stop();

  //! Base URL of the sidecar (spawned or configured); fixed at construction, so a client can be
  //! pointed at it before Start() (it answers once the sidecar is up).
  std::string sidecar_url() const;
  //! Base URL of the Ollama API the sidecar uses.
  std::string model_server_url() const;
  //! {"sidecar": {...}, "model_server": {...}} with url, managed, pid, status, restarts; cheap.
  nlohmann::json Health() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

// ---- Processes of a multi-process deployment (`lakehouse up`, issue 9) ----

//! fork + exec of `argv` (argv[0] a path) with the environment plus `env`: the child gets its own
//! process group, no blocked signals, dies with the thread that forked it (PR_SET_PDEATHSIG) and
//! keeps no fds but 0-2. With `log_path` its stdout/stderr go there; else stderr is inherited and
//! stdout too when `inherit_stdout`, otherwise stdout goes to stderr. `what` names it in errors.
pid_t SpawnProcess(const std::vector<std::string>& argv, const std::map<std::string, std::string>& env,
                   const std::string& log_path, const std::string& what, bool inherit_stdout = false);
//! SIGTERM to the process group of `pid`, SIGKILL after `timeout_ms`; reaps it; its wait status.
int TerminateProcess(pid_t pid, int64_t timeout_ms);

//! Whether "host:port" accepts a TCP connection within `timeout_ms` (a down process refuses at once).
bool TcpReachable(const std::string& address, int timeout_ms);

//! One process `lakehouse up` starts and keeps running.
struct ProcessSpec {
  std::string name;  //!< "catalogd", "queryd-2": in logs and Health()
  std::vector<std::string> argv;
  std::map<std::string, std::string> env;
  //! "host:port" that accepts TCP connections once the process is up: Start() waits for it
  //! before starting the next process. Empty: not waited for.
  std::string ready_address;
};

struct ProcessSupervisorOptions {
  int64_t start_timeout_ms = 60000;  //!< Start() gives up waiting for one process after this (it keeps trying)
  int64_t restart_backoff_ms = 500;  //!< first restart delay; doubles up to max_backoff_ms, reset after 60 s up
  int64_t max_backoff_ms = 30000;
  int64_t stop_timeout_ms = 35000;  //!< SIGTERM grace (drain) before SIGKILL, per process
};

//! Starts processes in order, restarts any that exits (with backoff) until Stop(), and stops them
//! together in reverse order (the gateway first, so it drains before the services it calls).
//! Their stdout and stderr are this process's.
class ProcessSupervisor {
 public:
  explicit ProcessSupervisor(ProcessSupervisorOptions options);
  ~ProcessSupervisor();  //!< calls Stop()
  ProcessSupervisor(const ProcessSupervisor&) = delete;
  ProcessSupervisor& operator=(const ProcessSupervisor&) = delete;

  //! Spawns each process in order; waits (up to start_timeout_ms) for each one's ready_address.
  //! Throws Error(kUnavailable) naming a process that did not come up (it is still restarted).
  //! Returns false when Stop() came first (not every process was started).
  bool Start(std::vector<ProcessSpec> processes);
  //! SIGTERM to each process in reverse order, SIGKILL after stop_timeout_ms. Idempotent.
  void Stop();
  //! [{"name","pid","status","restarts"}...]
  nlohmann::json Health() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace lakehouse::app
