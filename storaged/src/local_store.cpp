// Local filesystem backend: each object is the file <root>/<key>.
//
// Atomicity: a write goes to a temp file ".lh-tmp-<random>" in the object's own directory, is
// fsync'ed, then renamed over the key (Put) or hard-linked to it (PutIfAbsent: link(2) fails with
// EEXIST when the key exists, so exactly one concurrent creator wins), and the directory is
// fsync'ed. Readers therefore see the old or the new file, never a partial one. Temp names are
// hidden from List and rejected as keys.
//
// A crash can leave temp files behind. Temp names carry the writer's pid (".lh-tmp-<pid>-<random>"),
// so a background sweep at start removes at once those of processes that no longer run, and any
// other temp file untouched for an hour (an upload in progress keeps its mtime fresh).
//
// ETag: "<size>-<mtime ns>-<inode>" in hex, read from stat(2). Every write creates a new inode
// with a new mtime, so the ETag changes whenever the object is replaced, and Head never has to
// read the content (see docs/adr/0002-object-store.md).
#include <dirent.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <random>
#include <stop_token>
#include <thread>

#include "lakehouse/shared/clock.h"
#include "lakehouse/shared/error.h"
#include "lakehouse/storaged/object_store.h"
#include "lakehouse/storaged/sigv4.h"

namespace lakehouse::storaged {
namespace {

constexpr std::string_view kTempPrefix = ".lh-tmp-";
constexpr size_t kChunkBytes = 256 << 10;
constexpr std::string_view kObjectRoute = "/api/v1/objects/";

std::string ErrnoText(int err) { return std::strerror(err); }

//! Owns a file descriptor.
class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  ~Fd() { Reset(); }
  Fd(Fd&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  Fd& operator=(Fd&& other) noexcept {
    if (this != &other) {
      Reset();
      fd_ = other.fd_;
      other.fd_ = -1;
    }
    return *this;
  }
  int get() const { return fd_; }
  void Reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_;
};

void FsyncDir(const std::string& dir) {
  Fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd.get() < 0 || ::fsync(fd.get()) != 0) {
    Fail(ErrorCode::kInternal, "cannot fsync directory {}: {}", dir, ErrnoText(errno));
  }
}

std::string ParentOf(const std::string& path) { return path.substr(0, path.rfind('/')); }

ObjectInfo InfoFromStat(std::string_view key, const struct stat& st) {
  ObjectInfo info;
  info.key = std::string(key);
  info.size = static_cast<uint64_t>(st.st_size);
  int64_t mtime_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
  info.last_modified_ms = mtime_ns / 1000000;
  info.etag = fmt::format("{:x}-{:x}-{:x}", info.size, mtime_ns, static_cast<uint64_t>(st.st_ino));
  return info;
}

std::string RandomSuffix() {
  thread_local std::mt19937_64 rng(std::random_device{}() ^
                                   static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count()));
  return fmt::format("{:016x}", rng());
}

void WriteAll(int fd, const char* data, size_t n, const std::string& path) {
  while (n > 0) {
    ssize_t w = ::write(fd, data, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      Fail(errno == ENOSPC || errno == EDQUOT ? ErrorCode::kUnavailable : ErrorCode::kInternal, "cannot write {}: {}",
           path, ErrnoText(errno));
    }
    data += w;
    n -= static_cast<size_t>(w);
  }
}

std::string Signature(const std::string& secret, std::string_view method, std::string_view key, int64_t expires) {
  return HexEncode(HmacSha256(secret, fmt::format("{}\n{}\n{}", method, key, expires)));
}

