#pragma once
// One deadline watchdog for the process: a background thread that runs an action when a deadline
// passes (queryd interrupts a query at its timeout; the gateway shuts the socket of a stalled call).
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <thread>

namespace lakehouse {

class DeadlineWatchdog {
 public:
  using Clock = std::chrono::steady_clock;

  DeadlineWatchdog();
  ~DeadlineWatchdog();
  DeadlineWatchdog(const DeadlineWatchdog&) = delete;
  DeadlineWatchdog& operator=(const DeadlineWatchdog&) = delete;

  //! Runs `on_expire` once on the watchdog thread when `deadline` passes, unless removed first.
  //! The action runs under the watchdog's lock: it must be short and must not call back into it.
  uint64_t Add(Clock::time_point deadline, std::function<void()> on_expire);
  //! After Remove returns, the entry's action has either run to completion or will never run.
  void Remove(uint64_t id);
  //! Entries not yet expired nor removed.
  size_t active() const;

  //! Watches one scope: adds on construction, removes on destruction.
  class Scope {
   public:
    Scope(DeadlineWatchdog& dog, Clock::time_point deadline, std::function<void()> on_expire)
        : dog_(dog), id_(dog.Add(deadline, std::move(on_expire))) {}
    ~Scope() { dog_.Remove(id_); }
    Scope(const Scope&) = delete;
    Scope& operator=(const Scope&) = delete;

   private:
    DeadlineWatchdog& dog_;
    uint64_t id_;
  };

 private:
  struct Entry {
    Clock::time_point deadline;
    std::function<void()> on_expire;
  };
  void Run();

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::map<uint64_t, Entry> entries_;
  Clock::time_point next_wake_ = Clock::time_point::max();  //!< when the thread wakes next (under mu_)
  uint64_t next_id_ = 0;
  bool stop_ = false;
  std::thread thread_;  //!< last: starts after every other member is ready
};

}  // namespace lakehouse
