// Parquet results (see parquet_export.h).
#include "parquet_export.h"

#include <system_error>

#include "duckdb/parser/expression/constant_expression.hpp"
#include "duckdb/parser/expression/star_expression.hpp"
#include "duckdb/parser/parsed_data/copy_info.hpp"
#include "duckdb/parser/query_node/select_node.hpp"
#include "duckdb/parser/statement/copy_statement.hpp"
#include "duckdb/parser/statement/select_statement.hpp"
#include "duckdb/parser/tableref/subqueryref.hpp"
#include "lakehouse/shared/error.h"
#include "lakehouse/shared/types.h"

namespace lakehouse::queryd {
namespace {

constexpr std::string_view kScheme = "lakehouse-export://";
constexpr std::string_view kFilePrefix = "lakehouse-export-";

class ExportHandle final : public duckdb::FileHandle {
 public:
  ExportHandle(duckdb::FileSystem& fs, const std::string& path, duckdb::FileOpenFlags flags,
               duckdb::unique_ptr<duckdb::FileHandle> local_p)
      : FileHandle(fs, path, flags), local(std::move(local_p)) {}
  void Close() override { local->Close(); }

  duckdb::unique_ptr<duckdb::FileHandle> local;
};

class ExportFileSystem final : public duckdb::FileSystem {
 public:
  ExportFileSystem(std::filesystem::path directory, uint64_t max_bytes)
      : directory_(std::move(directory)), max_bytes_(max_bytes), local_fs_(duckdb::FileSystem::CreateLocal()) {}

  std::string GetName() const override { return "LakehouseExportFileSystem"; }
  bool CanHandleFile(const std::string& path) override { return path.starts_with(kScheme); }

  duckdb::unique_ptr<duckdb::FileHandle> OpenFile(const std::string& path, duckdb::FileOpenFlags flags,
                                                  duckdb::optional_ptr<duckdb::FileOpener>) override {
    if (!flags.OpenForWriting() || flags.OpenForReading()) Refuse(path);
    auto local = local_fs_->OpenFile(LocalPath(path), flags);
    return duckdb::make_uniq<ExportHandle>(*this, path, flags, std::move(local));
  }

  void Write(duckdb::FileHandle& handle, void* buffer, int64_t nr_bytes, idx_t location) override {
    CheckSize(location + static_cast<idx_t>(nr_bytes));
    Local(handle).Write(duckdb::QueryContext(), buffer, static_cast<idx_t>(nr_bytes), location);
  }
  int64_t Write(duckdb::FileHandle& handle, void* buffer, int64_t nr_bytes) override {
    auto& local = Local(handle);
    CheckSize(local.SeekPosition() + static_cast<idx_t>(nr_bytes));
    return local.Write(buffer, static_cast<idx_t>(nr_bytes));
  }
  void Read(duckdb::FileHandle& handle, void*, int64_t, idx_t) override { Refuse(handle.path); }
  int64_t Read(duckdb::FileHandle& handle, void*, int64_t) override { Refuse(handle.path); }
  int64_t GetFileSize(duckdb::FileHandle& handle) override { return static_cast<int64_t>(Local(handle).GetFileSize()); }
  void Truncate(duckdb::FileHandle& handle, int64_t new_size) override { Local(handle).Truncate(new_size); }
  void FileSync(duckdb::FileHandle& handle) override { Local(handle).Sync(); }
  void Seek(duckdb::FileHandle& handle, idx_t location) override { Local(handle).Seek(location); }
  idx_t SeekPosition(duckdb::FileHandle& handle) override { return Local(handle).SeekPosition(); }
  bool CanSeek() override { return true; }
  bool OnDiskFile(duckdb::FileHandle&) override { return true; }
  duckdb::FileType GetFileType(duckdb::FileHandle&) override { return duckdb::FileType::FILE_TYPE_REGULAR; }

  // Nothing here can be found, listed or read back through SQL.
  bool FileExists(const std::string&, duckdb::optional_ptr<duckdb::FileOpener>) override { return false; }
  bool DirectoryExists(const std::string&, duckdb::optional_ptr<duckdb::FileOpener>) override { return false; }
  duckdb::vector<duckdb::OpenFileInfo> Glob(const std::string& path, duckdb::FileOpener*) override { Refuse(path); }
  void RemoveFile(const std::string& path, duckdb::optional_ptr<duckdb::FileOpener>) override {
    std::error_code ec;
    std::filesystem::remove(LocalPath(path), ec);
  }
  bool TryRemoveFile(const std::string& path, duckdb::optional_ptr<duckdb::FileOpener> opener) override {
    RemoveFile(path, opener);
    return true;
  }

