#include "lakehouse/aibridge/semantic.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>

#include "lakehouse/aibridge/aibridge.h"
#include "lakehouse/catalogd/catalog.h"
#include "lakehouse/ingest/ingest.h"
#include "lakehouse/queryd/query.h"
#include "lakehouse/shared/error.h"
#include "lakehouse/shared/io.h"
#include "lakehouse/shared/logging.h"
#include "lakehouse/shared/types.h"

namespace lakehouse::aibridge {
namespace {

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

constexpr const char* kModel = "embedding.model";
constexpr const char* kDim = "embedding.dim";

std::string QuoteIdent(const std::string& name) {
  std::string out = "\"";
  for (char c : name) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

//! Collects an NDJSON query result row by row.
class RowSink final : public queryd::ResultSink {
 public:
  RowSink(std::function<void(json&&)> on_row, const std::atomic<bool>* cancelled)
      : on_row_(std::move(on_row)), cancelled_(cancelled) {}
  void Begin(std::string_view) override {}
  bool Write(std::string_view bytes) override {
    pending_.append(bytes);
    size_t start = 0;
    for (size_t nl; (nl = pending_.find('\n', start)) != std::string::npos; start = nl + 1) {
      on_row_(json::parse(std::string_view(pending_).substr(start, nl - start)));
    }
    pending_.erase(0, start);
    return !ClientGone();
  }
  bool ClientGone() override { return cancelled_ != nullptr && cancelled_->load(); }

 private:
  std::function<void(json&&)> on_row_;
  const std::atomic<bool>* cancelled_;
  std::string pending_;
};

struct JobState {
  std::string id;
  EmbedColumnRequest request;
  std::string state = "running";
  uint64_t rows_total = 0;
  uint64_t rows_done = 0;
  std::string model;
  int dim = 0;
  std::string error;
  std::string error_code;
  uint64_t version = 0;
  Clock::time_point started = Clock::now();
  double seconds = 0;
  double read_seconds = 0, embed_seconds = 0, commit_seconds = 0;  //!< phases, for tuning
};

json JobJson(const JobState& j) {
  json out{{"id", j.id},
           {"state", j.state},
           {"dataset", j.request.dataset},
           {"column", j.request.column},
           {"target", j.request.target},
           {"rows_total", j.rows_total},
           {"rows_done", j.rows_done},
           {"seconds", j.seconds}};
  if (!j.model.empty()) out["model"] = j.model;
  if (j.dim) out["dim"] = j.dim;
  if (j.version) out["version"] = j.version;
  if (j.seconds > 0 && j.rows_done > 0) out["rows_per_second"] = static_cast<double>(j.rows_done) / j.seconds;
  if (j.state == "succeeded") {
    out["phases"] = {
        {"read_seconds", j.read_seconds}, {"embed_seconds", j.embed_seconds}, {"commit_seconds", j.commit_seconds}};
  }
  if (!j.error.empty()) out["error"] = {{"code", j.error_code}, {"message", j.error}};
  return out;
}

}  // namespace

class SemanticSearch::Impl {
 public:
  Impl(catalogd::Catalog& catalog, ingest::Ingestor& ingest, queryd::QueryEngine& query, AiBridge& ai,
       SemanticOptions options)
      : catalog_(catalog), ingest_(ingest), query_(query), ai_(ai), options_(options) {}

  ~Impl() {
    cancelled_ = true;
    std::vector<std::thread> threads;
    {
      std::lock_guard lock(mu_);
      threads.swap(threads_);
    }
    for (auto& t : threads) t.join();
  }

