// Execution (see execution.h). A query runs in four steps: check the request, parse and sandbox
// the statement, run it to its first result (polling the client meanwhile), then stream the
// result through the encoder.
#include "execution.h"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <condition_variable>
#include <exception>
#include <fstream>
#include <limits>
#include <optional>
#include <thread>

#include "duckdb/common/arrow/arrow_appender.hpp"
#include "duckdb/common/arrow/arrow_converter.hpp"
#include "duckdb/common/arrow/arrow_type_extension.hpp"
#include "duckdb/common/vector_operations/vector_operations.hpp"
#include "duckdb/function/table/arrow/arrow_duck_schema.hpp"
#include "duckdb/main/client_context_state.hpp"
#include "duckdb/main/config.hpp"
#include "duckdb/main/stream_query_result.hpp"
#include "duckdb/storage/buffer_manager.hpp"
#include "encoders.h"
#include "lakehouse/shared/error.h"
#include "lakehouse/shared/telemetry.h"
#include "output.h"
#include "parquet_export.h"
#include "pipeline.h"
#include "query_limits.h"
#include "resolver.h"
#include "sandbox.h"

namespace lakehouse::queryd {
namespace {

using Clock = std::chrono::steady_clock;
constexpr duckdb::idx_t kArrowBatchRows = duckdb::idx_t{64} * 1024;
//! Text formats: batches of this many rows, each encoded whole (on the pipeline's threads after
//! the first batch; pipeline.h).
constexpr duckdb::idx_t kTextBatchRows = duckdb::idx_t{16} * 1024;
constexpr auto kPollInterval = std::chrono::milliseconds(20);  //!< client gone? spilled too much?

//! Types the Arrow export does not carry faithfully (or at all) are sent as their text.
bool NeedsTextCast(const duckdb::LogicalType& type) {
  using duckdb::LogicalTypeId;
  switch (type.id()) {
    case LogicalTypeId::ENUM:
    case LogicalTypeId::UNION:
    case LogicalTypeId::UHUGEINT:
    case LogicalTypeId::BIT:
    case LogicalTypeId::BIGNUM:
    case LogicalTypeId::TIME_TZ:
    case LogicalTypeId::UUID:
    case LogicalTypeId::VARIANT:
      return true;
    case LogicalTypeId::LIST:
      return NeedsTextCast(duckdb::ListType::GetChildType(type));
    case LogicalTypeId::ARRAY:
      return NeedsTextCast(duckdb::ArrayType::GetChildType(type));
    case LogicalTypeId::MAP:
      return NeedsTextCast(duckdb::MapType::KeyType(type)) || NeedsTextCast(duckdb::MapType::ValueType(type));
    case LogicalTypeId::STRUCT:
      for (auto& child : duckdb::StructType::GetChildTypes(type)) {
        if (NeedsTextCast(child.second)) return true;
      }
      return false;
    default:
      return false;
  }
}

//! Holds an exported Arrow struct until it is released.
struct ArrowHolder {
  ArrowSchema schema{};
  ArrowArray array{};
  ~ArrowHolder() {
    if (schema.release) schema.release(&schema);
    if (array.release) array.release(&array);
  }
};

//! Whether DuckDB's Arrow conversion of `type` (or of a type inside it) calls a registered Arrow
//! extension's conversion function, which is given the query's ClientContext: such results are
//! converted on the query thread. (BOOLEAN's `arrow.bool8` applies only with lossless conversion.)
bool ConvertsWithContext(const duckdb::DBConfig& config, const duckdb::LogicalType& type, bool lossless) {
  using duckdb::LogicalTypeId;
  switch (type.id()) {
    case LogicalTypeId::LIST:
      return ConvertsWithContext(config, duckdb::ListType::GetChildType(type), lossless);
    case LogicalTypeId::ARRAY:
      return ConvertsWithContext(config, duckdb::ArrayType::GetChildType(type), lossless);
    case LogicalTypeId::MAP:
      return ConvertsWithContext(config, duckdb::MapType::KeyType(type), lossless) ||
             ConvertsWithContext(config, duckdb::MapType::ValueType(type), lossless);
    case LogicalTypeId::STRUCT:
      for (auto& child : duckdb::StructType::GetChildTypes(type)) {
        if (ConvertsWithContext(config, child.second, lossless)) return true;
      }
      return false;
    case LogicalTypeId::BOOLEAN:
      if (!lossless) return false;
      [[fallthrough]];
    default: {
      if (!config.HasArrowExtension(type)) return false;
      const auto data = config.GetArrowExtension(type).GetTypeExtension();
      return data && data->duckdb_to_arrow != nullptr;
    }
  }
}

//! Fetched chunks of a streaming result, converted to one Arrow batch on a pipeline thread
//! (ADR 0012, sixth session): the query thread only fetches. A streaming result's chunks are
//! DuckDB's own copies (its buffered collector copies every chunk, strings included), so they
//! stay valid after the next Fetch and may move to another thread.
class ChunkBatch final : public BatchSource {
 public:
  ChunkBatch(duckdb::vector<duckdb::unique_ptr<duckdb::DataChunk>> chunks, duckdb::idx_t rows,
             const duckdb::vector<duckdb::LogicalType>& types, const duckdb::ClientProperties& properties)
      : chunks_(std::move(chunks)), rows_(rows), types_(types), properties_(properties) {}

