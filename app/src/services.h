#pragma once
// Builds every service from the configuration, in dependency order (storaged <- catalogd <-
// ingest/queryd; aibridge and the AI children it talks to; search over all of them), and owns
// them for the life of the server.
//
// One process may hold all of them (Role::kEmbedded, `lakehouse serve`: direct calls), or be one
// process of a multi-process deployment (docs/deploy.md): it builds the services its role runs and
// reaches the others through gRPC clients (lakehouse/rpc/rpc.h) at the [services] addresses; an
// empty address means that service runs in this process too.
#include <memory>
#include <string_view>
#include <vector>

#include "config.h"
#include "lakehouse/gateway/gateway.h"
#include "lakehouse/rpc/rpc.h"

namespace lakehouse::app {

enum class Role { kEmbedded, kGateway, kStoraged, kCatalogd, kIngest, kQueryd, kAibridge, kSearch };

//! "gateway", "storaged", ... ("serve" for kEmbedded).
std::string_view RoleName(Role role);

class RunningServices {
 public:
  virtual ~RunningServices() = default;
  virtual gateway::Services handles() const = 0;
  virtual std::vector<gateway::HealthCheck> health_checks() const = 0;
  //! What a service process serves over gRPC: the services its role runs.
  virtual rpc::ServedServices served() const = 0;
  //! Stops child processes and background work (after the server has drained).
  virtual void Stop() = 0;
};

std::unique_ptr<RunningServices> StartServices(const Config& config, Role role = Role::kEmbedded);

//! How this process's gRPC clients and server authenticate (rpc.* settings).
rpc::Security RpcSecurity(const Config& config);

}  // namespace lakehouse::app
