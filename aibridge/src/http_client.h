#pragma once
// A small blocking HTTP/1.1 client over libcurl for the sidecar and the children's health checks.
// Internal to aibridge.
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace lakehouse::aibridge::detail {

struct HttpResponse {
  int transport_error = 0;  //!< CURLcode; 0 when an HTTP answer arrived
  bool timed_out = false;
  bool connect_failed = false;
  std::string error;  //!< curl's description when transport_error != 0
  long status = 0;
  std::map<std::string, std::string> headers;  //!< lower-case names
  std::string body;
};

struct HttpRequest {
  std::string method = "GET";
  std::string url;
  std::string body;
  std::string content_type = "application/json";
  std::vector<std::string> headers;  //!< extra "Name: value" lines
  int64_t timeout_ms = 10000;
  int64_t connect_timeout_ms = 2000;
  //! When set, a 2xx body is passed here as it arrives instead of collected; return false to abort.
  std::function<bool(std::string_view)> on_data;
};

//! Keeps curl easy handles (and so their keep-alive connections) for reuse across threads.
class HttpClient {
 public:
  HttpClient();
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;
  HttpResponse Send(const HttpRequest& request);

 private:
  void* Acquire();
  void Release(void* handle);
  std::mutex mu_;
  std::vector<void*> idle_;
};

}  // namespace lakehouse::aibridge::detail
