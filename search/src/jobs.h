#pragma once
// The bounded registry of embedding jobs: a fixed pool of threads (the pool never grows, however
// many jobs come), a bounded queue in front of it (429 beyond), and finished jobs kept for a
// bounded time and count so their status can be read, then forgotten.
#include <boost/asio/thread_pool.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "lakehouse/search/search.h"

namespace lakehouse::search {

//! What a running job sees of itself: its status (updated under the registry's lock) and whether
//! it should stop.
class JobHandle {
 public:
  JobHandle(JobStatus& status, std::mutex& mu, const std::atomic<bool>& cancelled)
      : status_(status), mu_(mu), cancelled_(cancelled) {}
  //! Runs `f` on the status under the lock (progress, model, phases).
  void Update(const std::function<void(JobStatus&)>& f) {
    std::lock_guard lock(mu_);
    f(status_);
  }
  JobStatus Snapshot() const {
    std::lock_guard lock(mu_);
    return status_;
  }
  bool cancelled() const { return cancelled_.load(); }
  //! Polled by queries the job runs (a set flag cancels them).
  const std::atomic<bool>* cancel_flag() const { return &cancelled_; }

 private:
  JobStatus& status_;
  std::mutex& mu_;
  const std::atomic<bool>& cancelled_;
};

struct JobRegistryOptions {
  int threads = 2;
  size_t max_queued = 64;
  std::chrono::milliseconds keep_finished{3600000};
  size_t max_finished = 1000;
  std::string id_prefix = "job-";
};

class JobRegistry {
 public:
  //! The work of one job; throwing Error fails the job with its code (kCancelled: cancelled).
  using Work = std::function<void(JobHandle&)>;

  explicit JobRegistry(JobRegistryOptions options);
  //! Cancels every queued and running job and waits for the threads.
  ~JobRegistry();
  JobRegistry(const JobRegistry&) = delete;
  JobRegistry& operator=(const JobRegistry&) = delete;

  //! Queues `work` with `initial` as its first status (the state is set here, and the id unless
  //! `initial` names one: a resumed job keeps its id; kConflict when it is taken). Throws
  //! Error(kTooManyRequests) when max_queued jobs already wait for a thread.
  //! `on_skipped` runs (on a job thread) instead of `work` when the job is cancelled before it
  //! starts, so the owner can clean up what it prepared for the job.
  JobStatus Submit(JobStatus initial, Work work, std::function<void()> on_skipped = {});
  //! Throws Error(kNotFound) for an unknown or forgotten id.
  JobStatus Get(const std::string& id) const;
  //! Every job still kept, oldest first.
  std::vector<JobStatus> List() const;
  //! Asks a queued or running job to stop; false when it is unknown or already finished.
  bool Cancel(const std::string& id);

  //! Runs `work` in the calling thread as an unregistered job (a request that waits for it);
  //! returns its final status, or throws what the work threw.
  JobStatus RunInline(JobStatus initial, const Work& work);

 private:
  using Clock = std::chrono::steady_clock;
  struct Entry {
    JobStatus status;
    std::atomic<bool> cancelled{false};
    Clock::time_point submitted = Clock::now();
    Clock::time_point started{};
    Clock::time_point finished{};
  };
  void Run(const std::shared_ptr<Entry>& entry, const Work& work, const std::function<void()>& on_skipped);
  //! Drops finished jobs past keep_finished, then the oldest beyond max_finished. Holds mu_.
  void Prune() const;
  static double Since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }
  JobStatus SnapshotLocked(const Entry& e) const;

  JobRegistryOptions options_;
  mutable std::mutex mu_;
  mutable std::map<std::string, std::shared_ptr<Entry>> jobs_;
  mutable std::vector<std::string> order_;  //!< ids in submission order (for List and pruning)
  std::atomic<bool> stopping_{false};
  uint64_t next_id_ = 0;
  size_t queued_ = 0;
  boost::asio::thread_pool pool_;  //!< last: joined (in ~JobRegistry) while the rest is alive
};

}  // namespace lakehouse::search
