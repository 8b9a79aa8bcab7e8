// catalogd over gRPC: the CatalogService adapter over the real catalog, and the client that is a
// Catalog. AddListener listeners are fed by WatchCommits, resumed by version after a reconnect
// (a restart of catalogd included), see catalog.proto.
#include <fmt/format.h>

#include <condition_variable>
#include <deque>
#include <mutex>
#include <set>
#include <thread>

#include "consistency.h"
#include "convert.h"
#include "grpc_common.h"
#include "lakehouse/catalogd/catalog.h"
#include "lakehouse/shared/logging.h"
#include "lakehouse/v1/catalog.grpc.pb.h"
#include "services.h"
#include "streams.h"

namespace lakehouse::rpc {
namespace {

using detail::Serve;
namespace pb = lakehouse::v1;

pb::CommitOp ToProto(catalogd::CommitOp op) {
  switch (op) {
    case catalogd::CommitOp::kCreate:
      return pb::COMMIT_CREATE;
    case catalogd::CommitOp::kAppend:
      return pb::COMMIT_APPEND;
    case catalogd::CommitOp::kReplace:
      return pb::COMMIT_REPLACE;
    case catalogd::CommitOp::kDelete:
      return pb::COMMIT_DELETE;
    case catalogd::CommitOp::kCompact:
      return pb::COMMIT_COMPACT;
    case catalogd::CommitOp::kSetProperties:
      return pb::COMMIT_SET_PROPERTIES;
  }
  return pb::COMMIT_CREATE;
}

catalogd::CommitOp FromProto(pb::CommitOp op) {
  switch (op) {
    case pb::COMMIT_APPEND:
      return catalogd::CommitOp::kAppend;
    case pb::COMMIT_REPLACE:
      return catalogd::CommitOp::kReplace;
    case pb::COMMIT_DELETE:
      return catalogd::CommitOp::kDelete;
    case pb::COMMIT_COMPACT:
      return catalogd::CommitOp::kCompact;
    case pb::COMMIT_SET_PROPERTIES:
      return catalogd::CommitOp::kSetProperties;
    default:
      return catalogd::CommitOp::kCreate;
  }
}

void ToProto(const catalogd::DatasetSummary& in, pb::DatasetSummary* out) {
  out->set_name(in.name);
  out->set_version(in.version);
  out->set_schema_version(in.schema_version);
  out->set_rows(in.rows);
  out->set_bytes(in.bytes);
  out->set_updated_at_ms(in.updated_at_ms);
}

catalogd::DatasetSummary FromProto(const pb::DatasetSummary& in) {
  return catalogd::DatasetSummary{in.name(), in.version(), in.schema_version(),
                                  in.rows(), in.bytes(),   in.updated_at_ms()};
}

//! One WatchCommits stream's queue of commits.
struct Watcher {
  std::mutex mu;
  std::condition_variable cv;
  std::deque<DatasetManifest> queue;
};

//! The server's one listener on the catalog (listeners cannot be removed), fanned out to the
//! streams open now; detached when the adapter goes.
struct Fanout {
  std::mutex mu;
  bool attached = true;
  std::set<std::shared_ptr<Watcher>> watchers;

  void Publish(const DatasetManifest& manifest) {
    std::lock_guard lock(mu);
    if (!attached) return;
    for (const auto& w : watchers) {
      std::lock_guard wl(w->mu);
      w->queue.push_back(manifest);
      w->cv.notify_one();
    }
  }
};

class CatalogServiceImpl final : public pb::CatalogService::Service, public detail::StreamOwner {
 public:
  CatalogServiceImpl(catalogd::Catalog& catalog, const Security& security)
      : catalog_(catalog), security_(security), fanout_(std::make_shared<Fanout>()) {
    catalog_.AddListener([fanout = fanout_](const DatasetManifest& manifest) { fanout->Publish(manifest); });
  }
  ~CatalogServiceImpl() override {
    std::lock_guard lock(fanout_->mu);
    fanout_->attached = false;
  }

  void EndStreams() override {
    ending_.store(true);
    std::lock_guard lock(fanout_->mu);
    for (const auto& w : fanout_->watchers) w->cv.notify_all();
  }

