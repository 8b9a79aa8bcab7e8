#include "routes.h"

namespace lakehouse::gateway {

// Placeholder: the routes of this area are not written yet.
void RegisterQueryRoutes(Router& router, const Services& services) {}

}  // namespace lakehouse::gateway
