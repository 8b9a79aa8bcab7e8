// The ingest pipeline: spool -> validate / convert with DuckDB -> Put -> Commit.
#include <duckdb.h>
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <regex>
#include <set>
#include <vector>

#include "ingest_internal.h"
#include "lakehouse/ingest/ingest.h"
#include "lakehouse/shared/error.h"
#include "lakehouse/shared/json_depth.h"
#include "lakehouse/shared/logging.h"
#include "lakehouse/shared/memory_budget.h"
#include "lakehouse/shared/sql.h"
#include "lakehouse/shared/telemetry.h"

namespace lakehouse::ingest {

namespace {

constexpr size_t kSpoolChunk = 1 << 20;
constexpr size_t kSniffBytes = 64 << 10;

double Seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

//! A file path deleted when this goes out of scope.
class TempFile {
 public:
  explicit TempFile(std::string path) : path_(std::move(path)) {}
  ~TempFile() { ::unlink(path_.c_str()); }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

//! A directory removed with its contents when this goes out of scope.
class TempDir {
 public:
  explicit TempDir(std::string path) : path_(std::move(path)) {}
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

//! read_parquet's option that reads a file's own columns only: DuckDB otherwise adds (and
//! overrides) columns from hive-style `col=value` directories in the path, which a stored object
//! of a partitioned dataset (or a file being registered) has.
constexpr char kNoHive[] = ", hive_partitioning = false";

//! "a", "b" -> "\"a\", \"b\"" (quoted identifiers for SQL).
std::string QuotedColumns(const std::vector<std::string>& columns) {
  std::string out;
  for (const auto& c : columns) out += (out.empty() ? "" : ", ") + SqlIdentifier(c);
  return out;
}

//! DuckDB's message up to its first blank line (the rest is a long list of hints), with the
//! server's temp file names replaced by "the upload".
std::string ShortMessage(std::string_view message) {
  size_t cut = message.find("\n\n");
  std::string out(message.substr(0, cut));
  static const std::regex kTempFile(R"((["']?)[^"' ]*/ingest-[0-9]+-[0-9a-f]{32}\.(upload|parquet)\1)");
  out = std::regex_replace(out, kTempFile, "the upload");
  if (out.find("Error when sniffing") != std::string::npos) {
    out = out.substr(0, out.find('\n'));
    out += " DuckDB found no consistent CSV dialect: check that every row has as many fields as the header";
  }
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  if (out.size() > 600) out = out.substr(0, 600) + "...";
  return out;
}

class Connection {
 public:
  explicit Connection(duckdb_database db) {
    if (duckdb_connect(db, &con_) != DuckDBSuccess) Fail(ErrorCode::kInternal, "cannot connect to DuckDB");
  }
  ~Connection() { duckdb_disconnect(&con_); }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  //! Runs `sql`; returns the rows as text. A failure is the user's (400, prefixed with `what`)
  //! unless DuckDB reports an internal or resource failure.
  std::vector<std::vector<std::string>> Query(const std::string& sql, std::string_view what) {
    duckdb_result result;
    if (duckdb_query(con_, sql.c_str(), &result) != DuckDBSuccess) {
      std::string message = duckdb_result_error(&result) ? duckdb_result_error(&result) : "unknown DuckDB error";
      duckdb_error_type type = duckdb_result_error_type(&result);
      duckdb_destroy_result(&result);
      if (type == DUCKDB_ERROR_OUT_OF_MEMORY || message.find("No space left") != std::string::npos) {
        Fail(ErrorCode::kUnavailable, "{}: the server ran out of memory or disk: {}", what, ShortMessage(message));
      }
      if (type == DUCKDB_ERROR_INTERNAL || type == DUCKDB_ERROR_FATAL) {
        Fail(ErrorCode::kInternal, "{}: {}", what, ShortMessage(message));
      }
      Fail(ErrorCode::kInvalidArgument, "{}: {}", what, ShortMessage(message));
    }
    std::vector<std::vector<std::string>> rows;
    idx_t n = duckdb_row_count(&result);
    idx_t cols = duckdb_column_count(&result);
    for (idx_t r = 0; r < n; ++r) {
      auto& row = rows.emplace_back();
      for (idx_t c = 0; c < cols; ++c) {
        char* v = duckdb_value_varchar(&result, c, r);
        row.emplace_back(v ? v : "");
        duckdb_free(v);
      }
    }
    duckdb_destroy_result(&result);
    return rows;
  }

