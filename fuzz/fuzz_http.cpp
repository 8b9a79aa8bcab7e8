// HTTP request parsing and routing: the bytes a client sends, through Beast's parser with the
// server's limits, the percent-decoding and query parsing of the target, the router with every
// route of the API, the query admission's classifier and the JSON body checks.
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string_view>

#include "admission.h"
#include "lakehouse/gateway/gateway.h"
#include "lakehouse/shared/error.h"
#include "lakehouse/shared/json_depth.h"
#include "url.h"

namespace http = boost::beast::http;
using namespace lakehouse;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const gateway::Router router = gateway::BuildRouter(gateway::Services{});
  std::string_view input(reinterpret_cast<const char*>(data), size);
  http::request_parser<http::string_body> parser;
  parser.header_limit(16 << 10);
  parser.body_limit(1 << 20);
  parser.eager(true);
  boost::beast::error_code ec;
  size_t used = parser.put(boost::asio::buffer(input.data(), input.size()), ec);
  (void)used;
  if (!parser.is_header_done()) return 0;
  const auto& req = parser.get();
  std::string_view target(req.target().data(), req.target().size());
  const size_t q = target.find('?');
  const std::string path = gateway::PercentDecode(target.substr(0, q), false);
  if (q != std::string_view::npos) (void)gateway::ParseQueryString(target.substr(q + 1));
  auto match = router.Find(std::string_view(req.method_string().data(), req.method_string().size()), path);
  (void)match;
  if (!parser.is_done()) return 0;
  const std::string& body = req.body();
  (void)gateway::IsLightQuery(body);
  try {
    CheckJsonDepth(body, kDefaultMaxJsonDepth, "the request body");
    auto j = nlohmann::json::parse(body, nullptr, false);
    if (!j.is_discarded()) (void)j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  } catch (const Error&) {
  }
  return 0;
}
