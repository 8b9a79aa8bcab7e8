#include "http.h"

#include <curl/curl.h>

#include <memory>
#include <nlohmann/json.hpp>

#include "lakehouse/shared/error.h"

namespace lakehouse::app::cli {

namespace {

struct Transfer {
  HttpResult* result = nullptr;
  const SinkFn* sink = nullptr;
  bool aborted = false;
  const ProgressFn* progress = nullptr;
  uint64_t total = 0;
};

size_t OnBody(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  std::string_view chunk(data, size * n);
  if (t->sink != nullptr && *t->sink && t->result->status >= 200 && t->result->status < 300) {
    if (!(*t->sink)(chunk)) {
      t->aborted = true;
      return 0;
    }
    return chunk.size();
  }
  t->result->body.append(chunk);
  return chunk.size();
}

size_t OnHeader(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  std::string_view line(data, size * n);
  if (line.rfind("HTTP/", 0) == 0) {
    size_t sp = line.find(' ');
    if (sp != std::string_view::npos)
      t->result->status = std::strtol(std::string(line.substr(sp + 1, 3)).c_str(), nullptr, 10);
  }
  constexpr std::string_view kType = "content-type:";
  if (line.size() > kType.size()) {
    std::string lower(line.substr(0, kType.size()));
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (lower == kType) {
      std::string_view v = line.substr(kType.size());
      while (!v.empty() && (v.front() == ' ')) v.remove_prefix(1);
      while (!v.empty() && (v.back() == '\r' || v.back() == '\n')) v.remove_suffix(1);
      t->result->content_type = std::string(v);
    }
  }
  return size * n;
}

int OnProgress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t ulnow) {
  auto* t = static_cast<Transfer*>(user);
  if (t->progress != nullptr && *t->progress) (*t->progress)(static_cast<uint64_t>(ulnow), t->total);
  return 0;
}

struct CurlGlobal {
  CurlGlobal() { curl_global_init(CURL_GLOBAL_DEFAULT); }
  ~CurlGlobal() { curl_global_cleanup(); }
};

}  // namespace

Http::Http(std::string base, std::string api_key) : base_(std::move(base)), api_key_(std::move(api_key)) {
  while (!base_.empty() && base_.back() == '/') base_.pop_back();
}

HttpResult Http::Get(const std::string& path, const SinkFn& sink) const {
  return Perform("GET", path, nullptr, "", nullptr, 0, {}, sink);
}

HttpResult Http::Post(const std::string& path, const std::string& body, const std::string& content_type,
                      const SinkFn& sink) const {
  return Perform("POST", path, &body, content_type, nullptr, 0, {}, sink);
}

HttpResult Http::Upload(const std::string& method, const std::string& path, std::FILE* file, uint64_t size,
                        const ProgressFn& progress) const {
  return Perform(method, path, nullptr, "application/octet-stream", file, size, progress, {});
}

HttpResult Http::Perform(const std::string& method, const std::string& path, const std::string* body,
                         const std::string& content_type, std::FILE* file, uint64_t file_size,
                         const ProgressFn& progress, const SinkFn& sink) const {
  static CurlGlobal global;
  std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> curl(curl_easy_init(), curl_easy_cleanup);
  if (!curl) Fail(ErrorCode::kInternal, "cannot initialise libcurl");
  HttpResult result;
  Transfer t{&result, &sink, false, &progress, file_size};
  std::string url = base_ + path;
  CURL* h = curl.get();
  curl_easy_setopt(h, CURLOPT_URL, url.c_str());
  curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method.c_str());
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, OnBody);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &t);
  curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, OnHeader);
  curl_easy_setopt(h, CURLOPT_HEADERDATA, &t);
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_slist* headers = nullptr;
  headers = curl_slist_append(headers, "Expect:");
  if (!api_key_.empty()) headers = curl_slist_append(headers, ("Authorization: Bearer " + api_key_).c_str());
  if (!content_type.empty()) headers = curl_slist_append(headers, ("Content-Type: " + content_type).c_str());
  std::unique_ptr<curl_slist, decltype(&curl_slist_free_all)> header_list(headers, curl_slist_free_all);
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
  if (body != nullptr) {
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body->data());
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body->size()));
  } else if (file != nullptr) {
    curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(h, CURLOPT_READDATA, file);
    curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(file_size));
    curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, OnProgress);
    curl_easy_setopt(h, CURLOPT_XFERINFODATA, &t);
    curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
  }
  CURLcode rc = curl_easy_perform(h);
  if (rc != CURLE_OK && !(t.aborted && rc == CURLE_WRITE_ERROR)) {
    if (rc == CURLE_COULDNT_CONNECT || rc == CURLE_COULDNT_RESOLVE_HOST) {
      Fail(ErrorCode::kUnavailable,
           "cannot reach the server at {} ({}); start it with `lakehouse serve` or set --url / LAKEHOUSE_URL", base_,
           curl_easy_strerror(rc));
    }
    if (result.status >= 200 && result.status < 300) {
      Fail(ErrorCode::kUnavailable, "the response from {} was cut off: {}", base_, curl_easy_strerror(rc));
    }
    if (result.status == 0) Fail(ErrorCode::kUnavailable, "request to {} failed: {}", url, curl_easy_strerror(rc));
  }
  return result;
}

std::string ErrorMessage(const HttpResult& result) {
  auto j = nlohmann::json::parse(result.body, nullptr, false);
  if (j.is_object() && j.contains("error") && j["error"].is_object()) {
    return j["error"].value("message", result.body);
  }
  if (result.body.empty()) return "HTTP " + std::to_string(result.status);
  return result.body;
}

}  // namespace lakehouse::app::cli