 private:
  duckdb_connection con_ = nullptr;
};

struct ParquetInfo {
  Schema schema;
  uint64_t rows = 0;
};

ParquetInfo ReadParquetInfo(Connection& con, const std::string& path, std::string_view what) {
  ParquetInfo info;
  auto rows = con.Query("SELECT num_rows FROM parquet_file_metadata(" + SqlLiteral(path) + ")", what);
  if (rows.size() != 1) Fail(ErrorCode::kInvalidArgument, "{}: no Parquet footer found", what);
  info.rows = std::stoull(rows[0][0]);
  // DESCRIBE: column_name, column_type, null, key, default, extra
  for (const auto& row : con.Query("DESCRIBE SELECT * FROM read_parquet(" + SqlLiteral(path) + kNoHive + ")", what)) {
    info.schema.push_back(ColumnSchema{row.at(0), row.at(1), row.at(2) != "NO"});
  }
  if (info.schema.empty()) Fail(ErrorCode::kInvalidArgument, "{}: the file has no columns", what);
  return info;
}

//! Per-column value/null counts, compressed sizes and min/max from the Parquet footer (no data is
//! read), for the Iceberg data-file stats. Top-level columns of scalar types only; a column whose
//! footer lacks statistics gets none.
std::vector<ColumnStats> ReadColumnStats(Connection& con, const std::string& path, const Schema& schema) {
  std::string sql;
  for (const auto& column : schema) {
    const std::string& t = column.type;
    bool nested =
        t.find('[') != std::string::npos || t.starts_with("STRUCT") || t.starts_with("MAP") || t.starts_with("UNION");
    if (nested) continue;
    if (sql.empty()) {
      sql.append("WITH md AS (SELECT * FROM parquet_metadata(").append(SqlLiteral(path)).append(")) ");
    } else {
      sql.append(" UNION ALL ");
    }
    sql.append("SELECT ").append(SqlLiteral(column.name));
    sql.append(", sum(num_values)::VARCHAR, sum(stats_null_count)::VARCHAR, sum(total_compressed_size)::VARCHAR, ");
    sql.append("min(TRY_CAST(stats_min_value AS ").append(t).append("))::VARCHAR, ");
    sql.append("max(TRY_CAST(stats_max_value AS ").append(t).append("))::VARCHAR, ");
    sql.append("count(*) = count(stats_min_value) AND count(*) = count(stats_max_value) ");
    sql.append("FROM md WHERE path_in_schema = ").append(SqlLiteral(column.name));
  }
  std::vector<ColumnStats> out;
  if (sql.empty()) return out;
  for (const auto& row : con.Query(sql, "reading column statistics")) {
    if (row.at(1).empty() || row.at(2).empty()) continue;  // no chunk or no null counts
    ColumnStats s;
    s.name = row[0];
    s.values = std::stoull(row[1]);
    s.nulls = std::stoull(row[2]);
    s.bytes = row.at(3).empty() ? 0 : std::stoull(row[3]);
    // Bounds only when every row group has them (a missing one could hold a smaller/larger value).
    if (row.at(6) == "true" && !row.at(4).empty()) s.min = row[4];
    if (row.at(6) == "true" && !row.at(5).empty()) s.max = row[5];
    out.push_back(std::move(s));
  }
  return out;
}

//! Reads every page of every column once (one aggregate per column), so a file whose footer is
//! fine but whose pages are damaged (bad compression, bad encoding) is refused at upload instead
//! of failing every later query.
void VerifyParquetPages(Connection& con, const std::string& path) {
  try {
    con.Query("SELECT bit_xor(hash(COLUMNS(*))) FROM read_parquet(" + SqlLiteral(path) + kNoHive + ")",
              "damaged Parquet file");
  } catch (const Error& e) {
    // DuckDB reports some damage as internal errors: for an upload it is the file's fault.
    if (e.code() == ErrorCode::kInternal) throw Error(ErrorCode::kInvalidArgument, e.what());
    throw;
  }
}

//! Refuses JSON text nested deeper than `max_depth` before DuckDB's recursive reader sees it.
void CheckJsonFileDepth(const std::string& path, int max_depth) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) Fail(ErrorCode::kInternal, "cannot open {}: {}", path, std::strerror(errno));
  JsonDepth depth;
  std::vector<char> buf(1 << 16);
  for (;;) {
    ssize_t got = ::read(fd, buf.data(), buf.size());
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) break;
    depth.Feed(std::string_view(buf.data(), static_cast<size_t>(got)));
    if (depth.max_depth() > max_depth) break;
  }
  ::close(fd);
  if (depth.max_depth() > max_depth) {
    Fail(ErrorCode::kInvalidArgument, "the JSON upload nests more than {} levels deep (limits.max_json_depth)",
         max_depth);
  }
}

//! Reads bytes [offset, offset + n) of a file.
std::string ReadAt(const std::string& path, uint64_t offset, size_t n) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) Fail(ErrorCode::kInternal, "cannot open {}: {}", path, std::strerror(errno));
  std::string out(n, '\0');
  ssize_t got = ::pread(fd, out.data(), n, static_cast<off_t>(offset));
  ::close(fd);
  out.resize(got > 0 ? static_cast<size_t>(got) : 0);
  return out;
}

class IngestorImpl final : public Ingestor {
 public:
  IngestorImpl(storaged::ObjectStore& store, catalogd::Catalog& catalog, IngestOptions options)
      : store_(store), catalog_(catalog), options_(std::move(options)) {
    std::filesystem::create_directories(options_.temp_dir);
    RemoveDeadProcessesTempFiles();
    duckdb_config config;
    if (duckdb_create_config(&config) != DuckDBSuccess) Fail(ErrorCode::kInternal, "duckdb_create_config failed");
    // Offline and bounded: never reach for the network, never take all memory or all cores.
    const std::pair<const char*, std::string> settings[] = {
        {"autoinstall_known_extensions", "false"},
        {"autoload_known_extensions", "false"},
        {"memory_limit", DuckDbBytes(SplitDuckDbBudget(options_.memory_limit).ingest_bytes)},
        {"threads", std::to_string(std::max(1, options_.threads))},
        {"temp_directory", (std::filesystem::path(options_.temp_dir) / "duckdb-spill").string()},
    };
    for (const auto& [name, value] : settings) {
      if (duckdb_set_config(config, name, value.c_str()) != DuckDBSuccess) {
        duckdb_destroy_config(&config);
        Fail(ErrorCode::kInvalidArgument, "invalid DuckDB setting {}={}", name, value);
      }
    }
    char* error = nullptr;
    if (duckdb_open_ext(nullptr, &db_, config, &error) != DuckDBSuccess) {
      std::string message = error ? error : "unknown error";
      duckdb_free(error);
      duckdb_destroy_config(&config);
      Fail(ErrorCode::kInternal, "cannot open DuckDB for ingest: {}", message);
    }
    duckdb_destroy_config(&config);
  }

