// The HTTP server: Boost.Beast over Asio with C++20 coroutines.
//
// Threading model
// - `io_threads` threads run the io_context. Each connection is one coroutine on its own strand:
//   it reads a request header, routes it, and either
//   * runs an inline handler on the I/O thread (health checks: never block), buffering the
//     response and writing it asynchronously, or
//   * hands the request to the worker pool, where the handler writes the response with
//     synchronous socket calls (the coroutine is suspended meanwhile, so nobody else touches the
//     socket). This keeps handlers plain blocking code (DuckDB, libcurl) while the I/O threads
//     stay free. A small (JSON) body is read whole on the I/O thread first, within
//     max_body_read_ms, so a slow client never holds a worker; an upload body is streamed by the
//     handler (natural back-pressure), cut off when it stalls or trickles.
// - Connections beyond max_connections get a 503 and are closed; the open-file limit is raised at
//   start. HEAD is answered by the GET route with the header only.
// - SIGTERM/SIGINT: stop accepting, close idle keep-alive connections, let in-flight requests
//   finish (up to drain_timeout_ms), then return from Run().
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <boost/asio.hpp>
#include <boost/asio/experimental/as_tuple.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <thread>
#include <type_traits>
#include <unordered_set>

#include "lakehouse/gateway/auth.h"
#include "lakehouse/gateway/gateway.h"
#include "lakehouse/shared/error.h"
#include "lakehouse/shared/logging.h"
#include "lakehouse/shared/telemetry.h"
#include "lakehouse/shared/types.h"
#include "lakehouse/shared/watchdog.h"
#include "url.h"

namespace lakehouse::gateway {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
using net::awaitable;
using net::use_awaitable;
constexpr auto kAsTuple = net::experimental::as_tuple(use_awaitable);

using Clock = std::chrono::steady_clock;

//! Process-unique request ids: a random prefix plus a counter (cheap on the hot path).
std::string NextRequestId() {
  static const std::string prefix = RandomHexId().substr(0, 8);
  static std::atomic<uint64_t> counter{0};
  return fmt::format("{}-{:x}", prefix, counter.fetch_add(1, std::memory_order_relaxed) + 1);
}

bool IsAcceptableRequestId(std::string_view id) {
  if (id.empty() || id.size() > 128) return false;
  for (char c : id) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
              c == '.' || c == ':';
    if (!ok) return false;
  }
  return true;
}

