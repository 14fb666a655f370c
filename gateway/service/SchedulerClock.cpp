#include "SchedulerClock.h"

namespace popgate::gateway {

namespace {

class SteadyClock final : public SchedulerClock {
 public:
  TimePoint now() const override { return std::chrono::steady_clock::now(); }
  void waitUntil(std::condition_variable& wake, std::unique_lock<std::mutex>& lock,
                 TimePoint deadline) override {
    // No deadline: only a notification ends the wait.
    if (deadline == TimePoint::max()) {
      wake.wait(lock);
    } else {
      wake.wait_until(lock, deadline);
    }
  }
};

}  // namespace

SchedulerClock& steadySchedulerClock() {
  static SteadyClock clock;
  return clock;
}

}  // namespace popgate::gateway
