#pragma once
// A buffer in front of a ResultSink: encoders append small pieces; the sink sees writes of about
// `flush_bytes` (one HTTP chunk each), and large pieces pass straight through.
#include <cstdint>
#include <string>
#include <string_view>

#include "lakehouse/queryd/query.h"

namespace lakehouse::queryd {

class Output {
 public:
  explicit Output(ResultSink& sink, size_t flush_bytes = 256 << 10) : sink_(sink), flush_bytes_(flush_bytes) {}

  //! Encoders append here, then call MaybeFlush.
  std::string& buffer() { return buffer_; }
  void Append(std::string_view bytes) {
    if (bytes.size() >= flush_bytes_) {
      Flush();
      Send(bytes);
      return;
    }
    buffer_.append(bytes);
    MaybeFlush();
  }
  void MaybeFlush() {
    if (buffer_.size() >= flush_bytes_) Flush();
  }
  //! False once the sink refused a write (client gone); later writes are dropped.
  bool Flush() {
    if (!buffer_.empty()) {
      Send(buffer_);
      buffer_.clear();
    }
    return ok_;
  }
  //! Flush() of the result's last bytes (the sink may end its response with them).
  bool FlushLast() {
    if (ok_) {
      bytes_ += buffer_.size();
      if (!sink_.WriteLast(buffer_)) ok_ = false;
    }
    buffer_.clear();
    return ok_;
  }
  bool ok() const { return ok_; }
  uint64_t bytes() const { return bytes_ + buffer_.size(); }

 private:
  void Send(std::string_view bytes) {
    if (!ok_) return;
    bytes_ += bytes.size();
    if (!sink_.Write(bytes)) ok_ = false;
  }

  ResultSink& sink_;
  size_t flush_bytes_;
  std::string buffer_;
  uint64_t bytes_ = 0;
  bool ok_ = true;
};

}  // namespace lakehouse::queryd
