// The search service: embedding jobs and semantic search (search.h).
#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <optional>

#include "arrow_rows.h"
#include "index.h"
#include "jobs.h"
#include "lakehouse/aibridge/aibridge.h"
#include "lakehouse/catalogd/catalog.h"
#include "lakehouse/ingest/ingest.h"
#include "lakehouse/queryd/query.h"
#include "lakehouse/search/search.h"
#include "lakehouse/shared/error.h"
#include "lakehouse/shared/io.h"
#include "lakehouse/shared/logging.h"
#include "lakehouse/shared/memory_budget.h"
#include "lakehouse/shared/sql.h"
#include "lakehouse/shared/types.h"
#include "lakehouse/storaged/object_store.h"
#include "vector_writer.h"

namespace lakehouse::search {
namespace {

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

constexpr const char* kModel = "embedding.model";
constexpr const char* kDim = "embedding.dim";
constexpr const char* kKeyColumn = "embedding.key_column";

//! Integer keys stay integers (BIGINT); any other key type is carried as its text.
KeyType KeyTypeOf(const std::string& duckdb_type) {
  static const char* kInts[] = {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "UTINYINT", "USMALLINT", "UINTEGER"};
  for (const char* t : kInts) {
    if (duckdb_type == t) return KeyType::kInt;
  }
  return KeyType::kString;
}

//! A value of a result column as JSON (integers, floats and strings: what search's SQL selects).
json ValueJson(const ColumnView& c, int64_t row) {
  if (c.IsNull(row)) return nullptr;
  switch (c.kind()) {
    case ColumnView::Kind::kInt:
      return c.Int(row);
    case ColumnView::Kind::kFloat:
      return c.Double(row);
    default:
      return std::string(c.Str(row));
  }
}

//! A row's position in a dataset version: the stable row key of the vectors (column `row`). The
//! embedding job and the join back to the source rows both number rows with it, in the order
//! queryd scans that (immutable) version.
constexpr const char* kRowPosition = "row_number() OVER () - 1";

//! One fixed version of a dataset, as queryd reads it.
std::string SourceVersionSql(const std::string& dataset, uint64_t version) {
  return fmt::format("dataset_version({}, {})", SqlLiteral(dataset), version);
}

//! A small result collected whole (the source rows of the final k results).
class StringResultSink final : public queryd::ResultSink {
 public:
  void Begin(std::string_view) override {}
  bool Write(std::string_view bytes) override {
    body.append(bytes);
    return true;
  }
  bool ClientGone() override { return false; }
  std::string body;
};

double Lap(Clock::time_point& since) {
  const auto now = Clock::now();
  const double s = std::chrono::duration<double>(now - since).count();
  since = now;
  return s;
}

}  // namespace

std::string_view JobStateName(JobState state) {
  switch (state) {
    case JobState::kQueued:
      return "queued";
    case JobState::kRunning:
      return "running";
    case JobState::kSucceeded:
      return "succeeded";
    case JobState::kFailed:
      return "failed";
    case JobState::kCancelled:
      return "cancelled";
  }
  return "unknown";
}

json ToJson(const JobStatus& j) {
  json out{{"id", j.id},
           {"state", JobStateName(j.state)},
           {"dataset", j.request.dataset},
           {"column", j.request.column},
           {"target", j.request.target},
           {"rows_total", j.rows_total},
           {"rows_done", j.rows_done},
           {"seconds", j.seconds}};
  if (!j.model.empty()) out["model"] = j.model;
  if (j.dim) out["dim"] = j.dim;
  if (j.version) out["version"] = j.version;
  if (j.incremental) {
    out["incremental"] = true;
    out["rows_already_embedded"] = j.rows_already_embedded;
  }
  if (j.seconds > 0 && j.rows_done > 0) out["rows_per_second"] = static_cast<double>(j.rows_done) / j.seconds;
  if (j.state == JobState::kSucceeded) {
    out["phases"] = {
        {"read_seconds", j.read_seconds}, {"embed_seconds", j.embed_seconds}, {"commit_seconds", j.commit_seconds}};
  }
  if (!j.error_code.empty()) out["error"] = {{"code", j.error_code}, {"message", j.error_message}};
  return out;
}

namespace {

json Fuse(const json& vector_hits, const json& text_hits, double text_bound, int n);
json FuseRanks(const json& vector_hits, const json& text_hits, int n);

class SearchServiceImpl final : public SearchService {
 public:
  SearchServiceImpl(catalogd::Catalog& catalog, ingest::Ingestor& ingest, queryd::QueryEngine& query,
                    aibridge::AiBridge& ai, storaged::ObjectStore& store, const SearchOptions& options)
      : catalog_(catalog),
        ingest_(ingest),
        query_(query),
        ai_(ai),
        store_(store),
        options_(options),
        db_(options.temp_dir,
            DuckDbBytes(options.own_memory_limit.empty() ? SplitDuckDbBudget(options.memory_limit).search_bytes
                                                         : ParseByteSize(options.own_memory_limit)),
            1),
        indexes_(db_, IndexOptions{options.extension_dir, options.hnsw_min_rows, options.max_indexes}),
        jobs_(JobRegistryOptions{options.job_threads, options.max_queued_jobs,
                                 std::chrono::milliseconds(options.finished_job_ttl_ms), options.max_finished_jobs,
                                 "emb-"}) {}

