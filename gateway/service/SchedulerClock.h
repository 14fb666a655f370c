#pragma once
// The Scheduler's sense of time: what time it is, and how to wait for a deadline or a notification.
// The daemon uses the steady clock (steadySchedulerClock(), whose waits last a second at most, so
// the scheduler's loop beats for the watchdog even when nothing is due); unit tests drive a manual clock so
// that backoff and intervals are checked without waiting for them.

#include <chrono>
#include <condition_variable>
#include <mutex>

namespace popgate::gateway {

class SchedulerClock {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;
  virtual ~SchedulerClock() = default;

  // The current time on this clock; never goes backwards.
  virtual TimePoint now() const = 0;
  // Waits on `wake` (`lock` held on entry and on return) until it is notified or `deadline` on
  // this clock has passed; TimePoint::max() means "until notified". May return early: the caller
  // looks again at what is due.
  virtual void waitUntil(std::condition_variable& wake, std::unique_lock<std::mutex>& lock,
                         TimePoint deadline) = 0;
};

// std::chrono::steady_clock, waiting with condition_variable::wait_until. Lives for the process.
SchedulerClock& steadySchedulerClock();

}  // namespace popgate::gateway
