#pragma once
// The project's one HTTP client: small, blocking HTTP/1.1 over libcurl, with reused keep-alive
// handles. aibridge talks to the sidecar and probes its children with it; the `lakehouse` client
// commands talk to the server with it (streamed uploads and downloads); tests use it as the
// plain client a browser or `curl` would be. (The S3 store keeps its own libcurl transfer code:
// streamed uploads and SigV4 headers are its own.)
#include <cstdint>
#include <cstdio>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace lakehouse {

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
  std::string content_type = "application/json";  //!< sent with a body or a POST; empty: none
  std::vector<std::string> headers;               //!< extra "Name: value" lines
  int64_t timeout_ms = 10000;                     //!< 0: no limit
  int64_t connect_timeout_ms = 2000;
  //! When set, a 2xx body is passed here as it arrives instead of collected; return false to abort.
  std::function<bool(std::string_view)> on_data;
  //! When set, the request body is read from this file (`upload_size` bytes) instead of `body`.
  std::FILE* upload_file = nullptr;
  uint64_t upload_size = 0;
  //! Called as an upload proceeds: bytes sent so far, total.
  std::function<void(uint64_t sent, uint64_t total)> on_upload_progress;
  //! Honour the http_proxy/no_proxy environment (a client to a remote server); loopback calls do not.
  bool use_env_proxy = false;
};

//! Keeps curl easy handles (and so their keep-alive connections) for reuse across threads.
class HttpClient {
 public:
  HttpClient();
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;
  HttpResponse Send(const HttpRequest& request);
  //! One request with default settings: `method` to `url`, optional body and "Name: value" headers.
  HttpResponse Send(std::string method, std::string url, std::string body = {}, std::vector<std::string> headers = {});

 private:
  void* Acquire();
  void Release(void* handle);
  std::mutex mu_;
  std::vector<void*> idle_;
};

}  // namespace lakehouse
