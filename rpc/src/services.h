#pragma once
// The server adapters rpc::Server mounts, one factory per service (each in its own
// rpc/src/<service>_*.cpp), and the full gRPC names their health entries use.
#include <grpcpp/grpcpp.h>
#include <grpcpp/impl/service_type.h>

#include <memory>

#include "lakehouse/rpc/rpc.h"

namespace lakehouse::rpc::detail {

std::unique_ptr<grpc::Service> MakeStorageService(storaged::ObjectStore& store, const Security& security);
std::unique_ptr<grpc::Service> MakeCatalogService(catalogd::Catalog& catalog, const Security& security);
std::unique_ptr<grpc::Service> MakeQueryService(queryd::QueryEngine& engine, const Security& security);
// ingest_server.cpp, ai_server.cpp, search_server.cpp.
std::unique_ptr<grpc::Service> MakeIngestService(ingest::Ingestor& ingestor, const Security& security);
std::unique_ptr<grpc::Service> MakeAiService(aibridge::AiBridge& ai, const Security& security);
std::unique_ptr<grpc::Service> MakeSearchService(search::SearchService& search, const Security& security);

}  // namespace lakehouse::rpc::detail
