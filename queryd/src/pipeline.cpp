// The encode-and-send stage of a large result (see pipeline.h).
#include "pipeline.h"

#include <algorithm>

namespace lakehouse::queryd {
namespace {

void Release(ArrowArray& array) {
  if (array.release != nullptr) array.release(&array);
}

}  // namespace

BatchPipeline::BatchPipeline(Encoder& encoder, Output& out, bool text, int threads, bool rows_before)
    : encoder_(encoder), out_(out), text_(text), rows_before_(rows_before) {
  const int count = std::max(1, threads);
  for (int i = 0; i < count; ++i) threads_.emplace_back([this] { Work(); });
}

BatchPipeline::~BatchPipeline() {
  {
    std::lock_guard lock(mu_);
    if (!threads_.empty()) failed_ = true;  // dropped before Finish: send nothing more
    closing_ = true;
  }
  cv_.notify_all();
  for (auto& t : threads_) t.join();
  for (auto& item : queue_) Release(item->array);
}

bool BatchPipeline::Push(ArrowArray& batch) {
  auto item = std::make_unique<Item>();
  item->array = batch;
  batch.release = nullptr;  // ours now
  return Enqueue(std::move(item));
}

bool BatchPipeline::Push(std::unique_ptr<BatchSource> source) {
  auto item = std::make_unique<Item>();
  item->source = std::move(source);
  return Enqueue(std::move(item));
}

bool BatchPipeline::Enqueue(std::unique_ptr<Item> item) {
  std::unique_ptr<Item> refused;
  {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return in_flight_ < kMaxInFlight || failed_; });
    if (failed_) {
      refused = std::move(item);
    } else {
      item->seq = next_seq_++;
      ++in_flight_;
      queue_.push_back(std::move(item));
    }
  }
  if (refused) {
    Release(refused->array);
    return false;
  }
  cv_.notify_all();
  return true;
}

void BatchPipeline::Fail() {
  std::lock_guard lock(mu_);
  if (!error_) error_ = std::current_exception();
  failed_ = true;
}

void BatchPipeline::Finish() {
  {
    std::lock_guard lock(mu_);
    closing_ = true;
  }
  cv_.notify_all();
  for (auto& t : threads_) t.join();
  threads_.clear();
  if (error_) std::rethrow_exception(error_);
}

void BatchPipeline::Work() {
  while (true) {
    std::unique_ptr<Item> item;
    bool skip = false;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return !queue_.empty() || closing_; });
      if (queue_.empty()) return;
      item = std::move(queue_.front());
      queue_.pop_front();
      skip = failed_;
    }
    if (item->source && !skip) {
      try {
        item->source->Make(item->array);  // e.g. DuckDB's chunks converted to Arrow, here
      } catch (...) {
        Fail();
        skip = true;
      }
    }
    item->source.reset();  // the chunks are freed on this thread too
    if (text_ && !skip) {
      try {
        // Sized like the batches before (a growing string copied each batch ~twice over).
        item->text.reserve(text_hint_.load(std::memory_order_relaxed));
        encoder_.EncodeRows(item->array, rows_before_ || item->seq > 0, item->text);
        const size_t hint = item->text.size() + item->text.size() / 8;
        if (hint > text_hint_.load(std::memory_order_relaxed)) text_hint_.store(hint, std::memory_order_relaxed);
      } catch (...) {
        Fail();
      }
      Release(item->array);  // the text is all that is sent
    }
    {
      // Wait for this batch's turn; the thread whose turn it is sends alone.
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return next_send_ == item->seq; });
      skip = failed_;
    }
    if (!skip) Send(*item);
    Release(item->array);
    {
      std::lock_guard lock(mu_);
      ++next_send_;
      --in_flight_;
    }
    cv_.notify_all();
  }
}

void BatchPipeline::Send(Item& item) {
  bool ok = true;
  try {
    if (text_) {
      out_.Append(item.text);
      out_.MaybeFlush();
    } else {
      encoder_.Batch(item.array);
    }
    ok = out_.ok();
  } catch (...) {
    Fail();
    return;
  }
  if (!ok) {
    std::lock_guard lock(mu_);
    failed_ = true;
  }
}

}  // namespace lakehouse::queryd