  ~IngestorImpl() override { duckdb_close(&db_); }

  //! Holds one of the `threads` conversion slots for its lifetime (others wait their turn).
  class ConversionSlot {
   public:
    explicit ConversionSlot(IngestorImpl& owner) : owner_(owner) {
      std::unique_lock lock(owner_.slots_mu_);
      owner_.slots_cv_.wait(lock, [&] { return owner_.slots_busy_ < std::max(1, owner_.options_.threads); });
      ++owner_.slots_busy_;
    }
    ~ConversionSlot() {
      {
        std::lock_guard lock(owner_.slots_mu_);
        --owner_.slots_busy_;
      }
      owner_.slots_cv_.notify_one();
    }
    ConversionSlot(const ConversionSlot&) = delete;
    ConversionSlot& operator=(const ConversionSlot&) = delete;

   private:
    IngestorImpl& owner_;
  };

  IngestResult Ingest(const IngestRequest& request, ByteSource& body) override {
    auto started = std::chrono::steady_clock::now();
    telemetry::Span span("ingest.upload");
    span.Set("dataset.name", request.dataset);
    std::optional<telemetry::Span> phase(std::in_place, "ingest.spool");  // one span per phase, in turn
    DatasetId::Parse(request.dataset);
    if (request.op == catalogd::CommitOp::kDelete) {
      Fail(ErrorCode::kInvalidArgument, "ingest cannot delete; use DELETE /api/v1/datasets/{}", request.dataset);
    }
    const std::vector<std::string> partitioning = PreCheck(request);

    IngestResult result;
    const std::string id = std::to_string(::getpid()) + "-" + RandomHexId();
    TempFile upload((std::filesystem::path(options_.temp_dir) / ("ingest-" + id + ".upload")).string());
    std::string head;
    result.bytes_received = Spool(body, upload.path(), head);
    const double spool_s = Seconds(started);
    if (result.bytes_received == 0) {
      Fail(ErrorCode::kInvalidArgument, "empty body: send the file's bytes as the request body");
    }
    result.format = request.format ? *request.format : SniffFormat(head);

    // DuckDB work (verify, convert, read the footer) runs for at most `threads` uploads at once:
    // ingest's share of the memory budget (ADR 0011) holds a few conversions, not one per writer.
    phase.emplace("ingest.convert");
    ConversionSlot slot(*this);
    Connection con(db_);
    ParquetInfo info;
    std::optional<TempFile> converted;
    std::string parquet_path = upload.path();
    if (result.format == Format::kParquet) {
      CheckParquetMagic(upload.path(), head, result.bytes_received);
      info = ReadParquetInfo(con, upload.path(), "invalid Parquet file");
      VerifyParquetPages(con, upload.path());
    } else {
      if (result.format == Format::kJson || result.format == Format::kNdjson) {
        CheckJsonFileDepth(upload.path(), options_.max_json_depth);
      }
      converted.emplace((std::filesystem::path(options_.temp_dir) / ("ingest-" + id + ".parquet")).string());
      Convert(con, result.format, upload.path(), converted->path(), head);
      parquet_path = converted->path();
      info = ReadParquetInfo(con, parquet_path, "converted file");
    }

    const std::vector<std::string> partition_by = catalogd::ResolvePartitionColumns(info.schema, partitioning);
    std::optional<TempDir> parts;
    std::vector<PartFile> files;
    if (partition_by.empty()) {
      files.push_back(PartFile{parquet_path, info.rows, {}});
    } else {
      parts.emplace((std::filesystem::path(options_.temp_dir) / ("ingest-" + id + ".parts")).string());
      files = SplitByPartition(con, parquet_path, parts->path(), partition_by, info.rows);
    }
    const double convert_s = Seconds(started) - spool_s;

    // Stored under fresh keys that no manifest references yet: invisible until the commit. Keys
    // are made first, so a partition value too long for a key fails before anything is written.
    std::vector<std::string> keys;
    keys.reserve(files.size());
    for (const auto& file : files) {
      keys.push_back(partition_by.empty()
                         ? catalogd::NewDataKey(request.dataset)
                         : catalogd::NewPartitionedDataKey(request.dataset, partition_by, file.values));
    }
    phase.emplace("ingest.store");
    uint64_t stored_bytes = 0;
    try {
      for (size_t i = 0; i < files.size(); ++i) {
        FileSource source(files[i].path);
        auto stored = store_.Put(keys[i], source);
        stored_bytes += stored.size;
        DataObject object{ObjectRef{store_.Bucket(), keys[i], stored.size, stored.etag}, files[i].rows,
                          files[i].values};
        object.stats = ReadColumnStats(con, files[i].path, info.schema);
        result.objects.push_back(std::move(object));
      }
    } catch (...) {
      DeleteObjects(result.objects, "an upload whose objects could not all be stored");
      throw;
    }
    if (!result.objects.empty()) result.object = result.objects.front();

    catalogd::CommitRequest commit;
    commit.dataset = request.dataset;
    commit.op = request.op;
    commit.schema = info.schema;
    commit.objects = result.objects;
    commit.allow_schema_change = request.allow_schema_change;
    commit.expected_version = request.expected_version;
    commit.properties = request.properties;
    commit.partition_by = partition_by;
    const double put_s = Seconds(started) - spool_s - convert_s;
    phase.emplace("ingest.commit");
    try {
      result.manifest = catalog_.Commit(commit);
    } catch (const Error& e) {
      // Delete the objects only when the catalog definitely refused the commit. When the outcome
      // is unknown (storage failed mid-commit) a manifest may reference them: CollectGarbage
      // removes them later if none does.
      const bool refused = e.code() == ErrorCode::kConflict || e.code() == ErrorCode::kNotFound ||
                           e.code() == ErrorCode::kInvalidArgument;
      if (refused) {
        DeleteObjects(result.objects, "a refused commit");
      } else {
        log::Warn("ingest: commit failed with an unknown outcome; data objects left for garbage collection",
                  {{"objects", result.objects.size()}, {"error", e.what()}});
      }
      throw;
    }
    phase.reset();
    span.Set("dataset.version", result.manifest->version);
    result.seconds = Seconds(started);
    log::Info("ingest committed", {{"dataset", request.dataset},
                                   {"version", result.manifest->version},
                                   {"format", FormatName(result.format)},
                                   {"bytes_received", result.bytes_received},
                                   {"rows", info.rows},
                                   {"objects", result.objects.size()},
                                   {"object_bytes", stored_bytes},
                                   {"seconds", result.seconds},
                                   {"spool_s", spool_s},
                                   {"convert_s", convert_s},
                                   {"put_s", put_s}});
    return result;
  }

