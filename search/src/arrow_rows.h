#pragma once
// Typed rows out of queryd: a queryd::ResultSink that hands queryd's Arrow IPC stream
// (ResultFormat::kArrow) to the arrow library's reader (lakehouse/arrow/ipc_reader.h), so search
// gets integers, doubles and strings as values instead of text to parse back.
#include <atomic>
#include <functional>
#include <string_view>

#include "lakehouse/arrow/ipc_reader.h"
#include "lakehouse/queryd/query.h"
#include "lakehouse/shared/error.h"

namespace lakehouse::search {

using arrow::ColumnView;
using arrow::RowBatch;

class ArrowRowSink final : public queryd::ResultSink {
 public:
  //! `on_batch` gets each record batch as it arrives. `cancelled` (optional) stops the query.
  explicit ArrowRowSink(std::function<void(const RowBatch&)> on_batch, const std::atomic<bool>* cancelled = nullptr)
      : reader_(std::move(on_batch)), cancelled_(cancelled) {}

  void Begin(std::string_view content_type) override {
    if (content_type != queryd::ContentType(queryd::ResultFormat::kArrow)) {
      Fail(ErrorCode::kInternal, "search asked queryd for Arrow and got {}", content_type);
    }
  }
  bool Write(std::string_view bytes) override {
    reader_.Write(bytes);
    return !ClientGone();
  }
  bool ClientGone() override { return cancelled_ != nullptr && cancelled_->load(); }
  //! Throws Error(kInternal) unless the stream ended with its end-of-stream marker.
  void Finish() const { reader_.Finish(); }

 private:
  arrow::IpcStreamReader reader_;
  const std::atomic<bool>* cancelled_;
};

}  // namespace lakehouse::search
