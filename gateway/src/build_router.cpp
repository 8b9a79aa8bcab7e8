#include "routes.h"

namespace lakehouse::gateway {

Router BuildRouter(const Services& services) {
  Router router;
  RegisterDatasetRoutes(router, services);
  RegisterObjectRoutes(router, services);
  RegisterQueryRoutes(router, services);
  RegisterAiRoutes(router, services);
  RegisterIcebergRoutes(router, services);
  return router;
}

}  // namespace lakehouse::gateway