  ~SearchServiceImpl() override { stopping_ = true; }  // jobs_ then cancels the jobs; their records stay

  JobStatus StartEmbedding(const EmbedColumnRequest& request) override {
    JobStatus initial;
    initial.request = request;
    initial.rows_total = Validate(initial.request).row_count();
    return SubmitDurable(std::move(initial));
  }

  //! Queues again every job a previous server on this store recorded and never finished.
  void ResumeJobs() {
    for (const auto& info : store_.ListAll(catalogd::kSearchJobPrefix)) {
      JobStatus initial;
      try {
        const json record = json::parse(store_.GetBytes(info.key));
        initial.id = record.at("id").get<std::string>();
        const json& q = record.at("request");
        initial.request = {q.at("dataset"), q.at("column"), q.value("model", ""), q.value("key", ""),
                           q.value("target", "")};
        initial.rows_total = Validate(initial.request).row_count();
        const std::string id = initial.id;
        SubmitDurable(std::move(initial));
        log::Info("embedding job resumed", {{"id", id}, {"key", info.key}});
      } catch (const std::exception& e) {
        // Its dataset is gone, or the record is damaged: it cannot run again.
        log::Warn("embedding job not resumed", {{"key", info.key}, {"error", e.what()}});
        store_.Delete(info.key);
      }
    }
  }

  JobStatus Job(const std::string& id) const override { return jobs_.Get(id); }
  std::string MemoryLimit() const override { return db_.MemoryLimit(); }
  std::vector<JobStatus> Jobs() const override { return jobs_.List(); }
  JobStatus Cancel(const std::string& id) override {
    JobStatus s = jobs_.Get(id);  // kNotFound for an unknown id
    if (!jobs_.Cancel(id)) {
      Fail(ErrorCode::kConflict, "job {} already finished ({}): there is nothing to cancel", id, JobStateName(s.state));
    }
    return jobs_.Get(id);
  }

  JobStatus RunEmbedding(const EmbedColumnRequest& request) override {
    JobStatus initial;
    initial.id = "inline";
    initial.request = request;
    initial.rows_total = Validate(initial.request).row_count();
    return jobs_.RunInline(std::move(initial), [this](JobHandle& job) { Run(job); });
  }

  json Search(const SearchRequest& r) override;
  DatasetManifest ResolveVectors(const std::string& dataset, const std::string& column);
  void JoinSourceRows(const std::string& source, uint64_t version, const std::vector<std::string>& columns,
                      json& results);
  json VectorViaQuery(const std::string& dataset, bool has_key, int dim, std::span<const float> query, int n);
  std::shared_ptr<const Index> IndexOf(const DatasetManifest& vectors, int dim);

 private:
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
    for (const auto& c : source.schema) {
      LH_USER_CHECK(c.name != r.column || c.type == "VARCHAR", "column \"{}\" of dataset {} is {}, not text (VARCHAR)",
                    r.column, r.dataset, c.type);
    }
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

