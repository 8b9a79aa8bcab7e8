#pragma once
// Typed rows out of queryd: a queryd::ResultSink that reads the Arrow IPC stream queryd writes
// (ResultFormat::kArrow) record batch by record batch, so search gets integers, doubles and
// strings as values instead of text to parse back. Reads the column types search's own SQL
// produces (BIGINT and other integers, DOUBLE/FLOAT, VARCHAR); any other type is an internal error.
#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "lakehouse/queryd/query.h"

namespace lakehouse::search {

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
  friend class ArrowRowSink;
  Kind kind_ = Kind::kInt;
  std::string name_;
  int bit_width_ = 64;
  const uint8_t* validity_ = nullptr;  //!< null when the column has no nulls
  const uint8_t* values_ = nullptr;    //!< fixed-width values, or string offsets
  const uint8_t* data_ = nullptr;      //!< string bytes
};

struct RowBatch {
  int64_t rows = 0;
  std::vector<ColumnView> columns;  //!< in the SELECT's order
};

class ArrowRowSink final : public queryd::ResultSink {
 public:
  //! `on_batch` gets each record batch as it arrives. `cancelled` (optional) stops the query.
  explicit ArrowRowSink(std::function<void(const RowBatch&)> on_batch, const std::atomic<bool>* cancelled = nullptr)
      : on_batch_(std::move(on_batch)), cancelled_(cancelled) {}

  void Begin(std::string_view content_type) override;
  bool Write(std::string_view bytes) override;
  bool ClientGone() override { return cancelled_ != nullptr && cancelled_->load(); }
  //! Throws Error(kInternal) unless the stream ended with its end-of-stream marker.
  void Finish() const;

 private:
  //! Handles one whole message at the front of pending_; returns its size, or 0 if incomplete.
  size_t ConsumeMessage();

  std::function<void(const RowBatch&)> on_batch_;
  const std::atomic<bool>* cancelled_;
  std::string pending_;
  std::vector<ColumnView> schema_;
  bool have_schema_ = false;
  bool ended_ = false;
};

}  // namespace lakehouse::search
