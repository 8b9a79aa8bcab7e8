// app's supervisor of the AI children over the real processes: the Python sidecar and the
// bundled model server (real models). Restarts, recovery from a failed start, the fork-thread
// pitfall, and finding the AI home from a binary's location (nothing of the source tree is
// compiled into the supervisor).
#include <arpa/inet.h>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "lakehouse/aibridge/aibridge.h"
#include "lakehouse/app/ai_test_children.h"
#include "lakehouse/app/supervisor.h"
#include "lakehouse/shared/error.h"
#include "lakehouse/testing/errors.h"

namespace lakehouse::app {
namespace {

using json = nlohmann::json;
using aibridge::AiConfig;
using aibridge::MakeAiBridge;
namespace fs = std::filesystem;

using lakehouse::testing::CodeOf;

void Touch(const fs::path& path) {
  fs::create_directories(path.parent_path());
  std::ofstream(path) << "\n";
}

TEST(FindAiHome, InstalledTreeFirstThenTheCheckoutAboveTheBinary) {
  const fs::path root = AiTestDir("home");
  // A checkout: <root>/repo/{sidecar,modelserver}, the binary in <root>/repo/build/app/.
  Touch(root / "repo/sidecar/app.py");
  Touch(root / "repo/modelserver/server.py");
  Touch(root / "repo/build/app/lakehouse");
  EXPECT_EQ(FindAiHome((root / "repo/build/app/lakehouse").string()), (root / "repo").string());
  // An installed tree: <prefix>/bin/lakehouse and <prefix>/share/lakehouse/{sidecar,modelserver}.
  Touch(root / "repo/build/share/lakehouse/sidecar/app.py");
  Touch(root / "repo/build/share/lakehouse/modelserver/server.py");
  Touch(root / "repo/build/bin/lakehouse");
  EXPECT_EQ(FindAiHome((root / "repo/build/bin/lakehouse").string()), (root / "repo/build/share/lakehouse").string());
  // Half a home (no model server) is no home; nothing anywhere is "".
  Touch(root / "lone/sidecar/app.py");
  Touch(root / "lone/bin/lakehouse");
  EXPECT_EQ(FindAiHome((root / "lone/bin/lakehouse").string()), "");
  // This test binary lives under the checkout's build folder: its home holds the real sidecar.
  EXPECT_TRUE(fs::exists(FindAiHome() + "/sidecar/app.py")) << FindAiHome();
}

TEST(FindAiHome, NoHomeIsAClearErrorNamingTheSetting) {
  SupervisorConfig c = BundledConfig("nohome");
  c.home = "";
  c.python = "/nonexistent/python";
  AiSupervisor probe(c);  // with a home found from the binary the python check fails instead
  std::string msg;
  EXPECT_EQ(CodeOf([&] { probe.Start(); }, &msg), ErrorCode::kUnavailable);
  EXPECT_NE(msg.find("ai.python"), std::string::npos) << msg;
  EXPECT_NE(msg.find("/nonexistent/python"), std::string::npos) << msg;

  c.home = AiTestDir("empty-home");  // a home without the sidecar in it
  c.python = "";
  AiSupervisor empty(c);
  EXPECT_EQ(CodeOf([&] { empty.Start(); }, &msg), ErrorCode::kUnavailable);
  EXPECT_NE(msg.find("ai.home"), std::string::npos) << msg;
}

class SupervisedStack : public BundledStackTest {};

TEST_F(SupervisedStack, CrashedSidecarIsRestarted) {
  json before = supervisor_->Health();
  const pid_t pid = before["sidecar"]["pid"].get<pid_t>();
  const int restarts = before["sidecar"]["restarts"].get<int>();
  ASSERT_TRUE(Alive(pid));
  ASSERT_EQ(::kill(pid, SIGKILL), 0);
  json after;
  for (int i = 0; i < 200; ++i) {  // up to 20 s
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    after = supervisor_->Health();
    if (after["sidecar"]["restarts"].get<int>() > restarts && after["sidecar"]["status"] == "ok") break;
  }
  ASSERT_EQ(after["sidecar"]["status"], "ok") << after.dump();
  EXPECT_NE(after["sidecar"]["pid"].get<pid_t>(), pid);
  EXPECT_EQ(bridge_->Embed({"back again"}).count, 1u);  // same URL: the port is kept across restarts
}

TEST(AiSupervisorRecovery, FailedStartKeepsRetryingAndRecovers) {
  const std::string models = AiTestDir("models");
  SupervisorConfig c = BundledConfig("recovery");
  c.extra_env["MODELSERVER_MODELS_DIR"] = models;  // empty: the model server exits at once
  c.start_timeout_ms = 5000;
  AiSupervisor supervisor(c);
  std::string msg;
  EXPECT_EQ(CodeOf([&] { supervisor.Start(); }, &msg), ErrorCode::kUnavailable);
  EXPECT_NE(msg.find("model server"), std::string::npos) << msg;
  EXPECT_NE(msg.find("modelserver.log"), std::string::npos) << msg;
  // The watcher keeps trying; give it the models and it comes up, then the sidecar follows.
  std::filesystem::create_symlink(std::string(LAKEHOUSE_SOURCE_DIR) + "/third_party/models/all-minilm-l6-v2-int8",
                                  models + "/all-minilm-l6-v2-int8");
  json h;
  for (int i = 0; i < 300; ++i) {  // up to 30 s
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    h = supervisor.Health();
    if (h["model_server"]["status"] == "ok" && h["sidecar"]["status"] == "ok") break;
  }
  EXPECT_EQ(h["model_server"]["status"], "ok") << h.dump();
  EXPECT_EQ(h["sidecar"]["status"], "ok") << h.dump();
  EXPECT_GE(h["model_server"]["restarts"].get<int>(), 1);
  AiConfig config;
  config.sidecar_url = supervisor.sidecar_url();
  EXPECT_EQ(MakeAiBridge(config)->Embed({"recovered"}).dim, 384);
  supervisor.Stop();
  std::filesystem::remove_all(models);
}

TEST(AiSupervisorRecovery, StartOnAShortLivedThreadKeepsTheChildren) {
  // PR_SET_PDEATHSIG is per forking thread: children must not die when Start()'s thread ends.
  AiSupervisor supervisor(BundledConfig("thread"));
  std::thread([&] { supervisor.Start(); }).join();
  const json before = supervisor.Health();
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  const json after = supervisor.Health();
  EXPECT_EQ(after["sidecar"]["restarts"], 0) << after.dump();
  EXPECT_EQ(after["model_server"]["restarts"], 0) << after.dump();
  EXPECT_EQ(after["sidecar"]["pid"], before["sidecar"]["pid"]);
  EXPECT_TRUE(Alive(after["model_server"]["pid"].get<pid_t>()));
}

TEST(AiSupervisorConfig, BadModeIsRejected) {
  SupervisorConfig c;
  c.model_server = "sometimes";
  EXPECT_EQ(CodeOf([&] { AiSupervisor s(c); }), ErrorCode::kInvalidArgument);
}

// ---- ProcessSupervisor (`lakehouse up`): real processes (python3 listening on a port) ----

//! A python3 child that listens on 127.0.0.1:`port` until killed.
std::vector<std::string> Listener(uint16_t port) {
  return {"/usr/bin/python3", "-c",
          fmt::format("import socket,time\ns=socket.socket()\ns.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)\n"
                      "s.bind(('127.0.0.1',{}))\ns.listen()\ntime.sleep(600)",
                      port)};
}

uint16_t PickPort() {
  for (uint16_t port = static_cast<uint16_t>(20000 + (::getpid() % 20000));; ++port) {
    if (!TcpReachable(fmt::format("127.0.0.1:{}", port), 100)) return port;
  }
}

bool Alive(int pid) { return pid > 0 && ::kill(pid, 0) == 0; }

TEST(ProcessSupervisor, StartsInOrderRestartsAKilledProcessAndStopsThemAll) {
  const uint16_t a = PickPort();
  const uint16_t b = static_cast<uint16_t>(a + 1);
  ProcessSupervisorOptions options;
  options.restart_backoff_ms = 300;
  options.stop_timeout_ms = 3000;
  ProcessSupervisor sup(options);
  ASSERT_TRUE(sup.Start({{"first", Listener(a), {}, fmt::format("127.0.0.1:{}", a)},
                         {"second", Listener(b), {}, fmt::format("127.0.0.1:{}", b)}}));
  // Start() returned: both listen.
  EXPECT_TRUE(TcpReachable(fmt::format("127.0.0.1:{}", a), 500));
  EXPECT_TRUE(TcpReachable(fmt::format("127.0.0.1:{}", b), 500));
  json health = sup.Health();
  ASSERT_EQ(health.size(), 2u);
  const int first = health[0]["pid"];
  const int second = health[1]["pid"];
  ASSERT_TRUE(Alive(first) && Alive(second));

  ::kill(first, SIGKILL);
  int restarted = -1;
  for (int i = 0; i < 100 && restarted < 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    json h = sup.Health();
    if (h[0]["pid"].get<int>() > 0 && h[0]["pid"].get<int>() != first) restarted = h[0]["pid"];
  }
  ASSERT_GT(restarted, 0) << "the killed process is started again";
  EXPECT_EQ(sup.Health()[0]["restarts"], 1);
  EXPECT_EQ(sup.Health()[1]["pid"], second) << "the other one is left alone";

  sup.Stop();
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_FALSE(Alive(restarted));
  EXPECT_FALSE(Alive(second));
  EXPECT_FALSE(TcpReachable(fmt::format("127.0.0.1:{}", a), 200));
}

TEST(ProcessSupervisor, AProcessThatNeverListensIsNamedAndStopEndsTheWait) {
  ProcessSupervisorOptions options;
  options.start_timeout_ms = 1500;
  options.restart_backoff_ms = 100;
  ProcessSupervisor sup(options);
  // A port bound here and never listened on: connections are refused, and no other test's server
  // can take it meanwhile (a picked free port could be, and then Start() saw it listening).
  const int reserved = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(reserved, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(reserved, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  socklen_t len = sizeof(addr);
  ASSERT_EQ(::getsockname(reserved, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  const uint16_t port = ntohs(addr.sin_port);
  try {
    sup.Start({{"mute", {"/bin/sleep", "600"}, {}, fmt::format("127.0.0.1:{}", port)}});
    FAIL() << "Start() returns only when the process listens";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kUnavailable);
    EXPECT_NE(std::string(e.what()).find("mute"), std::string::npos) << e.what();
  }
  const int pid = sup.Health()[0]["pid"];
  EXPECT_TRUE(Alive(pid));
  sup.Stop();
  EXPECT_FALSE(Alive(pid));
  ::close(reserved);
}

}  // namespace
}  // namespace lakehouse::app
