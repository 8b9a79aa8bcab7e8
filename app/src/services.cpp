#include "services.h"

#include <nlohmann/json.hpp>

#include "lakehouse/shared/error.h"
#include "lakehouse/shared/logging.h"
#ifdef LAKEHOUSE_HAVE_STORAGED
#include "lakehouse/storaged/object_store.h"
#endif

namespace lakehouse::app {
namespace {

class Services final : public RunningServices {
 public:
  explicit Services(const Config& config) : config_(config) {
#ifdef LAKEHOUSE_HAVE_STORAGED
    if (config.storage == "s3") {
      storaged::S3StoreOptions s3;
      s3.endpoint = config.s3_endpoint;
      s3.region = config.s3_region;
      s3.bucket = config.s3_bucket;
      s3.access_key = config.s3_access_key;
      s3.secret_key = config.s3_secret_key;
      s3.multipart_threshold = config.s3_multipart_threshold_mb << 20;
      store_ = storaged::MakeS3Store(s3);
    } else {
      storaged::LocalStoreOptions local;
      local.root = config.objects_dir();
      local.public_base_url = config.public_url.empty() ? "http://" + config.listen : config.public_url;
      store_ = storaged::MakeLocalStore(local);
    }
#endif
  }

  gateway::Services handles() const override {
    gateway::Services s;
#ifdef LAKEHOUSE_HAVE_STORAGED
    s.store = store_.get();
#endif
    s.max_upload_bytes = config_.max_upload_bytes;
    return s;
  }

  std::vector<gateway::HealthCheck> health_checks() const override {
    std::vector<gateway::HealthCheck> checks;
#ifdef LAKEHOUSE_HAVE_STORAGED
    std::string kind = store_->Kind();
    checks.push_back({"storaged", [kind] { return nlohmann::json{{"status", "ok"}, {"backend", kind}}; }});
#endif
    return checks;
  }

  void Stop() override {}

 private:
  Config config_;
#ifdef LAKEHOUSE_HAVE_STORAGED
  std::unique_ptr<storaged::ObjectStore> store_;
#endif
};

}  // namespace

std::unique_ptr<RunningServices> StartServices(const Config& config) { return std::make_unique<Services>(config); }

}  // namespace lakehouse::app
