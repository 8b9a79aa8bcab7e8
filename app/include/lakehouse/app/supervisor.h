#pragma once
// Starts and watches the AI child processes of `lakehouse serve`: the Python sidecar (uvicorn from
// a venv) and, when no Ollama answers at the configured address, the bundled model server
// (modelserver/server.py). app/ owns every service's lifetime, these children included. Children listen on 127.0.0.1
// only, are health-checked, restarted with backoff when they exit or stop answering, and stopped (SIGTERM, then
// SIGKILL) by Stop(). Either child can instead be given as a URL, and is then only health-checked, never spawned.
#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <map>
#include <memory>
#include <string>

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

}  // namespace lakehouse::app
