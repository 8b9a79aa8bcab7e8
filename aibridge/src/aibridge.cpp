#include "lakehouse/aibridge/aibridge.h"

#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <cstring>
#include <memory>
#include <mutex>
#include <thread>

#include "lakehouse/shared/error.h"
#include "lakehouse/shared/http_client.h"
#include "lakehouse/shared/logging.h"
#include "lakehouse/shared/periodic.h"
#include "lakehouse/shared/telemetry.h"

namespace lakehouse::aibridge {
namespace {

using json = nlohmann::json;

ErrorCode CodeFromSidecar(std::string_view code, long status) {
  if (code == "invalid_argument") return ErrorCode::kInvalidArgument;
  if (code == "payload_too_large") return ErrorCode::kPayloadTooLarge;
  if (code == "not_found") return ErrorCode::kNotFound;
  if (code == "timeout") return ErrorCode::kTimeout;
  if (code == "unavailable") return ErrorCode::kUnavailable;
  if (status == 413) return ErrorCode::kPayloadTooLarge;
  if (status == 404) return ErrorCode::kNotFound;
  if (status >= 400 && status < 500) return ErrorCode::kInvalidArgument;
  return ErrorCode::kUnavailable;
}

class SidecarBridge final : public AiBridge {
 public:
  explicit SidecarBridge(AiConfig config) : config_(std::move(config)) {
    while (!config_.sidecar_url.empty() && config_.sidecar_url.back() == '/') config_.sidecar_url.pop_back();
    LH_USER_CHECK(config_.sidecar_url.starts_with("http://") || config_.sidecar_url.starts_with("https://"),
                  "ai.sidecar_url must be an http:// URL, got \"{}\"", config_.sidecar_url);
    LH_USER_CHECK(config_.timeout_ms > 0 && config_.connect_timeout_ms > 0, "AI timeouts must be positive");
    LH_USER_CHECK(config_.max_retries >= 0 && config_.max_retries <= 10, "ai.max_retries must be within 0..10");
    health_ = json{{"status", "starting"}, {"sidecar", config_.sidecar_url}};
    health_thread_ = std::make_unique<PeriodicThread>("ai sidecar health",
                                                      std::chrono::milliseconds(config_.health_interval_ms), [this] {
                                                        json h = ProbeHealth();
                                                        std::lock_guard lock(mu_);
                                                        health_ = std::move(h);
                                                      });
  }
  ~SidecarBridge() override { health_thread_.reset(); }
  SidecarBridge(const SidecarBridge&) = delete;
  SidecarBridge& operator=(const SidecarBridge&) = delete;

  Embeddings Embed(const std::vector<std::string>& texts, const std::string& model) override {
    LH_USER_CHECK(!texts.empty(), "texts is empty: send at least one text to embed");
    json body{{"texts", texts}, {"format", "f32"}};
    if (!model.empty()) body["model"] = model;
    HttpResponse r = Call("/embed", body.dump(), nullptr);
    Embeddings out;
    auto header = [&](const char* name) -> const std::string& {
      auto it = r.headers.find(name);
      if (it == r.headers.end()) Fail(ErrorCode::kInternal, "the AI sidecar's /embed answer lacks the {} header", name);
      return it->second;
    };
    out.model = header("x-embed-model");
    out.dim = std::stoi(header("x-embed-dim"));
    out.count = std::stoull(header("x-embed-count"));
    if (out.count != texts.size() || out.dim <= 0 || r.body.size() != out.count * out.dim * sizeof(float)) {
      Fail(ErrorCode::kInternal, "the AI sidecar returned {} bytes for {} vectors of {} floats (asked for {})",
           r.body.size(), out.count, out.dim, texts.size());
    }
    out.values.resize(out.count * out.dim);
    std::memcpy(out.values.data(), r.body.data(), r.body.size());  // little-endian float32, as on x86-64
    return out;
  }

  json Generate(const json& request, const ChunkCallback& on_chunk) override {
    LH_USER_CHECK(request.is_object() && request.contains("prompt") && request["prompt"].is_string(),
                  "the generate request needs a \"prompt\" string");
    json body = request;
    body["stream"] = static_cast<bool>(on_chunk);
    if (!on_chunk) return ParseJson(Call("/generate", body.dump(), nullptr));
    std::string pending;
    json last;
    bool stopped = false;
    auto on_data = [&](std::string_view data) {
      pending.append(data);
      size_t start = 0;
      for (size_t nl; (nl = pending.find('\n', start)) != std::string::npos; start = nl + 1) {
        std::string_view line(pending.data() + start, nl - start);
        if (line.empty()) continue;
        last = json::parse(line, nullptr, false);
        if (!on_chunk(line)) {
          stopped = true;
          return false;
        }
      }
      pending.erase(0, start);
      return true;
    };
    Call("/generate", body.dump(), on_data);
    if (!stopped && !pending.empty()) {
      last = json::parse(pending, nullptr, false);
      on_chunk(pending);
    }
    return last.is_discarded() ? json::object() : last;
  }

  json Rerank(const json& request) override {
    LH_USER_CHECK(request.is_object() && request.contains("query") && request.contains("documents"),
                  "the rerank request needs \"query\" and \"documents\"");
    return ParseJson(Call("/rerank", request.dump(), nullptr));
  }

  json Health() const override {
    std::lock_guard lock(mu_);
    return health_;
  }

