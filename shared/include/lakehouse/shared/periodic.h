#pragma once
// One background loop for the process's periodic chores (health probes of remote services and of
// the AI sidecar, API-key refresh, garbage collection): a thread that runs a task, waits an
// interval (or until stopped), and runs it again.
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

namespace lakehouse {

class PeriodicThread {
 public:
  enum class First { kNow, kAfterInterval };

  //! Starts the thread: `task` runs at once (First::kNow) or one `interval` from now, then every
  //! `interval` after the previous run ended. An exception out of `task` is logged (with `name`)
  //! and the loop goes on; `task` should handle the failures it expects itself.
  PeriodicThread(std::string name, std::chrono::milliseconds interval, std::function<void()> task,
                 First first = First::kNow);
  //! Stop().
  ~PeriodicThread();
  PeriodicThread(const PeriodicThread&) = delete;
  PeriodicThread& operator=(const PeriodicThread&) = delete;

  //! Ends the loop: a run in progress finishes, no other starts. Idempotent.
  void Stop();

 private:
  void Run(First first);

  const std::string name_;
  const std::chrono::milliseconds interval_;
  const std::function<void()> task_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::thread thread_;  //!< last: starts after every other member is ready
};

}  // namespace lakehouse