std::string ErrorBody(ErrorCode code, std::string_view message, std::string_view request_id) {
  nlohmann::json j = {{"error", {{"code", CodeName(code)}, {"message", message}, {"request_id", request_id}}}};
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// ---------------------------------------------------------------------------------------------
// Stalled I/O on worker threads

//! Worker threads use blocking socket calls, which have no deadline of their own. The watchdog
//! shuts down the socket of a call that makes no progress within `timeout`, so a client that stops
//! sending its body or stops reading its response cannot hold a worker forever.
class StallWatchdog {
 public:
  explicit StallWatchdog(std::chrono::milliseconds timeout) : timeout_(timeout) {}

  //! Watches one blocking call on `fd` for as long as the guard lives.
  class Guard {
   public:
    Guard(StallWatchdog& dog, int fd)
        : scope_(dog.deadlines_, DeadlineWatchdog::Clock::now() + dog.timeout_, [fd, timeout = dog.timeout_] {
            // The fd stays open (the guard's owner closes it), so it cannot have been reused.
            ::shutdown(fd, SHUT_RDWR);
            log::Warn("closed a connection whose client stalled", {{"timeout_ms", timeout.count()}});
          }) {}

   private:
    DeadlineWatchdog::Scope scope_;
  };

 private:
  const std::chrono::milliseconds timeout_;
  DeadlineWatchdog deadlines_;
};

// ---------------------------------------------------------------------------------------------
// Request

class RequestImpl final : public Request {
 public:
  RequestImpl(const http::request_header<>& header, std::string request_id)
      : header_(&header), request_id_(std::move(request_id)) {
    std::string_view target(header_->target().data(), header_->target().size());
    size_t q = target.find('?');
    path_ = PercentDecode(target.substr(0, q), /*plus_as_space=*/false);
    if (q != std::string_view::npos) raw_query_ = std::string(target.substr(q + 1));
    method_ = std::string(header_->method_string());
  }

  std::string_view method() const override { return method_; }
  std::string_view path() const override { return path_; }
  std::string_view raw_query() const override { return raw_query_; }
  std::optional<std::string> Header(std::string_view name) const override {
    auto it = header_->find(beast::string_view(name.data(), name.size()));
    if (it == header_->end()) return std::nullopt;
    return std::string(it->value());
  }
  std::optional<std::string> Query(std::string_view name) const override {
    if (!query_parsed_) {
      query_ = ParseQueryString(raw_query_);
      query_parsed_ = true;
    }
    auto it = query_.find(name);
    if (it == query_.end()) return std::nullopt;
    return it->second;
  }
  const std::string& Param(std::string_view name) const override {
    auto it = params_.find(name);
    if (it == params_.end()) Fail(ErrorCode::kInternal, "route has no path parameter '{}'", name);
    return it->second;
  }
  const std::string& request_id() const override { return request_id_; }
  std::optional<uint64_t> content_length() const override {
    auto it = header_->find(http::field::content_length);
    if (it == header_->end()) return std::nullopt;
    try {
      return std::stoull(std::string(it->value()));
    } catch (...) {
      return std::nullopt;
    }
  }
  ByteSource& Body() override {
    if (body_ == nullptr) Fail(ErrorCode::kInternal, "request body is not available");
    return *body_;
  }

  void set_params(std::map<std::string, std::string, std::less<>> params) { params_ = std::move(params); }
  //! Headers every response to this request carries (the guard's: CORS, WWW-Authenticate).
  void set_response_headers(std::vector<std::pair<std::string, std::string>> headers) {
    response_headers_ = std::move(headers);
  }
  const std::vector<std::pair<std::string, std::string>>& response_headers() const { return response_headers_; }
  void set_body(ByteSource* body) { body_ = body; }
  void set_trace(const telemetry::TraceContext& trace) { trace_ = trace; }
  const telemetry::TraceContext& trace() const { return trace_; }
  //! The header moves when the parser is converted to read the body: follow it.
  void set_header(const http::request_header<>& header) { header_ = &header; }

 private:
  const http::request_header<>* header_;
  std::string request_id_;
  std::string method_;
  std::string path_;
  std::string raw_query_;
  mutable bool query_parsed_ = false;
  mutable std::map<std::string, std::string, std::less<>> query_;
  telemetry::TraceContext trace_;
  std::map<std::string, std::string, std::less<>> params_;
  std::vector<std::pair<std::string, std::string>> response_headers_;
  ByteSource* body_ = nullptr;
};

//! A body already in memory (inline handlers).
class BufferedBody final : public ByteSource {
 public:
  explicit BufferedBody(std::string data) : data_(std::move(data)), source_(data_) {}
  size_t Read(char* buf, size_t n) override { return source_.Read(buf, n); }

 private:
  std::string data_;
  StringSource source_;
};

//! The body read from the socket as the handler consumes it (worker threads, sync I/O).
class StreamingBody final : public ByteSource {
 public:
  static constexpr size_t kBodyReadBytes = 64 << 10;  //!< Beast's largest read_some
  StreamingBody(tcp::socket& socket, beast::flat_buffer& buffer, http::request_parser<http::buffer_body>& parser,
                bool send_continue, StallWatchdog& watchdog)
      : socket_(socket), buffer_(buffer), parser_(parser), send_continue_(send_continue), watchdog_(watchdog) {
    // Beast reads max(512, free capacity) bytes per read_some, up to 64 KiB: the connection's
    // buffer holds about a header, so without this a body came in 512-byte reads (400k recv and
    // 400k spool writes for 200 MB; bench/ui.sh's upload figure).
    buffer_.reserve(kBodyReadBytes);
  }

  size_t Read(char* buf, size_t n) override {
    if (n == 0) return 0;
    if (send_continue_) {
      send_continue_ = false;
      static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
      beast::error_code ec;
      StallWatchdog::Guard guard(watchdog_, socket_.native_handle());
      net::write(socket_, net::buffer(kContinue.data(), kContinue.size()), ec);
      if (ec) Fail(ErrorCode::kCancelled, "client went away: {}", ec.message());
    }
    while (!parser_.is_done()) {
      parser_.get().body().data = buf;
      parser_.get().body().size = n;
      beast::error_code ec;
      {
        StallWatchdog::Guard guard(watchdog_, socket_.native_handle());
        http::read_some(socket_, buffer_, parser_, ec);
      }
      if (ec == http::error::need_buffer) ec = {};
      if (ec == http::error::body_limit) {
        Fail(ErrorCode::kPayloadTooLarge, "request body exceeds the limit of {} bytes", limit_);
      }
      if (ec) Fail(ErrorCode::kInvalidArgument, "could not read the request body: {}", ec.message());
      size_t got = n - parser_.get().body().size;
      bytes_ += got;
      CheckRate();
      if (got > 0) return got;
    }
    return 0;
  }

  bool done() const { return parser_.is_done(); }
  void set_limit(uint64_t limit) { limit_ = limit; }
  uint64_t bytes() const { return bytes_; }
  //! After `grace`, a body arriving slower than `min_bytes_per_s` on average is cut off.
  void set_rate_floor(std::chrono::milliseconds grace, uint64_t min_bytes_per_s) {
    grace_ = grace;
    min_bytes_per_s_ = min_bytes_per_s;
  }

 private:
  void CheckRate() const {
    if (min_bytes_per_s_ == 0) return;
    const auto elapsed = std::chrono::duration<double>(Clock::now() - started_).count();
    if (elapsed * 1000 < static_cast<double>(grace_.count())) return;
    if (static_cast<double>(bytes_) < static_cast<double>(min_bytes_per_s_) * elapsed) {
      Fail(ErrorCode::kTimeout, "the request body arrives too slowly: {} bytes in {:.1f} s (at least {} bytes/s)",
           bytes_, elapsed, min_bytes_per_s_);
    }
  }

 public:
 private:
  tcp::socket& socket_;
  beast::flat_buffer& buffer_;
  http::request_parser<http::buffer_body>& parser_;
  bool send_continue_;
  StallWatchdog& watchdog_;
  uint64_t limit_ = 0;
  uint64_t bytes_ = 0;
  Clock::time_point started_ = Clock::now();
  std::chrono::milliseconds grace_{0};
  uint64_t min_bytes_per_s_ = 0;
};

// ---------------------------------------------------------------------------------------------
// Response

struct ResponseState {
  int status = 0;
  uint64_t bytes = 0;
  bool keep_alive = true;
  bool broken = false;  //!< the connection can no longer be used (write failed or aborted stream)
};

class ResponseBase : public Response {
 public:
  ResponseBase(std::string request_id, bool keep_alive) : request_id_(std::move(request_id)) {
    state_.keep_alive = keep_alive;
  }
  void SetHeader(std::string name, std::string value) override {
    extra_headers_.emplace_back(std::move(name), std::move(value));
  }
  bool started() const override { return started_; }
  void AddHeaders(const std::vector<std::pair<std::string, std::string>>& headers) {
    extra_headers_.insert(extra_headers_.end(), headers.begin(), headers.end());
    server_headers_ = extra_headers_.size();
  }
  //! Takes back a started response of which nothing has been sent yet, with the headers its
  //! handler set, so that an error can be sent instead; false when bytes have left already.
  virtual bool Retract() { return false; }
  const ResponseState& state() const { return state_; }
  void ForceClose() { state_.keep_alive = false; }
  //! A HEAD request: the response's header is sent (with the length the body would have), never
  //! its body, which would otherwise be read as the start of the next response.
  void set_head_only() { head_only_ = true; }
  bool head_only() const { return head_only_; }

 protected:
  template <typename Message>
  void FillHeaders(Message& msg, std::string_view content_type) {
    msg.set(http::field::server, "lakehouse");
    msg.set("X-Request-Id", request_id_);
    if (!content_type.empty())
      msg.set(http::field::content_type, beast::string_view(content_type.data(), content_type.size()));
    for (auto& [k, v] : extra_headers_) msg.set(k, v);
    msg.keep_alive(state_.keep_alive);
  }

  std::string request_id_;
  std::vector<std::pair<std::string, std::string>> extra_headers_;
  size_t server_headers_ = 0;  //!< extra_headers_ before this are the server's (AddHeaders), the rest the handler's
  ResponseState state_;
  bool started_ = false;
  bool head_only_ = false;
};

//! Inline handlers: the whole response is kept in memory and written asynchronously afterwards.
class BufferedResponse final : public ResponseBase {
 public:
  using ResponseBase::ResponseBase;

  void Send(int status, std::string_view body, std::string_view content_type) override {
    if (started_) Fail(ErrorCode::kInternal, "response already started");
    started_ = true;
    message_.result(static_cast<unsigned>(status));
    FillHeaders(message_, content_type);
    message_.body().assign(body.data(), body.size());
    message_.prepare_payload();
    state_.status = status;
    state_.bytes = body.size();
  }
  void Begin(int status, std::string_view content_type) override { Send(status, "", content_type); }
  void BeginSized(int status, std::string_view content_type, uint64_t) override { Send(status, "", content_type); }
  bool Write(std::string_view data) override {
    message_.body().append(data.data(), data.size());
    message_.prepare_payload();
    state_.bytes += data.size();
    return true;
  }
  void End() override {}
  bool ClientGone() override { return false; }
  http::response<http::string_body>& message() { return message_; }

 private:
  http::response<http::string_body> message_;
};

//! Worker handlers: writes go straight to the socket, synchronously.
class SocketResponse final : public ResponseBase {
 public:
  SocketResponse(std::string request_id, bool keep_alive, tcp::socket& socket, const StreamingBody* body,
                 StallWatchdog& watchdog)
      : ResponseBase(std::move(request_id), keep_alive), socket_(socket), body_(body), watchdog_(watchdog) {}

  void Send(int status, std::string_view body, std::string_view content_type) override {
    if (started_) Fail(ErrorCode::kInternal, "response already started");
    started_ = true;
    CloseIfBodyUnread();
    http::response<http::span_body<const char>> msg{static_cast<http::status>(status), 11};
    FillHeaders(msg, content_type);
    msg.body() = http::span_body<const char>::value_type(body.data(), body.size());
    msg.prepare_payload();
    state_.status = status;
    beast::error_code ec;
    {
      StallWatchdog::Guard guard(watchdog_, socket_.native_handle());
      if (head_only_) {
        http::response_serializer<http::span_body<const char>> sr{msg};
        http::write_header(socket_, sr, ec);
      } else {
        http::write(socket_, msg, ec);
      }
    }
    if (ec) {
      state_.broken = true;
    } else {
      state_.bytes += body.size();
    }
  }

  void Begin(int status, std::string_view content_type) override { StartStream(status, content_type, std::nullopt); }

  void BeginSized(int status, std::string_view content_type, uint64_t content_length) override {
    StartStream(status, content_type, content_length);
  }

  bool Write(std::string_view data) override {
    if (!streaming_) Fail(ErrorCode::kInternal, "Write() before Begin()");
    if (state_.broken || head_only_) return false;  // HEAD: the header is all; stop producing
    if (data.empty()) return true;                  // an empty chunk would end the body
    if (sized_ && state_.bytes + data.size() > *sized_) {
      Fail(ErrorCode::kInternal, "response body exceeds its Content-Length of {} bytes", *sized_);
    }
    const net::const_buffer bytes(data.data(), data.size());
    if (sized_) {
      WriteBuffers(bytes);
    } else {
      WriteBuffers(http::make_chunk(bytes));
    }
    if (state_.broken) return false;
    state_.bytes += data.size();
    return true;
  }

  //! The last bytes and the end of the body in one write (with the header when it still waits):
  //! a small result is then one segment on the wire, one wake-up of the client (ADR 0012). When
  //! nothing was sent yet the whole body is `data`: it goes with a Content-Length, not chunked.
  bool WriteAndEnd(std::string_view data) override {
    if (!streaming_ || ended_ || sized_ || data.empty() || state_.broken) {
      const bool ok = data.empty() || Write(data);
      End();
      return ok && !state_.broken;
    }
    ended_ = true;
    const net::const_buffer bytes(data.data(), data.size());
    if (head_) {
      head_->chunked(false);
      head_->content_length(data.size());
      WriteBuffers(bytes);
    } else {
      WriteBuffers(beast::buffers_cat(http::make_chunk(bytes), http::make_chunk_last()));
    }
    if (state_.broken) return false;
    state_.bytes += data.size();
    return true;
  }

  void End() override {
    if (!streaming_ || ended_) return;
    if (sized_) {
      // A short body must not look complete: the connection is closed instead (see WriteError).
      if (state_.bytes != *sized_) {
        Fail(ErrorCode::kInternal, "response body has {} of its {} bytes", state_.bytes, *sized_);
      }
      ended_ = true;
      SendPendingHeader();  // an empty body
      return;
    }
    ended_ = true;
    if (state_.broken) return;
    WriteBuffers(http::make_chunk_last());
  }

  //! A streamed response's header waits for the first bytes of the body (or its end) so that both
  //! go out in one write; a handler that stops early (an aborted stream) sends it alone.
  void SendPendingHeader() {
    if (!head_ || state_.broken) return;
    WriteBuffers(net::const_buffer(nullptr, 0));
  }

  bool ClientGone() override {
    if (state_.broken) return true;
    pollfd p{socket_.native_handle(), POLLRDHUP, 0};
    if (::poll(&p, 1, 0) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR))) return true;
    return false;
  }

  //! A streamed response that did not End() cleanly (the handler threw mid-stream).
  bool aborted_stream() const { return streaming_ && !ended_; }

  //! A streamed response's header waits for its first bytes: until they go, the response can
  //! still become an error (a query that fails before its first 256 KiB of output is a 4xx).
  bool Retract() override {
    if (!head_ || !streaming_ || state_.bytes != 0 || state_.broken || head_only_) return false;
    head_.reset();
    started_ = streaming_ = ended_ = false;
    sized_.reset();
    state_.status = 0;
    extra_headers_.resize(server_headers_);
    return true;
  }

 private:
  //! Writes the header of a streamed body: chunked, or of a known length.
  void StartStream(int status, std::string_view content_type, std::optional<uint64_t> content_length) {
    if (started_) Fail(ErrorCode::kInternal, "response already started");
    started_ = true;
    CloseIfBodyUnread();
    http::response<http::empty_body> msg{static_cast<http::status>(status), 11};
    FillHeaders(msg, content_type);
    if (content_length) {
      msg.content_length(*content_length);
    } else {
      msg.chunked(true);
    }
    state_.status = status;
    streaming_ = true;
    sized_ = content_length;
    ended_ = head_only_;  // a HEAD response is complete with its header
    head_ = std::move(msg);
    if (head_only_) SendPendingHeader();
  }

  //! Writes `buffers`, after the header when it has not been sent yet; marks the state broken on
  //! an error.
  template <typename Buffers>
  void WriteBuffers(const Buffers& buffers) {
    beast::error_code ec;
    StallWatchdog::Guard guard(watchdog_, socket_.native_handle());
    if (!head_) {
      net::write(socket_, buffers, ec);
    } else {
      std::ostringstream header;
      header << head_->base();
      const std::string text = std::move(header).str();
      head_.reset();
      net::write(socket_, beast::buffers_cat(net::const_buffer(text.data(), text.size()), buffers), ec);
    }
    if (ec) state_.broken = true;
  }

  void CloseIfBodyUnread() {
    // Unread body bytes would be parsed as the next request: close the connection instead.
    if (body_ != nullptr && !body_->done()) state_.keep_alive = false;
  }

  tcp::socket& socket_;
  const StreamingBody* body_;
  StallWatchdog& watchdog_;
  bool streaming_ = false;
  bool ended_ = false;
  std::optional<uint64_t> sized_;                         //!< Content-Length of a BeginSized() response
  std::optional<http::response<http::empty_body>> head_;  //!< a streamed response's header, until sent
};

