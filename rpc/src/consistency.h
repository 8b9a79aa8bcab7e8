#pragma once
// Read-your-writes across processes (docs/adr/0017-grpc.md "Consistency"). Every catalog client
// notes the versions it commits in a process-wide horizon; a query client sends that horizon with
// each query; the query server makes the catalog clients of its own process (the one its engine
// listens to) deliver at least those versions to their listeners before the engine resolves names.
#include <cstdint>
#include <map>
#include <string>

namespace lakehouse::rpc::detail {

//! Notes that this process committed `version` of `dataset` (keeps the newest few thousand).
void NoteCommitted(const std::string& dataset, uint64_t version);
//! What NoteCommitted recorded.
std::map<std::string, uint64_t> CommittedHorizon();

//! A catalog client that can catch its listeners up to a version (CatalogClient).
class CatchUp {
 public:
  virtual ~CatchUp() = default;
  virtual void EnsureSeen(const std::string& dataset, uint64_t version) = 0;
};
void RegisterCatchUp(CatchUp* client);
void UnregisterCatchUp(CatchUp* client);
//! Every registered client delivers at least `version` of `dataset` to its listeners.
void EnsureSeen(const std::map<std::string, uint64_t>& versions);

}  // namespace lakehouse::rpc::detail
