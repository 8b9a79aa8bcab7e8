#pragma once
// Admission control for queries: a bounded number run at once, a bounded queue waits for a turn,
// and everything beyond gets a clear 429 (queue full) or 503 (waited too long) with Retry-After.
//
// Two lanes, so cheap requests are never stuck behind heavy ones: a query that reads no table
// (no FROM anywhere, e.g. `SELECT 1`, `SELECT now()`) takes the light lane, everything else the
// heavy lane. A light query is still bounded by its timeout and the sandbox's limits; the light
// lane only has to outlast other light queries.
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string_view>

namespace lakehouse::gateway {

class Admission {
 public:
  //! `name` appears in error messages ("heavy", "light").
  Admission(const char* name, int max_running, int max_queued, std::chrono::milliseconds max_wait);

  //! Holds one running slot until destroyed.
  class Slot {
   public:
    explicit Slot(Admission* owner) : owner_(owner) {}
    ~Slot() {
      if (owner_ != nullptr) owner_->Release();
    }
    Slot(Slot&& other) noexcept : owner_(other.owner_) { other.owner_ = nullptr; }
    Slot(const Slot&) = delete;
    Slot& operator=(const Slot&) = delete;
    Slot& operator=(Slot&&) = delete;

   private:
    Admission* owner_;
  };

  //! Waits for a running slot. Throws Error(kTooManyRequests) at once when the queue is full and
  //! Error(kUnavailable) after max_wait in the queue.
  Slot Enter();

  int running() const;
  int queued() const;

 private:
  void Release();

  const char* name_;
  const int max_running_;
  const int max_queued_;
  const std::chrono::milliseconds max_wait_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  int running_ = 0;
  std::deque<uint64_t> queue_;  //!< tickets in arrival order (first in, first admitted)
  uint64_t next_ticket_ = 0;
};

//! The two lanes the query routes share (BuildRouter makes one per router, from Services).
class QueryAdmission {
 public:
  static constexpr int kLightSlots = 2;
  static constexpr int kLightQueued = 8;
  QueryAdmission(int max_running, int max_queued, std::chrono::milliseconds max_wait)
      : heavy("heavy", max_running, max_queued, max_wait), light("light", kLightSlots, kLightQueued, max_wait) {}
  Admission heavy;  //!< queries that read a table
  Admission light;  //!< queries that read none (IsLightQuery)
};

//! True when the SQL reads no table: none of FROM, SUMMARIZE, DESCRIBE, SHOW, PIVOT, UNPIVOT,
//! TABLE outside string literals, quoted names and comments. Such a query takes the light lane.
bool IsLightQuery(std::string_view sql);

}  // namespace lakehouse::gateway