  void Make(ArrowArray& batch) override {
    duckdb::ArrowAppender appender(types_, rows_, properties_, {});
    for (auto& chunk : chunks_) {
      appender.Append(*chunk, 0, chunk->size(), chunk->size());
      chunk.reset();  // freed as soon as it is converted
    }
    batch = appender.Finalize();
  }

 private:
  duckdb::vector<duckdb::unique_ptr<duckdb::DataChunk>> chunks_;
  duckdb::idx_t rows_;
  const duckdb::vector<duckdb::LogicalType>& types_;  //!< the run's; it outlives the pipeline
  const duckdb::ClientProperties& properties_;        //!< likewise
};

//! Wakes a query's thread when a task of its connection ends (ADR 0012, fifth session). DuckDB
//! calls OnTaskStart/OnTaskStop around every task it runs for the connection, on whichever thread
//! runs it (the engine's workers or the query's own). A query thread that waits for the workers -
//! for its result to be ready, for the next chunk, for the workers to let go of its tasks before
//! DuckDB's clean-up - waits here instead of sleeping for fixed times: it wakes as soon as the
//! state it waits for may have changed, and the timeout keeps the old polling as a fallback.
class TaskSignal final : public duckdb::ClientContextState {
 public:
  static constexpr const char* kKey = "lakehouse_task_signal";

  void OnTaskStart(duckdb::ClientContext&) override { running_.fetch_add(1); }
  void OnTaskStop(duckdb::ClientContext&) override {
    running_.fetch_sub(1);
    stops_.fetch_add(1);
    if (waiters_.load() > 0) {
      { const std::lock_guard lock(mu_); }  // a waiter is either before its check or waiting
      cv_.notify_all();
    }
  }

  //! Tasks ended so far: take it before checking the state, then Wait(seen, ...) after.
  uint64_t stops() const { return stops_.load(); }
  //! Tasks of this connection being run right now.
  int64_t running() const { return running_.load(); }
  //! Returns when a task ended after `seen` was taken, or after `timeout`.
  void Wait(uint64_t seen, std::chrono::microseconds timeout) {
    std::unique_lock lock(mu_);
    waiters_.fetch_add(1);
    cv_.wait_for(lock, timeout, [&] { return stops_.load() != seen; });
    waiters_.fetch_sub(1);
  }

