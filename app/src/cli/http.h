#pragma once
// A thin blocking HTTP client for the `lakehouse` client commands, over libcurl. Kept separate
// (and small) so it can be swapped for the project's shared HTTP client when that lands.
#include <cstdint>
#include <cstdio>
#include <functional>
#include <string>
#include <string_view>

namespace lakehouse::app::cli {

struct HttpResult {
  long status = 0;
  std::string content_type;
  std::string body;  //!< the whole body, unless a sink consumed it
};

//! Called as the upload proceeds: bytes sent so far, total.
using ProgressFn = std::function<void(uint64_t sent, uint64_t total)>;
//! Receives the response body as it arrives when the status is 2xx; return false to abort.
using SinkFn = std::function<bool(std::string_view chunk)>;

class Http {
 public:
  //! `base` like http://127.0.0.1:8080; `api_key` is sent as a Bearer token when not empty.
  Http(std::string base, std::string api_key);

  HttpResult Get(const std::string& path, const SinkFn& sink = {}) const;
  HttpResult Post(const std::string& path, const std::string& body, const std::string& content_type,
                  const SinkFn& sink = {}) const;
  //! Sends `file` (of `size` bytes) as the request body, streamed from disk.
  HttpResult Upload(const std::string& method, const std::string& path, std::FILE* file, uint64_t size,
                    const ProgressFn& progress) const;

  const std::string& base() const { return base_; }

 private:
  HttpResult Perform(const std::string& method, const std::string& path, const std::string* body,
                     const std::string& content_type, std::FILE* file, uint64_t file_size, const ProgressFn& progress,
                     const SinkFn& sink) const;
  std::string base_;
  std::string api_key_;
};

//! The server's error message from a JSON error body ({"error": {"code", "message"}}), or the body.
std::string ErrorMessage(const HttpResult& result);

}  // namespace lakehouse::app::cli
