#include "lakehouse/shared/watchdog.h"

#include <algorithm>

namespace lakehouse {

DeadlineWatchdog::DeadlineWatchdog() : thread_([this] { Run(); }) {}

DeadlineWatchdog::~DeadlineWatchdog() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

uint64_t DeadlineWatchdog::Add(Clock::time_point deadline, std::function<void()> on_expire) {
  std::lock_guard lock(mu_);
  const uint64_t id = ++next_id_;
  entries_.emplace(id, Entry{deadline, std::move(on_expire)});
  // Most deadlines come after the one the thread already waits for: wake it only when earlier.
  if (deadline < next_wake_) {
    next_wake_ = deadline;
    cv_.notify_all();
  }
  return id;
}

void DeadlineWatchdog::Remove(uint64_t id) {
  std::lock_guard lock(mu_);
  entries_.erase(id);
}

size_t DeadlineWatchdog::active() const {
  std::lock_guard lock(mu_);
  return entries_.size();
}

void DeadlineWatchdog::Run() {
  std::unique_lock lock(mu_);
  while (!stop_) {
    auto next = Clock::time_point::max();
    const auto now = Clock::now();
    for (auto it = entries_.begin(); it != entries_.end();) {
      if (it->second.deadline <= now) {
        it->second.on_expire();
        it = entries_.erase(it);
      } else {
        next = std::min(next, it->second.deadline);
        ++it;
      }
    }
    next_wake_ = next;
    if (next == Clock::time_point::max()) {
      cv_.wait(lock);
    } else {
      cv_.wait_until(lock, next);
    }
  }
}

}  // namespace lakehouse