 private:
  std::atomic<int64_t> running_{0};
  std::atomic<uint64_t> stops_{0};
  std::atomic<int> waiters_{0};
  std::mutex mu_;
  std::condition_variable cv_;
};

//! Whether `sql` may call setseed() (any spelling of the name).
bool MentionsSetseed(std::string_view sql) {
  constexpr std::string_view kName = "setseed";
  const auto it = std::search(sql.begin(), sql.end(), kName.begin(), kName.end(),
                              [](char a, char b) { return std::tolower(static_cast<unsigned char>(a)) == b; });
  return it != sql.end();
}

[[noreturn]] void FailClientGone() { Fail(ErrorCode::kCancelled, "the client disconnected; the query was cancelled"); }

class QueryRun {
 public:
  QueryRun(const ExecutionContext& context, const QueryRequest& request, ResultSink& sink)
      : span_("queryd.execute"),
        ctx_(context),
        request_(request),
        sink_(sink),
        started_(Clock::now()),
        owned_con_(context.connections.Take()),
        con_(*owned_con_),
        signal_(con_.context->registered_state->GetOrCreate<TaskSignal>(TaskSignal::kKey)),
        plans_(PlanCache::Of(*con_.context, context.connections.plan_counters())),
        out_(sink) {
    con_.context->config.streaming_buffer_size = context.config.streaming_buffer_bytes;  // ADR 0012
    DatasetAccess::Install(*con_.context, request.may_read, request.principal);
  }

  ~QueryRun() {
    // The connection goes back to the pool only after a clean end, with its result closed, and
    // not after setseed(), which seeds random() on the connection for later queries (another
    // caller's random() must not be predictable).
    result_.reset();
    if (reusable_ && !MentionsSetseed(request_.sql)) {
      plans_.Finished();  // the run's operator states (hash tables, sort runs) are freed now
      ctx_.connections.Give(std::move(owned_con_));
    } else {
      ConnectionPool::Close(std::move(owned_con_));
    }
  }
  QueryRun(const QueryRun&) = delete;
  QueryRun& operator=(const QueryRun&) = delete;

  QueryStats Run() {
    const telemetry::metrics::ActiveQuery active;
    try {
      QueryStats stats = RunSteps();
      reusable_ = true;
      span_.Set("db.response.returned_rows", stats.rows);
      span_.Set("query.result_bytes", stats.bytes);
      span_.Set("query.bytes_scanned", stats.bytes_scanned);
      span_.Set("query.objects_scanned", stats.objects_scanned);
      telemetry::metrics::Query(true, static_cast<double>(stats.elapsed_ms) / 1000, stats.rows, stats.bytes_scanned);
      return stats;
    } catch (const std::exception& e) {
      span_.SetError(e.what());
      telemetry::metrics::Query(false, std::chrono::duration<double>(Clock::now() - started_).count(), 0, 0);
      throw;
    }
  }

 private:
  QueryStats RunSteps() {
    timeout_ms_ = CheckRequest();
    // The same SQL ran on this connection before: its plan, unless what it read changed since.
    const PlanCache::Plan* plan = nullptr;
    if (request_.format != ResultFormat::kParquet) plan = plans_.Find(request_.sql, request_.may_read);
    span_.Set("query.plan_cached", plan != nullptr);
    duckdb::unique_ptr<duckdb::SQLStatement> statement;
    if (plan == nullptr) statement = ParseStatement();
    std::optional<ExportFile> parquet;
    if (request_.format == ResultFormat::kParquet) {
      parquet.emplace(ctx_.config);
      statement = WrapInParquetCopy(std::move(statement), parquet->url(), request_.limit);
    }
    ResolutionErrorScope resolution(resolution_error_);
    DeadlineWatchdog::Scope deadline(ctx_.watchdog, started_ + std::chrono::milliseconds(timeout_ms_), [this] {
      timed_out_.store(true);
      con_.context->Interrupt();
    });
    spill_seen_ = duckdb::BufferManager::GetBufferManager(*ctx_.db.instance).GetUsedSwap();
    Guarded([&] { StartResult(plan, std::move(statement)); });
    if (parquet) {
      Guarded([&] { SendParquet(*parquet); });
      return Finish();
    }
    DescribeResult();
    Guarded([&] { StreamResult(); });
    return Finish();
  }

