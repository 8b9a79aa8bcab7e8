#pragma once
// What every gRPC client and server adapter of rpc/ shares (docs/adr/0017-grpc.md): channels,
// per-call contexts (deadline, service token, W3C traceparent), the Status <-> lakehouse::Error
// mapping, bounded retries of idempotent calls, and the server-side wrapper of every method
// (token check, server span, exceptions to Status). Internal to rpc/: gRPC headers never reach a
// public header.
#include <grpcpp/grpcpp.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "lakehouse/rpc/grpc_status.h"
#include "lakehouse/rpc/rpc.h"
#include "lakehouse/shared/error.h"

namespace lakehouse::rpc::detail {

//! Metadata keys every call carries: "authorization: Bearer <service token>" (ADR 0015) and the
//! W3C trace context (ADR 0016).
inline constexpr const char* kTokenHeader = "authorization";
inline constexpr const char* kTraceParentHeader = "traceparent";
//! Streams that run as long as their work (query results, storage transfers) get this deadline
//! instead of ClientOptions::deadline_ms; keepalive detects a dead peer long before it.
inline constexpr int64_t kStreamDeadlineMs = int64_t{6} * 60 * 60 * 1000;
//! Chunk size of streamed bytes (object bodies, query results): well under any message limit.
inline constexpr size_t kChunkBytes = 256 * 1024;

//! A channel to `options.address`: TLS when security.tls_ca_file is set, keepalive, message
//! limits, quick reconnects (a service that comes back is found within about a second).
std::shared_ptr<grpc::Channel> MakeChannel(const ClientOptions& options);
//! Server credentials: TLS when both cert and key files are set, else insecure.
std::shared_ptr<grpc::ServerCredentials> MakeServerCredentials(const Security& security);
//! Applies keepalive and message limits to a server being built.
void ConfigureServer(grpc::ServerBuilder& builder, const ServerOptions& options);

// ---- errors ---------------------------------------------------------------------------------
//! The status for an error thrown by a service: the nearest gRPC code, the message, and our
//! ErrorCode's name (CodeName) in error_details, since the gRPC code alone cannot carry all of ours
//! (kPayloadTooLarge and kTooManyRequests are both RESOURCE_EXHAUSTED). Transport failures have none.
grpc::Status ToStatus(const Error& error);
//! The status for whatever the current exception is (call inside a catch block).
grpc::Status CurrentExceptionStatus();
//! The lakehouse error for a failed call: the service's own code and message when it sent them;
//! a transport failure (UNAVAILABLE or DEADLINE_EXCEEDED without our details) becomes
//! kUnavailable "<service> at <address> is unavailable: <details>".
Error FromStatus(const grpc::Status& status, const ClientOptions& options);
[[noreturn]] void Throw(const grpc::Status& status, const ClientOptions& options);
//! Throws FromStatus unless the status is OK.
inline void Check(const grpc::Status& status, const ClientOptions& options) {
  if (!status.ok()) Throw(status, options);
}

// ---- client calls ---------------------------------------------------------------------------
//! A context for one call: deadline (`deadline_ms`, or options.deadline_ms when unset; <= 0: none),
//! the service token, the current span's traceparent.
std::unique_ptr<grpc::ClientContext> NewContext(const ClientOptions& options,
                                                std::optional<int64_t> deadline_ms = std::nullopt);

//! Whether a failed call may be sent again: the server never ran it or it is idempotent
//! (the caller says which calls are).
bool Retryable(const grpc::Status& status);
//! Sleeps before attempt `attempt` (1-based retry count): 50 ms * 2^(attempt-1), capped at 1 s,
//! with full jitter.
void Backoff(int attempt);

//! Runs `call(grpc::ClientContext&) -> grpc::Status` with a fresh context per attempt; retries an
//! idempotent call up to options.max_attempts times on UNAVAILABLE, never a non-idempotent one.
//! Throws the mapped error when the last attempt fails. A client span named `method` wraps it.
//! `deadline_ms` as for NewContext: calls that run as long as their work (a compaction, a model
//! call, an embedding job) pass kStreamDeadlineMs and are bounded by the service's own limits.
template <typename Call>
void Invoke(const ClientOptions& options, std::string_view method, bool idempotent, Call&& call,
            std::optional<int64_t> deadline_ms = std::nullopt);

//! A client span around one call, current while it lives (so NewContext sends its traceparent).
class CallSpan {
 public:
  CallSpan(const ClientOptions& options, std::string_view method);
  ~CallSpan();
  CallSpan(const CallSpan&) = delete;
  CallSpan& operator=(const CallSpan&) = delete;
  void Fail(std::string_view message);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

template <typename Call>
void Invoke(const ClientOptions& options, std::string_view method, bool idempotent, Call&& call,
            std::optional<int64_t> deadline_ms) {
  CallSpan span(options, method);
  const int attempts = idempotent ? std::max(1, options.max_attempts) : 1;
  for (int attempt = 1;; ++attempt) {
    auto context = NewContext(options, deadline_ms);
    grpc::Status status = call(*context);
    if (status.ok()) return;
    if (attempt >= attempts || !Retryable(status)) {
      span.Fail(status.error_message());
      Throw(status, options);
    }
    Backoff(attempt);
  }
}

//! Reads a server stream to its end, each message into `on_message` (bool(const Message&)). When
//! `on_message` returns false the call is cancelled and ReadAll returns false; when it throws, the
//! call is cancelled and the exception passes on (failing `span`). Otherwise the final status is
//! checked: an error fails `span` and is thrown (FromStatus); success returns true.
template <typename Message, typename OnMessage>
bool ReadAll(grpc::ClientContext& context, grpc::ClientReader<Message>& reader, const ClientOptions& options,
             CallSpan& span, OnMessage&& on_message) {
  Message message;
  try {
    while (reader.Read(&message)) {
      if (!on_message(message)) {
        context.TryCancel();
        reader.Finish();  // CANCELLED, as asked
        return false;
      }
    }
  } catch (const std::exception& e) {  // end the call before the stream goes
    context.TryCancel();
    reader.Finish();
    span.Fail(e.what());
    throw;
  } catch (...) {  // any other type (a forced unwind is rethrown as it must be): the same
    context.TryCancel();
    reader.Finish();
    span.Fail("the reader of the stream failed");
    throw;
  }
  const grpc::Status status = reader.Finish();
  if (!status.ok()) {
    span.Fail(status.error_message());
    Throw(status, options);
  }
  return true;
}

// ---- server side ----------------------------------------------------------------------------
//! UNAUTHENTICATED unless the call carries `security.service_token` (constant-time comparison);
//! OK when no token is configured.
grpc::Status CheckToken(const grpc::ServerContext& context, const Security& security);

//! The server span of one call: a child of the caller's traceparent (none when the call has no
//! trace), current on this thread while it lives.
class ServerCallSpan {
 public:
  ServerCallSpan(const grpc::ServerContext& context, std::string_view method);
  ~ServerCallSpan();
  ServerCallSpan(const ServerCallSpan&) = delete;
  ServerCallSpan& operator=(const ServerCallSpan&) = delete;
  void End(const grpc::Status& status);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

//! The body of every server method: checks the token, runs `body() -> grpc::Status` (or void) in a
//! server span, and turns a lakehouse::Error (or any exception) into its status.
template <typename Body>
grpc::Status Serve(grpc::ServerContext* context, const Security& security, std::string_view method, Body&& body) {
  if (grpc::Status denied = CheckToken(*context, security); !denied.ok()) return denied;
  ServerCallSpan span(*context, method);
  grpc::Status status;
  try {
    if constexpr (std::is_void_v<decltype(body())>) {
      body();
    } else {
      status = body();
    }
  } catch (...) {
    status = CurrentExceptionStatus();
  }
  span.End(status);
  return status;
}

}  // namespace lakehouse::rpc::detail
