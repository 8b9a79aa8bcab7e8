#pragma once
// The project's one HTTP client: small, blocking HTTP/1.1 over libcurl, with reused keep-alive
// handles. aibridge talks to the sidecar and probes its children with it; the `lakehouse` client
// commands talk to the server with it (streamed uploads and downloads); tests use it as the
// plain client a browser or `curl` would be; the S3 store sends its requests with it (SigV4 signed by
// curl, bodies streamed out of and into its buffers).
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
  long status = 0;    //!< set as soon as the status line arrives (before any body reaches on_data)
  std::map<std::string, std::string> headers;  //!< lower-case names
  std::string body;                            //!< with on_data: only a non-2xx body, at most 64 KiB of it
  bool aborted = false;                        //!< on_data returned false and so ended the transfer
  //! The value of header `name` (lower-case), or "" when absent.
  std::string Header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? std::string() : it->second;
  }
};

struct HttpRequest {
  std::string method = "GET";
  std::string url;
  std::string body;
  //! When non-empty, sent as the body instead of `body`, without a copy (must outlive Send).
  std::string_view body_view;
  std::string content_type = "application/json";  //!< sent with a body, a POST or a PUT; empty: none
  std::vector<std::string> headers;               //!< extra "Name: value" lines
  int64_t timeout_ms = 10000;                     //!< 0: no limit
  int64_t connect_timeout_ms = 2000;
  //! A transfer moving less than a byte a second for this long fails (0: no such limit); the
  //! guard of long transfers that have no total timeout.
  int64_t stall_timeout_ms = 0;
  //! AWS Signature Version 4 computed by curl: "aws:amz:<region>:<service>" and the key pair;
  //! empty: the request is not signed.
  std::string aws_sigv4;
  std::string aws_access_key;
  std::string aws_secret_key;
  //! When set, a 2xx body is passed here as it arrives instead of collected; return false to abort.
  //! An exception it throws ends the transfer and leaves Send.
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
  //! The same, filling `response` as the answer arrives, so on_data can look at its status.
  void Send(const HttpRequest& request, HttpResponse& response);
  //! One request with default settings: `method` to `url`, optional body and "Name: value" headers.
  HttpResponse Send(std::string method, std::string url, std::string body = {}, std::vector<std::string> headers = {});

 private:
  void* Acquire();
  void Release(void* handle);
  std::mutex mu_;
  std::vector<void*> idle_;
};

}  // namespace lakehouse
