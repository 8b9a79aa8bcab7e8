// Placeholders until the ingest, ai and search adapters land (rpcsvc): serving one of those
// services fails loudly at Server::Start. Delete this file when adding the real factories.
#include "lakehouse/shared/error.h"
#include "services.h"

namespace lakehouse::rpc::detail {

std::unique_ptr<grpc::Service> MakeIngestService(ingest::Ingestor&, const Security&) {
  Fail(ErrorCode::kNotImplemented, "the ingest service has no gRPC adapter yet");
}
std::unique_ptr<grpc::Service> MakeAiService(aibridge::AiBridge&, const Security&) {
  Fail(ErrorCode::kNotImplemented, "the ai service has no gRPC adapter yet");
}
std::unique_ptr<grpc::Service> MakeSearchService(search::SearchService&, const Security&) {
  Fail(ErrorCode::kNotImplemented, "the search service has no gRPC adapter yet");
}

}  // namespace lakehouse::rpc::detail