  grpc::Status Rebuild(grpc::ServerContext* ctx, const pb::Empty*, pb::Empty*) override {
    return Serve(ctx, security_, "CatalogService/Rebuild", [&] { catalog_.Rebuild(); });
  }
  grpc::Status List(grpc::ServerContext* ctx, const pb::Empty*, pb::ListDatasetsResponse* out) override {
    return Serve(ctx, security_, "CatalogService/List", [&] {
      for (const auto& d : catalog_.List()) ToProto(d, out->add_datasets());
    });
  }
  grpc::Status Head(grpc::ServerContext* ctx, const pb::HeadDatasetRequest* in, pb::DatasetManifest* out) override {
    return Serve(ctx, security_, "CatalogService/Head", [&] { detail::ToProto(catalog_.Head(in->dataset()), out); });
  }
  grpc::Status Get(grpc::ServerContext* ctx, const pb::GetVersionRequest* in, pb::DatasetManifest* out) override {
    return Serve(ctx, security_, "CatalogService/Get",
                 [&] { detail::ToProto(catalog_.Get(in->dataset(), in->version()), out); });
  }
  grpc::Status Versions(grpc::ServerContext* ctx, const pb::VersionsRequest* in, pb::VersionsResponse* out) override {
    return Serve(ctx, security_, "CatalogService/Versions", [&] {
      for (const auto& v : catalog_.Versions(in->dataset())) {
        pb::VersionSummary* m = out->add_versions();
        m->set_version(v.version);
        m->set_operation(v.operation);
        m->set_created_at_ms(v.created_at_ms);
        m->set_rows(v.rows);
        m->set_bytes(v.bytes);
        m->set_schema_version(v.schema_version);
        m->set_tombstone(v.tombstone);
      }
    });
  }
  grpc::Status Commit(grpc::ServerContext* ctx, const pb::CommitRequest* in, pb::DatasetManifest* out) override {
    return Serve(ctx, security_, "CatalogService/Commit", [&] {
      catalogd::CommitRequest request;
      request.dataset = in->dataset();
      request.op = FromProto(in->op());
      request.schema = detail::FromProto(in->schema());
      for (const auto& o : in->objects()) request.objects.push_back(detail::FromProto(o));
      request.allow_schema_change = in->allow_schema_change();
      if (in->has_expected_version()) request.expected_version = in->expected_version();
      for (const auto& [k, v] : in->properties()) request.properties[k] = v;
      request.partition_by.assign(in->partition_by().begin(), in->partition_by().end());
      request.remove_objects.assign(in->remove_objects().begin(), in->remove_objects().end());
      detail::ToProto(*catalog_.Commit(request), out);
    });
  }
  grpc::Status Collect(grpc::ServerContext* ctx, const pb::CollectRequest* in, pb::GcReport* out) override {
    return Serve(ctx, security_, "CatalogService/Collect", [&] {
      const catalogd::GcReport r = catalog_.Collect(in->min_age_ms());
      out->set_versions_expired(r.versions_expired);
      out->set_manifests_deleted(r.manifests_deleted);
      out->set_objects_deleted(r.objects_deleted);
      out->set_bytes_deleted(r.bytes_deleted);
      out->set_orphans_deleted(r.orphans_deleted);
      out->set_orphan_bytes_deleted(r.orphan_bytes_deleted);
      out->set_objects_kept(r.objects_kept);
    });
  }
  grpc::Status GcMinAgeMs(grpc::ServerContext* ctx, const pb::Empty*, pb::GcMinAgeMsResponse* out) override {
    return Serve(ctx, security_, "CatalogService/GcMinAgeMs", [&] { out->set_min_age_ms(catalog_.GcMinAgeMs()); });
  }
  grpc::Status Checkpoint(grpc::ServerContext* ctx, const pb::Empty*, pb::Empty*) override {
    return Serve(ctx, security_, "CatalogService/Checkpoint", [&] { catalog_.Checkpoint(); });
  }

