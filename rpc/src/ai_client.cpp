// rpc::ConnectAi: aibridge::AiBridge over gRPC (proto/lakehouse/v1/ai.proto).
#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "ai_convert.h"
#include "grpc_common.h"
#include "lakehouse/rpc/rpc.h"
#include "lakehouse/shared/error.h"
#include "lakehouse/shared/periodic.h"
#include "lakehouse/v1/ai.grpc.pb.h"

namespace lakehouse::rpc {
namespace {

using nlohmann::json;

//! How often the client refreshes its cached Health() (the in-process bridge's default too).
constexpr std::chrono::milliseconds kHealthInterval{2000};
//! Deadline of one health probe: a hung aibridge reads as down quickly.
constexpr int64_t kHealthDeadlineMs = 2000;

class AiClient final : public aibridge::AiBridge {
 public:
  explicit AiClient(const ClientOptions& options)
      : options_(options), stub_(v1::AiService::NewStub(detail::MakeChannel(options))) {
    health_ =
        json{{"status", "starting"},
             {"message", fmt::format("waiting for the first answer of {} at {}", options_.service, options_.address)}};
    health_thread_ = std::make_unique<PeriodicThread>(options_.service + " health", kHealthInterval, [this] {
      json h = Probe();
      std::lock_guard lock(mu_);
      health_ = std::move(h);
    });
  }

  ~AiClient() override { health_thread_.reset(); }
  AiClient(const AiClient&) = delete;
  AiClient& operator=(const AiClient&) = delete;

  // Model calls run as long as the model does: aibridge's own timeouts (ai.timeout_ms) bound them.
  aibridge::Embeddings Embed(const std::vector<std::string>& texts, const std::string& model) override {
    v1::EmbedRequest request;
    request.mutable_texts()->Add(texts.begin(), texts.end());
    request.set_model(model);
    v1::EmbedResponse response;
    detail::Invoke(
        options_, "AiService/Embed", true,
        [&](grpc::ClientContext& context) { return stub_->Embed(&context, request, &response); },
        detail::kStreamDeadlineMs);
    return detail::FromProto(response);
  }

  //! Never retried. Lines reach `on_chunk` as the server streams them; when it returns false the
  //! call is cancelled (the server stops the model) and that line is returned, as in-process.
  json Generate(const json& request, const aibridge::ChunkCallback& on_chunk) override {
    detail::CallSpan span(options_, "AiService/Generate");
    auto context = detail::NewContext(options_, detail::kStreamDeadlineMs);
    v1::GenerateRequest r;
    r.set_request_json(detail::JsonText(request));
    r.set_stream(static_cast<bool>(on_chunk));
    auto reader = stub_->Generate(context.get(), r);
    std::optional<json> result;
    std::string last_line;  //!< the line `on_chunk` stopped at
    const bool read = detail::ReadAll(*context, *reader, options_, span, [&](const v1::GenerateChunk& chunk) {
      if (chunk.part_case() == v1::GenerateChunk::kLine) {
        if (on_chunk && !on_chunk(chunk.line())) {
          last_line = chunk.line();
          return false;  // the server stops the model
        }
      } else if (chunk.part_case() == v1::GenerateChunk::kResultJson) {
        result = detail::ParseJsonText(chunk.result_json(), "Generate's result_json");
      }
      return true;
    });
    if (!read) {
      const json last = json::parse(last_line, nullptr, false);
      return last.is_discarded() ? json::object() : last;
    }
    if (!result)
      Fail(ErrorCode::kInternal, "{} at {} ended Generate without its result", options_.service, options_.address);
    return *result;
  }

  json Rerank(const json& request) override {
    v1::RerankRequest r;
    r.set_request_json(detail::JsonText(request));
    v1::RerankResponse response;
    detail::Invoke(
        options_, "AiService/Rerank", true,
        [&](grpc::ClientContext& context) { return stub_->Rerank(&context, r, &response); }, detail::kStreamDeadlineMs);
    return detail::ParseJsonText(response.result_json(), "Rerank's result_json");
  }

  //! The last answer of the background probe: never blocks.
  json Health() const override {
    std::lock_guard lock(mu_);
    return health_;
  }

 private:
  json Probe() {
    const int64_t deadline =
        options_.deadline_ms > 0 ? std::min(options_.deadline_ms, kHealthDeadlineMs) : kHealthDeadlineMs;
    auto context = detail::NewContext(options_, deadline);
    v1::AiHealthResponse response;
    grpc::Status status = stub_->Health(context.get(), v1::Empty(), &response);
    if (!status.ok()) {
      return json{{"status", "down"}, {"message", detail::FromStatus(status, options_).what()}};
    }
    json h = json::parse(response.health_json(), nullptr, false);
    if (h.is_discarded() || !h.is_object()) {
      return json{{"status", "down"}, {"message", options_.service + " answered Health with invalid JSON"}};
    }
    return h;
  }

  const ClientOptions options_;
  std::unique_ptr<v1::AiService::Stub> stub_;
  mutable std::mutex mu_;
  json health_;
  std::unique_ptr<PeriodicThread> health_thread_;  //!< last: probes until destroyed
};

}  // namespace

std::unique_ptr<aibridge::AiBridge> ConnectAi(const ClientOptions& options) {
  return std::make_unique<AiClient>(options);
}

}  // namespace lakehouse::rpc