  CompactionResult Compact(const std::string& dataset, const CompactionOptions& options) override {
    auto started = std::chrono::steady_clock::now();
    DatasetId::Parse(dataset);
    const uint64_t target = std::max<uint64_t>(1, options.target_bytes);
    CompactionResult result;
    const DatasetManifest head = catalog_.Head(dataset);
    result.manifest = head;
    result.objects_before = result.objects_after = head.objects.size();
    // Small objects by partition, in manifest order, packed greedily into bins of about `target`
    // bytes; a bin of one object would rewrite nothing.
    std::map<PartitionValues, std::vector<const DataObject*>> small;
    for (const auto& o : head.objects) {
      if (o.ref.size < target) small[o.partition_values].push_back(&o);
    }
    std::vector<std::vector<const DataObject*>> bins;
    for (const auto& [values, objects] : small) {
      std::vector<const DataObject*> bin;
      uint64_t bytes = 0;
      for (const auto* o : objects) {
        bin.push_back(o);
        bytes += o->ref.size;
        if (bytes >= target) {
          if (bin.size() > 1) bins.push_back(std::move(bin));
          bin.clear();
          bytes = 0;
        }
      }
      if (bin.size() > 1) bins.push_back(std::move(bin));
    }
    if (bins.empty()) return result;

    ConversionSlot slot(*this);
    Connection con(db_);
    const std::string id = std::to_string(::getpid()) + "-" + RandomHexId();
    TempDir dir((std::filesystem::path(options_.temp_dir) / ("ingest-" + id + ".compact")).string());
    std::filesystem::create_directories(dir.path());
    std::string columns;
    for (const auto& c : head.schema) columns += (columns.empty() ? "" : ", ") + SqlIdentifier(c.name);
    catalogd::CommitRequest commit;
    commit.dataset = dataset;
    commit.op = catalogd::CommitOp::kCompact;
    commit.schema = head.schema;
    commit.partition_by = head.partition_by;
    try {
      for (size_t b = 0; b < bins.size(); ++b) {
        std::string list;
        uint64_t rows = 0;
        for (const auto* o : bins[b]) {
          list += (list.empty() ? "" : ", ") + SqlLiteral(LocalCopy(o->ref.key, dir.path()));
          rows += o->row_count;
          commit.remove_objects.push_back(o->ref.key);
          result.bytes_rewritten += o->ref.size;
        }
        const std::string out = (std::filesystem::path(dir.path()) / fmt::format("out-{}.parquet", b)).string();
        con.Query(fmt::format("COPY (SELECT {} FROM read_parquet([{}], union_by_name = true{})) TO {} (FORMAT "
                              "parquet, COMPRESSION zstd, ROW_GROUP_SIZE {})",
                              columns, list, kNoHive, SqlLiteral(out), std::max<uint64_t>(1, options.row_group_rows)),
                  "compacting");
        const ParquetInfo info = ReadParquetInfo(con, out, "compacted file");
        if (info.rows != rows) {
          Fail(ErrorCode::kInternal, "compaction of dataset '{}' wrote {} rows instead of {}", dataset, info.rows,
               rows);
        }
        const auto& values = bins[b].front()->partition_values;
        const std::string key = head.partition_by.empty()
                                    ? catalogd::NewDataKey(dataset)
                                    : catalogd::NewPartitionedDataKey(dataset, head.partition_by, values);
        FileSource source(out);
        auto stored = store_.Put(key, source);
        DataObject object{ObjectRef{store_.Bucket(), key, stored.size, stored.etag}, rows, values};
        object.stats = ReadColumnStats(con, out, head.schema);
        commit.objects.push_back(std::move(object));
        std::filesystem::remove(out);
      }
      result.manifest = *catalog_.Commit(commit);
    } catch (const Error& e) {
      // The old objects are untouched; the new ones are referenced by nothing unless the outcome is unknown.
      if (e.code() != ErrorCode::kUnavailable && e.code() != ErrorCode::kTimeout) {
        DeleteObjects(commit.objects, "a compaction that did not commit");
      }
      throw;
    }
    result.compacted = true;
    result.objects_after = result.manifest.objects.size();
    result.objects_rewritten = commit.remove_objects.size();
    result.objects_written = commit.objects.size();
    result.seconds = Seconds(started);
    log::Info("dataset compacted", {{"dataset", dataset},
                                    {"version", result.manifest.version},
                                    {"objects_before", result.objects_before},
                                    {"objects_after", result.objects_after},
                                    {"rewritten", result.objects_rewritten},
                                    {"written", result.objects_written},
                                    {"seconds", result.seconds}});
    return result;
  }