  grpc::Status WatchCommits(grpc::ServerContext* ctx, const pb::WatchRequest* in,
                            grpc::ServerWriter<pb::CommitEvent>* writer) override {
    return Serve(ctx, security_, "CatalogService/WatchCommits", [&]() -> grpc::Status {
      auto watcher = std::make_shared<Watcher>();
      {
        // Registered before the catch-up is read: a commit in between arrives twice (the client
        // drops versions it has seen), never not at all.
        std::lock_guard lock(fanout_->mu);
        fanout_->watchers.insert(watcher);
      }
      struct Unregister {
        Fanout& fanout;
        std::shared_ptr<Watcher> watcher;
        ~Unregister() {
          std::lock_guard lock(fanout.mu);
          fanout.watchers.erase(watcher);
        }
      } unregister{*fanout_, watcher};

      pb::CommitEvent event;
      const std::vector<catalogd::DatasetSummary> heads = catalog_.List();
      std::set<std::string> live;
      for (const auto& head : heads) {
        live.insert(head.name);
        auto seen = in->seen().find(head.name);
        const bool known = seen != in->seen().end();
        if (in->baseline() && !known) continue;  // a first watch starts from the heads below
        if (known && seen->second >= head.version) continue;
        event.Clear();
        detail::ToProto(catalog_.Head(head.name), event.mutable_manifest());
        if (!writer->Write(event)) return grpc::Status::CANCELLED;
      }
      for (const auto& [dataset, version] : in->seen()) {
        if (live.contains(dataset)) continue;
        // Deleted (or expired) while the client was away: send its tombstone when newer.
        std::vector<catalogd::VersionSummary> versions;
        try {
          versions = catalog_.Versions(dataset);
        } catch (const Error& e) {
          if (e.code() != ErrorCode::kNotFound) throw;
        }
        if (versions.empty() || versions.back().version <= version) continue;
        event.Clear();
        detail::ToProto(catalog_.Get(dataset, versions.back().version), event.mutable_manifest());
        if (!writer->Write(event)) return grpc::Status::CANCELLED;
      }
      event.Clear();
      event.set_synced(true);
      if (in->baseline()) {
        for (const auto& head : heads) ToProto(head, event.add_heads());
      }
      if (!writer->Write(event)) return grpc::Status::CANCELLED;

      while (!ctx->IsCancelled() && !ending_.load()) {
        std::deque<DatasetManifest> batch;
        {
          std::unique_lock lock(watcher->mu);
          watcher->cv.wait_for(lock, std::chrono::milliseconds(500),
                               [&] { return !watcher->queue.empty() || ending_.load(); });
          batch.swap(watcher->queue);
        }
        for (const DatasetManifest& manifest : batch) {
          event.Clear();
          detail::ToProto(manifest, event.mutable_manifest());
          if (!writer->Write(event)) return grpc::Status::CANCELLED;
        }
      }
      return grpc::Status::OK;
    });
  }

 private:
  catalogd::Catalog& catalog_;
  Security security_;
  std::shared_ptr<Fanout> fanout_;
  std::atomic<bool> ending_{false};
};

class CatalogClient final : public catalogd::Catalog, public detail::CatchUp {
 public:
  explicit CatalogClient(ClientOptions options)
      : options_(std::move(options)), stub_(pb::CatalogService::NewStub(detail::MakeChannel(options_))) {
    detail::RegisterCatchUp(this);
  }

  ~CatalogClient() override {
    detail::UnregisterCatchUp(this);
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
      if (watch_context_) watch_context_->TryCancel();
    }
    stop_cv_.notify_all();
    if (watch_thread_.joinable()) watch_thread_.join();
  }

  void Rebuild() override {
    pb::Empty response;
    detail::Invoke(options_, "CatalogService/Rebuild", true,
                   [&](grpc::ClientContext& c) { return stub_->Rebuild(&c, pb::Empty(), &response); });
  }

  std::vector<catalogd::DatasetSummary> List() override {
    pb::ListDatasetsResponse response;
    detail::Invoke(options_, "CatalogService/List", true,
                   [&](grpc::ClientContext& c) { return stub_->List(&c, pb::Empty(), &response); });
    std::vector<catalogd::DatasetSummary> out;
    for (const auto& d : response.datasets()) out.push_back(FromProto(d));
    return out;
  }

