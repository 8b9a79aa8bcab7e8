// rpc::ConnectSearch: search::SearchService over gRPC (proto/lakehouse/v1/search.proto).
#include <memory>
#include <string>
#include <vector>

#include "ai_convert.h"  // ParseJsonText
#include "grpc_common.h"
#include "lakehouse/rpc/rpc.h"
#include "lakehouse/v1/search.grpc.pb.h"
#include "search_convert.h"

namespace lakehouse::rpc {
namespace {

using detail::FromProto;
using detail::ToProto;

class SearchClient final : public search::SearchService {
 public:
  explicit SearchClient(const ClientOptions& options)
      : options_(options), stub_(v1::SearchService::NewStub(detail::MakeChannel(options))) {}

  search::JobStatus StartEmbedding(const search::EmbedColumnRequest& request) override {
    v1::EmbedColumnRequest r;
    ToProto(request, &r);
    return CallForJob("SearchService/StartEmbedding", false, options_.deadline_ms,
                      [&](grpc::ClientContext& c, v1::JobStatus* out) { return stub_->StartEmbedding(&c, r, out); });
  }

  search::JobStatus Job(const std::string& id) const override {
    v1::JobRequest r;
    r.set_id(id);
    return CallForJob("SearchService/Job", true, options_.deadline_ms,
                      [&](grpc::ClientContext& c, v1::JobStatus* out) { return stub_->Job(&c, r, out); });
  }

  std::vector<search::JobStatus> Jobs() const override {
    v1::JobsResponse response;
    detail::Invoke(options_, "SearchService/Jobs", true,
                   [&](grpc::ClientContext& context) { return stub_->Jobs(&context, v1::Empty(), &response); });
    std::vector<search::JobStatus> jobs;
    jobs.reserve(response.jobs_size());
    for (const auto& job : response.jobs()) jobs.push_back(FromProto(job));
    return jobs;
  }

  search::JobStatus Cancel(const std::string& id) override {
    v1::JobRequest r;
    r.set_id(id);
    return CallForJob("SearchService/Cancel", false, options_.deadline_ms,
                      [&](grpc::ClientContext& c, v1::JobStatus* out) { return stub_->Cancel(&c, r, out); });
  }

  //! Runs as long as the job: the search service's own limits (search.query_timeout_ms, the AI
  //! timeouts) bound it.
  search::JobStatus RunEmbedding(const search::EmbedColumnRequest& request) override {
    v1::EmbedColumnRequest r;
    ToProto(request, &r);
    return CallForJob("SearchService/RunEmbedding", false, detail::kStreamDeadlineMs,
                      [&](grpc::ClientContext& c, v1::JobStatus* out) { return stub_->RunEmbedding(&c, r, out); });
  }

  //! Retried unless it refreshes (a refresh commits embeddings). As long as the search: the search
  //! service's own query timeout bounds it.
  nlohmann::json Search(const search::SearchRequest& request) override {
    v1::SearchRequest r;
    ToProto(request, &r);
    v1::SearchResponse response;
    detail::Invoke(
        options_, "SearchService/Search", !request.refresh,
        [&](grpc::ClientContext& context) { return stub_->Search(&context, r, &response); }, detail::kStreamDeadlineMs);
    return detail::ParseJsonText(response.result_json(), "Search's result_json");
  }

  std::string MemoryLimit() const override {
    v1::SearchMemoryLimitResponse response;
    detail::Invoke(options_, "SearchService/MemoryLimit", true,
                   [&](grpc::ClientContext& context) { return stub_->MemoryLimit(&context, v1::Empty(), &response); });
    return response.memory_limit();
  }

 private:
  template <typename Call>
  search::JobStatus CallForJob(std::string_view method, bool idempotent, int64_t deadline_ms, Call&& call) const {
    v1::JobStatus response;
    detail::Invoke(
        options_, method, idempotent, [&](grpc::ClientContext& context) { return call(context, &response); },
        deadline_ms);
    return FromProto(response);
  }

  const ClientOptions options_;
  std::unique_ptr<v1::SearchService::Stub> stub_;
};

}  // namespace

std::unique_ptr<search::SearchService> ConnectSearch(const ClientOptions& options) {
  return std::make_unique<SearchClient>(options);
}

}  // namespace lakehouse::rpc