  //! The job: read the column as typed rows, embed it in batches into a Parquet file, then one
  //! atomic commit. Nothing is visible before the commit.
  void Run(JobHandle& job) {
    const EmbedColumnRequest r = job.Snapshot().request;
    auto phase = Clock::now();
    // 1. The column (and key) of one fixed version of the source, in its order, as Arrow record
    //    batches from queryd. Each row's position in that version is its stable row key: search
    //    joins results back to the source rows through it (dataset_version(source, version)).
    const DatasetManifest source = catalog_.Head(r.dataset);
    // An append to the version the target was made from: only the new rows are embedded, and
    // appended to the target (the rows already embedded keep their positions).
    const std::optional<DatasetManifest> before = CheckTargetModel(r.target, r.model);
    const uint64_t skip = before ? RowsAlreadyEmbedded(*before, source, r) : 0;
    KeyType key_type = KeyType::kNone;
    if (!r.key.empty()) {
      for (const auto& c : source.schema) {
        if (c.name == r.key) key_type = KeyTypeOf(c.type);
      }
    }
    std::vector<std::string> texts;
    std::vector<int64_t> rows;
    std::vector<KeyValue> keys;
    ArrowRowSink sink(
        [&](const RowBatch& batch) {
          const ColumnView& position = batch.columns.at(0);
          const ColumnView& t = batch.columns.at(1);
          for (int64_t i = 0; i < batch.rows; ++i) {
            if (t.IsNull(i)) continue;
            texts.emplace_back(t.Str(i));
            rows.push_back(position.Int(i));
            if (key_type == KeyType::kNone) continue;
            const ColumnView& k = batch.columns.at(2);
            KeyValue key;
            key.is_null = k.IsNull(i);
            if (!key.is_null && key_type == KeyType::kInt) key.i = k.Int(i);
            if (!key.is_null && key_type == KeyType::kString) key.s = k.Str(i);
            keys.push_back(std::move(key));
          }
        },
        job.cancel_flag());
    queryd::QueryRequest q;
    std::string key_sql;
    if (key_type != KeyType::kNone) {
      key_sql =
          fmt::format(", CAST({} AS {}) AS k", SqlIdentifier(r.key), key_type == KeyType::kInt ? "BIGINT" : "VARCHAR");
    }
    q.sql = fmt::format("SELECT {} AS r, CAST({} AS VARCHAR) AS t{} FROM {}", kRowPosition, SqlIdentifier(r.column),
                        key_sql, SourceVersionSql(r.dataset, source.version));
    if (skip > 0) q.sql = fmt::format("SELECT * FROM ({}) WHERE r >= {}", q.sql, skip);
    q.format = queryd::ResultFormat::kArrow;
    q.timeout_ms = options_.query_timeout_ms;
    query_.Execute(q, sink);
    sink.Finish();
    const double read_seconds = Lap(phase);
    job.Update([&](JobStatus& s) {
      s.rows_total = texts.size();
      s.rows_already_embedded = skip;
      s.incremental = skip > 0;
      s.read_seconds = read_seconds;
    });
    if (skip > 0 && texts.empty()) {
      // The appended rows hold no text: the vectors stay as they are (still of the older version).
      job.Update([&](JobStatus& s) { s.version = before->version; });
      return;
    }
    LH_USER_CHECK(!texts.empty(), "column {} of dataset {} has no non-null values to embed", r.column, r.dataset);

    // 2. Embed in batches; each vector goes into the Parquet writer as floats.
    std::optional<VectorWriter> writer;
    std::string model;
    int dim = 0;
    for (size_t start = 0; start < texts.size(); start += options_.batch_size) {
      if (job.cancelled()) Fail(ErrorCode::kCancelled, "the job was cancelled (or the server is shutting down)");
      const size_t end = std::min(texts.size(), start + options_.batch_size);
      std::vector<std::string> batch(texts.begin() + static_cast<std::ptrdiff_t>(start),
                                     texts.begin() + static_cast<std::ptrdiff_t>(end));
      aibridge::Embeddings e = ai_.Embed(batch, r.model);
      if (model.empty()) {
        model = e.model;
        dim = e.dim;
        CheckTargetModel(r.target, model);  // the sidecar's default model must match an existing target too
        writer.emplace(db_, key_type, dim);
        job.Update([&](JobStatus& s) {
          s.model = model;
          s.dim = dim;
        });
      }
      if (e.model != model || e.dim != dim) {
        Fail(ErrorCode::kConflict, "the model changed during the job ({} -> {}): vectors are never mixed", model,
             e.model);
      }
      for (size_t i = 0; i < e.count; ++i) {
        const size_t idx = start + i;
        writer->Add(rows[idx], key_type == KeyType::kNone ? nullptr : &keys[idx], texts[idx], e.Row(i));
      }
      job.Update([&](JobStatus& s) { s.rows_done = end; });
    }
    const std::string parquet = writer->Finish();
    const double embed_seconds = Lap(phase);

    // 3. One atomic commit: a new dataset, a replaced version of the same model's vectors, or the
    //    new rows' vectors appended (incremental). A target changed meanwhile is a 409 (expected_version).
    auto existing = CheckTargetModel(r.target, model);
    ingest::IngestRequest in;
    in.dataset = r.target;
    in.op = existing ? catalogd::CommitOp::kReplace : catalogd::CommitOp::kCreate;
    if (skip > 0) in.op = catalogd::CommitOp::kAppend;
    if (existing) in.expected_version = skip > 0 ? before->version : existing->version;
    in.format = ingest::Format::kParquet;
    in.allow_schema_change = true;
    in.properties = {{kModel, model},
                     {kDim, std::to_string(dim)},
                     {"embedding.source_dataset", r.dataset},
                     {"embedding.source_column", r.column},
                     {"embedding.source_version", std::to_string(source.version)}};
    if (!r.key.empty()) in.properties[kKeyColumn] = r.key;
    FileSource file(parquet);
    ingest::IngestResult result = ingest_.Ingest(in, file);
    const double commit_seconds = Lap(phase);
    job.Update([&](JobStatus& s) {
      s.embed_seconds = embed_seconds;
      s.commit_seconds = commit_seconds;
      s.version = result.manifest->version;
    });
  }

