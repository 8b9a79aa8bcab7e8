// The embedding jobs' registry on its own: the pool never grows past its threads, the queue in
// front of it is bounded, finished jobs are kept for a bounded time and count, and job states are
// typed (queued, running, succeeded, failed, cancelled).
#include "jobs.h"

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <set>
#include <thread>

#include "lakehouse/shared/error.h"

namespace lakehouse::search {
namespace {

using namespace std::chrono_literals;

//! Holds jobs until opened.
class Gate {
 public:
  void Wait() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [this] { return open_; });
  }
  void Open() {
    {
      std::lock_guard lock(mu_);
      open_ = true;
    }
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = false;
};

JobStatus WaitFinished(JobRegistry& jobs, const std::string& id) {
  for (int i = 0; i < 500; ++i) {
    JobStatus s = jobs.Get(id);
    if (IsFinished(s.state)) return s;
    std::this_thread::sleep_for(10ms);
  }
  ADD_FAILURE() << "job " << id << " did not finish";
  return jobs.Get(id);
}

void WaitState(JobRegistry& jobs, const std::string& id, JobState state) {
  for (int i = 0; i < 500 && jobs.Get(id).state != state; ++i) std::this_thread::sleep_for(10ms);
  ASSERT_EQ(JobStateName(jobs.Get(id).state), JobStateName(state));
}

TEST(JobRegistry, ThreadsNeverGrowPastThePool) {
  JobRegistry jobs({.threads = 2, .max_queued = 100});
  Gate gate;
  std::mutex mu;
  std::set<std::thread::id> threads;
  std::atomic<int> running{0}, most{0};
  std::vector<std::string> ids;
  for (int i = 0; i < 12; ++i) {
    ids.push_back(jobs.Submit({},
                              [&](JobHandle& job) {
                                const int now = ++running;
                                for (int seen = most.load(); now > seen && !most.compare_exchange_weak(seen, now);) {
                                }
                                {
                                  std::lock_guard lock(mu);
                                  threads.insert(std::this_thread::get_id());
                                }
                                gate.Wait();
                                job.Update([](JobStatus& s) { s.rows_done = 1; });
                                --running;
                              })
                      .id);
  }
  EXPECT_EQ(jobs.Get(ids.back()).state, JobState::kQueued);
  gate.Open();
  for (const auto& id : ids) {
    JobStatus s = WaitFinished(jobs, id);
    EXPECT_EQ(s.state, JobState::kSucceeded);
    EXPECT_EQ(s.rows_done, 1u);
  }
  EXPECT_LE(threads.size(), 2u);
  EXPECT_LE(most.load(), 2);
}

TEST(JobRegistry, QueueIsBoundedWith429) {
  JobRegistry jobs({.threads = 1, .max_queued = 2});
  Gate gate;
  auto blocked = [&](JobHandle&) { gate.Wait(); };
  const std::string first = jobs.Submit({}, blocked).id;
  WaitState(jobs, first, JobState::kRunning);  // it left the queue
  jobs.Submit({}, blocked);
  jobs.Submit({}, blocked);
  try {
    jobs.Submit({}, blocked);
    ADD_FAILURE() << "a third queued job was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kTooManyRequests);
    EXPECT_NE(std::string(e.what()).find("try again later"), std::string::npos) << e.what();
  }
  gate.Open();
}

TEST(JobRegistry, FinishedJobsAreKeptForABoundedTime) {
  JobRegistry jobs({.threads = 1, .keep_finished = 200ms});
  const std::string id = jobs.Submit({}, [](JobHandle&) {}).id;
  EXPECT_EQ(WaitFinished(jobs, id).state, JobState::kSucceeded);
  std::this_thread::sleep_for(300ms);
  try {
    jobs.Get(id);
    ADD_FAILURE() << "an expired job is still there";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kNotFound);
  }
  EXPECT_TRUE(jobs.List().empty());
}

TEST(JobRegistry, FinishedJobsAreKeptForABoundedCount) {
  JobRegistry jobs({.threads = 1, .max_finished = 3});
  std::vector<std::string> ids;
  for (int i = 0; i < 8; ++i) {
    ids.push_back(jobs.Submit({}, [](JobHandle&) {}).id);
    WaitFinished(jobs, ids.back());
  }
  std::vector<JobStatus> kept = jobs.List();
  ASSERT_EQ(kept.size(), 3u);
  EXPECT_EQ(kept.back().id, ids.back());  // the newest stay, oldest first
  EXPECT_EQ(kept.front().id, ids[5]);
}

TEST(JobRegistry, StatesAreTyped) {
  JobRegistry jobs({.threads = 1});
  const std::string failed = jobs.Submit({}, [](JobHandle&) { Fail(ErrorCode::kNotFound, "model x not found"); }).id;
  JobStatus s = WaitFinished(jobs, failed);
  EXPECT_EQ(s.state, JobState::kFailed);
  EXPECT_EQ(s.error_code, "not_found");
  EXPECT_EQ(s.error_message, "model x not found");

  const std::string running = jobs.Submit({},
                                          [](JobHandle& job) {
                                            while (!job.cancelled()) std::this_thread::sleep_for(5ms);
                                            Fail(ErrorCode::kCancelled, "stopped");
                                          })
                                  .id;
  WaitState(jobs, running, JobState::kRunning);
  EXPECT_TRUE(jobs.Cancel(running));
  EXPECT_EQ(WaitFinished(jobs, running).state, JobState::kCancelled);
  EXPECT_FALSE(jobs.Cancel(running));  // already finished
  EXPECT_FALSE(jobs.Cancel("job-999"));
  EXPECT_EQ(JobStateName(JobState::kQueued), "queued");
}

TEST(JobRegistry, ShutdownCancelsRunningAndQueuedJobs) {
  std::atomic<int> started{0};
  {
    JobRegistry jobs({.threads = 1});
    for (int i = 0; i < 5; ++i) {
      jobs.Submit({}, [&](JobHandle& job) {
        ++started;
        while (!job.cancelled()) std::this_thread::sleep_for(5ms);
      });
    }
    while (started == 0) std::this_thread::sleep_for(5ms);
  }  // ~JobRegistry: cancels, waits; the four queued jobs never start
  EXPECT_EQ(started.load(), 1);
}

TEST(JobRegistry, RunInlineReturnsTheFinalStatusOrThrows) {
  JobRegistry jobs({});
  JobStatus s = jobs.RunInline({}, [](JobHandle& job) { job.Update([](JobStatus& st) { st.rows_done = 7; }); });
  EXPECT_EQ(s.state, JobState::kSucceeded);
  EXPECT_EQ(s.rows_done, 7u);
  EXPECT_THROW(jobs.RunInline({}, [](JobHandle&) { Fail(ErrorCode::kConflict, "no"); }), Error);
  EXPECT_TRUE(jobs.List().empty());  // inline jobs are not registered
}

}  // namespace
}  // namespace lakehouse::search
