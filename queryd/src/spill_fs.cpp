// The spill directory's file system (see spill_fs.h).
#include "spill_fs.h"

#include <filesystem>
#include <string_view>

#include "duckdb/common/file_opener.hpp"

namespace lakehouse::queryd {
namespace {

constexpr std::string_view kScheme = "lakehouse-spill://";

class SpillFileSystem final : public duckdb::FileSystem {
 public:
  SpillFileSystem() : local_(duckdb::FileSystem::CreateLocal()) {}

  std::string GetName() const override { return "LakehouseSpillFileSystem"; }
  bool CanHandleFile(const std::string& path) override { return path.starts_with(kScheme); }

  duckdb::unique_ptr<duckdb::FileHandle> OpenFile(const std::string& path, duckdb::FileOpenFlags flags,
                                                  duckdb::optional_ptr<duckdb::FileOpener> opener) override {
    RefuseQueries(opener);
    return local_->OpenFile(Local(path), flags);
  }
  bool DirectoryExists(const std::string& directory, duckdb::optional_ptr<duckdb::FileOpener> opener) override {
    RefuseQueries(opener);
    return local_->DirectoryExists(Local(directory));
  }
  void CreateDirectory(const std::string& directory, duckdb::optional_ptr<duckdb::FileOpener> opener) override {
    RefuseQueries(opener);
    local_->CreateDirectoriesRecursive(Local(directory));
  }
  void CreateDirectoriesRecursive(const std::string& path, duckdb::optional_ptr<duckdb::FileOpener> opener) override {
    RefuseQueries(opener);
    local_->CreateDirectoriesRecursive(Local(path));
  }
  void RemoveDirectory(const std::string& directory, duckdb::optional_ptr<duckdb::FileOpener> opener) override {
    RefuseQueries(opener);
    local_->RemoveDirectory(Local(directory));
  }
  bool ListFiles(const std::string& directory, const std::function<void(const std::string&, bool)>& callback,
                 duckdb::FileOpener* opener) override {
    RefuseQueries(opener);
    return local_->ListFiles(Local(directory), callback);
  }
  void MoveFile(const std::string& source, const std::string& target,
                duckdb::optional_ptr<duckdb::FileOpener> opener) override {
    RefuseQueries(opener);
    local_->MoveFile(Local(source), Local(target));
  }
  bool FileExists(const std::string& filename, duckdb::optional_ptr<duckdb::FileOpener> opener) override {
    RefuseQueries(opener);
    return local_->FileExists(Local(filename));
  }
  bool IsPipe(const std::string& filename, duckdb::optional_ptr<duckdb::FileOpener> opener) override {
    RefuseQueries(opener);
    return local_->IsPipe(Local(filename));
  }
  void RemoveFile(const std::string& filename, duckdb::optional_ptr<duckdb::FileOpener> opener) override {
    RefuseQueries(opener);
    local_->RemoveFile(Local(filename));
  }
  bool TryRemoveFile(const std::string& filename, duckdb::optional_ptr<duckdb::FileOpener> opener) override {
    RefuseQueries(opener);
    return local_->TryRemoveFile(Local(filename));
  }
  duckdb::vector<duckdb::OpenFileInfo> Glob(const std::string& path, duckdb::FileOpener* opener) override {
    RefuseQueries(opener);
    duckdb::vector<duckdb::OpenFileInfo> out;
    for (auto& info : local_->Glob(Local(path))) {
      info.path = std::string(kScheme) + info.path;
      out.push_back(std::move(info));
    }
    return out;
  }
  std::string PathSeparator(const std::string&) override { return "/"; }

 private:
  //! Only DuckDB itself (no client context) reaches the spill files; SQL never does.
  static void RefuseQueries(duckdb::optional_ptr<duckdb::FileOpener> opener) {
    if (duckdb::FileOpener::TryGetClientContext(opener) != nullptr) {
      throw duckdb::PermissionException("the query engine's spill files cannot be read from SQL");
    }
  }
  static std::string Local(const std::string& path) {
    return path.starts_with(kScheme) ? path.substr(kScheme.size()) : path;
  }

  duckdb::unique_ptr<duckdb::FileSystem> local_;
};

}  // namespace

std::string SpillDirectoryUrl(const std::string& temp_dir) {
  return std::string(kScheme) + std::filesystem::absolute(temp_dir).lexically_normal().string();
}

duckdb::unique_ptr<duckdb::FileSystem> MakeSpillFileSystem() { return duckdb::make_uniq<SpillFileSystem>(); }

}  // namespace lakehouse::queryd