std::string PercentDecode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && std::isxdigit(static_cast<unsigned char>(s[i + 1])) &&
        std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
      out.push_back(static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16)));
      i += 2;
    } else if (s[i] == '+') {
      out.push_back(' ');
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

class LocalStore final : public ObjectStore {
 public:
  explicit LocalStore(const LocalStoreOptions& options) : root_(options.root), base_url_(options.public_base_url) {
    LH_USER_CHECK(!root_.empty(), "the local object store needs a root directory");
    while (root_.size() > 1 && root_.back() == '/') root_.pop_back();
    while (!base_url_.empty() && base_url_.back() == '/') base_url_.pop_back();
    MakeDirs(root_);
    secret_ = options.presign_secret;
    if (secret_.empty()) {
      unsigned char bytes[32];
      if (RAND_bytes(bytes, sizeof bytes) != 1) Fail(ErrorCode::kInternal, "RAND_bytes failed");
      secret_.assign(reinterpret_cast<const char*>(bytes), sizeof bytes);
    }
    sweeper_ = std::jthread([this](std::stop_token stop) { SweepTempFiles(root_, stop); });
  }

  std::string Kind() const override { return "local"; }
  std::string Bucket() const override { return "local"; }

  ObjectInfo Put(std::string_view key, ByteSource& source) override {
    CheckKey(key);
    const std::string path = PathOf(key);
    TempFile tmp = WriteTemp(key, path, &source, {});
    if (::rename(tmp.path.c_str(), path.c_str()) != 0) {
      int err = errno;
      if (err == EISDIR || err == ENOTEMPTY || err == EEXIST) ConflictWithFolder(key);
      Fail(ErrorCode::kInternal, "cannot rename {} to {}: {}", tmp.path, path, ErrnoText(err));
    }
    tmp.committed = true;
    FsyncDir(ParentOf(path));
    return tmp.info;
  }

  std::optional<ObjectInfo> PutIfAbsent(std::string_view key, std::string_view data) override {
    CheckKey(key);
    const std::string path = PathOf(key);
    TempFile tmp = WriteTemp(key, path, nullptr, data);
    if (::link(tmp.path.c_str(), path.c_str()) != 0) {
      int err = errno;
      if (err == EEXIST) return std::nullopt;  // another writer won; ~TempFile removes ours
      Fail(ErrorCode::kInternal, "cannot link {} to {}: {}", tmp.path, path, ErrnoText(err));
    }
    // The object is in place; the temp name is just a second link to it.
    ::unlink(tmp.path.c_str());
    tmp.committed = true;
    FsyncDir(ParentOf(path));
    return tmp.info;
  }

  ObjectInfo Get(std::string_view key, const ByteSink& sink) override {
    CheckKey(key);
    struct stat st {};
    Fd fd = OpenForRead(key, &st);
    std::vector<char> buf(kChunkBytes);
    for (;;) {
      ssize_t r = ::read(fd.get(), buf.data(), buf.size());
      if (r < 0) {
        if (errno == EINTR) continue;
        Fail(ErrorCode::kInternal, "cannot read object '{}': {}", key, ErrnoText(errno));
      }
      if (r == 0) break;
      if (!sink(std::string_view(buf.data(), static_cast<size_t>(r)))) Stopped(key);
    }
    return InfoFromStat(key, st);
  }

  void GetRange(std::string_view key, uint64_t offset, uint64_t length, const ByteSink& sink) override {
    CheckKey(key);
    struct stat st {};
    Fd fd = OpenForRead(key, &st);
    const auto size = static_cast<uint64_t>(st.st_size);
    if (offset >= size || length == 0) return;
    uint64_t left = std::min(length, size - offset);
    std::vector<char> buf(static_cast<size_t>(std::min<uint64_t>(kChunkBytes, left)));
    while (left > 0) {
      ssize_t r = ::pread(fd.get(), buf.data(), static_cast<size_t>(std::min<uint64_t>(buf.size(), left)),
                          static_cast<off_t>(offset));
      if (r < 0) {
        if (errno == EINTR) continue;
        Fail(ErrorCode::kInternal, "cannot read object '{}': {}", key, ErrnoText(errno));
      }
      if (r == 0) break;  // truncated underneath us: cannot happen with rename-based writes
      if (!sink(std::string_view(buf.data(), static_cast<size_t>(r)))) Stopped(key);
      offset += static_cast<uint64_t>(r);
      left -= static_cast<uint64_t>(r);
    }
  }

  std::optional<ObjectInfo> Head(std::string_view key) override {
    CheckKey(key);
    struct stat st {};
    if (::stat(PathOf(key).c_str(), &st) != 0) {
      if (errno == ENOENT || errno == ENOTDIR) return std::nullopt;
      Fail(ErrorCode::kInternal, "cannot stat object '{}': {}", key, ErrnoText(errno));
    }
    if (!S_ISREG(st.st_mode)) return std::nullopt;
    return InfoFromStat(key, st);
  }

  ListPage List(std::string_view prefix, std::string_view page_token, size_t max_keys) override {
    if (max_keys == 0 || max_keys > 1000) max_keys = 1000;
    ListPage page;
    // Walk only the deepest folder the prefix names; the rest of the prefix filters its entries.
    size_t slash = prefix.rfind('/');
    std::string_view folder = slash == std::string_view::npos ? std::string_view() : prefix.substr(0, slash);
    if (!folder.empty()) {
      try {
        CheckKey(folder);
      } catch (const Error&) {
        return page;  // no valid key lives under such a folder (e.g. "../x/")
      }
    }
    std::vector<std::string> keys;
    std::string key_prefix = folder.empty() ? std::string() : std::string(folder) + "/";
    Walk(folder.empty() ? root_ : root_ + "/" + std::string(folder), key_prefix, prefix, page_token, &keys);
    std::sort(keys.begin(), keys.end());
    for (const std::string& key : keys) {
      if (page.objects.size() == max_keys) {
        page.next_token = page.objects.back().key;
        break;
      }
      if (auto info = Head(key)) page.objects.push_back(std::move(*info));  // skips objects deleted meanwhile
    }
    return page;
  }

  void Delete(std::string_view key) override {
    CheckKey(key);
    std::string path = PathOf(key);
    if (::unlink(path.c_str()) != 0) {
      if (errno == ENOENT || errno == ENOTDIR || errno == EISDIR) return;
      Fail(ErrorCode::kInternal, "cannot delete object '{}': {}", key, ErrnoText(errno));
    }
    std::string dir = ParentOf(path);
    FsyncDir(dir);
    // Remove folders left empty, up to the root; a folder someone is writing into is not empty.
    while (dir.size() > root_.size() && ::rmdir(dir.c_str()) == 0) dir = ParentOf(dir);
  }

  std::string Presign(PresignMethod method, std::string_view key, int64_t expires_seconds) override {
    CheckKey(key);
    LH_USER_CHECK(expires_seconds >= 1 && expires_seconds <= 604800,
                  "presigned URL lifetime must be between 1 and 604800 seconds (7 days), got {}", expires_seconds);
    const char* verb = method == PresignMethod::kGet ? "GET" : "PUT";
    int64_t expires = NowSeconds() + expires_seconds;
    return fmt::format("{}{}{}?method={}&expires={}&signature={}", base_url_, kObjectRoute, UriEncode(key, false), verb,
                       expires, Signature(secret_, verb, key, expires));
  }

  std::optional<std::string> LocalPath(std::string_view key) const override {
    CheckKey(key);
    return PathOf(key);
  }

  std::string VerifyPresigned(std::string_view method, std::string_view path, std::string_view query) const {
    auto deny = [](std::string why) -> std::string {
      throw Error(ErrorCode::kPermissionDenied, "presigned URL rejected: " + why);
    };
    if (path.substr(0, kObjectRoute.size()) != kObjectRoute) deny(fmt::format("'{}' is not an object URL", path));
    std::string key(path.substr(kObjectRoute.size()));
    CheckKey(key);
    std::optional<std::string> signed_method, expires_text, signature;
    size_t start = 0;
    while (start < query.size()) {
      size_t end = query.find('&', start);
      if (end == std::string_view::npos) end = query.size();
      std::string_view pair = query.substr(start, end - start);
      size_t eq = pair.find('=');
      std::string name = PercentDecode(pair.substr(0, eq));
      std::string value = eq == std::string_view::npos ? std::string() : PercentDecode(pair.substr(eq + 1));
      if (name == "method") signed_method = value;
      if (name == "expires") expires_text = value;
      if (name == "signature") signature = value;
      start = end + 1;
    }
    if (!signed_method || !expires_text || !signature) {
      deny("it needs the query parameters method, expires and signature (ask for a new presigned URL)");
    }
    if (*signed_method != method) deny(fmt::format("it was signed for {}, not {}", *signed_method, method));
    int64_t expires = 0;
    try {
      size_t used = 0;
      expires = std::stoll(*expires_text, &used);
      if (used != expires_text->size()) throw std::invalid_argument("trailing characters");
    } catch (const std::exception&) {
      deny(fmt::format("expires '{}' is not a unix time", *expires_text));
    }
    std::string expected = Signature(secret_, *signed_method, key, expires);
    if (signature->size() != expected.size() ||
        CRYPTO_memcmp(signature->data(), expected.data(), expected.size()) != 0) {
      deny("the signature does not match (the URL was altered or signed by another server)");
    }
    const int64_t now = NowSeconds();
    if (now > expires) deny(fmt::format("it expired {} s ago (ask for a new presigned URL)", now - expires));
    return key;
  }

 private:
  //! A temp file in the object's folder, removed on destruction unless committed.
  struct TempFile {
    std::string path;
    ObjectInfo info;
    bool committed = false;
    TempFile() = default;
    TempFile(TempFile&& other) noexcept
        : path(std::move(other.path)), info(std::move(other.info)), committed(other.committed) {
      other.committed = true;
    }
    TempFile& operator=(TempFile&&) = delete;
    ~TempFile() {
      if (!committed && !path.empty()) ::unlink(path.c_str());
    }
  };

  std::string PathOf(std::string_view key) const { return root_ + "/" + std::string(key); }

  void CheckKey(std::string_view key) const {
    ValidateKey(key);
    size_t start = 0;
    while (start <= key.size()) {
      size_t end = std::min(key.find('/', start), key.size());
      std::string_view segment = key.substr(start, end - start);
      LH_USER_CHECK(segment.substr(0, kTempPrefix.size()) != kTempPrefix,
                    "object key '{}' has a segment starting with '{}', which the local store reserves for temp files",
                    key, kTempPrefix);
      LH_USER_CHECK(segment.size() <= 255, "object key '{}' has a segment longer than 255 bytes", key);
      start = end + 1;
    }
  }

  static void MakeDirs(const std::string& dir) {
    size_t pos = 0;
    while (pos != std::string::npos) {
      pos = dir.find('/', pos + 1);
      std::string part = dir.substr(0, pos);
      if (part.empty() || ::mkdir(part.c_str(), 0755) == 0 || errno == EEXIST) continue;
      Fail(ErrorCode::kInternal, "cannot create directory {}: {}", part, ErrnoText(errno));
    }
  }

  [[noreturn]] static void ConflictWithFolder(std::string_view key) {
    Fail(ErrorCode::kConflict,
         "object key '{}' clashes with another key: the local store keeps keys as paths, so one key cannot be both "
         "an object and a folder of other keys (e.g. 'a' and 'a/b')",
         key);
  }

  //! Creates the object's folders (mkdir -p below the root); a file in the way is a key clash.
  void MakeParents(std::string_view key) const {
    size_t pos = 0;
    while ((pos = key.find('/', pos)) != std::string_view::npos) {
      std::string dir = root_ + "/" + std::string(key.substr(0, pos));
      if (::mkdir(dir.c_str(), 0755) != 0) {
        int err = errno;
        if (err == ENOTDIR) ConflictWithFolder(key);
        if (err != EEXIST) Fail(ErrorCode::kInternal, "cannot create directory {}: {}", dir, ErrnoText(err));
        struct stat st {};
        if (::stat(dir.c_str(), &st) == 0 && !S_ISDIR(st.st_mode)) ConflictWithFolder(key);
      }
      ++pos;
    }
  }

  //! Writes `source` (or `data` when source is null) to a new fsync'ed temp file next to `path`.
  TempFile WriteTemp(std::string_view key, const std::string& path, ByteSource* source, std::string_view data) {
    const std::string dir = ParentOf(path);
    TempFile tmp;
    Fd fd;
    for (int attempt = 0;; ++attempt) {
      MakeParents(key);
      tmp.path = dir + "/" + std::string(kTempPrefix) + std::to_string(::getpid()) + "-" + RandomSuffix();
      fd = Fd(::open(tmp.path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
      if (fd.get() >= 0) break;
      int err = errno;
      tmp.path.clear();
      if (err == ENOTDIR) ConflictWithFolder(key);
      // ENOENT: a concurrent Delete removed the (then empty) folder between mkdir and open.
      if ((err == ENOENT || err == EEXIST) && attempt < 10) continue;
      Fail(ErrorCode::kInternal, "cannot create a temp file in {}: {}", dir, ErrnoText(err));
    }
    if (source == nullptr) {
      WriteAll(fd.get(), data.data(), data.size(), tmp.path);
    } else {
      std::vector<char> buf(kChunkBytes);
      for (;;) {
        size_t n = source->Read(buf.data(), buf.size());
        if (n == 0) break;
        WriteAll(fd.get(), buf.data(), n, tmp.path);
      }
    }
    if (::fsync(fd.get()) != 0) Fail(ErrorCode::kInternal, "cannot fsync {}: {}", tmp.path, ErrnoText(errno));
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) Fail(ErrorCode::kInternal, "cannot stat {}: {}", tmp.path, ErrnoText(errno));
    tmp.info = InfoFromStat(key, st);
    return tmp;
  }

  Fd OpenForRead(std::string_view key, struct stat* st) const {
    std::string path = PathOf(key);
    Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (fd.get() < 0) {
      if (errno == ENOENT || errno == ENOTDIR) Fail(ErrorCode::kNotFound, "object '{}' does not exist", key);
      Fail(ErrorCode::kInternal, "cannot open object '{}': {}", key, ErrnoText(errno));
    }
    if (::fstat(fd.get(), st) != 0) Fail(ErrorCode::kInternal, "cannot stat object '{}': {}", key, ErrnoText(errno));
    if (!S_ISREG(st->st_mode)) Fail(ErrorCode::kNotFound, "object '{}' does not exist", key);
    return fd;
  }

  [[noreturn]] static void Stopped(std::string_view key) {
    Fail(ErrorCode::kCancelled, "reading object '{}' stopped: the receiver went away", key);
  }

  //! Collects the keys under `dir` (whose key prefix is `key_prefix`) that start with `prefix`
  //! and sort after `token`.
  void Walk(const std::string& dir, const std::string& key_prefix, std::string_view prefix, std::string_view token,
            std::vector<std::string>* keys) const {
    DIR* d = ::opendir(dir.c_str());
    if (d == nullptr) {
      if (errno == ENOENT || errno == ENOTDIR) return;
      Fail(ErrorCode::kInternal, "cannot list {}: {}", dir, ErrnoText(errno));
    }
    std::vector<std::pair<std::string, bool>> entries;  // name, is_dir
    while (dirent* e = ::readdir(d)) {
      std::string_view name = e->d_name;
      if (name == "." || name == ".." || name.substr(0, kTempPrefix.size()) == kTempPrefix) continue;
      bool is_dir = e->d_type == DT_DIR;
      if (e->d_type == DT_UNKNOWN) {
        struct stat st {};
        if (::stat((dir + "/" + std::string(name)).c_str(), &st) != 0) continue;
        is_dir = S_ISDIR(st.st_mode);
      }
      entries.emplace_back(std::string(name), is_dir);
    }
    ::closedir(d);
    for (const auto& [name, is_dir] : entries) {
      std::string key = key_prefix + name;
      if (is_dir) {
        std::string sub = key + "/";
        // Skip folders that cannot hold a match: not under the prefix, or all keys <= token.
        size_t n = std::min(sub.size(), prefix.size());
        if (sub.compare(0, n, prefix, 0, n) != 0) continue;
        if (!token.empty() && std::string_view(sub) < token && token.substr(0, sub.size()) != sub) continue;
        Walk(dir + "/" + name, sub, prefix, token, keys);
      } else if (key.size() >= prefix.size() && key.compare(0, prefix.size(), prefix) == 0 &&
                 std::string_view(key) > token) {
        keys->push_back(std::move(key));
      }
    }
  }

  //! True when a temp file's name carries the pid of a process that no longer runs (it crashed or
  //! was killed mid-write). A pid reused since is caught later by the age rule.
  static bool WriterIsGone(std::string_view name) {
    std::string_view rest = name.substr(kTempPrefix.size());
    const size_t dash = rest.find('-');
    if (dash == std::string_view::npos || dash == 0) return false;  // an older name without a pid
    long pid = 0;
    for (char c : rest.substr(0, dash)) {
      if (c < '0' || c > '9' || pid > (1L << 30)) return false;
      pid = pid * 10 + (c - '0');
    }
    return pid > 0 && ::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH;
  }

  //! Removes temp files left by a crash under `dir` (see WriterIsGone and kStaleTempSeconds).
  void SweepTempFiles(const std::string& dir, const std::stop_token& stop) const {
    constexpr int64_t kStaleTempSeconds = 3600;
    DIR* d = ::opendir(dir.c_str());
    if (d == nullptr) return;
    std::vector<std::string> subdirs;
    const auto now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
    while (dirent* e = ::readdir(d)) {
      if (stop.stop_requested()) break;
      std::string_view name = e->d_name;
      if (name == "." || name == "..") continue;
      std::string path = dir + "/" + std::string(name);
      struct stat st {};
      if (::lstat(path.c_str(), &st) != 0) continue;
      if (S_ISDIR(st.st_mode)) {
        subdirs.push_back(std::move(path));
      } else if (name.substr(0, kTempPrefix.size()) == kTempPrefix && S_ISREG(st.st_mode) &&
                 (WriterIsGone(name) || now - st.st_mtim.tv_sec > kStaleTempSeconds)) {
        ::unlink(path.c_str());
      }
    }
    ::closedir(d);
    for (const std::string& sub : subdirs) {
      if (stop.stop_requested()) return;
      SweepTempFiles(sub, stop);
    }
  }

  std::string root_;
  std::string base_url_;
  std::string secret_;
  std::jthread sweeper_;  //!< last: stopped and joined before the members it reads are destroyed
};

}  // namespace

std::unique_ptr<ObjectStore> MakeLocalStore(const LocalStoreOptions& options) {
  return std::make_unique<LocalStore>(options);
}

std::string VerifyLocalPresigned(const ObjectStore& local_store, std::string_view method, std::string_view path,
                                 std::string_view query) {
  const auto* local = dynamic_cast<const LocalStore*>(&Uninstrumented(local_store));
  if (local == nullptr) {
    Fail(ErrorCode::kNotFound, "this server stores objects in {} ({}); its presigned URLs point at that server",
         local_store.Kind(), local_store.Bucket());
  }
  return local->VerifyPresigned(method, path, query);
}

}  // namespace lakehouse::storaged
