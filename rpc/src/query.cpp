// queryd over gRPC: the QueryService adapter over the real engine, and the client that is a
// QueryEngine over one or more replicas (round-robin over the healthy ones, grpc.health.v1).
// The encoded result streams in chunks; may_read stays the caller's predicate (query.proto).
#include <fmt/format.h>

#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "consistency.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpc_common.h"
#include "lakehouse/queryd/query.h"
#include "lakehouse/shared/clock.h"
#include "lakehouse/v1/query.grpc.pb.h"
#include "services.h"

namespace lakehouse::rpc {
namespace {

using detail::Serve;
namespace pb = lakehouse::v1;
namespace health = grpc::health::v1;

constexpr const char* kQueryServiceName = "lakehouse.v1.QueryService";

pb::ResultFormat ToProto(queryd::ResultFormat f) {
  switch (f) {
    case queryd::ResultFormat::kJson:
      return pb::FORMAT_JSON;
    case queryd::ResultFormat::kNdjson:
      return pb::FORMAT_NDJSON;
    case queryd::ResultFormat::kCsv:
      return pb::FORMAT_CSV;
    case queryd::ResultFormat::kArrow:
      return pb::FORMAT_ARROW;
    case queryd::ResultFormat::kParquet:
      return pb::FORMAT_PARQUET;
  }
  return pb::FORMAT_JSON;
}

queryd::ResultFormat FromProto(pb::ResultFormat f) {
  switch (f) {
    case pb::FORMAT_NDJSON:
      return queryd::ResultFormat::kNdjson;
    case pb::FORMAT_CSV:
      return queryd::ResultFormat::kCsv;
    case pb::FORMAT_ARROW:
      return queryd::ResultFormat::kArrow;
    case pb::FORMAT_PARQUET:
      return queryd::ResultFormat::kParquet;
    default:
      return queryd::ResultFormat::kJson;
  }
}

using ServerStream = grpc::ServerReaderWriter<pb::QueryServerMessage, pb::QueryClientMessage>;

//! The engine's sink over the stream; also asks the caller's may_read. One call at a time uses
//! the stream (the engine may ask from another thread than the one writing).
class StreamSink final : public queryd::ResultSink {
 public:
  StreamSink(grpc::ServerContext& context, ServerStream& stream) : context_(context), stream_(stream) {}

  void Begin(std::string_view content_type) override {
    pb::QueryServerMessage m;
    m.set_begin(std::string(content_type));
    std::lock_guard lock(mu_);
    gone_ = gone_ || !stream_.Write(m);
  }
  bool Write(std::string_view bytes) override {
    std::lock_guard lock(mu_);
    while (!bytes.empty() && !gone_) {
      const size_t take = std::min(bytes.size(), detail::kChunkBytes);
      message_.set_data(bytes.data(), take);
      gone_ = !stream_.Write(message_);
      bytes.remove_prefix(take);
    }
    return !gone_;
  }
  bool ClientGone() override { return gone_ || context_.IsCancelled(); }

  bool MayRead(std::string_view dataset) {
    std::lock_guard lock(mu_);
    auto it = answers_.find(std::string(dataset));
    if (it != answers_.end()) return it->second;
    pb::QueryServerMessage m;
    m.mutable_ask()->set_dataset(std::string(dataset));
    if (gone_ || !stream_.Write(m)) Fail(ErrorCode::kCancelled, "the client went away");
    pb::QueryClientMessage answer;
    while (stream_.Read(&answer)) {
      if (answer.has_answer()) {
        answers_[answer.answer().dataset()] = answer.answer().allowed();
        if (answer.answer().dataset() == dataset) return answer.answer().allowed();
      }
    }
    gone_ = true;
    Fail(ErrorCode::kCancelled, "the client went away");
  }

  void Stats(const queryd::QueryStats& s) {
    pb::QueryServerMessage m;
    pb::QueryStats* out = m.mutable_stats();
    out->set_rows(s.rows);
    out->set_bytes(s.bytes);
    out->set_elapsed_ms(s.elapsed_ms);
    out->set_truncated(s.truncated);
    out->set_objects_scanned(s.objects_scanned);
    out->set_objects_pruned(s.objects_pruned);
    out->set_bytes_scanned(s.bytes_scanned);
    std::lock_guard lock(mu_);
    stream_.Write(m);
  }

 private:
  grpc::ServerContext& context_;
  ServerStream& stream_;
  std::mutex mu_;
  std::atomic<bool> gone_{false};
  pb::QueryServerMessage message_;
  std::map<std::string, bool> answers_;
};

class QueryServiceImpl final : public pb::QueryService::Service {
 public:
  QueryServiceImpl(queryd::QueryEngine& engine, const Security& security) : engine_(engine), security_(security) {}