 private:
  [[noreturn]] static void Refuse(const std::string& path) {
    throw duckdb::PermissionException("\"%s\" cannot be read: query datasets by name", path);
  }
  static duckdb::FileHandle& Local(duckdb::FileHandle& handle) { return *handle.Cast<ExportHandle>().local; }

  //! lakehouse-export://<32 hex> -> <directory>/lakehouse-export-<32 hex>.parquet; anything else is refused.
  std::string LocalPath(const std::string& path) const {
    const std::string_view name = std::string_view(path).substr(kScheme.size());
    const bool ok = name.size() == 32 && name.find_first_not_of("0123456789abcdef") == std::string_view::npos;
    if (!ok) Refuse(path);
    return (directory_ / (std::string(kFilePrefix) + std::string(name) + ".parquet")).string();
  }

  void CheckSize(idx_t end) const {
    if (max_bytes_ != 0 && end > max_bytes_) {
      throw duckdb::OutOfRangeException(
          "the Parquet result is larger than limits.max_spill_total (%llu bytes): select fewer rows or columns, or "
          "use format=arrow, which streams",
          static_cast<unsigned long long>(max_bytes_));
    }
  }

  std::filesystem::path directory_;
  uint64_t max_bytes_;
  duckdb::unique_ptr<duckdb::FileSystem> local_fs_;
};

}  // namespace

std::filesystem::path ExportDirectory(const QueryConfig& config) {
  // Beside the spill directory, not in it: that one belongs to the spill file system (spill_fs.h).
  const auto temp = config.temp_dir.empty() ? std::filesystem::temp_directory_path() / "lakehouse"
                                            : std::filesystem::absolute(config.temp_dir).lexically_normal();
  return (temp.has_filename() ? temp : temp.parent_path()).parent_path() / "lakehouse-export";
}

duckdb::unique_ptr<duckdb::FileSystem> MakeExportFileSystem(std::filesystem::path directory, uint64_t max_bytes) {
  return duckdb::make_uniq<ExportFileSystem>(std::move(directory), max_bytes);
}

ExportFile::ExportFile(const QueryConfig& config) {
  const std::string id = RandomHexId();
  url_ = std::string(kScheme) + id;
  const auto directory = ExportDirectory(config);
  std::error_code ec;
  std::filesystem::create_directories(directory, ec);
  path_ = directory / (std::string(kFilePrefix) + id + ".parquet");
}

ExportFile::~ExportFile() {
  std::error_code ec;
  std::filesystem::remove(path_, ec);
}

duckdb::unique_ptr<duckdb::SQLStatement> WrapInParquetCopy(duckdb::unique_ptr<duckdb::SQLStatement> statement,
                                                           const std::string& url, std::optional<uint64_t> limit) {
  LH_USER_CHECK(statement->type == duckdb::StatementType::SELECT_STATEMENT,
                "format=parquet needs a query (SELECT, WITH, VALUES, FROM...); use json for EXPLAIN and the like");
  const std::string sql = statement->query;
  auto select = duckdb::unique_ptr_cast<duckdb::SQLStatement, duckdb::SelectStatement>(std::move(statement));
  duckdb::unique_ptr<duckdb::QueryNode> node = std::move(select->node);
  if (limit) {
    // SELECT * FROM (<query>) LIMIT n: the query's own modifiers stay as they are.
    auto inner = duckdb::make_uniq<duckdb::SelectStatement>();
    inner->node = std::move(node);
    auto outer = duckdb::make_uniq<duckdb::SelectNode>();
    outer->select_list.push_back(duckdb::make_uniq<duckdb::StarExpression>());
    outer->from_table = duckdb::make_uniq<duckdb::SubqueryRef>(std::move(inner));
    auto cap = duckdb::make_uniq<duckdb::LimitModifier>();
    cap->limit = duckdb::make_uniq<duckdb::ConstantExpression>(duckdb::Value::UBIGINT(*limit));
    outer->modifiers.push_back(std::move(cap));
    node = std::move(outer);
  }
  auto copy = duckdb::make_uniq<duckdb::CopyStatement>();
  copy->info = duckdb::make_uniq<duckdb::CopyInfo>();
  copy->info->is_from = false;
  copy->info->format = "parquet";
  copy->info->is_format_auto_detected = false;
  copy->info->file_path = url;
  copy->info->options["use_tmp_file"] = {duckdb::Value::BOOLEAN(false)};
  copy->info->select_statement = std::move(node);
  copy->query = sql;
  return copy;
}

}  // namespace lakehouse::queryd