  //! How many leading rows of `source` the vectors dataset `target` already holds: the row count
  //! of the version it was made from, when `source` is that version plus appended objects (same
  //! schema, same column, key and model); else 0 (everything is embedded again).
  uint64_t RowsAlreadyEmbedded(const DatasetManifest& target, const DatasetManifest& source,
                               const EmbedColumnRequest& r) {
    auto prop = [&](const char* name) {
      auto it = target.properties.find(name);
      return it == target.properties.end() ? std::string() : it->second;
    };
    if (prop("embedding.source_dataset") != r.dataset || prop("embedding.source_column") != r.column ||
        prop(kKeyColumn) != r.key || (!r.model.empty() && prop(kModel) != r.model)) {
      return 0;
    }
    uint64_t embedded = 0;
    try {
      embedded = std::stoull(prop("embedding.source_version"));
    } catch (const std::exception&) {
      return 0;
    }
    if (embedded == 0 || embedded >= source.version) return 0;
    DatasetManifest then;
    try {
      then = catalog_.Get(r.dataset, embedded);
    } catch (const Error& e) {
      if (e.code() != ErrorCode::kNotFound) throw;
      return 0;
    }
    if (then.tombstone || then.schema_version != source.schema_version || !SameColumns(then.schema, source.schema) ||
        !then.partition_by.empty() || !source.partition_by.empty() || then.objects.size() > source.objects.size()) {
      return 0;
    }
    for (size_t i = 0; i < then.objects.size(); ++i) {
      if (then.objects[i].ref.key != source.objects[i].ref.key) return 0;
    }
    return then.row_count();
  }

  //! Records the job in the store, then queues it; the record goes when the job ends, unless the
  //! server is stopping (then the next start resumes it).
  JobStatus SubmitDurable(JobStatus initial) {
    std::string id = initial.id.empty() ? "emb-" + RandomHexId().substr(0, 12) : initial.id;
    initial.id = id;
    const std::string key = catalogd::SearchJobKey(id);
    const EmbedColumnRequest& q = initial.request;
    store_.PutBytes(
        key,
        json{{"id", id},
             {"request",
              {{"dataset", q.dataset}, {"column", q.column}, {"model", q.model}, {"key", q.key}, {"target", q.target}}}}
            .dump());
    try {
      return jobs_.Submit(
          std::move(initial),
          [this, key](JobHandle& job) {
            try {
              Run(job);
            } catch (const Error& e) {
              if (!(stopping_ && e.code() == ErrorCode::kCancelled)) store_.Delete(key);
              throw;
            } catch (...) {
              store_.Delete(key);
              throw;
            }
            store_.Delete(key);
          },
          // Cancelled while queued: not resumed either (unless the server is stopping).
          [this, key] {
            if (!stopping_) store_.Delete(key);
          });
    } catch (...) {
      store_.Delete(key);
      throw;
    }
  }

