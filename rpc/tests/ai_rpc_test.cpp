// aibridge over real gRPC on 127.0.0.1: the real AiBridge (the bundled model server and the
// sidecar, started as the other AI suites start them) behind rpc::Server, reached through
// rpc::ConnectAi and compared with the same calls in-process.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <chrono>
#include <cmath>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "lakehouse/aibridge/aibridge.h"
#include "lakehouse/app/ai_test_children.h"
#include "lakehouse/rpc/rpc.h"
#include "lakehouse/shared/error.h"
#include "lakehouse/storaged/object_store.h"
#include "lakehouse/testing/errors.h"
#include "lakehouse/testing/gateway.h"
#include "rpc_test_util.h"

namespace lakehouse::rpc {
namespace {

using json = nlohmann::json;
using lakehouse::testing::CodeOf;

//! Polls `ai.Health()` (at most 20 s) until its status is `status`; returns the last answer.
json WaitHealth(const aibridge::AiBridge& ai, const std::string& status) {
  json h;
  for (int i = 0; i < 200; ++i) {
    h = ai.Health();
    if (h.value("status", "") == status) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return h;
}

//! The real bridge, served; after the first streamed line it waits (at most 10 s) until the client
//! has that line in hand, so a server that held lines back until the end would be caught.
class FirstLineProbe final : public aibridge::AiBridge {
 public:
  explicit FirstLineProbe(aibridge::AiBridge& real) : real_(real) {}
  aibridge::Embeddings Embed(const std::vector<std::string>& texts, const std::string& model) override {
    return real_.Embed(texts, model);
  }
  json Generate(const json& request, const aibridge::ChunkCallback& on_chunk) override {
    if (!on_chunk) return real_.Generate(request);
    int lines = 0;
    return real_.Generate(request, [&](std::string_view line) {
      const bool more = on_chunk(line);
      if (++lines == 1) {
        std::unique_lock lock(mu_);
        first_line_was_delivered_ = cv_.wait_for(lock, std::chrono::seconds(10), [&] { return client_has_line_; });
      }
      return more;
    });
  }
  json Rerank(const json& request) override { return real_.Rerank(request); }
  json Health() const override { return real_.Health(); }

  void Reset() {
    std::lock_guard lock(mu_);
    client_has_line_ = first_line_was_delivered_ = false;
  }
  void ClientHasLine() {
    std::lock_guard lock(mu_);
    client_has_line_ = true;
    cv_.notify_all();
  }
  bool FirstLineWasDelivered() {
    std::lock_guard lock(mu_);
    return first_line_was_delivered_;
  }

 private:
  aibridge::AiBridge& real_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool client_has_line_ = false;
  bool first_line_was_delivered_ = false;
};

class AiOverGrpc : public app::BundledStackTest {
 protected:
  static void SetUpTestSuite() {
    BundledStackTest::SetUpTestSuite();
    probe_ = new FirstLineProbe(*bridge_);
    server_ = new Server(ServerOptions{}, ServedServices{.ai = probe_});
    server_->Start();
    client_ = ConnectAi(testing::At(server_->port(), "aibridge")).release();
  }
  static void TearDownTestSuite() {
    delete client_;
    server_->Shutdown();
    delete server_;
    delete probe_;
    BundledStackTest::TearDownTestSuite();
  }
  static inline FirstLineProbe* probe_ = nullptr;
  static inline Server* server_ = nullptr;
  static inline aibridge::AiBridge* client_ = nullptr;
};

TEST_F(AiOverGrpc, EveryCallAnswersAsInProcess) {
  const std::vector<std::string> texts = {"Parquet stores data by column.", "The cat sleeps."};
  const aibridge::Embeddings local = bridge_->Embed(texts);
  const aibridge::Embeddings remote = client_->Embed(texts);
  EXPECT_EQ(remote.model, local.model);
  EXPECT_EQ(remote.dim, local.dim);
  ASSERT_EQ(remote.count, 2u);
  ASSERT_EQ(remote.values.size(), local.values.size());
  for (size_t i = 0; i < local.values.size(); ++i) EXPECT_NEAR(remote.values[i], local.values[i], 1e-5) << i;

  const json rerank = {{"query", "columnar file format for analytics"},
                       {"documents", {"Bananas are yellow.", "Parquet stores data by column.", "It rained."}}};
  const json local_rerank = bridge_->Rerank(rerank);
  const json remote_rerank = client_->Rerank(rerank);
  EXPECT_EQ(remote_rerank["method"], local_rerank["method"]);
  ASSERT_EQ(remote_rerank["results"].size(), 3u);
  for (size_t i = 0; i < 3; ++i) EXPECT_EQ(remote_rerank["results"][i]["index"], local_rerank["results"][i]["index"]);

  const json whole =
      client_->Generate({{"prompt", "Name a fruit."}, {"options", {{"temperature", 0}, {"num_predict", 8}}}});
  EXPECT_TRUE(whole["done"].get<bool>()) << whole.dump();
  EXPECT_FALSE(whole["response"].get<std::string>().empty());

  // The sidecar's health as the in-process bridge sees it (both refresh in the background).
  const json local_health = WaitHealth(*bridge_, "ok");
  const json remote_health = WaitHealth(*client_, "ok");
  EXPECT_EQ(remote_health["status"], "ok") << remote_health.dump();
  EXPECT_EQ(remote_health["sidecar"], local_health["sidecar"]);

  // User errors keep their code and message.
  std::string local_message, remote_message;
  EXPECT_EQ(CodeOf([&] { client_->Embed({"a"}, "no-such-model"); }, &remote_message),
            CodeOf([&] { bridge_->Embed({"a"}, "no-such-model"); }, &local_message));
  EXPECT_EQ(remote_message, local_message);
  EXPECT_EQ(CodeOf([&] { client_->Generate({{"model", "x"}}); }, &remote_message), ErrorCode::kInvalidArgument);
  EXPECT_EQ(CodeOf([&] { bridge_->Generate({{"model", "x"}}); }, &local_message), ErrorCode::kInvalidArgument);
  EXPECT_EQ(remote_message, local_message);
}

TEST_F(AiOverGrpc, GenerateStreamsChunksAsTheyAreProduced) {
  probe_->Reset();
  int lines = 0;
  std::string text;
  const json last =
      client_->Generate({{"prompt", "Count to five."}, {"options", {{"temperature", 0}, {"num_predict", 12}}}},
                        [&](std::string_view line) {
                          if (++lines == 1) probe_->ClientHasLine();
                          text += json::parse(line).value("response", "");
                          return true;
                        });
  EXPECT_GE(lines, 3);  // one message per model line, not one answer at the end
  EXPECT_TRUE(probe_->FirstLineWasDelivered()) << "the first line reached the client only after the model went on";
  EXPECT_TRUE(last["done"].get<bool>()) << last.dump();
  EXPECT_FALSE(text.empty());

  // A callback returning false stops the stream there, and that line is returned, as in-process.
  int seen = 0;
  std::string second;
  const json stopped = client_->Generate({{"prompt", "Write a long story."}, {"options", {{"num_predict", 200}}}},
                                         [&](std::string_view line) {
                                           if (++seen == 2) second = line;
                                           return seen < 2;
                                         });
  EXPECT_EQ(seen, 2);
  EXPECT_EQ(stopped, json::parse(second));
  EXPECT_FALSE(stopped.value("done", false));
}

TEST(AiServiceDown, CallsFailUnavailableAndHealthSaysDown) {
  ClientOptions o = testing::At(testing::AbandonedPort(), "aibridge");
  o.max_attempts = 2;
  auto client = ConnectAi(o);
  std::string message;
  EXPECT_EQ(CodeOf([&] { client->Embed({"a"}); }, &message), ErrorCode::kUnavailable);
  EXPECT_NE(message.find("aibridge at " + o.address), std::string::npos) << message;
  EXPECT_EQ(CodeOf(
                [&] {
                  client->Generate({{"prompt", "hi"}}, [](std::string_view) { return true; });
                },
                &message),
            ErrorCode::kUnavailable);
  EXPECT_NE(message.find("aibridge at " + o.address), std::string::npos) << message;
  const json health = WaitHealth(*client, "down");
  EXPECT_EQ(health["status"], "down") << health.dump();
  EXPECT_NE(health.value("message", "").find("aibridge at " + o.address), std::string::npos) << health.dump();
}

}  // namespace
}  // namespace lakehouse::rpc