 private:
  //! Step 1: the request itself; returns its timeout.
  int64_t CheckRequest() const {
    if (request_.sql.find_first_not_of(" \t\r\n;") == std::string::npos) {
      Fail(ErrorCode::kInvalidArgument, "sql is empty: send one read-only statement, e.g. SELECT * FROM <dataset>");
    }
    const int64_t timeout_ms = request_.timeout_ms.value_or(ctx_.config.default_timeout_ms);
    LH_USER_CHECK(timeout_ms > 0, "timeout_ms must be positive, got {}", timeout_ms);
    LH_USER_CHECK(timeout_ms <= ctx_.config.max_timeout_ms,
                  "timeout_ms {} exceeds the maximum of {} ms (query.max_timeout_ms, which the operator may raise)",
                  timeout_ms, ctx_.config.max_timeout_ms);
    return timeout_ms;
  }

  //! Step 2: exactly one statement, and one that only reads.
  duckdb::unique_ptr<duckdb::SQLStatement> ParseStatement() {
    duckdb::vector<duckdb::unique_ptr<duckdb::SQLStatement>> statements;
    CheckSqlText(request_.sql);
    try {
      statements = con_.ExtractStatements(request_.sql);
    } catch (const std::exception& e) {
      duckdb::ErrorData error(e);
      throw Error(ErrorCode::kInvalidArgument, error.Message());
    }
    LH_USER_CHECK(statements.size() == 1, "send exactly one statement per query, got {}", statements.size());
    CheckReadOnly(*statements[0], request_.sql);
    CheckQueryShape(*statements[0]);
    return std::move(statements[0]);
  }

  //! Step 3: runs the cached plan or the statement until its result can be fetched,
  //! interrupting it when the client goes away meanwhile.
  void StartResult(const PlanCache::Plan* plan, duckdb::unique_ptr<duckdb::SQLStatement> statement) {
    duckdb::unique_ptr<duckdb::PendingQueryResult> pending;
    if (plan != nullptr) {
      pending = plans_.Start(*con_.context, *plan);
    } else if (request_.format != ResultFormat::kParquet && PlanCache::MayPrepare(*statement)) {
      pending = plans_.Start(*con_.context, request_.sql, std::move(statement));  // and cached when it may be
    } else {
      pending = con_.context->PendingQuery(std::move(statement), true);
    }
    if (pending->HasError()) FailWith(pending->GetErrorObject());
    auto last_poll = Clock::now();
    while (true) {
      const uint64_t seen = signal_->stops();
      // A background query leaves its tasks to the engine's workers and only watches them.
      const auto st = request_.background ? pending->CheckPulse() : pending->ExecuteTask();
      if (duckdb::PendingQueryResult::IsResultReady(st) || st == duckdb::PendingExecutionResult::EXECUTION_ERROR) break;
      const auto now = Clock::now();
      if (now - last_poll > kPollInterval) {
        last_poll = now;
        if (sink_.ClientGone()) {
          client_gone_ = true;
          con_.Interrupt();
        }
        CheckSpill();
      }
      // Until a task ends (a query answered from metadata is ready ~100 us after its tasks
      // started; a fixed 1 ms sleep, then a 20 us ladder, was most of its time).
      if (request_.background) {
        signal_->Wait(seen, std::chrono::milliseconds(1));
      } else if (st == duckdb::PendingExecutionResult::BLOCKED ||
                 st == duckdb::PendingExecutionResult::NO_TASKS_AVAILABLE) {
        signal_->Wait(seen, std::chrono::microseconds(200));
      }
    }
    if (pending->HasError()) FailWith(pending->GetErrorObject());
    result_ = pending->Execute();
    if (result_->HasError()) FailWith(result_->GetErrorObject());
  }

