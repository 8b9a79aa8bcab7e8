#include "services.h"

#include "ai_convert.h"  // JsonText
#include "grpc_common.h"
#include "lakehouse/v1/search.grpc.pb.h"
#include "search_convert.h"

namespace lakehouse::rpc::detail {
namespace {

class SearchService final : public v1::SearchService::Service {
 public:
  SearchService(search::SearchService& search, Security security) : search_(search), security_(std::move(security)) {}

  grpc::Status StartEmbedding(grpc::ServerContext* context, const v1::EmbedColumnRequest* request,
                              v1::JobStatus* response) override {
    return Serve(context, security_, "SearchService/StartEmbedding", [&] {
      const search::EmbedColumnRequest r = FromProto(*request);
      ToProto(search_.StartEmbedding(r), response);
    });
  }

  grpc::Status Job(grpc::ServerContext* context, const v1::JobRequest* request, v1::JobStatus* response) override {
    return Serve(context, security_, "SearchService/Job", [&] { ToProto(search_.Job(request->id()), response); });
  }

  grpc::Status Jobs(grpc::ServerContext* context, const v1::Empty*, v1::JobsResponse* response) override {
    return Serve(context, security_, "SearchService/Jobs", [&] {
      for (const auto& job : search_.Jobs()) ToProto(job, response->add_jobs());
    });
  }

  grpc::Status Cancel(grpc::ServerContext* context, const v1::JobRequest* request, v1::JobStatus* response) override {
    return Serve(context, security_, "SearchService/Cancel", [&] { ToProto(search_.Cancel(request->id()), response); });
  }

  grpc::Status RunEmbedding(grpc::ServerContext* context, const v1::EmbedColumnRequest* request,
                            v1::JobStatus* response) override {
    return Serve(context, security_, "SearchService/RunEmbedding", [&] {
      const search::EmbedColumnRequest r = FromProto(*request);
      ToProto(search_.RunEmbedding(r), response);
    });
  }

  grpc::Status Search(grpc::ServerContext* context, const v1::SearchRequest* request,
                      v1::SearchResponse* response) override {
    return Serve(context, security_, "SearchService/Search", [&] {
      const search::SearchRequest r = FromProto(*request);
      response->set_result_json(JsonText(search_.Search(r)));
    });
  }

  grpc::Status MemoryLimit(grpc::ServerContext* context, const v1::Empty*,
                           v1::SearchMemoryLimitResponse* response) override {
    return Serve(context, security_, "SearchService/MemoryLimit",
                 [&] { response->set_memory_limit(search_.MemoryLimit()); });
  }

 private:
  search::SearchService& search_;
  const Security security_;
};

}  // namespace

std::unique_ptr<grpc::Service> MakeSearchService(search::SearchService& search, const Security& security) {
  return std::make_unique<SearchService>(search, security);
}

}  // namespace lakehouse::rpc::detail
