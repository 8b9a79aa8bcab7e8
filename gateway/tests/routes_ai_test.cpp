// The gateway's AI routes over real HTTP: gateway -> aibridge -> sidecar -> bundled model server.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>

#include "lakehouse/aibridge/aibridge.h"
#include "lakehouse/app/supervisor.h"
#include "lakehouse/gateway/gateway.h"
#include "lakehouse/shared/http_client.h"
#include "lakehouse/shared/logging.h"
#include "lakehouse/testing/gateway.h"

namespace lakehouse::aibridge {
namespace {

using json = nlohmann::json;
using app::AiSupervisor;
using app::SupervisorConfig;

//! A gateway on a free port serving BuildRouter over the given services.
class Gateway {
 public:
  explicit Gateway(const gateway::Services& services) : gateway_(services), url_(gateway_.url()) {}
  HttpResponse Post(const std::string& path, const json& body, const std::string& accept = "") {
    HttpRequest r;
    r.method = "POST";
    r.url = url_ + path;
    if (!accept.empty()) r.headers.push_back("Accept: " + accept);
    r.body = body.dump();
    r.timeout_ms = 60000;
    return client_.Send(r);
  }

 private:
  lakehouse::testing::InProcessGateway gateway_;
  std::string url_;
  HttpClient client_;
};

class AiRoutes : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    log::Init(log::Level::kWarn);
    SupervisorConfig c;
    c.model_server = "bundled";
    c.log_dir =
        (std::filesystem::temp_directory_path() / ("lakehouse-ai-routes-" + std::to_string(::getpid()))).string();
    supervisor_ = new AiSupervisor(c);
    supervisor_->Start();
    AiConfig config;
    config.sidecar_url = supervisor_->sidecar_url();
    bridge_ = MakeAiBridge(config).release();
    gateway::Services services;
    services.ai = bridge_;
    gateway_ = new Gateway(services);
  }
  static void TearDownTestSuite() {
    delete gateway_;
    delete bridge_;
    delete supervisor_;
    std::filesystem::remove_all(std::filesystem::temp_directory_path() /
                                ("lakehouse-ai-routes-" + std::to_string(::getpid())));
  }
  static AiSupervisor* supervisor_;
  static AiBridge* bridge_;
  static Gateway* gateway_;
};
AiSupervisor* AiRoutes::supervisor_ = nullptr;
AiBridge* AiRoutes::bridge_ = nullptr;
Gateway* AiRoutes::gateway_ = nullptr;

TEST_F(AiRoutes, EmbedJsonMatchesTheBridge) {
  HttpResponse r = gateway_->Post("/api/v1/ai/embed", {{"texts", {"a red apple", "a green pear"}}});
  ASSERT_EQ(r.status, 200) << r.body;
  json j = json::parse(r.body);
  EXPECT_EQ(j["dim"], 384);
  EXPECT_EQ(j["count"], 2);
  ASSERT_EQ(j["embeddings"].size(), 2u);
  Embeddings direct = bridge_->Embed({"a red apple", "a green pear"});
  for (int k = 0; k < 384; ++k) {
    // Shortest float32 text round-trips exactly.
    EXPECT_EQ(j["embeddings"][1][k].get<float>(), direct.Row(1)[k]) << k;
  }
  EXPECT_EQ(r.headers["x-embed-model"], direct.model);
}

TEST_F(AiRoutes, EmbedArrowIsAValidStream) {
  HttpResponse r =
      gateway_->Post("/api/v1/ai/embed", {{"texts", {"one", "two", "three", "four"}}, {"format", "arrow"}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.headers["content-type"], "application/vnd.apache.arrow.stream");
  Embeddings direct = bridge_->Embed({"one"});
  auto path =
      std::filesystem::temp_directory_path() / ("lakehouse-ai-routes-" + std::to_string(::getpid()) + ".arrows");
  std::ofstream(path, std::ios::binary) << r.body;
  const std::string cmd =
      fmt::format("{}/.venv/bin/python {}/aibridge/tests/check_arrow.py {} 4 384 {} {:.9g}", LAKEHOUSE_SOURCE_DIR,
                  LAKEHOUSE_SOURCE_DIR, path.string(), direct.model, direct.values[0]);
  EXPECT_EQ(std::system(cmd.c_str()), 0) << cmd;
  std::filesystem::remove(path);

  // The Accept header asks for the same; ?format=json overrides nothing in the body.
  r = gateway_->Post("/api/v1/ai/embed", {{"texts", {"one"}}}, "application/vnd.apache.arrow.stream");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.headers["content-type"], "application/vnd.apache.arrow.stream");
  r = gateway_->Post("/api/v1/ai/embed", {{"texts", {"one"}}, {"format", "csv"}});
  EXPECT_EQ(r.status, 400) << r.body;
}