  //! Checks what can be checked before the job starts; fills in the target name.
  DatasetManifest Validate(EmbedColumnRequest& r) {
    LH_USER_CHECK(!r.column.empty(), "the body needs \"column\": the text column to embed");
    r.dataset = DatasetId::Parse(r.dataset).str();
    DatasetManifest source = catalog_.Head(r.dataset);  // kNotFound for an unknown dataset
    auto has = [&](const std::string& name) {
      for (const auto& c : source.schema) {
        if (c.name == name) return true;
      }
      return false;
    };
    std::vector<std::string> names;
    for (const auto& c : source.schema) names.push_back(c.name);
    LH_USER_CHECK(has(r.column), "dataset {} has no column \"{}\" (columns: {})", r.dataset, r.column,
                  fmt::join(names, ", "));
    LH_USER_CHECK(r.key.empty() || has(r.key), "dataset {} has no key column \"{}\" (columns: {})", r.dataset, r.key,
                  fmt::join(names, ", "));
    LH_USER_CHECK(source.row_count() <= options_.max_rows,
                  "dataset {} has {} rows, more than the {} an embedding job takes", r.dataset, source.row_count(),
                  options_.max_rows);
    if (r.target.empty()) r.target = r.dataset + "_" + r.column + "_emb";
    r.target = DatasetId::Parse(r.target).str();
    LH_USER_CHECK(r.target != r.dataset, "the target dataset must differ from the source");
    CheckTargetModel(r.target, r.model);
    return source;
  }

  //! The target may exist only as a vectors dataset of the same model.
  std::optional<DatasetManifest> CheckTargetModel(const std::string& target, const std::string& model) {
    std::optional<DatasetManifest> existing;
    try {
      existing = catalog_.Head(target);
    } catch (const Error& e) {
      if (e.code() != ErrorCode::kNotFound) throw;
      return std::nullopt;
    }
    if (existing->tombstone) return std::nullopt;
    auto it = existing->properties.find(kModel);
    if (it == existing->properties.end()) {
      Fail(ErrorCode::kConflict, "dataset {} exists and is not a vectors dataset: name another \"target\"", target);
    }
    if (!model.empty() && it->second != model) {
      Fail(ErrorCode::kConflict,
           "dataset {} holds vectors of model {}; vectors of {} are never mixed with them: name another \"target\" "
           "or delete {} first",
           target, it->second, model, target);
    }
    return existing;
  }

  json Start(EmbedColumnRequest request) {
    DatasetManifest source = Validate(request);
    auto job = std::make_shared<JobState>();
    job->request = request;
    job->rows_total = source.row_count();
    {
      std::lock_guard lock(mu_);
      job->id = fmt::format("emb-{}", ++next_id_);
      jobs_[job->id] = job;
      threads_.emplace_back([this, job] {
        try {
          Run(*job);
        } catch (const Error& e) {
          std::lock_guard lock(mu_);
          job->state = cancelled_ ? "cancelled" : "failed";
          job->error = e.what();
          job->error_code = std::string(CodeName(e.code()));
        } catch (const std::exception& e) {
          std::lock_guard lock(mu_);
          job->state = "failed";
          job->error = e.what();
          job->error_code = "internal";
        }
        std::lock_guard lock(mu_);
        job->seconds = std::chrono::duration<double>(Clock::now() - job->started).count();
        log::Info("embedding job finished", JobJson(*job));
      });
    }
    std::lock_guard lock(mu_);
    return JobJson(*job);
  }

  json JobStatus(const std::string& id) const {
    std::lock_guard lock(mu_);
    auto it = jobs_.find(id);
    if (it == jobs_.end()) Fail(ErrorCode::kNotFound, "no embedding job {} on this server", id);
    json out = JobJson(*it->second);
    if (it->second->state == "running") {
      out["seconds"] = std::chrono::duration<double>(Clock::now() - it->second->started).count();
    }
    return out;
  }

  json RunSync(EmbedColumnRequest request) {
    DatasetManifest source = Validate(request);
    JobState job;
    job.id = "sync";
    job.request = request;
    job.rows_total = source.row_count();
    Run(job);
    job.seconds = std::chrono::duration<double>(Clock::now() - job.started).count();
    return JobJson(job);
  }