  //! Column metadata: names and DuckDB type names for the header; the exported types cast the few
  //! that Arrow cannot carry faithfully to VARCHAR.
  void DescribeResult() {
    const auto& types = result_->types;
    for (duckdb::idx_t i = 0; i < types.size(); ++i) {
      columns_.push_back({result_->names[i], types[i].ToString()});
      const bool cast = NeedsTextCast(types[i]);
      any_cast_ |= cast;
      export_types_.push_back(cast ? duckdb::LogicalType::VARCHAR : types[i]);
    }
    properties_ = con_.context->GetClientProperties();
    if (any_cast_) cast_chunk_.Initialize(duckdb::Allocator::DefaultAllocator(), export_types_);
    batch_rows_ = request_.format == ResultFormat::kArrow ? kArrowBatchRows : kTextBatchRows;
    // After the first batch, a streaming result's chunks are converted to Arrow on the pipeline's
    // threads (ChunkBatch) - unless a column is cast to text (a cast needs the ClientContext) or
    // converted by an Arrow extension's function (likewise).
    const auto& config = duckdb::DBConfig::GetConfig(*con_.context);
    const bool lossless = properties_.arrow_lossless_conversion;
    convert_off_thread_ = result_->type == duckdb::QueryResultType::STREAM_RESULT && !any_cast_ &&
                          std::none_of(types.begin(), types.end(), [&](const duckdb::LogicalType& t) {
                            return ConvertsWithContext(config, t, lossless);
                          });
  }

  //! Step 4: fetches chunks up to the request's limit and encodes them in batches. A failure stops
  //! the pipeline here: its threads hold chunks and the run's types, and must not outlive the step.
  void StreamResult() {
    try {
      StreamRows();
    } catch (...) {
      pipeline_.reset();  // drops what was not sent, joins its threads
      chunks_.clear();
      throw;
    }
  }

  void StreamRows() {
    const uint64_t limit = request_.limit.value_or(std::numeric_limits<uint64_t>::max());
    auto last_poll = Clock::now();
    while (true) {
      if (const auto now = Clock::now(); now - last_poll > kPollInterval) {
        last_poll = now;
        CheckSpill();
      }
      auto chunk = FetchChunk();
      if (result_->HasError()) FailWith(result_->GetErrorObject());
      if (!encoder_) StartOutput();
      if (!chunk || chunk->size() == 0) break;
      duckdb::idx_t count = chunk->size();
      if (stats_.rows + count > limit) {
        count = static_cast<duckdb::idx_t>(limit - stats_.rows);
        chunk->SetCardinality(count);
        stats_.truncated = true;
      }
      stats_.rows += count;
      if (convert_off_thread_ && batches_ > 0) {
        Collect(std::move(chunk));
      } else {
        Append(ExportChunk(*chunk, count), count);
      }
      if (stats_.truncated || stats_.rows >= limit) {
        // Was the limit exactly the end? Only a further fetch could tell; report a cut when rows remain.
        if (!stats_.truncated) {
          auto next = result_->Fetch();
          stats_.truncated = next && next->size() > 0;
        }
        con_.Interrupt();
        break;
      }
    }
    FlushBatch();
    if (pipeline_) {
      pipeline_->Finish();  // every batch sent (or an encoder's exception rethrown)
      pipeline_.reset();
      if (!out_.ok()) {
        client_gone_ = true;
        FailClientGone();
      }
    }
  }

  //! The next chunk. A streaming result is first waited for without spinning: DuckDB's own Fetch
  //! loops on its buffer's mutexes while the (niced) workers produce the next chunk, taking their
  //! CPU (ADR 0012, fourth session: 25-30% of a 10M-row stream's CPU).
  duckdb::unique_ptr<duckdb::DataChunk> FetchChunk() {
    if (result_->type == duckdb::QueryResultType::STREAM_RESULT) {
      auto& stream = result_->Cast<duckdb::StreamQueryResult>();
      if (stream.context) WaitForChunk(stream);
    }
    return result_->Fetch();
  }

