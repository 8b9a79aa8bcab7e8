#include "services.h"

#include <string>
#include <vector>

#include "ai_convert.h"
#include "grpc_common.h"
#include "lakehouse/shared/error.h"
#include "lakehouse/v1/ai.grpc.pb.h"

namespace lakehouse::rpc::detail {
namespace {

class AiService final : public v1::AiService::Service {
 public:
  AiService(aibridge::AiBridge& ai, Security security) : ai_(ai), security_(std::move(security)) {}

  grpc::Status Embed(grpc::ServerContext* context, const v1::EmbedRequest* request,
                     v1::EmbedResponse* response) override {
    return Serve(context, security_, "AiService/Embed", [&] {
      const std::vector<std::string> texts(request->texts().begin(), request->texts().end());
      ToProto(ai_.Embed(texts, request->model()), response);
    });
  }

  //! Each NDJSON line goes out as its own message the moment the model server produced it; a
  //! client that cancels stops the generation (the callback returns false).
  grpc::Status Generate(grpc::ServerContext* context, const v1::GenerateRequest* request,
                        grpc::ServerWriter<v1::GenerateChunk>* writer) override {
    return Serve(context, security_, "AiService/Generate", [&] {
      const nlohmann::json body = ParseJsonText(request->request_json(), "request_json");
      nlohmann::json result;
      if (request->stream()) {
        v1::GenerateChunk chunk;
        result = ai_.Generate(body, [&](std::string_view line) {
          if (context->IsCancelled()) return false;
          chunk.set_line(line.data(), line.size());
          return writer->Write(chunk);
        });
        if (context->IsCancelled()) Fail(ErrorCode::kCancelled, "the client cancelled the generation");
      } else {
        result = ai_.Generate(body);
      }
      v1::GenerateChunk last;
      last.set_result_json(JsonText(result));
      writer->Write(last);
    });
  }

  grpc::Status Rerank(grpc::ServerContext* context, const v1::RerankRequest* request,
                      v1::RerankResponse* response) override {
    return Serve(context, security_, "AiService/Rerank", [&] {
      response->set_result_json(JsonText(ai_.Rerank(ParseJsonText(request->request_json(), "request_json"))));
    });
  }

  grpc::Status Health(grpc::ServerContext* context, const v1::Empty*, v1::AiHealthResponse* response) override {
    return Serve(context, security_, "AiService/Health", [&] { response->set_health_json(JsonText(ai_.Health())); });
  }

 private:
  aibridge::AiBridge& ai_;
  const Security security_;
};

}  // namespace

std::unique_ptr<grpc::Service> MakeAiService(aibridge::AiBridge& ai, const Security& security) {
  return std::make_unique<AiService>(ai, security);
}

}  // namespace lakehouse::rpc::detail
