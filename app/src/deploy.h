#pragma once
// The multi-process deployment (issue 9, docs/deploy.md): one service per process
// (`lakehouse storaged|catalogd|ingest|queryd|aibridge|search`, each serving gRPC on --listen), and
// `lakehouse up`, which starts every process a deployment file describes on this machine.
#include <optional>
#include <string>

#include "config.h"
#include "services.h"

namespace lakehouse::app {

//! The gRPC address a service process listens on: its --listen flag, else its own [services]
//! address (queryd: the first replica). (server.listen in a shared TOML is the gateway's HTTP.)
std::string ServiceListen(const ConfigLoader& loader, const Config& config, Role role);

//! Runs one service process until SIGTERM/SIGINT, then drains its gRPC calls and stops.
int RunService(Config config, Role role, const std::string& listen);

//! `lakehouse up`: starts the processes of the deployment (storaged, catalogd, ingest, the queryd
//! replicas, aibridge and search when AI is on, then the gateway), restarts any that exits, and on
//! SIGTERM/SIGINT stops them together (the gateway first).
int RunUp(const ConfigLoader& loader, const Config& config);

}  // namespace lakehouse::app
