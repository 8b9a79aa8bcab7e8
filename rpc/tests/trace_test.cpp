// The W3C trace context crosses gRPC (ADR 0016): a call made inside a span reaches the service
// with a current span of the same trace, a child of the caller's.
#include <gtest/gtest.h>

#include <cstdlib>

#include "lakehouse/shared/telemetry.h"
#include "rpc_test_util.h"

namespace lakehouse::rpc {
namespace {

//! A catalog whose List records the span current while the service runs it.
class SpyCatalog final : public catalogd::Catalog {
 public:
  void Rebuild() override {}
  std::vector<catalogd::DatasetSummary> List() override {
    seen = telemetry::Current();
    return {};
  }
  DatasetManifest Head(const std::string&) override { return {}; }
  DatasetManifest Get(const std::string&, uint64_t) override { return {}; }
  std::vector<catalogd::VersionSummary> Versions(const std::string&) override { return {}; }
  std::shared_ptr<const DatasetManifest> Commit(const catalogd::CommitRequest&) override {
    return std::make_shared<const DatasetManifest>();
  }
  void AddListener(catalogd::CommitListener) override {}
  catalogd::GcReport Collect(int64_t) override { return {}; }
  int64_t GcMinAgeMs() const override { return 0; }
  telemetry::TraceContext seen;
};

TEST(RpcTrace, TheServerSpanIsAChildOfTheCallersTrace) {
  // Tracing on, exporting nowhere (nothing listens there; export failures are dropped).
  setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:9", 1);
  setenv("OTEL_TRACES_SAMPLER", "always_on", 1);
  ASSERT_TRUE(telemetry::InitTracing("rpc-test"));
  SpyCatalog spy;
  testing::TestServer server({.catalog = &spy});
  auto catalog = ConnectCatalog(server.Client("catalogd"));

  catalog->List();  // no trace current: the service runs outside any
  EXPECT_FALSE(spy.seen.valid());

  telemetry::ServerSpan request("GET", "/api/v1/datasets", "");
  {
    telemetry::ContextScope scope(request.context());
    catalog->List();
  }
  request.End(200);
  ASSERT_TRUE(spy.seen.valid());
  EXPECT_EQ(spy.seen.TraceIdHex(), request.context().TraceIdHex());
  EXPECT_NE(spy.seen.SpanIdHex(), request.context().SpanIdHex());
  telemetry::ShutdownTracing();
}

}  // namespace
}  // namespace lakehouse::rpc