  grpc::Status Execute(grpc::ServerContext* ctx, ServerStream* stream) override {
    return Serve(ctx, security_, "QueryService/Execute", [&] {
      pb::QueryClientMessage first;
      if (!stream->Read(&first) || !first.has_request()) {
        Fail(ErrorCode::kInvalidArgument, "Execute: the first message must be the request");
      }
      const pb::QueryRequest& in = first.request();
      // Read-your-writes: the caller's process committed these versions; this process's catalog
      // clients deliver them to the engine's listener before it resolves names.
      detail::EnsureSeen(std::map<std::string, uint64_t>(in.min_versions().begin(), in.min_versions().end()));
      StreamSink sink(*ctx, *stream);
      queryd::QueryRequest request;
      request.sql = in.sql();
      request.format = FromProto(in.format());
      if (in.has_limit()) request.limit = in.limit();
      if (in.has_timeout_ms()) request.timeout_ms = in.timeout_ms();
      request.background = in.background();
      request.principal = in.principal();
      if (in.restricted()) request.may_read = [&sink](std::string_view dataset) { return sink.MayRead(dataset); };
      const queryd::QueryStats stats = engine_.Execute(request, sink);
      sink.Stats(stats);
    });
  }

  grpc::Status Health(grpc::ServerContext* ctx, const pb::Empty*, pb::QueryHealthResponse* out) override {
    return Serve(ctx, security_, "QueryService/Health", [&] { out->set_json(engine_.Health().dump()); });
  }

 private:
  queryd::QueryEngine& engine_;
  Security security_;
};

struct Replica {
  ClientOptions options;
  std::unique_ptr<pb::QueryService::Stub> stub;
  std::unique_ptr<health::Health::Stub> health;
  std::atomic<bool> down{false};
  std::atomic<int64_t> next_probe_ms{0};

  explicit Replica(ClientOptions o) : options(std::move(o)) {
    auto channel = detail::MakeChannel(options);
    stub = pb::QueryService::NewStub(channel);
    health = health::Health::NewStub(channel);
  }

