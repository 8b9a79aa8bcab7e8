#include "admission.h"

#include <algorithm>
#include <cctype>
#include <iterator>
#include <string>

#include "lakehouse/shared/error.h"

namespace lakehouse::gateway {

Admission::Admission(const char* name, int max_running, int max_queued, std::chrono::milliseconds max_wait)
    : name_(name), max_running_(std::max(1, max_running)), max_queued_(std::max(0, max_queued)), max_wait_(max_wait) {}

Admission::Slot Admission::Enter() {
  std::unique_lock lock(mu_);
  if (running_ < max_running_ && queue_.empty()) {
    ++running_;
    return Slot(this);
  }
  if (static_cast<int>(queue_.size()) >= max_queued_) {
    Fail(ErrorCode::kTooManyRequests,
         "too many queries: {} {} queries run and {} wait (query.max_concurrent, query.max_queued); retry shortly",
         running_, name_, queue_.size());
  }
  const uint64_t ticket = next_ticket_++;
  queue_.push_back(ticket);
  const bool admitted =
      cv_.wait_for(lock, max_wait_, [&] { return running_ < max_running_ && queue_.front() == ticket; });
  if (!admitted) {
    queue_.erase(std::find(queue_.begin(), queue_.end(), ticket));
    cv_.notify_all();  // the next in line may be admissible now
    Fail(ErrorCode::kUnavailable,
         "the server is busy: the query waited {} ms for one of {} {} query slots (query.max_queue_wait_ms); retry "
         "later",
         max_wait_.count(), max_running_, name_);
  }
  queue_.pop_front();
  ++running_;
  cv_.notify_all();
  return Slot(this);
}

void Admission::Release() {
  {
    std::lock_guard lock(mu_);
    --running_;
  }
  cv_.notify_all();
}

int Admission::running() const {
  std::lock_guard lock(mu_);
  return running_;
}

int Admission::queued() const {
  std::lock_guard lock(mu_);
  return static_cast<int>(queue_.size());
}

bool IsLightQuery(std::string_view sql) {
  size_t i = 0;
  const size_t n = sql.size();
  auto skip_quoted = [&](char quote) {
    for (++i; i < n; ++i) {
      if (sql[i] == quote) {
        if (i + 1 < n && sql[i + 1] == quote) {
          ++i;  // doubled quote
          continue;
        }
        ++i;
        return;
      }
    }
  };
  while (i < n) {
    const char c = sql[i];
    if (c == '\'' || c == '"') {
      skip_quoted(c);
    } else if (c == '-' && i + 1 < n && sql[i + 1] == '-') {
      while (i < n && sql[i] != '\n') ++i;
    } else if (c == '/' && i + 1 < n && sql[i + 1] == '*') {
      size_t end = sql.find("*/", i + 2);
      i = end == std::string_view::npos ? n : end + 2;
    } else if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
      size_t start = i;
      while (i < n && (std::isalnum(static_cast<unsigned char>(sql[i])) || sql[i] == '_' || sql[i] == '$')) ++i;
      std::string word(sql.substr(start, i - start));
      std::transform(word.begin(), word.end(), word.begin(), [](unsigned char ch) { return std::tolower(ch); });
      // Every way to read a table: FROM, and the statements that scan one without saying FROM.
      static constexpr std::string_view kReadsTable[] = {"from",  "summarize", "describe", "show",
                                                         "pivot", "unpivot",   "table"};
      if (std::find(std::begin(kReadsTable), std::end(kReadsTable), word) != std::end(kReadsTable)) return false;
    } else {
      ++i;
    }
  }
  return true;
}

}  // namespace lakehouse::gateway