  //! Runs DuckDB's tasks on this thread while there are any (as Fetch does), and waits for a task
  //! to end (TaskSignal) when a call neither ran one nor found a chunk ready (the workers hold
  //! every task, or the result's sinks are blocked behind the chunk being produced). Fetch then
  //! takes the chunk; errors and interrupts are left to it, which reports them as before.
  void WaitForChunk(duckdb::StreamQueryResult& stream) {
    constexpr auto kLongestWait = std::chrono::microseconds(500);
    try {
      while (true) {
        const uint64_t seen = signal_->stops();
        const auto st = stream.ExecuteTask();
        if (st == duckdb::StreamExecutionResult::EXECUTION_FINISHED) {
          AwaitWorkersLetGo();
          return;
        }
        if (duckdb::StreamQueryResult::IsChunkReady(st)) return;
        if (st == duckdb::StreamExecutionResult::BLOCKED) stream.WaitForTask();  // DuckDB's own wait
        signal_->Wait(seen, kLongestWait);                                       // at once when this call ran a task
      }
    } catch (const std::exception&) {
      // An interrupt or error: Fetch meets it again and sets it on the result.
    }
  }

  //! The result is complete; the Fetch that finds it so cleans up, and DuckDB's clean-up spins
  //! (Executor::CancelTasks: `while (executor_tasks > 0) WorkOnTasks();`) until every worker has
  //! let go of the query's tasks - on a busy machine a niced worker preempted right after its last
  //! task kept the query thread spinning for its whole time slice (ADR 0012, fifth session).
  //! Waiting here, asleep, for the workers' tasks to stop leaves them the CPU instead.
  void AwaitWorkersLetGo() {
    constexpr auto kMaxWait = std::chrono::milliseconds(5);  // then Fetch's own loop, as before
    const auto deadline = Clock::now() + kMaxWait;
    while (signal_->running() > 0 && Clock::now() < deadline) {
      signal_->Wait(signal_->stops(), std::chrono::microseconds(200));
    }
  }

  QueryStats Finish() {
    stats_.elapsed_ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started_).count();
    if (auto tracker = ScanTracker::Find(*con_.context)) {
      std::tie(stats_.objects_scanned, stats_.objects_pruned) = tracker->Counts();
      stats_.bytes_scanned = tracker->BytesOpened();
      span_.Set("query.dataset_versions", tracker->Versions());
    }
    if (encoder_) encoder_->Finish(stats_);
    out_.FlushLast();
    stats_.bytes = out_.bytes();
    if (!out_.ok()) FailClientGone();
    return stats_;
  }

  //! format=parquet: the COPY has written the whole file; its one row is the row count.
  void SendParquet(const ExportFile& file) {
    auto count = result_->Fetch();
    if (result_->HasError()) FailWith(result_->GetErrorObject());
    if (count && count->size() > 0) stats_.rows = count->GetValue(0, 0).GetValue<uint64_t>();
    std::ifstream in(file.path(), std::ios::binary);
    if (!in) Fail(ErrorCode::kInternal, "the Parquet result {} was not written", file.path().string());
    sink_.Begin(ContentType(ResultFormat::kParquet));
    std::string buffer(size_t{256} << 10, '\0');
    while (in) {
      in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
      const auto n = static_cast<size_t>(in.gcount());
      if (n == 0) break;
      out_.Append(std::string_view(buffer.data(), n));
      if (!out_.ok()) {
        client_gone_ = true;
        FailClientGone();
      }
    }
  }

  void StartOutput() {
    sink_.Begin(ContentType(request_.format));
    encoder_ = MakeEncoder(request_.format, out_);
    ArrowHolder holder;
    duckdb::ArrowConverter::ToArrowSchema(&holder.schema, export_types_, result_->names, properties_);
    encoder_->Start(columns_, holder.schema);
  }

  //! The chunk as exported: itself, or a copy with the text-cast columns cast.
  duckdb::DataChunk& ExportChunk(duckdb::DataChunk& chunk, duckdb::idx_t count) {
    if (!any_cast_) return chunk;
    cast_chunk_.Reset();
    for (duckdb::idx_t c = 0; c < chunk.ColumnCount(); ++c) {
      if (export_types_[c] == chunk.data[c].GetType()) {
        cast_chunk_.data[c].Reference(chunk.data[c]);
      } else {
        duckdb::VectorOperations::Cast(*con_.context, chunk.data[c], cast_chunk_.data[c], count);
      }
    }
    cast_chunk_.SetCardinality(count);
    return cast_chunk_;
  }