  catalogd::Catalog& catalog_;
  ingest::Ingestor& ingest_;
  queryd::QueryEngine& query_;
  aibridge::AiBridge& ai_;
  storaged::ObjectStore& store_;
  std::atomic<bool> stopping_{false};
  SearchOptions options_;
  SearchDb db_;
  IndexSet indexes_;
  JobRegistry jobs_;  //!< last: its destructor stops the jobs while the rest is alive
};

//! The vectors dataset to search for `dataset`: itself when it holds vectors, else the one an
//! embedding job made from it (of `column`, when several columns are embedded).
DatasetManifest SearchServiceImpl::ResolveVectors(const std::string& dataset, const std::string& column) {
  DatasetManifest m = catalog_.Head(dataset);  // kNotFound for an unknown dataset
  if (m.properties.contains(kModel)) return m;
  std::vector<DatasetManifest> found;
  for (const auto& d : catalog_.List()) {
    DatasetManifest v;
    try {
      v = catalog_.Head(d.name);
    } catch (const Error&) {
      continue;  // deleted meanwhile
    }
    auto src = v.properties.find("embedding.source_dataset");
    if (!v.properties.contains(kModel) || src == v.properties.end() || src->second != dataset) continue;
    if (!column.empty() && v.properties["embedding.source_column"] != column) continue;
    found.push_back(std::move(v));
  }
  if (found.size() == 1) return found.front();
  if (found.empty() && column.empty()) {
    Fail(ErrorCode::kInvalidArgument,
         "dataset {} has no embeddings yet: embed a text column with POST /api/v1/datasets/{}/embeddings "
         "{{\"column\": \"<text column>\"}}, then search dataset {} again",
         dataset, dataset, dataset);
  }
  if (found.empty()) {
    Fail(ErrorCode::kInvalidArgument,
         "column \"{}\" of dataset {} has no embeddings yet: embed it with POST /api/v1/datasets/{}/embeddings "
         "{{\"column\": \"{}\"}}, then search again",
         column, dataset, dataset, column);
  }
  std::vector<std::string> columns;
  columns.reserve(found.size());
  for (auto& v : found) columns.push_back(v.properties["embedding.source_column"] + " (" + v.dataset + ")");
  Fail(ErrorCode::kInvalidArgument, "dataset {} has several embedded columns: {}; name one with \"column\"", dataset,
       fmt::join(columns, ", "));
}

json SearchServiceImpl::Search(const SearchRequest& r) {
  const std::string asked = DatasetId::Parse(r.dataset).str();
  LH_USER_CHECK(!r.query.empty(), "the body needs \"query\": the text to search for");
  LH_USER_CHECK(r.query.size() <= options_.max_query_bytes, "the query is {} bytes long; the limit is {}",
                r.query.size(), options_.max_query_bytes);
  LH_USER_CHECK(r.k >= 1 && r.k <= options_.max_k, "k must be within 1..{}, got {}", options_.max_k, r.k);
  const std::string mode = r.mode.empty() ? "hybrid" : r.mode;
  LH_USER_CHECK(mode == "vector" || mode == "text" || mode == "hybrid",
                R"("mode" must be "vector", "text" or "hybrid" (the default), got "{}")", r.mode);
  const std::string fusion = r.fusion.empty() ? "scores" : r.fusion;
  LH_USER_CHECK(fusion == "scores" || fusion == "rrf",
                R"("fusion" must be "scores" (the default) or "rrf" (reciprocal rank fusion), got "{}")", r.fusion);
  LH_USER_CHECK(r.fusion.empty() || mode == "hybrid", R"("fusion" applies to mode "hybrid" only, not "{}")", mode);
  // Text search needs the full-text index: asked for explicitly it is a 503 naming what is missing
  // (the extension, checked here before any work, or search's memory, found when the index is
  // built below); the default (hybrid) then runs the vector stage alone and says so.
  auto require_text_index = [&](bool available, const std::string& reason) {
    if (mode != "vector" && !available && !r.mode.empty()) {
      Fail(ErrorCode::kUnavailable, R"(mode "{}" needs the full-text index, which is unavailable: {})", mode, reason);
    }
  };
  require_text_index(indexes_.available(), indexes_.unavailable_reason());
  const bool want_vector = mode != "text";
  DatasetManifest m = ResolveVectors(asked, r.column);
  json out = json::object();
  // A source changed since its vectors were made is flagged; it is searched as of the embedded
  // version, or re-embedded first when the request asks for a refresh.
  std::optional<uint64_t> source_head;
  auto stale = [&]() -> bool {
    auto source = m.properties.find("embedding.source_dataset");
    auto embedded = m.properties.find("embedding.source_version");
    if (source == m.properties.end() || embedded == m.properties.end()) return false;
    try {
      source_head = catalog_.Head(source->second).version;
    } catch (const Error& e) {
      if (e.code() != ErrorCode::kNotFound) throw;
      source_head.reset();
      return true;  // the source was deleted
    }
    return std::to_string(*source_head) != embedded->second;
  };
  if (stale() && r.refresh && source_head) {
    EmbedColumnRequest again;
    again.dataset = m.properties["embedding.source_dataset"];
    again.column = m.properties["embedding.source_column"];
    again.model = m.properties[kModel];
    again.target = m.dataset;
    if (m.properties.contains(kKeyColumn)) again.key = m.properties[kKeyColumn];
    RunEmbedding(again);
    m = catalog_.Head(m.dataset);
    out["refreshed"] = true;
  }
  const std::string dataset = m.dataset;
  const std::string model = m.properties[kModel];
  const bool has_key = m.properties.contains(kKeyColumn);
  int dim = 0;
  try {
    dim = std::stoi(m.properties[kDim]);
  } catch (const std::exception&) {
    Fail(ErrorCode::kConflict, "vectors dataset {} records no valid {} (\"{}\")", dataset, kDim, m.properties[kDim]);
  }
  // The version's index (table, BM25, HNSW), unless the extensions are missing or the vectors do
  // not fit search's memory: then vector search is brute force through queryd, and text search
  // asked for explicitly is a 503 saying why (the default, hybrid, runs the vector stage alone).
  std::shared_ptr<const Index> index;
  std::string no_index = indexes_.unavailable_reason();
  if (indexes_.available()) {
    try {
      index = IndexOf(m, dim);
    } catch (const IndexDoesNotFit& e) {
      no_index = e.what();
    }
  }
  require_text_index(index != nullptr, no_index);
  const bool want_text = mode != "vector" && index != nullptr;
  aibridge::Embeddings q;
  if (want_vector) {
    q = ai_.Embed({r.query}, model);  // always the model the vectors were made with
    if (q.model != model || q.dim != dim) {
      Fail(ErrorCode::kConflict,
           "the query was embedded by {} ({} values) but dataset {} holds vectors of {} ({} values): vectors of "
           "different models are never compared",
           q.model, q.dim, dataset, model, dim);
    }
  }
  json stages = json::array();
  const int candidates = r.rerank ? std::min(std::max(r.k * 4, 20), 200) : r.k;
  json results = json::array();
  if (!index) {
    // Without the index extensions, or vectors too large for search's memory: brute force through queryd.
    results = VectorViaQuery(dataset, has_key, dim, q.Row(0), candidates);
    stages.push_back("vector");
    out["index"] = {{"kind", "none"}, {"reason", no_index}};
  } else {
    // "hnsw": the HNSW index answered; "brute_force": an exact scan of the vectors (a small
    // dataset, or a large one whose HNSW index is still being built: "hnsw" says so).
    const Index::HnswState hnsw = index->hnsw_state();
    out["index"] = {{"kind", hnsw == Index::HnswState::kReady ? "hnsw" : "brute_force"}, {"rows", index->rows()}};
    if (hnsw == Index::HnswState::kBuilding) out["index"]["hnsw"] = "building";
    if (hnsw == Index::HnswState::kFailed) {
      out["index"]["hnsw"] = "failed";
      out["index"]["hnsw_error"] = index->hnsw_error();
    }
    const int depth = mode == "hybrid" ? std::min(std::max(2 * candidates, 50), 1000) : candidates;
    json vector_hits, text_hits;
    if (want_vector) {
      vector_hits = index->Vector(q.Row(0), depth);
      stages.push_back("vector");
    }
    if (want_text) {
      text_hits = index->Text(r.query, depth);
      stages.push_back("text");
    }
    if (mode == "hybrid") {
      results = fusion == "rrf" ? FuseRanks(vector_hits, text_hits, candidates)
                                : Fuse(vector_hits, text_hits, index->TextScoreBound(r.query), candidates);
      stages.push_back("fusion");
      out["fusion"] = fusion;
    } else {
      results = want_vector ? std::move(vector_hits) : std::move(text_hits);
      for (auto& x : results) x["scores"] = {{want_vector ? "vector" : "text", x["score"]}};
    }
  }
  out.update(json{{"dataset", dataset},
                  {"model", model},
                  {"dim", dim},
                  {"query", r.query},
                  {"mode", want_text ? mode : "vector"},
                  {"reranked", false}});
  auto source = m.properties.find("embedding.source_dataset");
  auto embedded = m.properties.find("embedding.source_version");
  const bool from_source = source != m.properties.end() && embedded != m.properties.end();
  if (from_source) {
    out["source_dataset"] = source->second;
    out["embedded_version"] = std::stoull(embedded->second);
    out["stale"] = stale();
    if (source_head) out["source_version"] = *source_head;
  }
  if (r.rerank && !results.empty()) {
    json docs = json::array();
    for (const auto& x : results) docs.push_back(x["text"].is_string() ? x["text"].get<std::string>() : "");
    json rr = ai_.Rerank({{"query", r.query}, {"documents", docs}, {"top_n", r.k}});
    json reranked = json::array();
    for (const auto& x : rr["results"]) {
      json row = results.at(x["index"].get<size_t>());
      row["rerank_score"] = x["score"];
      row["scores"]["rerank"] = x["score"];
      row["score"] = x["score"];
      reranked.push_back(std::move(row));
    }
    results = std::move(reranked);
    out["reranked"] = true;
    out["rerank_method"] = rr.value("method", "");
    stages.push_back("rerank");
  }
  if (results.size() > static_cast<size_t>(r.k)) results.erase(results.begin() + r.k, results.end());
  if (from_source && !results.empty()) {
    JoinSourceRows(source->second, std::stoull(embedded->second), r.columns, results);
  } else {
    LH_USER_CHECK(r.columns.empty(), "dataset {} records no source dataset: there are no source \"columns\" to return",
                  dataset);
  }
  out["stages"] = std::move(stages);
  out["results"] = std::move(results);
  return out;
}

//! The `n` vectors most similar to `query`, brute force through queryd (no index extensions).
json SearchServiceImpl::VectorViaQuery(const std::string& dataset, bool has_key, int dim, std::span<const float> query,
                                       int n) {
  std::string vec = "[";
  for (size_t i = 0; i < query.size(); ++i) fmt::format_to(std::back_inserter(vec), "{}{}", i ? "," : "", query[i]);
  vec += "]";
  queryd::QueryRequest sql;
  sql.sql = fmt::format(
      "SELECT row, {}text, array_cosine_similarity(CAST(embedding AS FLOAT[{}]), {}::FLOAT[{}]) AS score FROM {} "
      "ORDER BY score DESC, row LIMIT {}",
      has_key ? "key, " : "", dim, vec, dim, SqlIdentifier(dataset), n);
  sql.format = queryd::ResultFormat::kArrow;
  json results = json::array();
  ArrowRowSink sink([&](const RowBatch& batch) {
    for (int64_t i = 0; i < batch.rows; ++i) {
      json row = json::object();
      for (const ColumnView& c : batch.columns) row[c.name()] = ValueJson(c, i);
      row["scores"] = {{"vector", row["score"]}};
      results.push_back(std::move(row));
    }
  });
  query_.Execute(sql, sink);
  sink.Finish();
  return results;
}

//! The index of the vectors' current version: built on first use from the vectors read through
//! queryd as typed values (each vector's components as FLOAT columns: no text round trip).
std::shared_ptr<const Index> SearchServiceImpl::IndexOf(const DatasetManifest& vectors, int dim) {
  KeyType key_type = KeyType::kNone;
  for (const auto& c : vectors.schema) {
    if (c.name == "key") key_type = KeyTypeOf(c.type);
  }
  return indexes_.Get(vectors.dataset, vectors.version, key_type, dim, [&](VectorWriter& writer) {
    std::string components;
    for (int i = 1; i <= dim; ++i) fmt::format_to(std::back_inserter(components), ", embedding[{}]", i);
    queryd::QueryRequest q;
    q.sql = fmt::format("SELECT row, {}text{} FROM {}",
                        key_type == KeyType::kNone  ? ""
                        : key_type == KeyType::kInt ? "CAST(key AS BIGINT), "
                                                    : "CAST(key AS VARCHAR), ",
                        components, SourceVersionSql(vectors.dataset, vectors.version));
    q.format = queryd::ResultFormat::kArrow;
    q.timeout_ms = options_.query_timeout_ms;
    std::vector<float> v(static_cast<size_t>(dim));
    const size_t first = key_type == KeyType::kNone ? 2 : 3;
    ArrowRowSink sink([&](const RowBatch& batch) {
      for (int64_t i = 0; i < batch.rows; ++i) {
        KeyValue key;
        if (key_type != KeyType::kNone && !batch.columns[1].IsNull(i)) {
          key.is_null = false;
          if (key_type == KeyType::kInt) key.i = batch.columns[1].Int(i);
          if (key_type == KeyType::kString) key.s = batch.columns[1].Str(i);
        }
        for (size_t d = 0; d < v.size(); ++d) v[d] = static_cast<float>(batch.columns[first + d].Double(i));
        const ColumnView& text = batch.columns[first - 1];
        writer.Add(batch.columns[0].Int(i), key_type == KeyType::kNone ? nullptr : &key,
                   text.IsNull(i) ? std::string_view() : text.Str(i), v);
      }
    });
    query_.Execute(q, sink);
    sink.Finish();
  });
}

//! Hybrid fusion: a convex combination of the two stages' scores on scales fixed by theory, not
//! by the query's hits (ADR 0023): score = 0.9 * cosine + 0.1 * min(1, bm25 / text_bound), where
//! `text_bound` is the best BM25 score any row could get for the query (Index::TextScoreBound), so
//! the text part is the share of the query's weight a row matches. A row only the text ranking
//! holds counts the vector ranking's lowest similarity (the most it can have); one only the vector
//! ranking holds matched no query term (text part 0). Reciprocal rank fusion was measured worse on
//! the quality set (bench/search_quality.sh): it gives a weak BM25 ranking (paraphrased questions
//! share few rare words with their answers) as much say as the vector ranking, and rows ranked
//! middling by both outrank either stage's best. The best `n`, each with its stages' own scores.
json Fuse(const json& vector_hits, const json& text_hits, double text_bound, int n) {
  constexpr double kVectorWeight = 0.9;  // chosen on the set's dev questions from 0.5, 0.6, ..., 0.9
  std::map<int64_t, json> rows;
  double lowest_vector = 0;
  for (const json& hit : vector_hits) {
    const double score = hit["score"].get<double>();
    lowest_vector = rows.empty() ? score : std::min(lowest_vector, score);
    json& row = rows[hit["row"].get<int64_t>()];
    row = hit;
    row["scores"] = {{"vector", score}};
  }
  for (const json& hit : text_hits) {
    json& row = rows[hit["row"].get<int64_t>()];
    if (row.is_null()) {
      row = hit;
      row["scores"] = json::object();
    }
    row["scores"]["text"] = hit["score"];
  }
  std::vector<json> fused;
  fused.reserve(rows.size());
  for (auto& [row, x] : rows) {
    const json& scores = x["scores"];
    const double vector = scores.contains("vector") ? scores["vector"].get<double>() : lowest_vector;
    const double text =
        scores.contains("text") && text_bound > 0 ? std::min(1.0, scores["text"].get<double>() / text_bound) : 0.0;
    const double score = kVectorWeight * vector + (1 - kVectorWeight) * text;
    x["score"] = score;
    x["scores"]["fusion"] = score;
    fused.push_back(std::move(x));
  }
  // Best first; equal scores by row, so the order never depends on the map's or a sort's whims.
  std::stable_sort(fused.begin(), fused.end(),
                   [](const json& a, const json& b) { return a["score"].get<double>() > b["score"].get<double>(); });
  if (fused.size() > static_cast<size_t>(n)) fused.resize(static_cast<size_t>(n));
  return json(fused);
}

//! Reciprocal rank fusion of the two rankings (`"fusion": "rrf"`, k = 60): each row scores the sum
//! of 1 / (60 + rank) over the rankings it is in; the best `n`, with each ranking's own score kept.
//! Blind to the scores, it gives a weak ranking as much say as a strong one (ADR 0023).
json FuseRanks(const json& vector_hits, const json& text_hits, int n) {
  constexpr double kRrf = 60;
  std::map<int64_t, json> rows;
  auto add = [&](const json& hits, const char* stage) {
    for (size_t rank = 0; rank < hits.size(); ++rank) {
      const json& hit = hits[rank];
      json& row = rows[hit["row"].get<int64_t>()];
      if (row.is_null()) {
        row = hit;
        row["scores"] = json::object();
        row["score"] = 0.0;
      }
      row["scores"][stage] = hit["score"];
      row["score"] = row["score"].get<double>() + 1.0 / (kRrf + static_cast<double>(rank + 1));
    }
  };
  add(vector_hits, "vector");
  add(text_hits, "text");
  std::vector<json> fused;
  fused.reserve(rows.size());
  for (auto& [row, x] : rows) {
    x["scores"]["fusion"] = x["score"];
    fused.push_back(std::move(x));
  }
  std::stable_sort(fused.begin(), fused.end(),
                   [](const json& a, const json& b) { return a["score"].get<double>() > b["score"].get<double>(); });
  if (fused.size() > static_cast<size_t>(n)) fused.resize(static_cast<size_t>(n));
  return json(fused);
}

//! Adds each result's source row ("values": all columns, or `columns`) from the embedded version
//! of the source, matched by the row's position in it (the vectors' `row`).
void SearchServiceImpl::JoinSourceRows(const std::string& source, uint64_t version,
                                       const std::vector<std::string>& columns, json& results) {
  DatasetManifest m;
  try {
    m = catalog_.Get(source, version);
  } catch (const Error& e) {
    if (e.code() != ErrorCode::kNotFound) throw;
    LH_USER_CHECK(columns.empty(), "version {} of the source dataset {} is gone: its columns cannot be returned",
                  version, source);
    return;  // the source version is gone: the results keep the embedded text only
  }
  if (m.tombstone) return;
  std::vector<std::string> names;
  for (const auto& c : m.schema) names.push_back(c.name);
  std::string select;
  for (const auto& c : columns) {
    LH_USER_CHECK(std::find(names.begin(), names.end(), c) != names.end(),
                  "dataset {} (version {}) has no column \"{}\" (columns: {})", source, version, c,
                  fmt::join(names, ", "));
    select += ", " + SqlIdentifier(c);
  }
  if (columns.empty()) select = ", *";
  std::string wanted;
  for (const auto& x : results) {
    if (x["row"].is_number_integer())
      fmt::format_to(std::back_inserter(wanted), "{}{}", wanted.empty() ? "" : ",", x["row"].get<int64_t>());
  }
  if (wanted.empty()) return;
  queryd::QueryRequest q;
  q.sql = fmt::format("SELECT * FROM (SELECT {} AS __lh_row{} FROM {}) WHERE __lh_row IN ({})", kRowPosition, select,
                      SourceVersionSql(source, version), wanted);
  q.format = queryd::ResultFormat::kNdjson;
  q.timeout_ms = options_.query_timeout_ms;
  StringResultSink sink;
  query_.Execute(q, sink);
  std::map<int64_t, json> rows;
  size_t pos = 0;
  while (pos < sink.body.size()) {
    size_t nl = sink.body.find('\n', pos);
    if (nl == std::string::npos) nl = sink.body.size();
    if (nl > pos) {
      json row = json::parse(std::string_view(sink.body).substr(pos, nl - pos));
      const int64_t at = row["__lh_row"].get<int64_t>();
      row.erase("__lh_row");
      rows[at] = std::move(row);
    }
    pos = nl + 1;
  }
  for (auto& x : results) {
    auto it = x["row"].is_number_integer() ? rows.find(x["row"].get<int64_t>()) : rows.end();
    if (it != rows.end()) x["values"] = it->second;
  }
}

}  // namespace

std::unique_ptr<SearchService> MakeSearchService(catalogd::Catalog& catalog, ingest::Ingestor& ingest,
                                                 queryd::QueryEngine& query, aibridge::AiBridge& ai,
                                                 storaged::ObjectStore& store, const SearchOptions& options) {
  auto service = std::make_unique<SearchServiceImpl>(catalog, ingest, query, ai, store, options);
  service->ResumeJobs();
  return service;
}

}  // namespace lakehouse::search
