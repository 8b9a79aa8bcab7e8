// Built only while rpc/ has no ingest, ai and search clients yet (app/CMakeLists.txt checks for
// rpc/src/ingest_client.cpp): those three entry points fail naming what is missing, so a deployment
// keeps ingest, aibridge and search in the gateway (empty [services] addresses). Never compiled
// once the clients exist.
#include "lakehouse/aibridge/aibridge.h"
#include "lakehouse/ingest/ingest.h"
#include "lakehouse/rpc/rpc.h"
#include "lakehouse/search/search.h"
#include "lakehouse/shared/error.h"

namespace lakehouse::rpc {

std::unique_ptr<ingest::Ingestor> ConnectIngest(const ClientOptions& options) {
  Fail(ErrorCode::kNotImplemented, "this build has no gRPC client for {} yet: leave services.ingest empty",
       options.service);
}
std::unique_ptr<aibridge::AiBridge> ConnectAi(const ClientOptions& options) {
  Fail(ErrorCode::kNotImplemented, "this build has no gRPC client for {} yet: leave services.aibridge empty",
       options.service);
}
std::unique_ptr<search::SearchService> ConnectSearch(const ClientOptions& options) {
  Fail(ErrorCode::kNotImplemented, "this build has no gRPC client for {} yet: leave services.search empty",
       options.service);
}

}  // namespace lakehouse::rpc
