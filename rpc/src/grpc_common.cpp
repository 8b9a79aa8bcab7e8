#include "grpc_common.h"

#include <fmt/format.h>

#include <algorithm>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>

#include "lakehouse/shared/hash.h"
#include "lakehouse/shared/telemetry.h"

namespace lakehouse::rpc::detail {
namespace {

std::string ReadPem(const std::string& path, std::string_view what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) Fail(ErrorCode::kInvalidArgument, "cannot read the gRPC TLS {} file {}", what, path);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

int ClampInt(uint64_t value) {
  return static_cast<int>(std::min<uint64_t>(value, static_cast<uint64_t>(std::numeric_limits<int>::max())));
}

std::optional<ErrorCode> CodeFromName(std::string_view name) {
  for (ErrorCode code : kAllErrorCodes) {
    if (CodeName(code) == name) return code;
  }
  return std::nullopt;
}

//! For a status without our details (the transport, or a peer that is not ours).
ErrorCode FromGrpcCode(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::INVALID_ARGUMENT:
    case grpc::StatusCode::OUT_OF_RANGE:
      return ErrorCode::kInvalidArgument;
    case grpc::StatusCode::UNAUTHENTICATED:
      return ErrorCode::kUnauthenticated;
    case grpc::StatusCode::PERMISSION_DENIED:
      return ErrorCode::kPermissionDenied;
    case grpc::StatusCode::NOT_FOUND:
      return ErrorCode::kNotFound;
    case grpc::StatusCode::ALREADY_EXISTS:
    case grpc::StatusCode::ABORTED:
      return ErrorCode::kConflict;
    case grpc::StatusCode::FAILED_PRECONDITION:
      return ErrorCode::kPreconditionFailed;
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return ErrorCode::kPayloadTooLarge;
    case grpc::StatusCode::CANCELLED:
      return ErrorCode::kCancelled;
    case grpc::StatusCode::UNIMPLEMENTED:
      return ErrorCode::kNotImplemented;
    case grpc::StatusCode::UNAVAILABLE:
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return ErrorCode::kUnavailable;
    default:
      return ErrorCode::kInternal;
  }
}

}  // namespace

std::shared_ptr<grpc::Channel> MakeChannel(const ClientOptions& options) {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(ClampInt(options.max_message_bytes));
  args.SetMaxSendMessageSize(ClampInt(options.max_message_bytes));
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 10000);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 5000);
  args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  args.SetInt(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
  // A restarted service is found again quickly (the default backoff grows to 2 minutes).
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  // gRPC core takes this as the minimum time one connection attempt (TCP + TLS + HTTP/2 settings)
  // may take: at 100 ms a loaded machine failed first calls with "connection attempt timed out
  // before receiving SETTINGS frame". A down service refuses at once, so this does not slow
  // finding it again.
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 5000);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
  // Each client gets its own connection (the gateway's clients of one service do not share one
  // HTTP/2 connection's flow control with an unrelated client in the same process).
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  std::shared_ptr<grpc::ChannelCredentials> credentials;
  if (!options.security.tls_ca_file.empty()) {
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = ReadPem(options.security.tls_ca_file, "CA");
    credentials = grpc::SslCredentials(ssl);
  } else {
    credentials = grpc::InsecureChannelCredentials();
  }
  return grpc::CreateCustomChannel(options.address, credentials, args);
}

std::shared_ptr<grpc::ServerCredentials> MakeServerCredentials(const Security& security) {
  if (security.tls_cert_file.empty() && security.tls_key_file.empty()) return grpc::InsecureServerCredentials();
  if (security.tls_cert_file.empty() || security.tls_key_file.empty()) {
    Fail(ErrorCode::kInvalidArgument, "gRPC TLS needs both a certificate and a key file");
  }
  grpc::SslServerCredentialsOptions ssl;
  ssl.pem_key_cert_pairs.push_back(
      {ReadPem(security.tls_key_file, "key"), ReadPem(security.tls_cert_file, "certificate")});
  return grpc::SslServerCredentials(ssl);
}

void ConfigureServer(grpc::ServerBuilder& builder, const ServerOptions& options) {
  builder.SetMaxReceiveMessageSize(ClampInt(options.max_message_bytes));
  builder.SetMaxSendMessageSize(ClampInt(options.max_message_bytes));
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, 10000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 5000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 5000);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MAX_PING_STRIKES, 0);
}

grpc::Status ToStatus(const Error& error) {
  return grpc::Status(ToGrpcCode(error.code()), error.what(), std::string(CodeName(error.code())));
}

grpc::Status CurrentExceptionStatus() {
  try {
    throw;
  } catch (const Error& e) {
    return ToStatus(e);
  } catch (const std::exception& e) {
    return ToStatus(Error(ErrorCode::kInternal, e.what()));
  } catch (...) {
    return ToStatus(Error(ErrorCode::kInternal, "unknown exception"));
  }
}

Error FromStatus(const grpc::Status& status, const ClientOptions& options) {
  if (std::optional<ErrorCode> code = CodeFromName(status.error_details())) {
    return Error(*code, status.error_message());
  }
  const ErrorCode code = FromGrpcCode(status.error_code());
  if (code == ErrorCode::kUnavailable) {
    return Error(code, fmt::format("{} at {} is unavailable: {}", options.service.empty() ? "service" : options.service,
                                   options.address, status.error_message()));
  }
  return Error(
      code, fmt::format("{}: {}", options.service.empty() ? options.address : options.service, status.error_message()));
}

