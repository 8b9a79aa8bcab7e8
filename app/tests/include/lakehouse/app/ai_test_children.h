#pragma once
// Tests only: what the suites that start the AI children (the bundled model server and the
// sidecar) share - app/tests/supervisor_test.cpp and aibridge/tests/aibridge_test.cpp.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <string>

#include "lakehouse/aibridge/aibridge.h"
#include "lakehouse/app/supervisor.h"

namespace lakehouse::app {

//! A fresh directory for this test process: <tmp>/lakehouse-ai-test-<name>-<pid>.
inline std::string AiTestDir(const std::string& name) {
  auto dir = std::filesystem::temp_directory_path() / ("lakehouse-ai-test-" + name + "-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  return dir.string();
}

//! Removes this process's AiTestDirs (children's logs) when the tests end.
class AiTestDirCleanup : public ::testing::Environment {
 public:
  void TearDown() override {
    const std::string suffix = "-" + std::to_string(::getpid());
    for (const auto& e : std::filesystem::directory_iterator(std::filesystem::temp_directory_path())) {
      const std::string name = e.path().filename().string();
      if (name.starts_with("lakehouse-ai-test-") && name.ends_with(suffix)) std::filesystem::remove_all(e.path());
    }
  }
};
[[maybe_unused]] inline auto* const kAiTestDirCleanup = ::testing::AddGlobalTestEnvironment(new AiTestDirCleanup);

//! The bundled model server (never an Ollama that may or may not run on this machine), logs in
//! AiTestDir(name), quick health checks and restarts. No home: found from the test binary's location.
inline SupervisorConfig BundledConfig(const std::string& name) {
  SupervisorConfig c;
  c.model_server = "bundled";
  c.log_dir = AiTestDir(name);
  c.health_interval_ms = 200;
  c.restart_backoff_ms = 200;
  return c;
}

//! The bundled children, started, and an AiBridge to their sidecar (health checked every 200 ms).
struct BundledStack {
  explicit BundledStack(const std::string& name) : supervisor(BundledConfig(name)) {
    supervisor.Start();
    aibridge::AiConfig config;
    config.sidecar_url = supervisor.sidecar_url();
    config.health_interval_ms = 200;
    bridge = aibridge::MakeAiBridge(config);
  }
  AiSupervisor supervisor;
  std::unique_ptr<aibridge::AiBridge> bridge;  // destroyed first
};

//! A fixture with one BundledStack("stack") for the whole suite.
class BundledStackTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    stack_ = new BundledStack("stack");
    supervisor_ = &stack_->supervisor;
    bridge_ = stack_->bridge.get();
  }
  static void TearDownTestSuite() {
    delete stack_;
    stack_ = nullptr;
  }
  static inline BundledStack* stack_ = nullptr;
  static inline AiSupervisor* supervisor_ = nullptr;
  static inline aibridge::AiBridge* bridge_ = nullptr;
};

//! Whether process `pid` exists.
inline bool Alive(pid_t pid) { return pid > 0 && ::kill(pid, 0) == 0; }

}  // namespace lakehouse::app
