// Process metrics in the Prometheus text format, over prometheus-cpp (docs/adr/0016-telemetry.md).
// One registry per process; families are created once, series on first use.
#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "lakehouse/shared/telemetry.h"

namespace lakehouse::telemetry::metrics {
namespace {

using prometheus::BuildCounter;
using prometheus::BuildGauge;
using prometheus::BuildHistogram;

// Seconds: 1 ms .. 60 s.
const prometheus::Histogram::BucketBoundaries& Latency() {
  static const prometheus::Histogram::BucketBoundaries kLatency = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                                                   0.5,   1,      2.5,   5,    10,    30,   60};
  return kLatency;
}

struct Families {
  prometheus::Registry registry;
  prometheus::Family<prometheus::Counter>& http_requests =
      BuildCounter()
          .Name("lakehouse_http_requests_total")
          .Help("HTTP requests by route template, method and status")
          .Register(registry);
  prometheus::Family<prometheus::Histogram>& http_duration =
      BuildHistogram()
          .Name("lakehouse_http_request_duration_seconds")
          .Help("HTTP request latency by route template and method")
          .Register(registry);
  prometheus::Family<prometheus::Counter>& queries =
      BuildCounter().Name("lakehouse_queries_total").Help("SQL queries run, by outcome").Register(registry);
  prometheus::Family<prometheus::Histogram>& query_duration =
      BuildHistogram().Name("lakehouse_query_duration_seconds").Help("SQL query duration").Register(registry);
  prometheus::Family<prometheus::Counter>& query_rows =
      BuildCounter().Name("lakehouse_query_rows_total").Help("Rows returned by SQL queries").Register(registry);
  prometheus::Family<prometheus::Counter>& query_bytes = BuildCounter()
                                                             .Name("lakehouse_query_bytes_scanned_total")
                                                             .Help("Bytes of data objects read by SQL queries")
                                                             .Register(registry);
  prometheus::Family<prometheus::Gauge>& active_queries =
      BuildGauge().Name("lakehouse_queries_active").Help("SQL queries running now").Register(registry);
  prometheus::Family<prometheus::Counter>& commits =
      BuildCounter().Name("lakehouse_catalog_commits_total").Help("Catalog commits that landed").Register(registry);
  prometheus::Family<prometheus::Counter>& conflicts =
      BuildCounter()
          .Name("lakehouse_catalog_commit_conflicts_total")
          .Help("Catalog commits lost to another writer (put-if-absent refused)")
          .Register(registry);
  prometheus::Family<prometheus::Counter>& store_ops = BuildCounter()
                                                           .Name("lakehouse_object_store_operations_total")
                                                           .Help("Object store operations by backend and operation")
                                                           .Register(registry);
  prometheus::Family<prometheus::Counter>& store_bytes =
      BuildCounter()
          .Name("lakehouse_object_store_bytes_total")
          .Help("Bytes moved by object store operations, by backend and operation")
          .Register(registry);
  prometheus::Family<prometheus::Counter>& store_errors =
      BuildCounter()
          .Name("lakehouse_object_store_errors_total")
          .Help("Object store operations that failed, by backend and operation")
          .Register(registry);
  prometheus::Family<prometheus::Counter>& ai_calls = BuildCounter()
                                                          .Name("lakehouse_ai_calls_total")
                                                          .Help("Calls to the AI sidecar by operation and outcome")
                                                          .Register(registry);
  prometheus::Family<prometheus::Histogram>& ai_duration =
      BuildHistogram().Name("lakehouse_ai_call_duration_seconds").Help("AI sidecar call latency").Register(registry);
  prometheus::Family<prometheus::Gauge>& resident =
      BuildGauge().Name("process_resident_memory_bytes").Help("Resident memory size in bytes").Register(registry);
  prometheus::Family<prometheus::Gauge>& virtual_memory =
      BuildGauge().Name("process_virtual_memory_bytes").Help("Virtual memory size in bytes").Register(registry);
};

Families& F() {
  static Families* families = new Families();  // never destroyed: threads may count during exit
  return *families;
}

}  // namespace

void HttpRequest(std::string_view route, std::string_view method, int status, double seconds) {
  auto& f = F();
  const std::string r(route), m(method);
  f.http_requests.Add({{"route", r}, {"method", m}, {"status", std::to_string(status)}}).Increment();
  f.http_duration.Add({{"route", r}, {"method", m}}, Latency()).Observe(seconds);
}

void Query(bool ok, double seconds, uint64_t rows, uint64_t bytes_scanned) {
  auto& f = F();
  f.queries.Add({{"outcome", ok ? "ok" : "error"}}).Increment();
  f.query_duration.Add({}, Latency()).Observe(seconds);
  f.query_rows.Add({}).Increment(static_cast<double>(rows));
  f.query_bytes.Add({}).Increment(static_cast<double>(bytes_scanned));
}

void Commit(bool committed) {
  auto& f = F();
  (committed ? f.commits : f.conflicts).Add({}).Increment();
}

void ObjectStoreOp(std::string_view backend, std::string_view op, uint64_t bytes, bool ok) {
  auto& f = F();
  const prometheus::Labels labels = {{"backend", std::string(backend)}, {"op", std::string(op)}};
  f.store_ops.Add(labels).Increment();
  if (bytes > 0) f.store_bytes.Add(labels).Increment(static_cast<double>(bytes));
  if (!ok) f.store_errors.Add(labels).Increment();
}

void AiCall(std::string_view op, bool ok, double seconds) {
  auto& f = F();
  f.ai_calls.Add({{"op", std::string(op)}, {"outcome", ok ? "ok" : "error"}}).Increment();
  f.ai_duration.Add({{"op", std::string(op)}}, Latency()).Observe(seconds);
}

ActiveQuery::ActiveQuery() { F().active_queries.Add({}).Increment(); }
ActiveQuery::~ActiveQuery() { F().active_queries.Add({}).Decrement(); }

std::string Scrape() {
  auto& f = F();
  // Process memory from /proc/self/statm (pages: size, resident, ...), read at scrape time.
  uint64_t size_pages = 0, resident_pages = 0;
  if (std::ifstream statm("/proc/self/statm"); statm >> size_pages >> resident_pages) {
    const auto page = static_cast<double>(sysconf(_SC_PAGESIZE));
    f.resident.Add({}).Set(static_cast<double>(resident_pages) * page);
    f.virtual_memory.Add({}).Set(static_cast<double>(size_pages) * page);
  }
  std::ostringstream out;
  prometheus::TextSerializer().Serialize(out, f.registry.Collect());
  return out.str();
}

}  // namespace lakehouse::telemetry::metrics
