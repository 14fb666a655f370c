#include "TargetGate.h"

#include <algorithm>
#include <ctime>

#include "connectors/common/Error.h"

namespace popgate::gateway {

namespace {

constexpr std::int64_t kHour = 3600;
constexpr std::int64_t kWindowHours = 24;
constexpr std::chrono::milliseconds kFirstHint{1000};
constexpr std::chrono::milliseconds kLongestHint{30000};

std::string megabytes(std::uint64_t bytes) {
  return std::to_string((bytes + 512 * 1024) / (1024 * 1024)) + " MB";
}

}  // namespace

TargetGate::TargetGate(std::uint64_t daily_limit, Clock clock)
    : daily_limit_(daily_limit), clock_(std::move(clock)) {}

std::int64_t TargetGate::now() const {
  return clock_ ? clock_() : static_cast<std::int64_t>(std::time(nullptr));
}

void TargetGate::forgetOldHours(std::int64_t at) {
  const std::int64_t first = at / kHour - kWindowHours + 1;  // the oldest hour still counted
  hours_.erase(hours_.begin(), hours_.lower_bound(first));
}

std::uint64_t TargetGate::used() const {
  std::uint64_t total = 0;
  for (const auto& [hour, bytes] : hours_) total += bytes;
  return total;
}

void TargetGate::admit(std::uint64_t bytes) {
  std::unique_lock lock(mutex_);
  for (;;) {
    if (released_) throw Error(ErrorKind::Transient, "popgate is stopping: uploads end here");
    const auto left = paused_until_ - std::chrono::steady_clock::now();
    if (left <= std::chrono::steady_clock::duration::zero()) break;
    const auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(left);
    if (wait > kLongestWait) {
      throw Error(ErrorKind::Throttled, "the target asked for a pause (" + pause_reason_ +
                                            "): uploads resume in " +
                                            std::to_string(wait.count() / 1000 + 1) + " s")
          .withRetryAfter(wait);
    }
    changed_.wait_for(lock, left);
  }
  if (daily_limit_ == 0) return;
  const std::int64_t at = now();
  forgetOldHours(at);
  const std::uint64_t spent = used();
  if (spent == 0 || spent + bytes <= daily_limit_) return;
  // No room now: come back when enough of the oldest hours have left the window.
  std::uint64_t freed = 0;
  std::int64_t room_at = at;
  for (const auto& [hour, hour_bytes] : hours_) {
    freed += hour_bytes;
    room_at = (hour + kWindowHours) * kHour;
    if (spent - freed + bytes <= daily_limit_ || freed == spent) break;
  }
  const auto wait = std::chrono::seconds(std::max<std::int64_t>(room_at - at, 1));
  throw Error(ErrorKind::Throttled,
              "the daily upload budget is spent (" + megabytes(spent) + " of " +
                  megabytes(daily_limit_) + " in the last 24 hours): uploads resume in " +
                  std::to_string(wait.count() / 60 + 1) + " min")
      .withRetryAfter(wait);
}

void TargetGate::uploaded(std::uint64_t bytes, std::int64_t at) {
  if (bytes == 0) return;
  std::lock_guard lock(mutex_);
  if (at == 0) at = now();
  hours_[at / kHour] += bytes;
  forgetOldHours(now());
}

void TargetGate::pause(std::chrono::milliseconds wait, std::string reason) {
  std::lock_guard lock(mutex_);
  const auto until = std::chrono::steady_clock::now() + wait;
  if (until <= paused_until_) return;
  paused_until_ = until;
  paused_until_unix_ = now() + std::chrono::duration_cast<std::chrono::seconds>(wait).count() + 1;
  pause_reason_ = std::move(reason);
  changed_.notify_all();
}

void TargetGate::slowDown() {
  std::chrono::milliseconds wait;
  {
    std::lock_guard lock(mutex_);
    hint_wait_ = hint_wait_.count() == 0 ? kFirstHint : std::min(hint_wait_ * 2, kLongestHint);
    wait = hint_wait_;
  }
  pause(wait, "the server answered [THROTTLED]");
}

void TargetGate::calm() {
  std::lock_guard lock(mutex_);
  hint_wait_ = std::chrono::milliseconds(0);
}

void TargetGate::release() {
  std::lock_guard lock(mutex_);
  released_ = true;
  changed_.notify_all();
}

TargetGate::Snapshot TargetGate::snapshot() const {
  std::lock_guard lock(mutex_);
  Snapshot s;
  const std::int64_t at = now();
  if (paused_until_ > std::chrono::steady_clock::now()) {
    s.paused_until = paused_until_unix_;
    s.pause_reason = pause_reason_;
  }
  s.daily_limit = daily_limit_;
  const std::int64_t first = at / kHour - kWindowHours + 1;
  for (const auto& [hour, bytes] : hours_) {
    if (hour < first) continue;
    s.used += bytes;
    if (s.next_room_at == 0) s.next_room_at = (hour + kWindowHours) * kHour;
  }
  if (s.daily_limit == 0 || s.used < s.daily_limit) s.next_room_at = 0;
  return s;
}

std::map<std::int64_t, std::uint64_t> TargetGate::hours() const {
  std::lock_guard lock(mutex_);
  return hours_;
}

}  // namespace popgate::gateway