  CompactionOptions DefaultCompaction() const override { return options_.compaction; }

  size_t AutoCompact() override {
    const auto& policy = options_.compaction;
    if (policy.auto_min_small_objects == 0) return 0;
    size_t compacted = 0;
    for (const auto& d : catalog_.List()) {
      try {
        const auto head = catalog_.Head(d.name);
        std::map<PartitionValues, uint64_t> small;
        uint64_t most = 0;
        for (const auto& o : head.objects) {
          if (o.ref.size < policy.target_bytes) most = std::max(most, ++small[o.partition_values]);
        }
        if (most <= policy.auto_min_small_objects) continue;
        if (Compact(d.name, policy).compacted) ++compacted;
      } catch (const std::exception& e) {
        // A conflict (the dataset changed) is retried at the next run; nothing was lost.
        log::Warn("automatic compaction skipped a dataset", {{"dataset", d.name}, {"error", e.what()}});
      }
    }
    return compacted;
  }

  IngestResult Register(const RegisterRequest& request) override {
    auto started = std::chrono::steady_clock::now();
    DatasetId::Parse(request.dataset);
    if (request.keys.empty()) {
      Fail(ErrorCode::kInvalidArgument,
           "name at least one object key to register: {{\"keys\": [\"path/file.parquet\"]}}");
    }
    std::optional<DatasetManifest> head;
    try {
      head = catalog_.Head(request.dataset);
    } catch (const Error& e) {
      if (e.code() != ErrorCode::kNotFound) throw;
    }
    // A partitioned dataset's keys carry the partition values (as ingest writes them and queryd
    // reads them): each key must name the dataset's partition columns, and each file's rows must
    // hold exactly those values (checked below, after its footer).
    const std::vector<std::string> partition_by = head ? head->partition_by : std::vector<std::string>{};
    std::vector<PartitionValues> key_values;
    if (!partition_by.empty()) {
      key_values.reserve(request.keys.size());
      for (const auto& key : request.keys) {
        key_values.push_back(catalogd::PartitionValuesOfKey(request.dataset, partition_by, key));
      }
    }
    std::set<std::string> seen;
    const std::string own_prefix = fmt::format("{}{}/", catalogd::kDataPrefix, request.dataset);
    for (const auto& key : request.keys) {
      storaged::ValidateKey(key);
      if (!seen.insert(key).second) Fail(ErrorCode::kInvalidArgument, "object '{}' is named twice", key);
      if (key.starts_with(catalogd::kDataPrefix) && !key.starts_with(own_prefix)) {
        Fail(ErrorCode::kInvalidArgument,
             "object '{}' is under another dataset's data prefix; only keys under {} or outside the reserved prefixes "
             "can be registered to dataset '{}'",
             key, own_prefix, request.dataset);
      }
      if (key.starts_with('_')) {  // _catalog/, _staging/, _iceberg/ ...
        Fail(ErrorCode::kInvalidArgument,
             "object '{}' is under a reserved prefix (keys starting with '_' belong to the catalog); it cannot be "
             "registered",
             key);
      }
      if (head) {
        for (const auto& o : head->objects) {
          if (o.ref.key == key) {
            Fail(ErrorCode::kConflict, "object '{}' already belongs to dataset '{}' (version {})", key, request.dataset,
                 head->version);
          }
        }
      }
    }
    ConversionSlot slot(*this);
    Connection con(db_);
    const std::string id = std::to_string(::getpid()) + "-" + RandomHexId();
    TempDir dir((std::filesystem::path(options_.temp_dir) / ("ingest-" + id + ".register")).string());
    std::filesystem::create_directories(dir.path());
    IngestResult result;
    result.format = Format::kParquet;
    Schema schema;
    for (const auto& key : request.keys) {
      auto info = store_.Head(key);
      if (!info) Fail(ErrorCode::kInvalidArgument, "object '{}' does not exist in the bucket", key);
      const std::string path = LocalCopy(key, dir.path());
      const std::string what = fmt::format("object '{}' is not a valid Parquet file", key);
      std::string magic = ReadAt(path, 0, 4);
      if (magic != "PAR1" || info->size < 12 || ReadAt(path, info->size - 4, 4) != "PAR1") {
        Fail(ErrorCode::kInvalidArgument, "{} (no PAR1 magic at its start and end)", what);
      }
      ParquetInfo parquet = ReadParquetInfo(con, path, what);
      try {
        VerifyParquetPages(con, path);
      } catch (const Error& e) {
        Fail(e.code(), "object '{}': {}", key, e.what());
      }
      if (schema.empty()) {
        schema = parquet.schema;
      } else if (!SameColumns(schema, parquet.schema)) {
        Fail(ErrorCode::kInvalidArgument, "object '{}' has other columns than '{}': {}", key, request.keys.front(),
             DescribeSchemaDiff(schema, parquet.schema));
      }
      PartitionValues values;
      if (!partition_by.empty()) {
        values = CheckPartitionValues(con, path, key, parquet.schema, key_values[result.objects.size()]);
      }
      DataObject object{ObjectRef{store_.Bucket(), key, info->size, info->etag}, parquet.rows, std::move(values)};
      object.stats = ReadColumnStats(con, path, parquet.schema);
      result.bytes_received += info->size;
      result.objects.push_back(std::move(object));
      if (!store_.LocalPath(key)) std::filesystem::remove(path);
    }
    result.object = result.objects.front();
    catalogd::CommitRequest commit;
    commit.dataset = request.dataset;
    commit.op = head ? catalogd::CommitOp::kAppend : catalogd::CommitOp::kCreate;
    commit.schema = schema;
    commit.objects = result.objects;
    commit.allow_schema_change = request.allow_schema_change;
    commit.expected_version = request.expected_version;
    commit.partition_by = partition_by;
    result.manifest = catalog_.Commit(commit);  // nothing to clean up on failure: the objects are the caller's
    result.seconds = Seconds(started);
    log::Info("objects registered", {{"dataset", request.dataset},
                                     {"version", result.manifest->version},
                                     {"objects", result.objects.size()},
                                     {"bytes", result.bytes_received}});
    return result;
  }