  //! Chunks are appended straight into Arrow buffers (one copy) until a batch is full.
  void Append(duckdb::DataChunk& chunk, duckdb::idx_t count) {
    if (!appender_) {
      // The first batch starts small and grows as rows come (a small result allocates little).
      const duckdb::idx_t capacity = batches_ == 0 ? duckdb::idx_t{STANDARD_VECTOR_SIZE} : batch_rows_;
      appender_ = duckdb::make_uniq<duckdb::ArrowAppender>(export_types_, capacity, properties_, no_extensions_);
    }
    appender_->Append(chunk, 0, count, count);
    appended_ += count;
    if (appended_ + STANDARD_VECTOR_SIZE > batch_rows_) FlushBatch();
  }

  //! Later batches of a streaming result: the chunks themselves go to the pipeline, whose threads
  //! convert them to Arrow (ChunkBatch); batches end where Append ends them.
  void Collect(duckdb::unique_ptr<duckdb::DataChunk> chunk) {
    collected_ += chunk->size();
    chunks_.push_back(std::move(chunk));
    if (collected_ + STANDARD_VECTOR_SIZE > batch_rows_) FlushBatch();
  }

  //! The first batch is encoded and sent here; later ones go to the pipeline (pipeline.h), whose
  //! threads (convert,) encode and send while this thread fetches the next ones.
  void FlushBatch() {
    if (!chunks_.empty()) {
      auto source = std::make_unique<ChunkBatch>(std::move(chunks_), collected_, export_types_, properties_);
      chunks_.clear();
      collected_ = 0;
      ++batches_;
      if (!Pipeline().Push(std::move(source))) StopPipeline();
    } else if (appender_ && appended_ > 0) {
      ArrowHolder holder;
      holder.array = appender_->Finalize();
      appender_.reset();
      appended_ = 0;
      if (batches_++ == 0) {
        encoder_->Batch(holder.array);
      } else if (!Pipeline().Push(holder.array)) {
        StopPipeline();
      }
    } else {
      return;
    }
    if (!pipeline_ && !out_.ok()) {
      client_gone_ = true;
      FailClientGone();
    }
  }

  BatchPipeline& Pipeline() {
    if (!pipeline_) {
      const bool text = request_.format != ResultFormat::kArrow;
      // Arrow batches converted on the pipeline (or text encoded there) use several threads;
      // sending is in order either way.
      const int threads = text || convert_off_thread_ ? std::max(1, ctx_.config.threads) : 1;
      pipeline_.emplace(*encoder_, out_, text, threads, true);
    }
    return *pipeline_;
  }

  //! A push was refused: a write failed or a pipeline thread threw.
  void StopPipeline() {
    pipeline_->Finish();  // rethrows a conversion's or an encoder's exception; else the write failed
    pipeline_.reset();
  }

  //! Runs a step, turning DuckDB's exceptions into lakehouse errors.
  template <typename F>
  void Guarded(F&& step) {
    try {
      step();
    } catch (const Error&) {
      throw;
    } catch (const std::exception& e) {
      FailWith(duckdb::ErrorData(e));
    }
  }

  //! limits.max_spill_per_query and limits.max_spill_total (ADR 0010). DuckDB accounts temporary
  //! files per database, not per query: the growth of the database's spill between two polls is
  //! charged in equal parts to the queries running then (exact for a query that spills alone).
  //! Past the per-query cap, or past the total once it has been charged some of it, the query is
  //! interrupted; DuckDB frees its temporary blocks (and deletes emptied files) as it unwinds.
  void CheckSpill() {
    const uint64_t per_query = ctx_.config.max_spill_per_query_bytes;
    const uint64_t total = ctx_.config.max_spill_total_bytes;
    if ((per_query == 0 && total == 0) || spill_limit_ != nullptr) return;
    const uint64_t used = duckdb::BufferManager::GetBufferManager(*ctx_.db.instance).GetUsedSwap();
    if (used > spill_seen_) spill_charged_ += (used - spill_seen_) / std::max<size_t>(1, ctx_.watchdog.active());
    spill_seen_ = used;
    if (per_query != 0 && spill_charged_ > per_query) {
      spill_limit_ = "limits.max_spill_per_query";
      spill_limit_bytes_ = per_query;
    } else if (total != 0 && used > total && spill_charged_ > 0) {
      spill_limit_ = "limits.max_spill_total";
      spill_limit_bytes_ = total;
    } else {
      return;
    }
    con_.Interrupt();
  }