void Throw(const grpc::Status& status, const ClientOptions& options) { throw FromStatus(status, options); }

std::unique_ptr<grpc::ClientContext> NewContext(const ClientOptions& options, std::optional<int64_t> deadline_ms) {
  auto context = std::make_unique<grpc::ClientContext>();
  const int64_t ms = deadline_ms.value_or(options.deadline_ms);
  if (ms > 0) context->set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(ms));
  if (!options.security.service_token.empty()) {
    context->AddMetadata(kTokenHeader, "Bearer " + options.security.service_token);
  }
  if (const telemetry::TraceContext current = telemetry::Current(); current.valid()) {
    context->AddMetadata(kTraceParentHeader, current.TraceParent());
  }
  return context;
}

bool Retryable(const grpc::Status& status) { return status.error_code() == grpc::StatusCode::UNAVAILABLE; }

void Backoff(int attempt) {
  thread_local std::mt19937_64 rng(std::random_device{}());
  const int64_t cap = std::min<int64_t>(int64_t{50} << std::min(attempt - 1, 10), 1000);
  std::uniform_int_distribution<int64_t> jitter(cap / 2, cap);
  std::this_thread::sleep_for(std::chrono::milliseconds(jitter(rng)));
}

struct CallSpan::Impl {
  telemetry::Span span;
  explicit Impl(const std::string& name) : span(name) {}
};

CallSpan::CallSpan(const ClientOptions& options, std::string_view method) {
  if (!telemetry::TracingEnabled() || !telemetry::Current().valid()) return;
  impl_ = std::make_unique<Impl>(fmt::format("grpc.client {}", method));
  impl_->span.Set("rpc.system", "grpc");
  impl_->span.Set("rpc.service", options.service);
  impl_->span.Set("server.address", options.address);
}

CallSpan::~CallSpan() = default;

void CallSpan::Fail(std::string_view message) {
  if (impl_) impl_->span.SetError(message);
}

grpc::Status CheckToken(const grpc::ServerContext& context, const Security& security) {
  if (security.service_token.empty()) return grpc::Status::OK;
  const auto& metadata = context.client_metadata();
  auto it = metadata.find(kTokenHeader);
  if (it == metadata.end()) {
    return ToStatus(Error(ErrorCode::kUnauthenticated, "the call carries no service token"));
  }
  const std::string_view value(it->second.data(), it->second.size());
  if (!value.starts_with("Bearer ") || !ConstantTimeEquals(value.substr(7), security.service_token)) {
    return ToStatus(Error(ErrorCode::kUnauthenticated, "the call's service token is not valid"));
  }
  return grpc::Status::OK;
}

struct ServerCallSpan::Impl {
  telemetry::ServerSpan span;
  telemetry::ContextScope scope;
  Impl(std::string_view method, std::string_view traceparent)
      : span("gRPC", method, traceparent), scope(span.context()) {}
};

ServerCallSpan::ServerCallSpan(const grpc::ServerContext& context, std::string_view method) {
  if (!telemetry::TracingEnabled()) return;
  const auto& metadata = context.client_metadata();
  auto it = metadata.find(kTraceParentHeader);
  if (it == metadata.end()) return;  // no trace: background calls start none
  impl_ = std::make_unique<Impl>(method, std::string_view(it->second.data(), it->second.size()));
}

ServerCallSpan::~ServerCallSpan() = default;

void ServerCallSpan::End(const grpc::Status& status) {
  if (!impl_) return;
  int http = 200;
  if (!status.ok()) {
    const std::optional<ErrorCode> code = CodeFromName(status.error_details());
    http = HttpStatus(code.value_or(FromGrpcCode(status.error_code())));
    impl_->span.SetError(status.error_message());
  }
  impl_->span.End(http);
}

}  // namespace lakehouse::rpc::detail

namespace lakehouse::rpc {

grpc::StatusCode ToGrpcCode(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument:
    case ErrorCode::kUnsupportedMedia:
      return grpc::StatusCode::INVALID_ARGUMENT;
    case ErrorCode::kUnauthenticated:
      return grpc::StatusCode::UNAUTHENTICATED;
    case ErrorCode::kPermissionDenied:
      return grpc::StatusCode::PERMISSION_DENIED;
    case ErrorCode::kNotFound:
      return grpc::StatusCode::NOT_FOUND;
    case ErrorCode::kMethodNotAllowed:
    case ErrorCode::kNotImplemented:
      return grpc::StatusCode::UNIMPLEMENTED;
    case ErrorCode::kTimeout:
      return grpc::StatusCode::DEADLINE_EXCEEDED;
    case ErrorCode::kConflict:
      return grpc::StatusCode::ABORTED;
    case ErrorCode::kPreconditionFailed:
      return grpc::StatusCode::FAILED_PRECONDITION;
    case ErrorCode::kPayloadTooLarge:
    case ErrorCode::kTooManyRequests:
      return grpc::StatusCode::RESOURCE_EXHAUSTED;
    case ErrorCode::kCancelled:
      return grpc::StatusCode::CANCELLED;
    case ErrorCode::kUnavailable:
      return grpc::StatusCode::UNAVAILABLE;
    case ErrorCode::kInternal:
      break;
  }
  return grpc::StatusCode::INTERNAL;
}

}  // namespace lakehouse::rpc
