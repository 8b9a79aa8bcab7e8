#include "lakehouse/shared/periodic.h"

#include <exception>
#include <utility>

#include "lakehouse/shared/logging.h"

namespace lakehouse {

PeriodicThread::PeriodicThread(std::string name, std::chrono::milliseconds interval, std::function<void()> task,
                               First first)
    : name_(std::move(name)), interval_(interval), task_(std::move(task)), thread_([this, first] { Run(first); }) {}

PeriodicThread::~PeriodicThread() { Stop(); }

void PeriodicThread::Stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) thread_.join();
}

void PeriodicThread::Run(First first) {
  std::unique_lock lock(mu_);
  if (first == First::kAfterInterval) cv_.wait_for(lock, interval_, [this] { return stopping_; });
  while (!stopping_) {
    lock.unlock();
    try {
      task_();
    } catch (const std::exception& e) {
      log::Warn("periodic task failed", {{"task", name_}, {"error", e.what()}});
    }
    lock.lock();
    cv_.wait_for(lock, interval_, [this] { return stopping_; });
  }
}

}  // namespace lakehouse