  [[noreturn]] void FailWith(const duckdb::ErrorData& error) {
    QueryOutcome outcome{resolution_error_, timed_out_.load(), client_gone_,
                         timeout_ms_,       spill_limit_,      spill_limit_bytes_};
    ThrowQueryError(error, outcome, ctx_.catalog);
  }

  telemetry::Span span_;  //!< first: covers the whole run
  const ExecutionContext& ctx_;
  const QueryRequest& request_;
  ResultSink& sink_;
  const Clock::time_point started_;
  std::unique_ptr<duckdb::Connection> owned_con_;  //!< from ctx_.connections
  duckdb::Connection& con_;
  bool reusable_ = false;                  //!< the query ended cleanly: its connection can serve another
  duckdb::shared_ptr<TaskSignal> signal_;  //!< the connection's (it stays registered on it)
  PlanCache& plans_;                       //!< the connection's
  int64_t timeout_ms_ = 0;

  std::optional<Error> resolution_error_;
  std::atomic<bool> timed_out_{false};  //!< set by the watchdog thread
  bool client_gone_ = false;
  uint64_t spill_seen_ = 0;            //!< the database's spill at the last poll
  uint64_t spill_charged_ = 0;         //!< this query's share of the spill's growth since it started
  const char* spill_limit_ = nullptr;  //!< the spill limit the query went past, if any
  uint64_t spill_limit_bytes_ = 0;

  duckdb::unique_ptr<duckdb::QueryResult> result_;
  std::vector<ColumnInfo> columns_;
  duckdb::vector<duckdb::LogicalType> export_types_;
  bool any_cast_ = false;
  duckdb::ClientProperties properties_;
  const std::unordered_map<duckdb::idx_t, const duckdb::shared_ptr<duckdb::ArrowTypeExtensionData>> no_extensions_;
  duckdb::DataChunk cast_chunk_;
  duckdb::idx_t batch_rows_ = STANDARD_VECTOR_SIZE;

  Output out_;
  std::unique_ptr<Encoder> encoder_;
  duckdb::unique_ptr<duckdb::ArrowAppender> appender_;
  duckdb::idx_t appended_ = 0;
  bool convert_off_thread_ = false;                               //!< see DescribeResult
  duckdb::vector<duckdb::unique_ptr<duckdb::DataChunk>> chunks_;  //!< fetched for the next ChunkBatch
  duckdb::idx_t collected_ = 0;                                   //!< rows in chunks_
  uint64_t batches_ = 0;
  std::optional<BatchPipeline> pipeline_;  //!< after out_ and encoder_: stopped before they go
  QueryStats stats_;
};

}  // namespace

QueryStats ExecuteQuery(const ExecutionContext& context, const QueryRequest& request, ResultSink& sink) {
  // The run (and with it a connection that cannot be reused) must never be destroyed while an
  // exception unwinds the stack: DuckDB's ~ClientContext then skips its clean-up, so the tasks
  // the query's executor handed to the worker threads are not waited for and run on against a
  // freed executor (a use-after-free that crashed the server when a client left a streaming
  // cross join). Hence the failure is caught, the run destroyed, and then the failure rethrown.
  std::exception_ptr failure;
  {
    QueryRun run(context, request, sink);
    try {
      return run.Run();
    } catch (...) {
      failure = std::current_exception();
    }
  }
  std::rethrow_exception(failure);
}

}  // namespace lakehouse::queryd
