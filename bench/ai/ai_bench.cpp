// bench/ai.sh's driver. Starts the real stack on 127.0.0.1 (local object store, catalog, ingest,
// queryd, the supervised sidecar + bundled model server, the gateway) and measures:
//   1. embeddings/s for batches of 32 straight to the model server (/api/embed) vs through
//      gateway -> aibridge -> sidecar -> model server (/api/v1/ai/embed), in alternating rounds;
//   2. rows/s of an embedding job over a 10,000-row text column (POST .../embeddings, wait=true).
// Bounded: a fixed number of requests; every request has a timeout.
#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <iostream>
#include <thread>

#include "lakehouse/aibridge/aibridge.h"
#include "lakehouse/app/supervisor.h"
#include "lakehouse/catalogd/catalog.h"
#include "lakehouse/gateway/gateway.h"
#include "lakehouse/ingest/ingest.h"
#include "lakehouse/queryd/query.h"
#include "lakehouse/search/search.h"
#include "lakehouse/shared/http_client.h"
#include "lakehouse/shared/io.h"
#include "lakehouse/shared/logging.h"
#include "lakehouse/storaged/object_store.h"

using namespace lakehouse;
using json = nlohmann::json;
namespace fs = std::filesystem;

namespace {

std::string Sentence(size_t i) {
  static const char* subjects[] = {"The analyst", "A small team",   "Our customer",  "The database",
                                   "A sensor",    "The new intern", "The warehouse", "A delivery truck"};
  static const char* verbs[] = {"reported", "measured", "ordered", "rejected", "stored", "summarised", "shipped"};
  static const char* objects[] = {"quarterly revenue figures",     "temperature readings from the roof",
                                  "three crates of fresh oranges", "a corrupted parquet file",
                                  "the monthly churn dashboard",   "a late invoice for cloud storage"};
  return fmt::format("{} {} {} on day {} of the {} campaign.", subjects[i % 8], verbs[(i / 8) % 7],
                     objects[(i / 56) % 6], i % 365, i % 3 ? "spring" : "autumn");
}

double Seconds(std::chrono::steady_clock::duration d) { return std::chrono::duration<double>(d).count(); }

}  // namespace

