#pragma once
// What every pass uploading to one target shares about that target's limits:
// - pauses the server asked for (Microsoft's "Request is throttled. Suggested Backoff Time: N
//   milliseconds", Gmail's "OK ... [THROTTLED]" hint, "* BYE [OVERQUOTA] Account exceeded command
//   or bandwidth limits.", "Too many simultaneous connections");
// - the daily upload budget (target.daily_upload_limit; Gmail allows about 500 MB a day over
//   IMAP) over a rolling 24 hours, in hourly buckets, so a large backlog is spread over days
//   instead of tripping the provider's cap.
// Upload threads call admit() before a batch and uploaded() after it; short pauses are waited out
// there, long ones (and a spent budget) end the pass with Error(Throttled) and the time to come
// back. Thread-safe.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>

namespace popgate::gateway {

class TargetGate {
 public:
  using Clock = std::function<std::int64_t()>;  // unix seconds; tests move it
  // Pauses up to this long are waited out inside admit(); longer ones end the pass.
  static constexpr std::chrono::seconds kLongestWait{60};

  // `daily_limit` bytes per rolling 24 hours, 0 for none.
  explicit TargetGate(std::uint64_t daily_limit = 0, Clock clock = {});

  // Before a batch of `bytes` goes out: returns when it may go (after waiting out a pause of at
  // most kLongestWait). Throws Error(Throttled) with retryAfter() when the target is paused for
  // longer, or when the budget has no room for the batch (a batch larger than the whole budget
  // goes when nothing else was uploaded in the window), and Error(Transient) once released.
  void admit(std::uint64_t bytes);
  // `bytes` went through at `at` (unix seconds; now when 0): they count against the budget.
  void uploaded(std::uint64_t bytes, std::int64_t at = 0);
  // The server asked for a pause of `wait` (the longest of overlapping pauses wins).
  void pause(std::chrono::milliseconds wait, std::string reason);
  // Gmail's "[THROTTLED]" on a successful APPEND: pause briefly, longer each time it repeats
  // (1 s doubling up to 30 s); calm() after an answer without it starts again from 1 s.
  void slowDown();
  void calm();
  // Wakes every admit() waiting out a pause; they and every later admit() throw
  // Error(Transient): the process is stopping.
  void release();

  struct Snapshot {
    std::int64_t paused_until = 0;  // unix seconds; 0 or past: not paused
    std::string pause_reason;
    std::uint64_t daily_limit = 0;  // 0: none
    std::uint64_t used = 0;         // bytes in the last 24 hours
    std::int64_t next_room_at = 0;  // when the oldest counted hour leaves the window; 0: now
  };
  Snapshot snapshot() const;

  // Whether a daily budget is kept (target.daily_upload_limit is set).
  bool budgeted() const noexcept { return daily_limit_ > 0; }

  // The uploads counted now, by hour (unix seconds / 3600), for persisting and restoring.
  std::map<std::int64_t, std::uint64_t> hours() const;

 private:
  std::int64_t now() const;
  void forgetOldHours(std::int64_t now);  // caller holds mutex_
  std::uint64_t used() const;             // caller holds mutex_

  const std::uint64_t daily_limit_;
  Clock clock_;
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::map<std::int64_t, std::uint64_t> hours_;  // hour → bytes uploaded
  std::chrono::steady_clock::time_point paused_until_{};
  std::int64_t paused_until_unix_ = 0;
  std::string pause_reason_;
  std::chrono::milliseconds hint_wait_{0};
  bool released_ = false;
};

}  // namespace popgate::gateway
