// aibridge against the real stack: app's supervisor spawns the bundled model server (real
// all-MiniLM-L6-v2 and SmolLM2 models) and the Python sidecar; AiBridge talks to that sidecar.
// The supervisor's own behaviour (restarts, recovery, finding the AI home) is app/tests/supervisor_test.cpp.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/types.h>

#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>

#include "lakehouse/aibridge/aibridge.h"
#include "lakehouse/aibridge/arrow.h"
#include "lakehouse/app/ai_test_children.h"
#include "lakehouse/app/supervisor.h"
#include "lakehouse/shared/error.h"
#include "lakehouse/testing/errors.h"

namespace lakehouse::aibridge {

using app::AiSupervisor;
using app::AiTestDir;
using app::Alive;
using app::BundledConfig;
using app::SupervisorConfig;
namespace {

using json = nlohmann::json;

double Cosine(std::span<const float> a, std::span<const float> b) {
  double dot = 0, na = 0, nb = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    dot += a[i] * b[i];
    na += a[i] * a[i];
    nb += b[i] * b[i];
  }
  return dot / std::sqrt(na * nb);
}

using lakehouse::testing::CodeOf;

class AiStack : public app::BundledStackTest {};

TEST_F(AiStack, RelatedSentencesScoreHigherThanUnrelated) {
  Embeddings e = bridge_->Embed(
      {"The cat sits on the mat.", "A kitten is resting on a rug.", "Quarterly revenue grew by ten percent."});
  EXPECT_EQ(e.model, "all-minilm:l6-v2-int8");  // the supervisor told the sidecar to use the bundled models
  ASSERT_EQ(e.dim, 384);
  ASSERT_EQ(e.count, 3u);
  const double related = Cosine(e.Row(0), e.Row(1));
  const double unrelated = Cosine(e.Row(0), e.Row(2));
  EXPECT_GT(related, 0.5);
  EXPECT_LT(unrelated, 0.2);
}

TEST_F(AiStack, BatchOfHundredKeepsOrder) {
  std::vector<std::string> texts;
  for (int i = 0; i < 100; ++i)
    texts.push_back("Invoice " + std::to_string(i) + " was paid " + std::string(i % 9, '!'));
  Embeddings all = bridge_->Embed(texts);
  ASSERT_EQ(all.count, 100u);
  ASSERT_EQ(all.values.size(), 100u * all.dim);
  Embeddings one = bridge_->Embed({texts[73]});
  EXPECT_GT(Cosine(all.Row(73), one.Row(0)), 0.9999);
  for (size_t i = 0; i < all.count; ++i) {
    double norm = 0;
    for (float v : all.Row(i)) norm += v * v;
    EXPECT_NEAR(std::sqrt(norm), 1.0, 1e-3) << i;
  }
}

TEST_F(AiStack, ConcurrentCallersGetTheirOwnVectors) {
  Embeddings reference = bridge_->Embed({"thread zero", "thread one", "thread two", "thread three"});
  std::vector<std::thread> threads;
  std::atomic<int> mismatches{0}, done{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      const std::vector<std::string> names = {"thread zero", "thread one", "thread two", "thread three"};
      for (int i = 0; i < 5; ++i) {
        Embeddings e = bridge_->Embed({names[t]});
        if (Cosine(e.Row(0), reference.Row(t)) < 0.9999) ++mismatches;
        ++done;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(done.load(), 20);
  EXPECT_EQ(mismatches.load(), 0);
}

TEST_F(AiStack, ArrowIpcIsReadByPyArrow) {
  Embeddings e = bridge_->Embed({"first row", "second row", "third row"});
  const std::string path = AiTestDir("arrow") + "/embeddings.arrows";
  std::ofstream(path, std::ios::binary) << EmbeddingsToArrowIpc(e);
  const std::string cmd = fmt::format("{}/.venv/bin/python {}/aibridge/tests/check_arrow.py {} 3 {} {} {:.9g}",
                                      LAKEHOUSE_SOURCE_DIR, LAKEHOUSE_SOURCE_DIR, path, e.dim, e.model, e.values[0]);
  EXPECT_EQ(std::system(cmd.c_str()), 0) << cmd;
}

TEST_F(AiStack, GenerateWholeAndStreamed) {
  json whole = bridge_->Generate({{"prompt", "Name a fruit."}, {"options", {{"temperature", 0}, {"num_predict", 8}}}});
  EXPECT_TRUE(whole["done"].get<bool>());
  EXPECT_FALSE(whole["response"].get<std::string>().empty());

  int chunks = 0;
  std::string text;
  json last = bridge_->Generate({{"prompt", "Count to five."}, {"options", {{"temperature", 0}, {"num_predict", 10}}}},
                                [&](std::string_view line) {
                                  json j = json::parse(line);
                                  text += j.value("response", "");
                                  ++chunks;
                                  return true;
                                });
  EXPECT_GE(chunks, 3);
  EXPECT_TRUE(last["done"].get<bool>());
  EXPECT_FALSE(text.empty());

  int seen = 0;  // stopping early: the callback's false ends the stream
  bridge_->Generate({{"prompt", "Write a long story."}, {"options", {{"num_predict", 200}}}},
                    [&](std::string_view) { return ++seen < 2; });
  EXPECT_EQ(seen, 2);
}

TEST_F(AiStack, RerankPutsRelevantFirst) {
  json r = bridge_->Rerank({{"query", "columnar file format for analytics"},
                            {"documents", {"Bananas are yellow.", "Parquet stores data by column.", "It rained."}}});
  EXPECT_EQ(r["method"], "embedding");
  ASSERT_EQ(r["results"].size(), 3u);
  EXPECT_EQ(r["results"][0]["index"], 1);
}

TEST_F(AiStack, UserErrorsKeepTheirMeaning) {
  std::string msg;
  EXPECT_EQ(CodeOf([] { bridge_->Embed({"a"}, "no-such-model"); }, &msg), ErrorCode::kNotFound);
  EXPECT_NE(msg.find("no-such-model"), std::string::npos) << msg;
  std::vector<std::string> many(3000, "x");
  EXPECT_EQ(CodeOf([&] { bridge_->Embed(many); }, &msg), ErrorCode::kPayloadTooLarge);
  EXPECT_NE(msg.find("2048"), std::string::npos) << msg;
  EXPECT_EQ(CodeOf([] { bridge_->Embed({}); }), ErrorCode::kInvalidArgument);
  EXPECT_EQ(CodeOf([] { bridge_->Generate({{"prompt", "hi"}, {"model", "llama3"}}); }), ErrorCode::kNotFound);
}

TEST_F(AiStack, HealthIsCachedAndReportsModels) {
  json h;
  for (int i = 0; i < 50; ++i) {
    h = bridge_->Health();
    if (h["status"] == "ok") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(h["status"], "ok") << h.dump();
  EXPECT_EQ(h["ollama"]["reachable"], true);
  json s = supervisor_->Health();
  EXPECT_EQ(s["sidecar"]["managed"], true);
  EXPECT_EQ(s["model_server"]["kind"], "bundled");
}

TEST(AiBridgeErrors, SidecarDownIsUnavailableAfterRetries) {
  AiConfig config;
  config.sidecar_url = "http://127.0.0.1:9";  // discard port: nothing listens
  config.max_retries = 2;
  config.retry_backoff_ms = 50;
  auto bridge = MakeAiBridge(config);
  std::string msg;
  auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(CodeOf([&] { bridge->Embed({"a"}); }, &msg), ErrorCode::kUnavailable);
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(150));  // 50 + 100 ms backoff
  EXPECT_NE(msg.find("sidecar"), std::string::npos) << msg;
  EXPECT_NE(msg.find("3 attempts"), std::string::npos) << msg;
  EXPECT_NE(bridge->Health()["status"], "ok");  // "starting" for a sidecar that never answered yet
  EXPECT_EQ(CodeOf([] { MakeAiBridge(AiConfig{.sidecar_url = "localhost:1"}); }), ErrorCode::kInvalidArgument);
}

TEST(AiBridgeErrors, ModelServerDownIsUnavailableNamingIt) {
  SupervisorConfig c = BundledConfig("nomodel");
  c.model_server = "external";
  c.ollama_url = "http://127.0.0.1:9";  // nothing answers there: the sidecar starts, the model server is "down"
  AiSupervisor supervisor(c);
  supervisor.Start();
  auto bridge = MakeAiBridge(AiConfig{.sidecar_url = supervisor.sidecar_url(), .retry_backoff_ms = 10});
  std::string msg;
  EXPECT_EQ(CodeOf([&] { bridge->Embed({"a"}); }, &msg), ErrorCode::kUnavailable);
  EXPECT_NE(msg.find("model server"), std::string::npos) << msg;
  EXPECT_NE(msg.find("OLLAMA_HOST"), std::string::npos) << msg;
  const pid_t pid = supervisor.Health()["sidecar"]["pid"].get<pid_t>();
  EXPECT_TRUE(Alive(pid));
  supervisor.Stop();
  EXPECT_FALSE(Alive(pid));  // stopped and reaped
  EXPECT_EQ(supervisor.Health()["sidecar"]["status"], "stopped");
}

TEST(AiBridgeErrors, TimeoutIsReported) {
  AiSupervisor supervisor(BundledConfig("timeout"));
  supervisor.Start();
  auto bridge = MakeAiBridge(AiConfig{.sidecar_url = supervisor.sidecar_url(), .timeout_ms = 50});
  std::vector<std::string> texts(1000, "a sentence long enough to make the model work for more than fifty ms");
  std::string msg;
  EXPECT_EQ(CodeOf([&] { bridge->Embed(texts); }, &msg), ErrorCode::kTimeout);
  EXPECT_NE(msg.find("ai.timeout_ms"), std::string::npos) << msg;
}

}  // namespace
}  // namespace lakehouse::aibridge