  DatasetManifest Head(const std::string& dataset) override {
    pb::HeadDatasetRequest request;
    request.set_dataset(dataset);
    pb::DatasetManifest response;
    detail::Invoke(options_, "CatalogService/Head", true,
                   [&](grpc::ClientContext& c) { return stub_->Head(&c, request, &response); });
    return detail::FromProto(response);
  }

  DatasetManifest Get(const std::string& dataset, uint64_t version) override {
    pb::GetVersionRequest request;
    request.set_dataset(dataset);
    request.set_version(version);
    pb::DatasetManifest response;
    detail::Invoke(options_, "CatalogService/Get", true,
                   [&](grpc::ClientContext& c) { return stub_->Get(&c, request, &response); });
    return detail::FromProto(response);
  }

  std::vector<catalogd::VersionSummary> Versions(const std::string& dataset) override {
    pb::VersionsRequest request;
    request.set_dataset(dataset);
    pb::VersionsResponse response;
    detail::Invoke(options_, "CatalogService/Versions", true,
                   [&](grpc::ClientContext& c) { return stub_->Versions(&c, request, &response); });
    std::vector<catalogd::VersionSummary> out;
    for (const auto& v : response.versions()) {
      out.push_back(catalogd::VersionSummary{v.version(), v.operation(), v.created_at_ms(), v.rows(), v.bytes(),
                                             v.schema_version(), v.tombstone()});
    }
    return out;
  }

  std::shared_ptr<const DatasetManifest> Commit(const catalogd::CommitRequest& in) override {
    pb::CommitRequest request;
    request.set_dataset(in.dataset);
    request.set_op(ToProto(in.op));
    detail::ToProto(in.schema, request.mutable_schema());
    for (const auto& o : in.objects) detail::ToProto(o, request.add_objects());
    request.set_allow_schema_change(in.allow_schema_change);
    if (in.expected_version) request.set_expected_version(*in.expected_version);
    for (const auto& [k, v] : in.properties) (*request.mutable_properties())[k] = v;
    for (const auto& c : in.partition_by) request.add_partition_by(c);
    for (const auto& k : in.remove_objects) request.add_remove_objects(k);
    pb::DatasetManifest response;
    // Never retried: a commit that reached catalogd and lost its answer must not be applied twice.
    detail::Invoke(options_, "CatalogService/Commit", false,
                   [&](grpc::ClientContext& c) { return stub_->Commit(&c, request, &response); });
    auto manifest = std::make_shared<const DatasetManifest>(detail::FromProto(response));
    detail::NoteCommitted(manifest->dataset, manifest->version);
    Deliver(*manifest);  // this process's listeners see its own commit now, not when the watch brings it
    return manifest;
  }

  void AddListener(catalogd::CommitListener listener) override {
    std::lock_guard lock(mu_);
    listeners_.push_back(std::move(listener));
    if (!watch_thread_.joinable()) watch_thread_ = std::thread([this] { WatchLoop(); });
  }

  catalogd::GcReport Collect(int64_t min_age_ms) override {
    pb::CollectRequest request;
    request.set_min_age_ms(min_age_ms);
    pb::GcReport r;
    // Not retried: a collection is long and a second one right after is wasted work.
    detail::Invoke(options_, "CatalogService/Collect", false,
                   [&](grpc::ClientContext& c) { return stub_->Collect(&c, request, &r); });
    return catalogd::GcReport{r.versions_expired(), r.manifests_deleted(),    r.objects_deleted(), r.bytes_deleted(),
                              r.orphans_deleted(),  r.orphan_bytes_deleted(), r.objects_kept()};
  }

  int64_t GcMinAgeMs() const override {
    pb::GcMinAgeMsResponse response;
    detail::Invoke(options_, "CatalogService/GcMinAgeMs", true,
                   [&](grpc::ClientContext& c) { return stub_->GcMinAgeMs(&c, pb::Empty(), &response); });
    return response.min_age_ms();
  }