  //! Whether grpc.health.v1 says the query service is SERVING (probed at most every 500 ms).
  bool Usable() {
    if (!down.load()) return true;
    const int64_t now = NowMs();
    if (now < next_probe_ms.load()) return false;
    next_probe_ms.store(now + 500);
    auto context = detail::NewContext(options, 500);
    health::HealthCheckRequest request;
    request.set_service(kQueryServiceName);
    health::HealthCheckResponse response;
    const grpc::Status status = health->Check(context.get(), request, &response);
    if (status.ok() && response.status() == health::HealthCheckResponse::SERVING) {
      down.store(false);
      return true;
    }
    return false;
  }
};

//! Cancels a call when the result's receiver goes away while the call waits for rows.
class GoneWatch {
 public:
  GoneWatch(grpc::ClientContext& context, queryd::ResultSink& sink)
      : thread_([this, &context, &sink] {
          std::unique_lock lock(mu_);
          while (!done_) {
            if (cv_.wait_for(lock, std::chrono::milliseconds(100), [&] { return done_; })) break;
            if (sink.ClientGone()) {
              gone_.store(true);
              context.TryCancel();
              break;
            }
          }
        }) {}
  ~GoneWatch() {
    {
      std::lock_guard lock(mu_);
      done_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  bool gone() const { return gone_.load(); }
  void MarkGone() { gone_.store(true); }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
  std::atomic<bool> gone_{false};
  std::thread thread_;
};

class QueryClient final : public queryd::QueryEngine {
 public:
  explicit QueryClient(const std::vector<ClientOptions>& replicas) {
    if (replicas.empty()) Fail(ErrorCode::kInvalidArgument, "ConnectQuery: no queryd replica configured");
    for (const auto& r : replicas) replicas_.push_back(std::make_unique<Replica>(r));
  }

  queryd::QueryStats Execute(const queryd::QueryRequest& request, queryd::ResultSink& sink) override {
    pb::QueryClientMessage first;
    pb::QueryRequest* out = first.mutable_request();
    out->set_sql(request.sql);
    out->set_format(ToProto(request.format));
    if (request.limit) out->set_limit(*request.limit);
    if (request.timeout_ms) out->set_timeout_ms(*request.timeout_ms);
    out->set_background(request.background);
    out->set_restricted(static_cast<bool>(request.may_read));
    out->set_principal(request.principal);
    for (const auto& [dataset, version] : detail::CommittedHorizon()) (*out->mutable_min_versions())[dataset] = version;

    std::string last_error;
    // Every replica at most once: a replica that is down (UNAVAILABLE before any result) is
    // skipped and the query goes to the next; queries are read-only, so that is safe.
    bool attempted = false;
    for (size_t tried = 0; tried < replicas_.size(); ++tried) {
      Replica* replica = Pick();
      if (replica == nullptr) break;
      attempted = true;
      std::optional<queryd::QueryStats> stats = Attempt(*replica, first, request, sink, last_error);
      if (stats) return *stats;
    }
    if (!attempted) {
      // Every replica looked down, maybe only because its health probe (500 ms) timed out on a
      // loaded machine: real calls decide, each replica once. One that is really down refuses at
      // once; one that answers is usable again.
      for (auto& replica : replicas_) {
        std::optional<queryd::QueryStats> stats = Attempt(*replica, first, request, sink, last_error);
        if (stats) {
          replica->down.store(false);
          return *stats;
        }
      }
    }
    std::string addresses;
    for (const auto& r : replicas_) addresses += (addresses.empty() ? "" : ", ") + r->options.address;
    Fail(ErrorCode::kUnavailable, "{} at {} is unavailable{}{}", Service(), addresses, last_error.empty() ? "" : ": ",
         last_error);
  }

  nlohmann::json Health() override {
    std::string last_error;
    for (size_t tried = 0; tried < replicas_.size(); ++tried) {
      Replica* replica = Pick();
      if (replica == nullptr) break;
      pb::QueryHealthResponse response;
      auto context = detail::NewContext(replica->options);
      const grpc::Status status = replica->stub->Health(context.get(), pb::Empty(), &response);
      if (status.ok()) return nlohmann::json::parse(response.json());
      if (!MarkIfDown(*replica, status, last_error)) detail::Throw(status, replica->options);
    }
    Fail(ErrorCode::kUnavailable, "{} is unavailable{}{}", Service(), last_error.empty() ? "" : ": ", last_error);
  }

 private:
  std::string Service() const {
    return replicas_.front()->options.service.empty() ? "queryd" : replicas_.front()->options.service;
  }

  Replica* Pick() {
    for (size_t i = 0; i < replicas_.size(); ++i) {
      Replica* r = replicas_[next_.fetch_add(1) % replicas_.size()].get();
      if (r->Usable()) return r;
    }
    return nullptr;
  }

  //! A transport failure (no status of ours): the replica is skipped until healthy again.
  static bool MarkIfDown(Replica& replica, const grpc::Status& status, std::string& last_error) {
    const Error e = detail::FromStatus(status, replica.options);
    if (e.code() != ErrorCode::kUnavailable || !status.error_details().empty()) return false;
    replica.down.store(true);
    replica.next_probe_ms.store(NowMs() + 200);
    last_error = e.what();
    return true;
  }

  std::optional<queryd::QueryStats> Attempt(Replica& replica, const pb::QueryClientMessage& first,
                                            const queryd::QueryRequest& request, queryd::ResultSink& sink,
                                            std::string& last_error) {
    detail::CallSpan span(replica.options, "QueryService/Execute");
    const int64_t deadline = request.timeout_ms.value_or(int64_t{600000}) + replica.options.deadline_ms;
    auto context = detail::NewContext(replica.options, deadline);
    auto stream = replica.stub->Execute(context.get());
    bool begun = false;
    queryd::QueryStats stats;
    {
      GoneWatch watch(*context, sink);
      try {
        if (stream->Write(first)) {
          pb::QueryServerMessage m;
          while (stream->Read(&m)) {
            if (m.has_ask()) {
              pb::QueryClientMessage answer;
              answer.mutable_answer()->set_dataset(m.ask().dataset());
              answer.mutable_answer()->set_allowed(request.may_read(m.ask().dataset()));
              if (!stream->Write(answer)) break;
            } else if (m.kind_case() == pb::QueryServerMessage::kBegin) {
              begun = true;
              sink.Begin(m.begin());
            } else if (m.kind_case() == pb::QueryServerMessage::kData) {
              if (!sink.Write(m.data())) {
                watch.MarkGone();
                context->TryCancel();
                break;
              }
            } else if (m.has_stats()) {
              const pb::QueryStats& s = m.stats();
              stats = queryd::QueryStats{s.rows(),         s.bytes(),           s.elapsed_ms(),
                                         s.truncated(),    s.objects_scanned(), s.objects_pruned(),
                                         s.bytes_scanned()};
            }
          }
        }
      } catch (...) {  // the sink or may_read threw: end the call before the stream goes
        context->TryCancel();
        stream->Finish();
        throw;
      }
      stream->WritesDone();
      const grpc::Status status = stream->Finish();
      if (watch.gone()) Fail(ErrorCode::kCancelled, "the client went away; the query was cancelled");
      if (status.ok()) return stats;
      span.Fail(status.error_message());
      if (!begun && MarkIfDown(replica, status, last_error)) return std::nullopt;
      detail::Throw(status, replica.options);
    }
  }

  std::vector<std::unique_ptr<Replica>> replicas_;
  std::atomic<size_t> next_{0};
};

}  // namespace

std::unique_ptr<queryd::QueryEngine> ConnectQuery(const std::vector<ClientOptions>& replicas) {
  return std::make_unique<QueryClient>(replicas);
}

namespace detail {
std::unique_ptr<grpc::Service> MakeQueryService(queryd::QueryEngine& engine, const Security& security) {
  return std::make_unique<QueryServiceImpl>(engine, security);
}
}  // namespace detail

}  // namespace lakehouse::rpc
