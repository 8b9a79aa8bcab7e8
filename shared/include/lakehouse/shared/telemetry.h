#pragma once
// Traces and metrics (docs/adr/0016-telemetry.md). A tiny API over OpenTelemetry C++ (OTLP/HTTP)
// and prometheus-cpp; neither library's headers are included here.
//
// Traces are off unless OTEL_EXPORTER_OTLP_ENDPOINT (or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) is
// set: then a Span costs one atomic load. A trace starts only at the gateway (ServerSpan,
// which continues a client's W3C traceparent); every other Span is a child of the span current on
// its thread and does nothing when there is none, so background work never starts stray traces.
#include <array>
#include <concepts>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace lakehouse::telemetry {

//! A span's identity, plain data so it can be carried to another thread (ContextScope).
struct TraceContext {
  std::array<uint8_t, 16> trace_id{};
  std::array<uint8_t, 8> span_id{};
  bool sampled = false;

  bool valid() const { return sampled; }
  //! W3C "00-<trace id>-<span id>-01"; empty when not valid.
  std::string TraceParent() const;
  std::string TraceIdHex() const;
  std::string SpanIdHex() const;
};

//! The span current on this thread (invalid when none).
TraceContext Current();

//! Makes `context` current on this thread until the scope ends (work handed to another thread).
class ContextScope {
 public:
  explicit ContextScope(const TraceContext& context);
  ~ContextScope();
  ContextScope(const ContextScope&) = delete;
  ContextScope& operator=(const ContextScope&) = delete;

 private:
  TraceContext saved_;
};

//! Reads the OTEL_* environment (endpoint, service name, sampler, batch delay); tracing stays off
//! without an endpoint or with OTEL_SDK_DISABLED=true. `default_service` names the service when
//! OTEL_SERVICE_NAME is not set. Returns whether tracing is on.
bool InitTracing(std::string_view default_service);
//! Exports what is buffered and stops tracing (call before exit).
void ShutdownTracing();
bool TracingEnabled();

class Span {
 public:
  //! A child of the current span, current on this thread until it ends (a stack object). Does
  //! nothing when tracing is off or no span is current.
  explicit Span(std::string_view name);
  ~Span();
  Span(const Span&) = delete;
  Span& operator=(const Span&) = delete;

  bool recording() const { return impl_ != nullptr; }
  void Set(std::string_view key, std::string_view value);
  template <std::integral T>
  void Set(std::string_view key, T value) {
    if (impl_) SetInt(key, static_cast<int64_t>(value));
  }
  //! Marks the span failed with `message`.
  void SetError(std::string_view message);

 protected:
  struct Impl;
  Span() = default;
  void SetInt(std::string_view key, int64_t value);
  std::unique_ptr<Impl> impl_;
  TraceContext saved_;
  bool made_current_ = false;
};

//! The span of one HTTP request at the gateway: a child of the client's `traceparent` when it is
//! a valid W3C header, else the root of a new trace. Not current anywhere until Activate().
class ServerSpan : public Span {
 public:
  //! Named "<method> <route>" (the route template).
  ServerSpan(std::string_view method, std::string_view route, std::string_view traceparent);
  ~ServerSpan();
  //! The span's context, for a ContextScope on the thread that runs the handler.
  TraceContext context() const { return context_; }
  //! Sets the status attribute (error for 5xx) and ends the span.
  void End(int http_status);

 private:
  TraceContext context_;
};

// ---- Metrics (Prometheus) ---------------------------------------------------------------------
namespace metrics {

void HttpRequest(std::string_view route, std::string_view method, int status, double seconds);
void Query(bool ok, double seconds, uint64_t rows, uint64_t bytes_scanned);
void Commit(bool committed);  //!< false: a conflict (another writer won the version)
void ObjectStoreOp(std::string_view backend, std::string_view op, uint64_t bytes, bool ok);
void AiCall(std::string_view op, bool ok, double seconds);

//! Counts a running query for lakehouse_queries_active while it lives.
class ActiveQuery {
 public:
  ActiveQuery();
  ~ActiveQuery();
  ActiveQuery(const ActiveQuery&) = delete;
  ActiveQuery& operator=(const ActiveQuery&) = delete;
};

//! Every metric of this process in the Prometheus text format (0.0.4).
std::string Scrape();

}  // namespace metrics
}  // namespace lakehouse::telemetry
