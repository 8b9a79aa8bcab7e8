#include "jobs.h"

#include <boost/asio/post.hpp>

#include <algorithm>

#include "lakehouse/shared/error.h"
#include "lakehouse/shared/logging.h"

namespace lakehouse::search {

JobRegistry::JobRegistry(JobRegistryOptions options)
    : options_(std::move(options)), pool_(static_cast<size_t>(std::max(1, options_.threads))) {}

JobRegistry::~JobRegistry() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    for (auto& [id, entry] : jobs_) entry->cancelled = true;
  }
  pool_.join();  // queued jobs see the flag and finish as cancelled without running
}

JobStatus JobRegistry::Submit(JobStatus initial, Work work, std::function<void()> on_skipped) {
  std::lock_guard lock(mu_);
  if (stopping_) Fail(ErrorCode::kUnavailable, "the server is shutting down: no new jobs");
  Prune();
  if (queued_ >= options_.max_queued) {
    Fail(ErrorCode::kTooManyRequests, "{} jobs are already waiting for one of the {} job threads: try again later",
         queued_, options_.threads);
  }
  auto entry = std::make_shared<Entry>();
  entry->status = std::move(initial);
  if (entry->status.id.empty()) {
    entry->status.id = options_.id_prefix + std::to_string(++next_id_);
  } else if (jobs_.contains(entry->status.id)) {
    Fail(ErrorCode::kConflict, "job {} exists already", entry->status.id);
  }
  entry->status.state = JobState::kQueued;
  jobs_[entry->status.id] = entry;
  order_.push_back(entry->status.id);
  ++queued_;
  boost::asio::post(pool_, [this, entry, work = std::move(work), on_skipped = std::move(on_skipped)] {
    Run(entry, work, on_skipped);
  });
  return SnapshotLocked(*entry);
}

void JobRegistry::Run(const std::shared_ptr<Entry>& entry, const Work& work, const std::function<void()>& on_skipped) {
  {
    std::unique_lock lock(mu_);
    --queued_;
    entry->started = Clock::now();
    if (entry->cancelled) {
      // Cleaned up first, then shown cancelled: whoever sees the state sees the clean-up done.
      lock.unlock();
      if (on_skipped) {
        try {
          on_skipped();
        } catch (const std::exception& e) {
          log::Warn("clean-up of a job cancelled before it started failed",
                    {{"job", entry->status.id}, {"error", e.what()}});
        }
      }
      lock.lock();
      entry->status.state = JobState::kCancelled;
      entry->status.error_code = std::string(CodeName(ErrorCode::kCancelled));
      entry->status.error_message = stopping_ ? "the server shut down before the job started" : "cancelled";
      entry->finished = Clock::now();
      return;
    }
    entry->status.state = JobState::kRunning;
  }
  JobHandle handle(entry->status, mu_, entry->cancelled);
  JobState state = JobState::kSucceeded;
  std::string code, message;
  try {
    work(handle);
  } catch (const Error& e) {
    state = entry->cancelled ? JobState::kCancelled : JobState::kFailed;
    code = std::string(CodeName(e.code()));
    message = e.what();
  } catch (const std::exception& e) {
    state = JobState::kFailed;
    code = std::string(CodeName(ErrorCode::kInternal));
    message = e.what();
  }
  std::lock_guard lock(mu_);
  entry->finished = Clock::now();
  entry->status.state = state;
  entry->status.error_code = code;
  entry->status.error_message = message;
  entry->status.seconds = std::chrono::duration<double>(entry->finished - entry->started).count();
  log::Info("job finished", ToJson(entry->status));
}

JobStatus JobRegistry::SnapshotLocked(const Entry& e) const {
  JobStatus s = e.status;
  if (s.state == JobState::kRunning) s.seconds = Since(e.started);
  return s;
}

JobStatus JobRegistry::Get(const std::string& id) const {
  std::lock_guard lock(mu_);
  Prune();
  auto it = jobs_.find(id);
  if (it == jobs_.end()) {
    Fail(ErrorCode::kNotFound, "no job {} on this server (finished jobs are kept for {} s)", id,
         std::chrono::duration_cast<std::chrono::seconds>(options_.keep_finished).count());
  }
  return SnapshotLocked(*it->second);
}

std::vector<JobStatus> JobRegistry::List() const {
  std::lock_guard lock(mu_);
  Prune();
  std::vector<JobStatus> out;
  out.reserve(order_.size());
  for (const auto& id : order_) out.push_back(SnapshotLocked(*jobs_.at(id)));
  return out;
}

bool JobRegistry::Cancel(const std::string& id) {
  std::lock_guard lock(mu_);
  auto it = jobs_.find(id);
  if (it == jobs_.end() || IsFinished(it->second->status.state)) return false;
  it->second->cancelled = true;
  return true;
}

JobStatus JobRegistry::RunInline(JobStatus initial, const Work& work) {
  std::mutex mu;
  const auto started = Clock::now();
  initial.state = JobState::kRunning;
  JobHandle handle(initial, mu, stopping_);
  work(handle);
  std::lock_guard lock(mu);
  initial.state = JobState::kSucceeded;
  initial.seconds = Since(started);
  return initial;
}

void JobRegistry::Prune() const {
  const auto now = Clock::now();
  auto finished = [&](const std::string& id) { return IsFinished(jobs_.at(id)->status.state); };
  size_t kept_finished = 0;
  for (const auto& id : order_) kept_finished += finished(id) ? 1 : 0;
  std::vector<std::string> kept;
  kept.reserve(order_.size());
  for (const auto& id : order_) {  // oldest first: expired ones, then the oldest beyond the count
    const Entry& e = *jobs_.at(id);
    const bool done = IsFinished(e.status.state);
    if (done && (now - e.finished > options_.keep_finished || kept_finished > options_.max_finished)) {
      jobs_.erase(id);
      --kept_finished;
      continue;
    }
    kept.push_back(id);
  }
  order_.swap(kept);
}

}  // namespace lakehouse::search
