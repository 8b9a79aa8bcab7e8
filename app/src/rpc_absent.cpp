// Built only when rpc/ has no CMakeLists.txt (app/CMakeLists.txt): the rpc seam without its
// implementation. Every entry point fails naming what is missing; the embedded server never calls
// them. Remove with the rpc implementation (it is then never compiled).
#include "lakehouse/aibridge/aibridge.h"
#include "lakehouse/catalogd/catalog.h"
#include "lakehouse/ingest/ingest.h"
#include "lakehouse/queryd/query.h"
#include "lakehouse/rpc/rpc.h"
#include "lakehouse/search/search.h"
#include "lakehouse/shared/error.h"
#include "lakehouse/storaged/object_store.h"

namespace lakehouse::rpc {
namespace {
[[noreturn]] void Missing() {
  Fail(ErrorCode::kNotImplemented, "this lakehouse binary was built without rpc/ (the multi-process roles need it)");
}
}  // namespace

std::unique_ptr<storaged::ObjectStore> ConnectStorage(const ClientOptions&) { Missing(); }
std::unique_ptr<catalogd::Catalog> ConnectCatalog(const ClientOptions&) { Missing(); }
std::unique_ptr<queryd::QueryEngine> ConnectQuery(const std::vector<ClientOptions>&) { Missing(); }
std::unique_ptr<ingest::Ingestor> ConnectIngest(const ClientOptions&) { Missing(); }
std::unique_ptr<aibridge::AiBridge> ConnectAi(const ClientOptions&) { Missing(); }
std::unique_ptr<search::SearchService> ConnectSearch(const ClientOptions&) { Missing(); }

class Server::Impl {};
Server::Server(ServerOptions, ServedServices) { Missing(); }
Server::~Server() = default;
void Server::Start() { Missing(); }
uint16_t Server::port() const { Missing(); }
void Server::Shutdown() { Missing(); }
void Server::Wait() { Missing(); }

}  // namespace lakehouse::rpc
