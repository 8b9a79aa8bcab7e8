#pragma once
// Streaming byte sources, shared by uploads (gateway), storage (storaged) and ingest.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace lakehouse {

//! A streaming source of bytes (an upload body, a local file...).
class ByteSource {
 public:
  virtual ~ByteSource() = default;
  //! Reads up to `n` bytes into `buf`; returns 0 only at the end. Throws lakehouse::Error on failure.
  virtual size_t Read(char* buf, size_t n) = 0;
};

//! Receives bytes as they arrive. Returning false stops the transfer (e.g. the client went away).
using ByteSink = std::function<bool(std::string_view chunk)>;

//! ByteSource over a string (small objects, tests).
class StringSource final : public ByteSource {
 public:
  explicit StringSource(std::string_view data) : data_(data) {}
  size_t Read(char* buf, size_t n) override;

 private:
  std::string_view data_;
  size_t pos_ = 0;
};

//! ByteSource over a local file.
class FileSource final : public ByteSource {
 public:
  explicit FileSource(const std::string& path);  //!< throws Error(kNotFound / kInternal)
  ~FileSource() override;
  FileSource(const FileSource&) = delete;
  FileSource& operator=(const FileSource&) = delete;
  size_t Read(char* buf, size_t n) override;
  uint64_t size() const { return size_; }

 private:
  int fd_ = -1;
  uint64_t size_ = 0;
};

}  // namespace lakehouse
