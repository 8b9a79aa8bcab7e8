#pragma once
// Builds every service from the configuration, in dependency order (storaged <- catalogd <-
// ingest/queryd; aibridge and the AI children it talks to; search over all of them), and owns
// them for the life of the server.
#include <memory>
#include <vector>

#include "config.h"
#include "lakehouse/gateway/gateway.h"

namespace lakehouse::app {

class RunningServices {
 public:
  virtual ~RunningServices() = default;
  virtual gateway::Services handles() const = 0;
  virtual std::vector<gateway::HealthCheck> health_checks() const = 0;
  //! Stops child processes and background work (after the server has drained).
  virtual void Stop() = 0;
};

std::unique_ptr<RunningServices> StartServices(const Config& config);

}  // namespace lakehouse::app