  std::string MemoryLimit() override {
    Connection con(db_);
    return con.Query("SELECT current_setting('memory_limit')", "reading the memory limit").at(0).at(0);
  }

 private:
  //! Temp files are named ingest-<pid>-<id>.*; those of processes that no longer run (killed
  //! mid-upload) are removed at start.
  void RemoveDeadProcessesTempFiles() {
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(options_.temp_dir, ec)) {
      std::string name = entry.path().filename().string();
      if (!name.starts_with("ingest-")) continue;
      long pid = std::strtol(name.c_str() + 7, nullptr, 10);
      if (pid <= 0 || (::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH)) {
        std::filesystem::remove_all(entry.path(), ec);
        log::Info("ingest: removed a temp file left by a dead process", {{"path", entry.path().string()}});
      }
    }
  }

  //! The partition values of a registered file: those its key names (`from_key`), checked against
  //! its rows (every row must hold them; a column the file lacks or a value that is not of the
  //! column's type is refused), as the manifest writes them (CAST(value AS VARCHAR)).
  PartitionValues CheckPartitionValues(Connection& con, const std::string& path, const std::string& key,
                                       const Schema& schema, const PartitionValues& from_key) {
    PartitionValues out;
    for (const auto& [column, text] : from_key) {
      auto col = std::find_if(schema.begin(), schema.end(),
                              [&name = column](const ColumnSchema& c) { return c.name == name; });
      if (col == schema.end()) {
        Fail(ErrorCode::kInvalidArgument, "object '{}' has no column '{}', a partition column of the dataset", key,
             column);
      }
      if (!catalogd::IsPartitionType(col->type)) {  // the type goes into SQL text below: only these
        Fail(ErrorCode::kInvalidArgument, "object '{}' has partition column '{}' of type {}, not a partition type", key,
             column, col->type);
      }
      const std::string id = SqlIdentifier(column);
      const std::string value =
          text ? fmt::format("TRY_CAST({} AS {})", SqlLiteral(*text), col->type) : std::string("NULL");
      const auto row = con.Query(fmt::format("SELECT CAST({0} AS VARCHAR), {0} IS NULL, count(*) FILTER (WHERE {1} IS "
                                             "DISTINCT FROM {0}), min(CAST({1} AS VARCHAR)) FROM read_parquet({2}{3})",
                                             value, id, SqlLiteral(path), kNoHive),
                                 fmt::format("checking the partition values of object '{}'", key))
                           .at(0);
      if (text && row.at(1) == "true") {
        Fail(ErrorCode::kInvalidArgument, "object '{}' names {}='{}' in its key, which is not a {} value", key, column,
             *text, col->type);
      }
      if (row.at(2) != "0") {
        Fail(ErrorCode::kInvalidArgument,
             "object '{}' names {}={} in its key but {} of its rows hold another value (e.g. {}); a partitioned "
             "dataset's file holds one value of each partition column, the one its key names",
             key, column, text ? *text : "NULL", row.at(2), row.at(3).empty() ? "NULL" : row.at(3));
      }
      out[column] = text ? std::optional<std::string>(row.at(0)) : std::nullopt;
    }
    return out;
  }

  //! Fails fast, before reading a possibly large body, when the commit is bound to fail. Returns
  //! the partition columns the upload is split by (as requested; checked against its schema later).
  std::vector<std::string> PreCheck(const IngestRequest& request) {
    auto requested = request.partition_by.value_or(std::vector<std::string>{});
    // A create with an expected version is the catalog's to judge (its version check comes first).
    if (request.op == catalogd::CommitOp::kCreate && request.expected_version) return requested;
    std::optional<DatasetManifest> head;
    try {
      head = catalog_.Head(request.dataset);
    } catch (const Error& e) {
      if (e.code() != ErrorCode::kNotFound) throw;
    }
    catalogd::CheckCommitTarget(request.op, request.dataset,
                                head ? std::optional<uint64_t>(head->version) : std::nullopt);
    if (request.op == catalogd::CommitOp::kCreate ||
        (request.op == catalogd::CommitOp::kReplace && request.partition_by)) {
      return requested;
    }
    // Appends (and replaces that do not say) are partitioned as the dataset is.
    if (request.op == catalogd::CommitOp::kAppend && request.partition_by) {
      const bool same = std::equal(requested.begin(), requested.end(), head->partition_by.begin(),
                                   head->partition_by.end(), [](const std::string& a, const std::string& b) {
                                     return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](char x, char y) {
                                       return std::tolower(static_cast<unsigned char>(x)) ==
                                              std::tolower(static_cast<unsigned char>(y));
                                     });
                                   });
      if (!same) {
        Fail(ErrorCode::kConflict,
             "dataset '{}' is partitioned by ({}); an append is partitioned as the dataset is, so partition_by must "
             "name those columns or be left out. To repartition, replace the dataset: PUT "
             "/api/v1/datasets/{}?partition_by=...",
             request.dataset, fmt::join(head->partition_by, ", "), request.dataset);
      }
    }
    return head->partition_by;
  }

  //! One Parquet file of an upload and the partition values of its rows.
  struct PartFile {
    std::string path;
    uint64_t rows = 0;
    PartitionValues values;
  };

  //! Writes `parquet_path` split by `partition_by` into `dir` (DuckDB's COPY ... PARTITION_BY; the
  //! partition columns stay in the files, so each object is complete on its own) and returns the
  //! files with their partition values. Fails with 400 beyond options_.max_partitions.
  std::vector<PartFile> SplitByPartition(Connection& con, const std::string& parquet_path, const std::string& dir,
                                         const std::vector<std::string>& partition_by, uint64_t expected_rows) {
    const std::string columns = QuotedColumns(partition_by);
    const std::string source = "read_parquet(" + SqlLiteral(parquet_path) + ")";
    const uint64_t partitions = std::stoull(
        con.Query("SELECT count(*) FROM (SELECT DISTINCT " + columns + " FROM " + source + ")", "counting partitions")
            .at(0)
            .at(0));
    if (partitions > options_.max_partitions) {
      Fail(ErrorCode::kInvalidArgument,
           "the upload has {} distinct values of its partition columns ({}); one upload may write at most {} "
           "partitions (ingest.max_partitions): partition by coarser columns or split the upload",
           partitions, fmt::join(partition_by, ", "), options_.max_partitions);
    }
    std::vector<PartFile> files;
    if (partitions == 0) return files;  // no rows: no objects
    // Split by a partition number, not by the columns themselves: DuckDB names the folders after
    // the values and writes SQL NULL and the string 'NULL' to the same file, the second
    // overwriting the first. The files keep every column of the upload, in its order.
    con.Query("COPY (SELECT *, dense_rank() OVER (ORDER BY " + columns + ") AS __lakehouse_partition FROM " + source +
                  ") TO " + SqlLiteral(dir) +
                  " (FORMAT parquet, COMPRESSION zstd, PARTITION_BY (__lakehouse_partition))",
              "splitting the upload by partition");
    // Each file's partition values as text ('V' + value, or 'N' for NULL) and its row count.
    std::string values;
    for (const auto& c : partition_by) {
      values += ", CASE WHEN " + SqlIdentifier(c) + " IS NULL THEN 'N' ELSE 'V' || CAST(" + SqlIdentifier(c) +
                " AS VARCHAR) END";
    }
    const std::string glob = (std::filesystem::path(dir) / "**" / "*.parquet").string();
    uint64_t rows = 0;
    for (const auto& row :
         con.Query("SELECT __lakehouse_file" + values + ", count(*) FROM read_parquet(" + SqlLiteral(glob) +
                       ", filename = '__lakehouse_file', hive_partitioning = false) GROUP BY ALL "
                       "ORDER BY 1",
                   "reading the partitioned files")) {
      PartFile file{row.at(0), std::stoull(row.back()), {}};
      for (size_t i = 0; i < partition_by.size(); ++i) {
        const std::string& v = row.at(i + 1);
        file.values[partition_by[i]] = v == "N" ? std::nullopt : std::optional<std::string>(v.substr(1));
      }
      if (!files.empty() && files.back().path == file.path) {
        Fail(ErrorCode::kInternal, "partitioned file {} holds more than one partition", file.path);
      }
      rows += file.rows;
      files.push_back(std::move(file));
    }
    if (rows != expected_rows) {
      Fail(ErrorCode::kInternal, "splitting the upload by partition wrote {} rows, not {}", rows, expected_rows);
    }
    return files;
  }

  //! A local path DuckDB can read `key` from: the local backend's own file, else a download into `dir`.
  std::string LocalCopy(const std::string& key, const std::string& dir) {
    if (auto path = store_.LocalPath(key)) return *path;
    std::string path = (std::filesystem::path(dir) / (RandomHexId() + ".parquet")).string();
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) Fail(ErrorCode::kInternal, "cannot create {}: {}", path, std::strerror(errno));
    bool failed = false;
    try {
      store_.Get(key, [&](std::string_view chunk) {
        for (size_t off = 0; off < chunk.size();) {
          ssize_t w = ::write(fd, chunk.data() + off, chunk.size() - off);
          if (w < 0 && errno == EINTR) continue;
          if (w < 0) {
            failed = true;
            return false;
          }
          off += static_cast<size_t>(w);
        }
        return true;
      });
    } catch (...) {
      ::close(fd);
      throw;
    }
    ::close(fd);
    if (failed) Fail(ErrorCode::kUnavailable, "cannot write a temp copy of '{}': {}", key, std::strerror(errno));
    return path;
  }

  //! Best-effort delete of objects that no manifest will reference (GC catches any left).
  void DeleteObjects(const std::vector<DataObject>& objects, std::string_view why) {
    for (const auto& o : objects) {
      try {
        store_.Delete(o.ref.key);
      } catch (const std::exception& d) {
        log::Warn("ingest: could not delete a data object", {{"key", o.ref.key}, {"why", why}, {"error", d.what()}});
      }
    }
  }

  //! Streams `body` to `path`; keeps the first bytes in `head` for sniffing. Returns the size.
  static uint64_t Spool(ByteSource& body, const std::string& path, std::string& head) {
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) Fail(ErrorCode::kInternal, "cannot create spool file {}: {}", path, std::strerror(errno));
    std::vector<char> buf(kSpoolChunk);
    uint64_t total = 0;
    try {
      for (;;) {
        size_t n = body.Read(buf.data(), buf.size());
        if (n == 0) break;
        if (head.size() < kSniffBytes) head.append(buf.data(), std::min(n, kSniffBytes - head.size()));
        for (size_t off = 0; off < n;) {
          ssize_t w = ::write(fd, buf.data() + off, n - off);
          if (w < 0) {
            if (errno == EINTR) continue;
            Fail(errno == ENOSPC ? ErrorCode::kUnavailable : ErrorCode::kInternal, "cannot write spool file: {}",
                 std::strerror(errno));
          }
          off += static_cast<size_t>(w);
        }
        total += n;
      }
    } catch (...) {
      ::close(fd);
      throw;
    }
    ::close(fd);
    return total;
  }

  static void CheckParquetMagic(const std::string& path, std::string_view head, uint64_t size) {
    if (!head.starts_with("PAR1")) {
      Fail(ErrorCode::kInvalidArgument,
           "the body is not a Parquet file (it does not start with the PAR1 magic bytes); upload a Parquet file, or "
           "name another format with ?format=csv|json|ndjson");
    }
    if (size < 12 || ReadAt(path, size - 4, 4) != "PAR1") {
      Fail(ErrorCode::kInvalidArgument,
           "truncated Parquet file: {} bytes received and no PAR1 footer at the end; upload the complete file", size);
    }
  }

  static void Convert(Connection& con, Format format, const std::string& in, const std::string& out,
                      std::string_view head) {
    std::string reader;
    std::string what;
    switch (format) {
      case Format::kCsv: {
        // The delimiter is fixed from the header line so that rows with another number of fields
        // are an error (with an auto-detected delimiter DuckDB would read them as one column).
        char delim = SniffCsvDelimiter(head);
        reader = "read_csv(" + SqlLiteral(in) + ", delim=" + SqlLiteral(std::string(1, delim)) +
                 ", strict_mode=true, skip=0)";
        what = "invalid CSV (every row must have as many fields as the header)";
        break;
      }
      case Format::kJson:
        reader = "read_json(" + SqlLiteral(in) + ", format='auto')";
        what = "invalid JSON (send an array of objects or one object per line)";
        break;
      case Format::kNdjson:
        reader = "read_json(" + SqlLiteral(in) + ", format='newline_delimited')";
        what = "invalid NDJSON (send one JSON object per line)";
        break;
      case Format::kParquet:
        Fail(ErrorCode::kInternal, "Convert called for Parquet");
    }
    con.Query("COPY (SELECT * FROM " + reader + ") TO " + SqlLiteral(out) + " (FORMAT parquet, COMPRESSION zstd)",
              what);
  }

  storaged::ObjectStore& store_;
  catalogd::Catalog& catalog_;
  IngestOptions options_;
  duckdb_database db_ = nullptr;
  std::mutex slots_mu_;  //!< guards slots_busy_ (ConversionSlot)
  std::condition_variable slots_cv_;
  int slots_busy_ = 0;
};

}  // namespace

std::unique_ptr<Ingestor> MakeIngestor(storaged::ObjectStore& store, catalogd::Catalog& catalog,
                                       IngestOptions options) {
  return std::make_unique<IngestorImpl>(store, catalog, std::move(options));
}

}  // namespace lakehouse::ingest
