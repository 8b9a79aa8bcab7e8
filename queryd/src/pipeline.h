#pragma once
// The encode-and-send stage of a large result on threads of its own (ADR 0012): the query thread
// fetches DuckDB's chunks and converts them to Arrow batches while other threads encode the
// previous batches and write them to the sink, in order.
//   - Text formats (JSON, NDJSON, CSV): `threads` threads each encode whole batches apart
//     (Encoder::EncodeRows is const), then send them in their order.
//   - Arrow: the IPC writer (Encoder::Batch) keeps the stream's state: batches are written and
//     sent one after the other, in order, by the thread whose turn it is.
//   - A batch may come as a BatchSource instead of an Arrow array: the fetched DuckDB chunks,
//     converted to Arrow on a pipeline thread (ADR 0012, sixth session), several batches apart,
//     so the query thread only fetches.
// At most kMaxInFlight batches wait or are being encoded: memory stays bounded.
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "encoders.h"
#include "output.h"

namespace lakehouse::queryd {

//! A batch that is made on a pipeline thread (DuckDB chunks converted to Arrow there).
class BatchSource {
 public:
  virtual ~BatchSource() = default;
  //! Fills `batch`, a struct array whose children are the columns; may throw.
  virtual void Make(ArrowArray& batch) = 0;
};

class BatchPipeline {
 public:
  static constexpr size_t kMaxInFlight = 4;

  //! `text`: encode with Encoder::EncodeRows, else with Encoder::Batch (in order). `threads`
  //! threads make (BatchSource) and encode (text) batches apart; sending is in order.
  //! `rows_before`: rows of the result were sent already (JSON separates batches with a comma).
  BatchPipeline(Encoder& encoder, Output& out, bool text, int threads, bool rows_before);
  ~BatchPipeline();  //!< stops (dropping what was not sent) and joins
  BatchPipeline(const BatchPipeline&) = delete;
  BatchPipeline& operator=(const BatchPipeline&) = delete;

  //! Hands `batch` over (its release is called once it is sent); waits while kMaxInFlight are in
  //! flight. False once a write failed or an encoder threw (then `batch` is released at once).
  bool Push(ArrowArray& batch);
  //! The same for a batch that a pipeline thread makes (BatchSource::Make) before encoding it.
  bool Push(std::unique_ptr<BatchSource> source);
  //! Waits until every batch is sent and joins the threads; rethrows an encoder's exception.
  void Finish();

 private:
  struct Item {
    uint64_t seq = 0;
    ArrowArray array{};
    std::unique_ptr<BatchSource> source;  //!< makes `array` on a pipeline thread
    std::string text;
  };
  bool Enqueue(std::unique_ptr<Item> item);
  void Fail();  //!< records the current exception (the first one wins) and stops the pipeline
  void Work();
  void Send(Item& item);

  Encoder& encoder_;
  Output& out_;
  const bool text_;
  const bool rows_before_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::unique_ptr<Item>> queue_;  //!< pushed, not taken by a thread yet
  uint64_t next_seq_ = 0;
  uint64_t next_send_ = 0;  //!< the batch whose turn it is to be sent
  size_t in_flight_ = 0;
  bool closing_ = false;
  bool failed_ = false;  //!< a write failed, an encoder threw, or the pipeline is being dropped
  std::exception_ptr error_;
  std::atomic<size_t> text_hint_{0};  //!< bytes to reserve for a batch's text
  std::vector<std::thread> threads_;
};

}  // namespace lakehouse::queryd
