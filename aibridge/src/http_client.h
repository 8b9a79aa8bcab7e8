#pragma once
// aibridge's HTTP client is the project's one (shared/http_client.h); these names keep its
// callers (aibridge.cpp, supervisor.cpp, tests) unchanged.
#include "lakehouse/shared/http_client.h"

namespace lakehouse::aibridge::detail {

using lakehouse::HttpClient;
using lakehouse::HttpRequest;
using lakehouse::HttpResponse;

}  // namespace lakehouse::aibridge::detail