 private:
  static json ParseJson(const HttpResponse& r) {
    json out = json::parse(r.body, nullptr, false);
    if (out.is_discarded()) Fail(ErrorCode::kInternal, "the AI sidecar answered with invalid JSON");
    return out;
  }

  //! POSTs to the sidecar with bounded retries; returns a 2xx answer or throws a mapped Error.
  HttpResponse Call(const std::string& path, const std::string& body,
                    const std::function<bool(std::string_view)>& on_data) {
    telemetry::Span span("aibridge.call");  // the sidecar continues the trace (traceparent header)
    span.Set("ai.path", path);
    const auto started = Clock::now();
    try {
      HttpResponse r = CallWithRetries(path, body, on_data);
      telemetry::metrics::AiCall(path, true, std::chrono::duration<double>(Clock::now() - started).count());
      return r;
    } catch (const std::exception& e) {
      span.SetError(e.what());
      telemetry::metrics::AiCall(path, false, std::chrono::duration<double>(Clock::now() - started).count());
      throw;
    }
  }
  HttpResponse CallWithRetries(const std::string& path, const std::string& body,
                               const std::function<bool(std::string_view)>& on_data) {
    HttpRequest request;
    request.method = "POST";
    request.url = config_.sidecar_url + path;
    request.body = body;
    request.timeout_ms = config_.timeout_ms;
    request.connect_timeout_ms = config_.connect_timeout_ms;
    bool delivered = false;  // a streamed answer is never retried once a byte went to the caller
    if (on_data) {
      request.on_data = [&](std::string_view data) {
        delivered = true;
        return on_data(data);
      };
    }
    int64_t backoff = config_.retry_backoff_ms;
    for (int attempt = 0;; ++attempt) {
      HttpResponse r = client_.Send(request);
      const bool retryable = !delivered && (r.connect_failed || r.status == 500 || r.status == 502 || r.status == 503);
      if (retryable && attempt < config_.max_retries) {
        std::this_thread::sleep_for(std::chrono::milliseconds(backoff));
        backoff *= 2;
        continue;
      }
      if (r.transport_error != 0) {
        if (r.connect_failed) {
          Fail(ErrorCode::kUnavailable,
               "the AI sidecar at {} is not reachable ({}) after {} attempts: start it (`lakehouse serve` "
               "supervises it) or set ai.sidecar_url to a running sidecar",
               config_.sidecar_url, r.error, attempt + 1);
        }
        if (r.timed_out) {
          Fail(ErrorCode::kTimeout,
               "the AI sidecar at {} did not answer {} within {} ms: send smaller batches or "
               "raise ai.timeout_ms",
               config_.sidecar_url, path, config_.timeout_ms);
        }
        Fail(ErrorCode::kUnavailable, "the AI sidecar at {} failed during {}: {}", config_.sidecar_url, path, r.error);
      }
      if (r.status >= 200 && r.status < 300) return r;
      json err = json::parse(r.body, nullptr, false);
      if (!err.is_discarded() && err.is_object() && err.contains("error") && err["error"].is_object()) {
        const json& e = err["error"];
        std::string component = e.value("component", "sidecar");
        std::string message = e.value("message", r.body);
        Fail(CodeFromSidecar(e.value("code", ""), r.status), "AI {}: {}",
             component == "sidecar" ? "sidecar" : component, message);
      }
      Fail(CodeFromSidecar("", r.status), "the AI sidecar at {} answered {} to {}: {}", config_.sidecar_url, r.status,
           path, r.body.substr(0, 300));
    }
  }

  json ProbeHealth() {
    HttpRequest request;
    request.url = config_.sidecar_url + "/health";
    request.timeout_ms = std::min<int64_t>(3000, config_.timeout_ms);
    request.connect_timeout_ms = std::min<int64_t>(1000, config_.connect_timeout_ms);
    HttpResponse r = probe_client_.Send(request);
    if (r.transport_error != 0 || r.status != 200) {
      // Until the sidecar first answers (it may still be starting under the supervisor), say so.
      const bool starting = !ever_up_ && Clock::now() - created_ < std::chrono::seconds(60);
      return json{
          {"status", starting ? "starting" : "down"},
          {"sidecar", config_.sidecar_url},
          {"message", fmt::format("the AI sidecar at {} is not answering ({}): start it (`lakehouse serve` "
                                  "supervises it) or set ai.sidecar_url",
                                  config_.sidecar_url, r.transport_error ? r.error : std::to_string(r.status))}};
    }
    json body = json::parse(r.body, nullptr, false);
    if (body.is_discarded() || !body.is_object()) {
      return json{{"status", "down"}, {"sidecar", config_.sidecar_url}, {"message", "invalid /health answer"}};
    }
    body["sidecar"] = config_.sidecar_url;
    ever_up_ = true;
    return body;
  }

  using Clock = std::chrono::steady_clock;
  AiConfig config_;
  const Clock::time_point created_ = Clock::now();
  bool ever_up_ = false;  //!< only touched by the health thread
  HttpClient client_;
  HttpClient probe_client_;
  mutable std::mutex mu_;
  json health_;
  std::unique_ptr<PeriodicThread> health_thread_;  //!< last: probes until destroyed
};

}  // namespace

std::unique_ptr<AiBridge> MakeAiBridge(const AiConfig& config) { return std::make_unique<SidecarBridge>(config); }

}  // namespace lakehouse::aibridge
