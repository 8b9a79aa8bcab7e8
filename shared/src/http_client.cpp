#include "lakehouse/shared/http_client.h"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <exception>

#include "lakehouse/shared/telemetry.h"

namespace lakehouse {
namespace {

struct Transfer {
  const HttpRequest* request = nullptr;
  HttpResponse* response = nullptr;
  CURL* handle = nullptr;
  bool aborted_by_callback = false;
  std::exception_ptr error;  //!< thrown by on_data; rethrown once curl has returned
};

//! With on_data set, a non-2xx body is kept up to this size (an error document, not the object).
constexpr size_t kMaxErrorBody = 64 << 10;

size_t OnBody(char* data, size_t size, size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const size_t n = size * count;
  long status = 0;
  curl_easy_getinfo(t->handle, CURLINFO_RESPONSE_CODE, &status);
  if (t->request->on_data && status >= 200 && status < 300) {
    try {
      if (!t->request->on_data(std::string_view(data, n))) {
        t->aborted_by_callback = true;
        return 0;  // aborts the transfer
      }
    } catch (...) {
      t->error = std::current_exception();  // never through curl's C frames
      return 0;
    }
    return n;
  }
  if (!t->request->on_data || t->response->body.size() < kMaxErrorBody) t->response->body.append(data, n);
  return n;
}

size_t OnHeader(char* data, size_t size, size_t count, void* user) {
  auto* response = static_cast<HttpResponse*>(user);
  const size_t n = size * count;
  std::string_view line(data, n);
  if (line.starts_with("HTTP/")) {
    response->headers.clear();  // a new response (after a 100 Continue or a redirect)
    const size_t space = line.find(' ');
    if (space != std::string_view::npos) response->status = std::strtol(line.data() + space + 1, nullptr, 10);
    return n;
  }
  auto colon = line.find(':');
  if (colon == std::string_view::npos) return n;
  std::string name(line.substr(0, colon));
  std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
  std::string_view value = line.substr(colon + 1);
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  while (!value.empty() && (value.back() == '\r' || value.back() == '\n' || value.back() == ' '))
    value.remove_suffix(1);
  response->headers[std::move(name)] = std::string(value);
  return n;
}

int OnProgress(void* user, curl_off_t /*dltotal*/, curl_off_t /*dlnow*/, curl_off_t /*ultotal*/, curl_off_t ulnow) {
  auto* t = static_cast<Transfer*>(user);
  t->request->on_upload_progress(static_cast<uint64_t>(ulnow), t->request->upload_size);
  return 0;
}

struct GlobalInit {
  GlobalInit() { curl_global_init(CURL_GLOBAL_DEFAULT); }
};

}  // namespace

HttpClient::HttpClient() { static GlobalInit init; }

HttpClient::~HttpClient() {
  for (void* h : idle_) curl_easy_cleanup(static_cast<CURL*>(h));
}

void* HttpClient::Acquire() {
  {
    std::lock_guard lock(mu_);
    if (!idle_.empty()) {
      void* h = idle_.back();
      idle_.pop_back();
      return h;
    }
  }
  return curl_easy_init();
}

void HttpClient::Release(void* handle) {
  std::lock_guard lock(mu_);
  if (idle_.size() < 32) {
    idle_.push_back(handle);
  } else {
    curl_easy_cleanup(static_cast<CURL*>(handle));
  }
}

HttpResponse HttpClient::Send(const HttpRequest& request) {
  HttpResponse response;
  Send(request, response);
  return response;
}

void HttpClient::Send(const HttpRequest& request, HttpResponse& response) {
  CURL* h = static_cast<CURL*>(Acquire());
  curl_easy_reset(h);
  Transfer transfer{&request, &response, h, false, nullptr};
  curl_slist* headers = nullptr;
  const bool upload = request.upload_file != nullptr;
  const std::string_view body = request.body_view.empty() ? std::string_view(request.body) : request.body_view;
  // A PUT always sends a body (an empty one has "Content-Length: 0", which S3 requires).
  const bool has_body = !body.empty() || request.method == "POST" || request.method == "PUT" || upload;
  // curl (7.88) signs header-removal lines ("Name:") as if they were sent, so S3 refuses the
  // signature: a signed request gets none (its body needs a content_type; curl's own
  // "Expect: 100-continue" handling applies).
  const bool signed_request = !request.aws_sigv4.empty();
  if (has_body && (!signed_request || !request.content_type.empty())) {
    // "Content-Type:" alone removes the form type curl would add to a body.
    headers = curl_slist_append(
        headers, ("Content-Type:" + (request.content_type.empty() ? "" : " " + request.content_type)).c_str());
  }
  for (const auto& h : request.headers) headers = curl_slist_append(headers, h.c_str());
  // The trace continues at the callee (W3C Trace Context; docs/adr/0016-telemetry.md).
  if (const auto trace = telemetry::Current(); trace.valid()) {
    headers = curl_slist_append(headers, ("traceparent: " + trace.TraceParent()).c_str());
  }
  if (!signed_request) headers = curl_slist_append(headers, "Expect:");  // no 100-continue round trip on loopback
  curl_easy_setopt(h, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);
  curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
  char error_text[CURL_ERROR_SIZE] = {0};
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, error_text);
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(request.timeout_ms));
  if (request.stall_timeout_ms > 0) {
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, std::max(1L, static_cast<long>(request.stall_timeout_ms / 1000)));
  }
  if (!request.aws_sigv4.empty()) {
    curl_easy_setopt(h, CURLOPT_AWS_SIGV4, request.aws_sigv4.c_str());
    curl_easy_setopt(h, CURLOPT_USERNAME, request.aws_access_key.c_str());
    curl_easy_setopt(h, CURLOPT_PASSWORD, request.aws_secret_key.c_str());
  }
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(request.connect_timeout_ms));
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, &OnBody);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &transfer);
  curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, &OnHeader);
  curl_easy_setopt(h, CURLOPT_HEADERDATA, &response);
  if (!request.use_env_proxy) curl_easy_setopt(h, CURLOPT_PROXY, "");  // loopback: never through a proxy
  if (upload) {
    curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(h, CURLOPT_READDATA, request.upload_file);
    curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(request.upload_size));
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, request.method.c_str());  // CURLOPT_UPLOAD alone means PUT
    if (request.on_upload_progress) {
      curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, &OnProgress);
      curl_easy_setopt(h, CURLOPT_XFERINFODATA, &transfer);
      curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
    }
  } else if (has_body) {
    curl_easy_setopt(h, CURLOPT_POST, 1L);
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body.data());
  }
  if (request.method == "HEAD") {
    curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
  } else if (!upload && request.method != "GET" && request.method != "POST") {
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, request.method.c_str());
  }
  CURLcode rc = curl_easy_perform(h);
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &response.status);
  response.aborted = transfer.aborted_by_callback;
  if (transfer.error) {
    curl_slist_free_all(headers);
    Release(h);
    std::rethrow_exception(transfer.error);
  }
  if (rc != CURLE_OK && !(transfer.aborted_by_callback && rc == CURLE_WRITE_ERROR)) {
    response.transport_error = rc;
    response.timed_out = rc == CURLE_OPERATION_TIMEDOUT;
    curl_off_t connected_us = 0;
    curl_easy_getinfo(h, CURLINFO_CONNECT_TIME_T, &connected_us);
    // Connection-level failures (worth a retry): refused, never connected, or dropped before any answer.
    response.connect_failed =
        rc == CURLE_COULDNT_CONNECT || rc == CURLE_COULDNT_RESOLVE_HOST ||
        (rc == CURLE_OPERATION_TIMEDOUT && connected_us == 0) ||
        ((rc == CURLE_GOT_NOTHING || rc == CURLE_RECV_ERROR || rc == CURLE_SEND_ERROR) && response.status == 0);
    if (response.connect_failed) response.timed_out = false;
    response.error = error_text[0] != 0 ? error_text : curl_easy_strerror(rc);
  }
  curl_slist_free_all(headers);
  Release(h);
}

HttpResponse HttpClient::Send(std::string method, std::string url, std::string body, std::vector<std::string> headers) {
  HttpRequest request;
  request.method = std::move(method);
  request.url = std::move(url);
  request.body = std::move(body);
  request.content_type.clear();
  request.headers = std::move(headers);
  request.timeout_ms = 20000;
  return Send(request);
}

}  // namespace lakehouse
