#pragma once
// Long-lived streams (the catalog's WatchCommits) never finish by themselves: rpc::Server ends
// them first on Shutdown, so the drain waits only for real work.
#include <cstdint>

#include "lakehouse/rpc/rpc.h"

namespace lakehouse::rpc::detail {

class StreamOwner {
 public:
  virtual ~StreamOwner() = default;
  //! Ends every open stream (they return OK); new ones end at once.
  virtual void EndStreams() = 0;
};

//! Tests: waits until a ConnectCatalog client's watch is live; false on timeout or another Catalog.
bool WaitCatalogWatchSynced(catalogd::Catalog& client, int64_t timeout_ms);

}  // namespace lakehouse::rpc::detail