//! Writes the JSON error for a caught exception, or marks the connection broken when the
//! response had already sent bytes (the client then sees a truncated body).
void WriteError(ResponseBase& response, const Request& request, ErrorCode code, std::string_view message) {
  if (response.started() && !response.Retract()) {
    response.ForceClose();
    return;
  }
  response.Send(HttpStatus(code), ErrorBody(code, message, request.request_id()), "application/json");
}

void RunHandler(const Handler& handler, RequestImpl& request, ResponseBase& response) {
  const telemetry::ContextScope trace(request.trace());  // the request's span is current while it runs
  try {
    handler(request, response);
    if (!response.started()) response.Send(204, "", "");
  } catch (const Error& e) {
    if (e.http_status() >= 500) {
      log::Error("request failed",
                 {{"request_id", request.request_id()}, {"code", CodeName(e.code())}, {"error", e.what()}});
    }
    if (e.code() == ErrorCode::kPayloadTooLarge) response.ForceClose();
    WriteError(response, request, e.code(), e.what());
  } catch (const std::exception& e) {
    log::Error("request failed: internal error", {{"request_id", request.request_id()}, {"error", e.what()}});
    WriteError(response, request, ErrorCode::kInternal,
               fmt::format("internal error; see the server log for request id {}", request.request_id()));
  }
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Server

class Server::Impl {
 public:
  Impl(ServerOptions options, Router router, std::vector<HealthCheck> checks)
      : options_(std::move(options)),
        router_(std::move(router)),
        checks_(std::move(checks)),
        acceptor_(ioc_),
        workers_(static_cast<size_t>(std::max(1, options_.worker_threads))),
        signals_(ioc_, SIGINT, SIGTERM),
        watchdog_(std::chrono::milliseconds(options_.idle_timeout_ms)),
        body_watchdog_(std::chrono::milliseconds(std::min(options_.max_body_read_ms, options_.idle_timeout_ms))) {
    AddBuiltinRoutes();
  }

  void Bind() {
    if (bound_) return;
    beast::error_code ec;
    auto address = net::ip::make_address(options_.host, ec);
    if (ec) Fail(ErrorCode::kInvalidArgument, "invalid listen host '{}': {}", options_.host, ec.message());
    tcp::endpoint endpoint(address, options_.port);
    acceptor_.open(endpoint.protocol(), ec);
    if (!ec) acceptor_.set_option(net::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_.bind(endpoint, ec);
    if (!ec) acceptor_.listen(net::socket_base::max_listen_connections, ec);
    if (ec) {
      Fail(ErrorCode::kUnavailable, "cannot listen on {}:{}: {}", options_.host, options_.port, ec.message());
    }
    bound_ = true;
  }

  uint16_t port() const { return acceptor_.local_endpoint().port(); }

  void Run() {
    Bind();
    max_connections_ = ConnectionCap();
    log::Info("listening", {{"address", fmt::format("{}:{}", options_.host, port())},
                            {"version", options_.version},
                            {"max_connections", max_connections_}});
    net::co_spawn(ioc_, AcceptLoop(), net::detached);
    signals_.async_wait([this](const beast::error_code& ec, int signo) {
      if (!ec) {
        log::Info("signal received, draining", {{"signal", signo}});
        Stop();
      }
    });
    std::vector<std::thread> threads;
    for (int i = 1; i < std::max(1, options_.io_threads); ++i) threads.emplace_back([this] { ioc_.run(); });
    ioc_.run();
    for (auto& t : threads) t.join();
    workers_.join();
    log::Info("stopped", {{"in_flight_at_exit", active_requests_.load()}});
  }

  void Stop() {
    bool expected = false;
    if (!draining_.compare_exchange_strong(expected, true)) return;
    net::co_spawn(ioc_, Drain(), net::detached);
  }

 private:
  struct Connection {
    beast::tcp_stream* stream = nullptr;
    net::any_io_executor executor;
  };

  void AddBuiltinRoutes() {
    RouteOptions inline_route{.inline_handler = true};
    router_.Add(
        "GET", "/health", [this](Request&, Response& res) { res.Json(200, HealthBody(nullptr)); }, inline_route);
    router_.Add(
        "GET", "/ready",
        [this](Request&, Response& res) {
          bool ready = true;
          auto body = HealthBody(&ready);
          body["ready"] = ready;
          res.Json(ready ? 200 : 503, body);
        },
        inline_route);
  }

  nlohmann::json HealthBody(bool* all_ready) {
    nlohmann::json services = nlohmann::json::object();
    bool ok = true;
    for (const auto& check : checks_) {
      nlohmann::json s;
      try {
        s = check.probe();
      } catch (const std::exception& e) {
        s = {{"status", "down"}, {"error", e.what()}};
      }
      if (!s.is_object()) s = {{"status", "down"}};
      if (s.value("status", "down") != "ok") ok = false;
      services[check.name] = std::move(s);
    }
    if (draining_) ok = false;
    if (all_ready != nullptr) *all_ready = ok;
    return {{"status", draining_ ? "draining" : (ok ? "ok" : "degraded")},
            {"version", options_.version},
            {"services", services}};
  }

  //! Raises the soft open-file limit to the hard one and returns the connection cap that fits
  //! under it (a reserve stays for data files, DuckDB, the catalog and the AI children).
  int ConnectionCap() const {
    constexpr rlim_t kReserve = 256;
    rlimit lim{};
    if (::getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < lim.rlim_max) {
      rlimit raised = lim;
      raised.rlim_cur = lim.rlim_max;
      if (::setrlimit(RLIMIT_NOFILE, &raised) == 0) lim = raised;
    }
    int cap = std::max(1, options_.max_connections);
    if (lim.rlim_cur != RLIM_INFINITY) {
      const rlim_t room = lim.rlim_cur > 2 * kReserve ? lim.rlim_cur - kReserve : lim.rlim_cur / 2;
      if (static_cast<rlim_t>(cap) > room) {
        log::Warn("max_connections lowered to fit the open-file limit",
                  {{"max_connections", options_.max_connections},
                   {"open_file_limit", static_cast<uint64_t>(lim.rlim_cur)},
                   {"cap", static_cast<uint64_t>(room)}});
        cap = static_cast<int>(room);
      }
    }
    return cap;
  }

  //! Logs at most once a second, with how many events the quiet period hid.
  bool RateLimitedLog() {
    const auto now = Clock::now();
    ++refusals_unlogged_;
    if (now - last_refusal_log_ < std::chrono::seconds(1)) return false;
    last_refusal_log_ = now;
    return true;
  }

  awaitable<void> AcceptLoop() {
    for (;;) {
      auto [ec, socket] = co_await acceptor_.async_accept(net::make_strand(ioc_), kAsTuple);
      if (draining_) co_return;
      if (ec) {
        if (ec == net::error::operation_aborted) co_return;
        // Out of file descriptors (or another transient error): back off; one log line a second.
        if (RateLimitedLog()) {
          log::Warn("accept failed", {{"error", ec.message()}, {"count", std::exchange(refusals_unlogged_, 0)}});
        }
        net::steady_timer t(ioc_, std::chrono::milliseconds(50));
        co_await t.async_wait(kAsTuple);
        continue;
      }
      beast::error_code ignored;
      socket.set_option(tcp::no_delay(true), ignored);
      auto executor = socket.get_executor();
      if (connections_.load() >= max_connections_) {
        if (RateLimitedLog()) {
          log::Warn("connection refused: at max_connections",
                    {{"max_connections", max_connections_}, {"count", std::exchange(refusals_unlogged_, 0)}});
        }
        net::co_spawn(executor, Refuse(std::move(socket)), net::detached);
        continue;
      }
      connections_++;
      net::co_spawn(executor, Session(std::move(socket)), net::detached);
    }
  }

  //! Beyond the connection cap: a 503 with Retry-After, then close (no request is read).
  awaitable<void> Refuse(tcp::socket socket) {
    beast::tcp_stream stream(std::move(socket));
    const std::string id = NextRequestId();
    http::response<http::string_body> res{http::status::service_unavailable, 11};
    res.set(http::field::server, "lakehouse");
    res.set(http::field::content_type, "application/json");
    res.set(http::field::retry_after, "1");
    res.set("X-Request-Id", id);
    res.keep_alive(false);
    res.body() = ErrorBody(ErrorCode::kUnavailable,
                           fmt::format("the server has {} open connections, its limit (server.max_connections); "
                                       "retry shortly or reuse a keep-alive connection",
                                       max_connections_),
                           id);
    res.prepare_payload();
    stream.expires_after(std::chrono::seconds(1));
    co_await http::async_write(stream, res, kAsTuple);
    beast::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream.socket().close(ignored);
  }

  awaitable<void> Drain() {
    beast::error_code ignored;
    acceptor_.close(ignored);
    {
      std::lock_guard lock(idle_mu_);
      for (auto& [id, conn] : idle_) {
        auto* stream = conn.stream;
        net::post(conn.executor, [stream] { stream->socket().cancel(); });
      }
    }
    auto deadline = Clock::now() + std::chrono::milliseconds(options_.drain_timeout_ms);
    net::steady_timer timer(ioc_);
    while (active_requests_.load() > 0 && Clock::now() < deadline) {
      timer.expires_after(std::chrono::milliseconds(10));
      co_await timer.async_wait(kAsTuple);
    }
    if (active_requests_.load() > 0) {
      log::Warn("drain timeout: requests still in flight", {{"in_flight", active_requests_.load()}});
    }
    ioc_.stop();
  }

  awaitable<void> Session(tcp::socket socket) {
    beast::tcp_stream stream(std::move(socket));
    beast::flat_buffer buffer;
    const uint64_t conn_id = next_conn_id_.fetch_add(1);
    std::string remote;
    {
      beast::error_code ec;
      auto ep = stream.socket().remote_endpoint(ec);
      if (!ec) remote = fmt::format("{}:{}", ep.address().to_string(), ep.port());
    }
    for (;;) {
      if (draining_) break;
      http::request_parser<http::empty_body> parser;
      parser.header_limit(static_cast<uint32_t>(options_.max_header_bytes));
      parser.body_limit(boost::none);
      stream.expires_after(std::chrono::milliseconds(options_.idle_timeout_ms));
      {
        std::lock_guard lock(idle_mu_);
        idle_[conn_id] = Connection{&stream, stream.get_executor()};
      }
      auto [ec, n] = co_await http::async_read_header(stream, buffer, parser, kAsTuple);
      {
        std::lock_guard lock(idle_mu_);
        idle_.erase(conn_id);
      }
      if (ec) {
        if (ec != http::error::end_of_stream && ec != net::error::operation_aborted && ec != beast::error::timeout &&
            ec != net::error::connection_reset && ec != net::error::eof) {
          // Malformed request: answer 400 once, then close.
          active_requests_++;
          co_await WriteParseError(stream, ec);
          active_requests_--;
        }
        break;
      }
      stream.expires_never();
      active_requests_++;
      bool keep_alive = co_await HandleRequest(stream, buffer, parser, remote);
      active_requests_--;
      if (!keep_alive) break;
    }
    beast::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream.socket().close(ignored);
    connections_--;
  }

  //! Writes a buffered response; a HEAD request gets the header only (with the body's length).
  awaitable<beast::error_code> WriteBuffered(beast::tcp_stream& stream, BufferedResponse& response) {
    ArmTimeout(stream);
    if (response.head_only()) {
      http::response_serializer<http::string_body> sr{response.message()};
      auto [ec, n] = co_await http::async_write_header(stream, sr, kAsTuple);
      co_return ec;
    }
    auto [ec, n] = co_await http::async_write(stream, response.message(), kAsTuple);
    co_return ec;
  }

  //! Async operations of the I/O threads get the idle timeout (the worker path has the watchdog).
  void ArmTimeout(beast::tcp_stream& stream) const {
    stream.expires_after(std::chrono::milliseconds(options_.idle_timeout_ms));
  }

  awaitable<void> WriteParseError(beast::tcp_stream& stream, const beast::error_code& ec) {
    const std::string id = NextRequestId();
    bool too_large = ec == http::error::header_limit;
    const ErrorCode code = ErrorCode::kInvalidArgument;
    std::string message = too_large ? fmt::format("request headers exceed {} bytes", options_.max_header_bytes)
                                    : fmt::format("malformed HTTP request: {}", ec.message());
    http::response<http::string_body> res{
        too_large ? http::status::request_header_fields_too_large : http::status::bad_request, 11};
    res.set(http::field::server, "lakehouse");
    res.set(http::field::content_type, "application/json");
    res.set("X-Request-Id", id);
    res.keep_alive(false);
    res.body() = ErrorBody(code, message, id);
    res.prepare_payload();
    stream.expires_after(std::chrono::seconds(5));
    co_await http::async_write(stream, res, kAsTuple);
    log::Info("request", {{"request_id", id}, {"status", res.result_int()}, {"error", message}});
  }

  //! Handles one request; returns whether the connection may be reused.
  awaitable<bool> HandleRequest(beast::tcp_stream& stream, beast::flat_buffer& buffer,
                                http::request_parser<http::empty_body>& parser, const std::string& remote) {
    const auto started = Clock::now();
    const auto& header = parser.get();
    std::string request_id;
    if (auto it = header.find("X-Request-Id"); it != header.end() && IsAcceptableRequestId(it->value())) {
      request_id = std::string(it->value());
    } else {
      request_id = NextRequestId();
    }
    RequestImpl request(header, request_id);
    bool keep_alive = header.keep_alive() && !draining_;
    const bool has_body = header.chunked() || request.content_length().value_or(0) > 0;
    const bool head = header.method() == http::verb::head;

    auto match = router_.Find(request.method(), request.path());
    // Metrics and span names use the route template, never the raw path (bounded label values).
    const std::string_view route = match.pattern ? std::string_view(*match.pattern) : "unmatched";
    telemetry::ServerSpan span(request.method(), route, header["traceparent"]);
    span.Set("http.request.method", request.method());
    span.Set("http.route", route);
    span.Set("url.path", request.path());
    span.Set("lakehouse.request_id", request_id);
    request.set_trace(span.context());
    ResponseState state;
    std::string error_message;
    request.set_params(std::move(match.params));
    GuardResult guard;
    if (router_.guard()) {
      try {
        guard = router_.guard()(request, match.route);
      } catch (const std::exception& e) {
        log::Error("request guard failed", {{"request_id", request_id}, {"error", e.what()}});
        guard.error = ErrorCode::kInternal;
        guard.message = fmt::format("internal error; see the server log for request id {}", request_id);
      }
      request.set_response_headers(std::move(guard.headers));
    }

    if (guard.error || guard.answered) {
      // Refused (or a CORS preflight) before the body is read: close the connection if a body follows.
      BufferedResponse response(request_id, keep_alive && !has_body);
      response.AddHeaders(request.response_headers());
      if (head) response.set_head_only();
      if (guard.answered) {
        response.Send(204, "", "");
      } else {
        error_message = guard.message;
        response.Send(HttpStatus(*guard.error), ErrorBody(*guard.error, error_message, request_id), "application/json");
      }
      co_await WriteBuffered(stream, response);
      state = response.state();
    } else if (match.handler == nullptr) {
      // 404 / 405 without reading the body: close the connection if a body follows.
      BufferedResponse response(request_id, keep_alive && !has_body);
      response.AddHeaders(request.response_headers());
      if (head) response.set_head_only();
      if (!match.allowed_methods.empty()) {
        std::string allow;
        for (const auto& m : match.allowed_methods) allow += (allow.empty() ? "" : ", ") + m;
        response.SetHeader("Allow", allow);
        error_message =
            fmt::format("method {} is not allowed on {}; allowed: {}", request.method(), request.path(), allow);
        response.Send(405, ErrorBody(ErrorCode::kMethodNotAllowed, error_message, request_id), "application/json");
      } else {
        error_message = fmt::format("no route for {} {}", request.method(), request.path());
        response.Send(404, ErrorBody(ErrorCode::kNotFound, error_message, request_id), "application/json");
      }
      co_await WriteBuffered(stream, response);
      state = response.state();
    } else {
      const uint64_t limit = match.options->max_body_bytes ? match.options->max_body_bytes : options_.max_body_bytes;
      if (request.content_length().value_or(0) > limit) {
        BufferedResponse response(request_id, false);
        response.AddHeaders(request.response_headers());
        if (head) response.set_head_only();
        error_message = fmt::format("request body of {} bytes exceeds the limit of {} bytes for {} {}",
                                    *request.content_length(), limit, request.method(), request.path());
        response.Send(413, ErrorBody(ErrorCode::kPayloadTooLarge, error_message, request_id), "application/json");
        co_await WriteBuffered(stream, response);
        state = response.state();
      } else if (match.options->inline_handler || limit <= options_.max_body_bytes) {
        state = co_await RunWithSmallBody(stream, buffer, parser, request, *match.handler, keep_alive, limit, head,
                                          match.options->inline_handler);
      } else {
        state = co_await RunOnWorker(stream, buffer, parser, request, *match.handler, keep_alive, limit, head);
      }
    }

    // The audit and access log lines carry the trace ids (no co_await below: the scope is per thread).
    const telemetry::ContextScope trace_scope(span.context());
    if (guard.audit) {
      // Every write and admin action, allowed or not (docs/api/auth.md).
      log::Info("audit", {{"request_id", request_id},
                          {"key_id", request.principal() != nullptr ? request.principal()->key_id : ""},
                          {"action", fmt::format("{} {}", match.route.method, match.route.pattern)},
                          {"dataset", guard.audit_dataset},
                          {"status", state.status},
                          {"result", state.status < 400 ? "ok" : "refused"}});
    }
    const double ms = std::chrono::duration<double, std::milli>(Clock::now() - started).count();
    span.End(state.status);
    telemetry::metrics::HttpRequest(route, request.method(), state.status, ms / 1000);
    if (log::Enabled(log::Level::kInfo)) {
      nlohmann::json fields = {{"request_id", request_id}, {"method", request.method()},
                               {"path", request.path()},   {"status", state.status},
                               {"bytes", state.bytes},     {"duration_ms", std::round(ms * 1000) / 1000},
                               {"remote", remote}};
      if (!error_message.empty()) fields["error"] = error_message;
      log::Info("request", fields);
    }
    co_return keep_alive&& state.keep_alive && !state.broken;
  }

  //! A route with a small body: the body is read whole on the I/O thread first (ReadWholeBody); the
  //! handler then runs right there when it is inline (it never blocks), else on a worker.
  awaitable<ResponseState> RunWithSmallBody(beast::tcp_stream& stream, beast::flat_buffer& buffer,
                                            http::request_parser<http::empty_body>& parser, RequestImpl& request,
                                            const Handler& handler, bool keep_alive, uint64_t limit, bool head,
                                            bool inline_handler) {
    http::request_parser<http::string_body> body_parser{std::move(parser)};
    request.set_header(body_parser.get());
    body_parser.body_limit(limit);
    if (std::optional<ResponseState> failed = co_await ReadWholeBody(stream, buffer, body_parser, request)) {
      co_return *failed;
    }
    if (!inline_handler) {
      stream.expires_never();
      co_return co_await RunOnWorkerThread(stream, request, handler, keep_alive, head, [&] {
        return std::make_unique<BufferedBody>(std::move(body_parser.get().body()));
      });
    }
    BufferedBody body(std::move(body_parser.get().body()));
    request.set_body(&body);
    BufferedResponse response(request.request_id(), keep_alive);
    response.AddHeaders(request.response_headers());
    if (head) response.set_head_only();
    RunHandler(handler, request, response);
    auto ec = co_await WriteBuffered(stream, response);
    ResponseState state = response.state();
    if (ec) state.broken = true;
    co_return state;
  }

  //! Reads a small body on the I/O thread, whole, within max_body_read_ms (a slow client holds no
  //! worker). Returns the state of the error response when the body could not be read.
  awaitable<std::optional<ResponseState>> ReadWholeBody(beast::tcp_stream& stream, beast::flat_buffer& buffer,
                                                        http::request_parser<http::string_body>& body_parser,
                                                        const RequestImpl& request) {
    if (body_parser.is_done()) co_return std::nullopt;
    stream.expires_after(std::chrono::milliseconds(std::min(options_.max_body_read_ms, options_.idle_timeout_ms)));
    if (auto it = body_parser.get().find(http::field::expect);
        it != body_parser.get().end() && beast::iequals(it->value(), "100-continue")) {
      static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
      co_await net::async_write(stream, net::buffer(kContinue.data(), kContinue.size()), kAsTuple);
    }
    auto [ec, n] = co_await http::async_read(stream, buffer, body_parser, kAsTuple);
    if (!ec) co_return std::nullopt;
    ResponseState state;
    state.keep_alive = false;
    if (ec == beast::error::timeout) {
      // The stream closed the socket: nothing can be sent. Logged as 408.
      state.status = HttpStatus(ErrorCode::kTimeout);
      state.broken = true;
      log::Info("request body too slow, connection closed",
                {{"request_id", request.request_id()}, {"max_body_read_ms", options_.max_body_read_ms}});
      co_return state;
    }
    BufferedResponse response(request.request_id(), false);
    response.AddHeaders(request.response_headers());
    ErrorCode code = ec == http::error::body_limit ? ErrorCode::kPayloadTooLarge : ErrorCode::kInvalidArgument;
    response.Send(
        HttpStatus(code),
        ErrorBody(code, fmt::format("could not read the request body: {}", ec.message()), request.request_id()),
        "application/json");
    co_await WriteBuffered(stream, response);
    co_return response.state();
  }

  awaitable<ResponseState> RunOnWorker(beast::tcp_stream& stream, beast::flat_buffer& buffer,
                                       http::request_parser<http::empty_body>& parser, RequestImpl& request,
                                       const Handler& handler, bool keep_alive, uint64_t limit, bool head) {
    const bool expect_continue = [&] {
      auto it = parser.get().find(http::field::expect);
      return it != parser.get().end() && beast::iequals(it->value(), "100-continue");
    }();
    http::request_parser<http::buffer_body> body_parser{std::move(parser)};
    request.set_header(body_parser.get());
    body_parser.body_limit(limit);
    co_return co_await RunOnWorkerThread(stream, request, handler, keep_alive, head, [&] {
      auto body =
          std::make_unique<StreamingBody>(stream.socket(), buffer, body_parser, expect_continue, body_watchdog_);
      body->set_limit(limit);
      body->set_rate_floor(std::chrono::milliseconds(options_.max_body_read_ms), options_.min_upload_bytes_per_s);
      return body;
    });
  }

  //! Runs `handler` on a worker thread with the body `make_body()` builds there (a StreamingBody
  //! also lets the response see how much of the body was read); the response goes to the socket.
  template <typename MakeBody>
  awaitable<ResponseState> RunOnWorkerThread(beast::tcp_stream& stream, RequestImpl& request, const Handler& handler,
                                             bool keep_alive, bool head, MakeBody make_body) {
    ResponseState state;
    auto work = [&]() -> awaitable<void> {
      auto body = make_body();
      request.set_body(body.get());
      const StreamingBody* streaming = nullptr;
      if constexpr (std::is_same_v<typename decltype(body)::element_type, StreamingBody>) streaming = body.get();
      SocketResponse response(request.request_id(), keep_alive, stream.socket(), streaming, watchdog_);
      response.AddHeaders(request.response_headers());
      if (head) response.set_head_only();
      RunHandler(handler, request, response);
      if (response.aborted_stream()) {
        response.SendPendingHeader();
        response.ForceClose();
      }
      state = response.state();
      co_return;
    };
    co_await net::co_spawn(workers_.get_executor(), work(), use_awaitable);
    co_return state;
  }

  ServerOptions options_;
  Router router_;
  std::vector<HealthCheck> checks_;
  net::io_context ioc_;
  tcp::acceptor acceptor_;
  net::thread_pool workers_;
  net::signal_set signals_;
  StallWatchdog watchdog_;
  StallWatchdog body_watchdog_;  //!< upload body reads: no progress for max_body_read_ms ends them
  int max_connections_ = 0;      //!< options_.max_connections, lowered to fit the open-file limit
  std::atomic<int> connections_{0};
  Clock::time_point last_refusal_log_{};
  uint64_t refusals_unlogged_ = 0;
  bool bound_ = false;
  std::atomic<bool> draining_{false};
  std::atomic<int> active_requests_{0};
  std::atomic<uint64_t> next_conn_id_{1};
  std::mutex idle_mu_;
  std::unordered_map<uint64_t, Connection> idle_;
};

Server::Server(ServerOptions options, Router router, std::vector<HealthCheck> checks)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(router), std::move(checks))) {}
Server::~Server() = default;
void Server::Bind() { impl_->Bind(); }
uint16_t Server::port() const { return impl_->port(); }
void Server::Run() { impl_->Run(); }
void Server::Stop() { impl_->Stop(); }

}  // namespace lakehouse::gateway