  void Run(JobState& job) {
    const EmbedColumnRequest& r = job.request;
    // 1. Read the column (and key) in the dataset's order.
    std::vector<std::string> texts;
    std::vector<uint64_t> rows;
    std::vector<json> keys;
    uint64_t ordinal = 0;
    RowSink sink(
        [&](json&& row) {
          const json& t = row["t"];
          if (!t.is_null()) {
            texts.push_back(t.is_string() ? t.get<std::string>() : t.dump());
            rows.push_back(ordinal);
            if (!r.key.empty()) keys.push_back(std::move(row["k"]));
          }
          ++ordinal;
        },
        &cancelled_);
    queryd::QueryRequest q;
    q.sql = fmt::format("SELECT CAST({} AS VARCHAR) AS t{} FROM {}", QuoteIdent(r.column),
                        r.key.empty() ? "" : ", " + QuoteIdent(r.key) + " AS k", QuoteIdent(r.dataset));
    q.format = queryd::ResultFormat::kNdjson;
    q.timeout_ms = options_.query_timeout_ms;
    auto phase = Clock::now();
    auto lap = [&phase] {
      auto now = Clock::now();
      double s = std::chrono::duration<double>(now - phase).count();
      phase = now;
      return s;
    };
    query_.Execute(q, sink);
    {
      std::lock_guard lock(mu_);
      job.rows_total = texts.size();
      job.read_seconds = lap();
    }
    LH_USER_CHECK(!texts.empty(), "column {} of dataset {} has no non-null values to embed", r.column, r.dataset);

    // 2. Embed in batches, writing NDJSON for ingest as we go. Nothing is visible until step 3.
    std::string body;
    std::string model;
    int dim = 0;
    for (size_t start = 0; start < texts.size(); start += options_.batch_size) {
      if (cancelled_) Fail(ErrorCode::kCancelled, "the server is shutting down");
      const size_t end = std::min(texts.size(), start + options_.batch_size);
      std::vector<std::string> batch(texts.begin() + start, texts.begin() + end);
      Embeddings e = ai_.Embed(batch, r.model);
      if (model.empty()) {
        model = e.model;
        dim = e.dim;
        CheckTargetModel(r.target, model);  // the sidecar's default model must match an existing target too
        std::lock_guard lock(mu_);
        job.model = model;
        job.dim = dim;
      }
      if (e.model != model || e.dim != dim) {
        Fail(ErrorCode::kConflict, "the model changed during the job ({} -> {}): vectors are never mixed", model,
             e.model);
      }
      for (size_t i = 0; i < e.count; ++i) {
        const size_t idx = start + i;
        body += R"({"row":)";
        body += std::to_string(rows[idx]);
        if (!r.key.empty()) {
          body += R"(,"key":)";
          body += keys[idx].dump();
        }
        body += R"(,"text":)";
        body += json(texts[idx]).dump(-1, ' ', false, json::error_handler_t::replace);
        body += R"(,"embedding":[)";
        auto row = e.Row(i);
        for (size_t j = 0; j < row.size(); ++j) {
          if (j) body += ',';
          fmt::format_to(std::back_inserter(body), "{}", row[j]);
        }
        body += "]}\n";
      }
      std::lock_guard lock(mu_);
      job.rows_done = end;
    }

    job.embed_seconds = lap();
    // 3. One atomic commit: a new dataset, or a replaced version of the same model's vectors.
    auto existing = CheckTargetModel(r.target, model);
    ingest::IngestRequest in;
    in.dataset = r.target;
    in.op = existing ? catalogd::CommitOp::kReplace : catalogd::CommitOp::kCreate;
    if (existing) in.expected_version = existing->version;
    in.format = ingest::Format::kNdjson;
    in.allow_schema_change = true;
    in.properties = {{kModel, model},
                     {kDim, std::to_string(dim)},
                     {"embedding.source_dataset", r.dataset},
                     {"embedding.source_column", r.column},
                     {"embedding.source_version", std::to_string(catalog_.Head(r.dataset).version)}};
    if (!r.key.empty()) in.properties["embedding.key_column"] = r.key;
    StringSource source(body);
    ingest::IngestResult result = ingest_.Ingest(in, source);
    std::lock_guard lock(mu_);
    job.commit_seconds = lap();
    job.version = result.manifest.version;
    job.state = "succeeded";
  }

