#pragma once
// The Arrow IPC stream reader: typed rows out of a stream such as the one queryd writes
// (ResultFormat::kArrow), record batch by record batch as the bytes arrive, so a caller gets
// integers, doubles and strings as values instead of text to parse back. Reads signed integer,
// floating point (32/64 bits) and Utf8/LargeUtf8 columns; any other type is an error (kInternal:
// the streams read here are written by this process).
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace lakehouse::arrow {

//! One column of one record batch; valid only inside the batch callback.
class ColumnView {
 public:
  enum class Kind { kInt, kFloat, kUtf8, kLargeUtf8 };

  bool IsNull(int64_t row) const;
  int64_t Int(int64_t row) const;           //!< kInt (any signed width)
  double Double(int64_t row) const;         //!< kFloat (32 or 64 bits) or kInt
  std::string_view Str(int64_t row) const;  //!< kUtf8 / kLargeUtf8
  Kind kind() const { return kind_; }
  const std::string& name() const { return name_; }

 private:
  friend class IpcStreamReader;
  Kind kind_ = Kind::kInt;
  std::string name_;
  int bit_width_ = 64;
  const uint8_t* validity_ = nullptr;  //!< null when the column has no nulls
  const uint8_t* values_ = nullptr;    //!< fixed-width values, or string offsets
  const uint8_t* data_ = nullptr;      //!< string bytes
};

struct RowBatch {
  int64_t rows = 0;
  std::vector<ColumnView> columns;  //!< in the stream's schema order
};

//! Where one IPC message lies at the front of a stream's bytes:
//! <0xFFFFFFFF><int32 metadata size><Message flatbuffer, padded><body>.
struct IpcFrame {
  size_t prefix = 8;         //!< 8 (or 4 for the pre-1.0 format without the continuation marker)
  size_t metadata_size = 0;  //!< the flatbuffer with its padding; 0 = the end-of-stream marker
  size_t body_size = 0;      //!< the Message's bodyLength
  size_t size() const { return prefix + metadata_size + body_size; }
};
//! The frame at the front of `bytes`, or nullopt while they hold less than its prefix and metadata
//! (the body need not have arrived). Throws Error(kInternal) for a corrupt message.
std::optional<IpcFrame> ReadIpcFrame(std::string_view bytes);

//! Splits an Arrow IPC stream fed in pieces of any size into its messages without decoding them
//! (Arrow Flight sends each as one FlightData: metadata = data_header, body = data_body). The body
//! is gathered in one string the callback may move from.
class IpcMessageSplitter {
 public:
  //! `metadata` is the Message flatbuffer (with its padding); returning false stops the splitter.
  using OnMessage = std::function<bool(std::string_view metadata, std::string& body)>;
  explicit IpcMessageSplitter(OnMessage on_message) : on_message_(std::move(on_message)) {}
  //! Takes the next bytes; false once a callback returned false. Throws Error(kInternal) for a corrupt stream.
  bool Write(std::string_view bytes);
  //! The end-of-stream marker has been read.
  bool ended() const { return ended_; }

 private:
  OnMessage on_message_;
  std::string head_;  //!< prefix + metadata of the message being read
  std::optional<IpcFrame> frame_;
  std::string body_;
  bool ended_ = false;
  bool ok_ = true;
};

//! Reads an Arrow IPC stream (https://arrow.apache.org/docs/format/Columnar.html#ipc-streaming-format)
//! fed to it in pieces of any size.
class IpcStreamReader {
 public:
  //! `on_batch` gets each record batch once all its bytes have arrived.
  explicit IpcStreamReader(std::function<void(const RowBatch&)> on_batch) : on_batch_(std::move(on_batch)) {}

  //! Takes the next bytes of the stream; throws Error(kInternal) saying what is wrong with it.
  void Write(std::string_view bytes);
  //! Throws Error(kInternal) unless the stream ended with its end-of-stream marker.
  void Finish() const;

 private:
  //! Handles one whole message at the front of pending_; returns its size, or 0 if incomplete.
  size_t ConsumeMessage();

  std::function<void(const RowBatch&)> on_batch_;
  std::string pending_;
  std::vector<ColumnView> schema_;
  bool have_schema_ = false;
  bool ended_ = false;
};

}  // namespace lakehouse::arrow
