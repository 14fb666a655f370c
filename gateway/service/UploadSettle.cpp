#include "UploadSettle.h"

#include <algorithm>
#include <thread>

#include "Logging.h"
#include "connectors/common/Error.h"

namespace popgate::gateway {

UploadSettle::UploadSettle(std::optional<Clock::time_point> previous_alive,
                           std::function<Clock::time_point()> now)
    : previous_alive_(previous_alive), now_(std::move(now)) {}

UploadSettle::Clock::time_point UploadSettle::settlesAt(const std::string& account,
                                                        std::chrono::seconds grace) const {
  std::optional<Clock::time_point> last_write = previous_alive_;
  {
    std::lock_guard lock(mutex_);
    if (const auto it = failed_at_.find(account); it != failed_at_.end()) {
      last_write = last_write ? std::max(*last_write, it->second) : it->second;
    }
  }
  const Clock::time_point now = now_();
  if (!last_write) return now;
  return std::min(*last_write + grace, now + grace);
}

void UploadSettle::passFailed(const std::string& account) {
  const Clock::time_point now = now_();
  std::lock_guard lock(mutex_);
  failed_at_[account] = now;
}

void UploadSettle::await(const std::string& account, std::chrono::seconds grace,
                         const std::atomic<bool>* stop) const {
  const Clock::time_point until = settlesAt(account, grace);
  Clock::time_point now = now_();
  if (until <= now) return;
  const auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(until - now);
  logInfo(account + ": an earlier upload was cut off; waiting " +
          std::to_string((wait.count() + 999) / 1000) +
          " s before looking for what it left in flight (its bytes may still be on their way to "
          "the target)");
  for (; now < until; now = now_()) {
    if (stop != nullptr && stop->load()) {
      throw Error(ErrorKind::Transient,
                  account + ": stopped while waiting for an interrupted upload to settle");
    }
    std::this_thread::sleep_for(std::min<Clock::duration>(until - now, std::chrono::milliseconds(200)));
  }
}

}  // namespace popgate::gateway