int main(int argc, char** argv) {
  const int batches = argc > 1 ? std::stoi(argv[1]) : 40;  // per round and path
  const int rounds = argc > 2 ? std::stoi(argv[2]) : 3;
  const size_t column_rows = argc > 3 ? std::stoul(argv[3]) : 10000;
  log::Init(log::Level::kWarn);
  const fs::path root = fs::temp_directory_path() / ("lakehouse-ai-bench-" + std::to_string(::getpid()));
  fs::create_directories(root / "objects");
  fs::create_directories(root / "tmp");
  try {
    storaged::LocalStoreOptions local;
    local.root = (root / "objects").string();
    auto store = storaged::MakeLocalStore(local);
    auto catalog = catalogd::MakeCatalog(*store);
    ingest::IngestOptions io;
    io.temp_dir = (root / "tmp").string();
    auto ingestor = ingest::MakeIngestor(*store, *catalog, io);
    queryd::QueryConfig qc;
    qc.temp_dir = (root / "tmp").string();
    auto query = queryd::MakeQueryEngine(*catalog, *store, qc);

    app::SupervisorConfig sc;  // the AI home is found from this binary (build/ in the checkout)
    sc.model_server = "bundled";
    sc.log_dir = (root / "logs").string();
    app::AiSupervisor supervisor(sc);
    supervisor.Start();
    aibridge::AiConfig ac;
    ac.sidecar_url = supervisor.sidecar_url();
    auto ai = aibridge::MakeAiBridge(ac);

    search::SearchOptions so;
    so.temp_dir = (root / "tmp").string();
    auto search = search::MakeSearchService(*catalog, *ingestor, *query, *ai, *store, so);
    gateway::Services services{store.get(), catalog.get(), ingestor.get(), query.get(), ai.get(), search.get()};
    gateway::ServerOptions options;
    options.port = 0;
    gateway::Server server(options, gateway::BuildRouter(services), {});
    server.Bind();
    const std::string gw = "http://127.0.0.1:" + std::to_string(server.port());
    std::thread server_thread([&] { server.Run(); });
    struct Joiner {
      gateway::Server& server;
      std::thread& thread;
      ~Joiner() {
        server.Stop();
        thread.join();
      }
    } joiner{server, server_thread};

    const std::string model = ai->Embed({"warm up"}).model;
    HttpClient client;
    auto post = [&](const std::string& url, const std::string& body, int64_t timeout_ms = 60000) {
      HttpRequest r;
      r.method = "POST";
      r.url = url;
      r.body = body;
      r.timeout_ms = timeout_ms;
      auto out = client.Send(r);
      if (out.status != 200)
        throw std::runtime_error(fmt::format("{} -> {} {}", url, out.status, out.body.substr(0, 200)));
      return out;
    };
    std::vector<std::string> direct_bodies, gateway_bodies;
    for (int b = 0; b < batches; ++b) {
      std::vector<std::string> texts;
      for (int i = 0; i < 32; ++i) texts.push_back(Sentence(static_cast<size_t>(b) * 32 + i));
      direct_bodies.push_back(json{{"model", model}, {"input", texts}}.dump());
      gateway_bodies.push_back(json{{"texts", texts}}.dump());
    }
    for (int w = 0; w < 3; ++w) {  // warm both paths
      post(supervisor.model_server_url() + "/api/embed", direct_bodies[w % batches]);
      post(gw + "/api/v1/ai/embed", gateway_bodies[w % batches]);
    }
    std::vector<double> direct_rates, full_rates;
    for (int r = 0; r < rounds; ++r) {
      auto t0 = std::chrono::steady_clock::now();
      for (const auto& body : direct_bodies) post(supervisor.model_server_url() + "/api/embed", body);
      direct_rates.push_back(batches * 32 / Seconds(std::chrono::steady_clock::now() - t0));
      t0 = std::chrono::steady_clock::now();
      for (const auto& body : gateway_bodies) post(gw + "/api/v1/ai/embed", body);
      full_rates.push_back(batches * 32 / Seconds(std::chrono::steady_clock::now() - t0));
    }
    std::sort(direct_rates.begin(), direct_rates.end());
    std::sort(full_rates.begin(), full_rates.end());
    const double direct = direct_rates[direct_rates.size() / 2];
    const double full = full_rates[full_rates.size() / 2];

    // The 10,000-row column.
    std::string ndjson;
    for (size_t i = 0; i < column_rows; ++i) ndjson += json{{"id", i}, {"note", Sentence(i * 7 + 3)}}.dump() + "\n";
    ingest::IngestRequest in;
    in.dataset = "bench_notes";
    in.format = ingest::Format::kNdjson;
    StringSource src(ndjson);
    ingestor->Ingest(in, src);
    auto t0 = std::chrono::steady_clock::now();
    auto job = json::parse(post(gw + "/api/v1/datasets/bench_notes/embeddings",
                                json{{"column", "note"}, {"key", "id"}, {"wait", true}}.dump(), 540000)
                               .body);
    const double job_s = Seconds(std::chrono::steady_clock::now() - t0);
    t0 = std::chrono::steady_clock::now();
    auto hits =
        json::parse(post(gw + "/api/v1/search",
                         json{{"dataset", "bench_notes_note_emb"}, {"query", "fruit deliveries"}, {"k", 10}}.dump())
                        .body);
    const double search_ms = Seconds(std::chrono::steady_clock::now() - t0) * 1000;

    json out{{"model", model},
             {"batch", 32},
             {"batches_per_round", batches},
             {"rounds", rounds},
             {"direct_embeddings_per_s", direct},
             {"gateway_embeddings_per_s", full},
             {"full_path_slowdown", direct / full},
             {"column_rows", job["rows_done"]},
             {"column_seconds", job_s},
             {"column_rows_per_s", job["rows_done"].get<double>() / job_s},
             {"column_phases", job["phases"]},
             {"search_ms_10k", search_ms},
             {"search_top_hit", hits["results"][0]["text"]}};
    std::cout << fmt::format(
                     "model {}\n"
                     "embeddings/s, batches of 32 (median of {} rounds x {} batches):\n"
                     "  straight to the model server : {:8.1f}\n"
                     "  gateway->aibridge->sidecar   : {:8.1f}   (full path takes {:.2f}x the time; target <= 1.3x)\n"
                     "embedding job, {} rows        : {:.1f} s = {:.1f} rows/s (read, embed, write Parquet, commit)\n"
                     "search over {} vectors         : {:.1f} ms\n",
                     model, rounds, batches, direct, full, direct / full, job["rows_done"].get<int>(), job_s,
                     job["rows_done"].get<double>() / job_s, column_rows, search_ms)
              << out.dump() << std::endl;
  } catch (const std::exception& e) {
    std::cerr << "ai_bench failed: " << e.what() << std::endl;
    fs::remove_all(root);
    return 1;
  }
  fs::remove_all(root);
  return 0;
}