  json Search(const SearchRequest& r) {
    const std::string dataset = DatasetId::Parse(r.dataset).str();
    LH_USER_CHECK(!r.query.empty(), "the body needs \"query\": the text to search for");
    LH_USER_CHECK(r.k >= 1 && r.k <= options_.max_k, "k must be within 1..{}, got {}", options_.max_k, r.k);
    DatasetManifest m = catalog_.Head(dataset);
    auto model = m.properties.find(kModel);
    if (model == m.properties.end()) {
      Fail(ErrorCode::kInvalidArgument,
           "dataset {} holds no vectors: make them with POST /api/v1/datasets/<name>/embeddings and search the "
           "dataset that job creates",
           dataset);
    }
    const bool has_key = m.properties.contains("embedding.key_column");
    Embeddings q = ai_.Embed({r.query}, model->second);  // always the model the vectors were made with
    std::string vec = "[";
    for (int i = 0; i < q.dim; ++i) fmt::format_to(std::back_inserter(vec), "{}{}", i ? "," : "", q.values[i]);
    vec += "]";
    const int candidates = r.rerank ? std::min(std::max(r.k * 4, 20), 200) : r.k;
    queryd::QueryRequest sql;
    sql.sql = fmt::format(
        "SELECT row, {}text, list_cosine_similarity(embedding, {}::DOUBLE[]) AS score FROM {} "
        "ORDER BY score DESC, row LIMIT {}",
        has_key ? "key, " : "", vec, QuoteIdent(dataset), candidates);
    sql.format = queryd::ResultFormat::kNdjson;
    json results = json::array();
    RowSink sink([&](json&& row) { results.push_back(std::move(row)); }, nullptr);
    query_.Execute(sql, sink);
    json out{{"dataset", dataset}, {"model", model->second}, {"query", r.query}, {"reranked", false}};
    if (r.rerank && !results.empty()) {
      json docs = json::array();
      for (const auto& x : results) docs.push_back(x["text"].is_string() ? x["text"].get<std::string>() : "");
      json rr = ai_.Rerank({{"query", r.query}, {"documents", docs}, {"top_n", r.k}});
      json reranked = json::array();
      for (const auto& x : rr["results"]) {
        json row = results[x["index"].get<size_t>()];
        row["rerank_score"] = x["score"];
        reranked.push_back(std::move(row));
      }
      results = std::move(reranked);
      out["reranked"] = true;
      out["rerank_method"] = rr.value("method", "");
    }
    out["results"] = std::move(results);
    return out;
  }

 private:
  catalogd::Catalog& catalog_;
  ingest::Ingestor& ingest_;
  queryd::QueryEngine& query_;
  AiBridge& ai_;
  SemanticOptions options_;
  mutable std::mutex mu_;
  std::atomic<bool> cancelled_{false};
  uint64_t next_id_ = 0;
  std::map<std::string, std::shared_ptr<JobState>> jobs_;
  std::vector<std::thread> threads_;
};

SemanticSearch::SemanticSearch(catalogd::Catalog& catalog, ingest::Ingestor& ingest, queryd::QueryEngine& query,
                               AiBridge& ai, SemanticOptions options)
    : impl_(std::make_unique<Impl>(catalog, ingest, query, ai, options)) {}
SemanticSearch::~SemanticSearch() = default;
nlohmann::json SemanticSearch::StartEmbedding(const EmbedColumnRequest& request) { return impl_->Start(request); }
nlohmann::json SemanticSearch::Job(const std::string& id) const { return impl_->JobStatus(id); }
nlohmann::json SemanticSearch::RunEmbedding(const EmbedColumnRequest& request) { return impl_->RunSync(request); }
nlohmann::json SemanticSearch::Search(const SearchRequest& request) { return impl_->Search(request); }

}  // namespace lakehouse::aibridge
