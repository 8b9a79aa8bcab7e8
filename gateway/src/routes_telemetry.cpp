// GET /metrics: this process's metrics in the Prometheus text format (docs/api/telemetry.md).
#include "lakehouse/shared/telemetry.h"
#include "routes.h"

namespace lakehouse::gateway {

void GetMetrics(const Services&, Request&, Response& res) {
  res.Send(200, telemetry::metrics::Scrape(), "text/plain; version=0.0.4; charset=utf-8");
}

}  // namespace lakehouse::gateway