  void Checkpoint() override {
    pb::Empty response;
    detail::Invoke(options_, "CatalogService/Checkpoint", true,
                   [&](grpc::ClientContext& c) { return stub_->Checkpoint(&c, pb::Empty(), &response); });
  }

  void EnsureSeen(const std::string& dataset, uint64_t version) override {
    {
      std::lock_guard lock(mu_);
      if (listeners_.empty()) return;
      auto it = seen_.find(dataset);
      if (it != seen_.end() && it->second >= version) return;
    }
    DatasetManifest manifest;
    try {
      manifest = Get(dataset, version);
    } catch (const Error& e) {
      log::Warn("catalog client: catching up failed",
                {{"dataset", dataset}, {"version", version}, {"error", e.what()}});
      return;
    }
    Deliver(manifest);
  }

 private:
  //! Feeds `manifest` to the listeners unless a version at least as new was delivered.
  void Deliver(const DatasetManifest& manifest) {
    std::vector<catalogd::CommitListener> listeners;
    {
      std::lock_guard lock(mu_);
      uint64_t& seen = seen_[manifest.dataset];
      if (seen >= manifest.version) return;
      seen = manifest.version;
      listeners = listeners_;
    }
    for (const auto& listener : listeners) listener(manifest);
  }

  void WatchLoop() {
    bool first = true;
    int failures = 0;
    for (;;) {
      pb::WatchRequest request;
      std::shared_ptr<grpc::ClientContext> context;
      {
        std::lock_guard lock(mu_);
        if (stopping_) return;
        request.set_baseline(first);
        for (const auto& [dataset, version] : seen_) (*request.mutable_seen())[dataset] = version;
        context = detail::NewContext(options_, 0);
        watch_context_ = context;
      }
      auto reader = stub_->WatchCommits(context.get(), request);
      pb::CommitEvent event;
      while (reader->Read(&event)) {
        failures = 0;
        if (event.synced()) {
          first = false;
          std::lock_guard lock(mu_);
          for (const auto& head : event.heads()) {
            uint64_t& seen = seen_[head.name()];
            seen = std::max(seen, head.version());
          }
          synced_ = true;
          synced_cv_.notify_all();
          continue;
        }
        if (event.has_manifest()) Deliver(detail::FromProto(event.manifest()));
      }
      const grpc::Status status = reader->Finish();
      std::unique_lock lock(mu_);
      watch_context_.reset();
      synced_ = false;
      if (stopping_) return;
      if (!status.ok()) {
        log::Debug("catalog watch ended", {{"error", detail::FromStatus(status, options_).what()}});
      }
      ++failures;
      const auto delay = std::chrono::milliseconds(std::min(100 * failures, 1000));
      stop_cv_.wait_for(lock, delay, [&] { return stopping_; });
    }
  }

 public:
  //! Tests: waits until the watch is live (its catch-up done).
  bool WaitSynced(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mu_);
    return synced_cv_.wait_for(lock, timeout, [&] { return synced_; });
  }

 private:
  ClientOptions options_;
  std::unique_ptr<pb::CatalogService::Stub> stub_;
  std::mutex mu_;
  std::condition_variable stop_cv_;
  std::condition_variable synced_cv_;
  bool stopping_ = false;
  bool synced_ = false;
  std::vector<catalogd::CommitListener> listeners_;
  std::map<std::string, uint64_t> seen_;
  std::shared_ptr<grpc::ClientContext> watch_context_;
  std::thread watch_thread_;
};

}  // namespace

std::unique_ptr<catalogd::Catalog> ConnectCatalog(const ClientOptions& options) {
  return std::make_unique<CatalogClient>(options);
}

namespace detail {
std::unique_ptr<grpc::Service> MakeCatalogService(catalogd::Catalog& catalog, const Security& security) {
  return std::make_unique<CatalogServiceImpl>(catalog, security);
}
bool WaitCatalogWatchSynced(catalogd::Catalog& client, int64_t timeout_ms) {
  auto* c = dynamic_cast<CatalogClient*>(&client);
  return c != nullptr && c->WaitSynced(std::chrono::milliseconds(timeout_ms));
}
}  // namespace detail

}  // namespace lakehouse::rpc