TEST_F(AiRoutes, GenerateStreamsNdjson) {
  HttpResponse r = gateway_->Post(
      "/api/v1/ai/generate",
      {{"prompt", "Say something."}, {"stream", true}, {"options", {{"temperature", 0}, {"num_predict", 6}}}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.headers["content-type"], "application/x-ndjson");
  std::vector<json> lines;
  size_t start = 0;
  for (size_t nl; (nl = r.body.find('\n', start)) != std::string::npos; start = nl + 1) {
    lines.push_back(json::parse(r.body.substr(start, nl - start)));
  }
  ASSERT_GE(lines.size(), 2u) << r.body;
  EXPECT_TRUE(lines.back()["done"].get<bool>());
  EXPECT_FALSE(lines.front()["done"].get<bool>());

  r = gateway_->Post("/api/v1/ai/generate", {{"prompt", "Say something."}, {"options", {{"num_predict", 4}}}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_TRUE(json::parse(r.body)["done"].get<bool>());
}

TEST_F(AiRoutes, Rerank) {
  HttpResponse r = gateway_->Post(
      "/api/v1/ai/rerank",
      {{"query", "animals"}, {"documents", {"stock prices fell", "dogs and cats", "tax law"}}, {"top_n", 2}});
  ASSERT_EQ(r.status, 200) << r.body;
  json j = json::parse(r.body);
  EXPECT_EQ(j["results"][0]["index"], 1);
  EXPECT_EQ(j["results"].size(), 2u);
}

TEST_F(AiRoutes, ErrorsHaveStatusAndMessage) {
  HttpResponse r = gateway_->Post("/api/v1/ai/embed", {{"text", "wrong field"}});
  EXPECT_EQ(r.status, 400) << r.body;
  r = gateway_->Post("/api/v1/ai/embed", {{"texts", {"a"}}, {"model", "no-such-model"}});
  EXPECT_EQ(r.status, 404) << r.body;
  EXPECT_NE(r.body.find("no-such-model"), std::string::npos);
  r = gateway_->Post("/api/v1/ai/generate", {{"prompt", "x"}, {"model", "llama3"}, {"stream", true}});
  EXPECT_EQ(r.status, 404) << r.body;  // the error came before the first chunk: a real status
  r = gateway_->Post("/api/v1/ai/embed", {{"texts", json::array()}});
  EXPECT_EQ(r.status, 400) << r.body;
}

TEST(AiRoutesWithoutAi, UnavailableNamesTheComponent) {
  log::Init(log::Level::kWarn);
  {
    Gateway gw(gateway::Services{});
    HttpResponse r = gw.Post("/api/v1/ai/embed", {{"texts", {"a"}}});
    EXPECT_EQ(r.status, 503) << r.body;
    EXPECT_NE(r.body.find("AI sidecar"), std::string::npos) << r.body;
  }
  AiConfig config;
  config.sidecar_url = "http://127.0.0.1:9";
  config.retry_backoff_ms = 10;
  auto bridge = MakeAiBridge(config);
  gateway::Services services;
  services.ai = bridge.get();
  Gateway gw(services);
  HttpResponse r = gw.Post("/api/v1/ai/rerank", {{"query", "q"}, {"documents", {"a"}}});
  EXPECT_EQ(r.status, 503) << r.body;
  EXPECT_NE(r.body.find("lakehouse serve"), std::string::npos) << r.body;
}

}  // namespace
}  // namespace lakehouse::aibridge
