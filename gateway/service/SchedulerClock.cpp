#include "SchedulerClock.h"

#include <algorithm>

namespace popgate::gateway {

namespace {

class SteadyClock final : public SchedulerClock {
 public:
  static constexpr std::chrono::seconds kLongestWait{1};
  TimePoint now() const override { return std::chrono::steady_clock::now(); }
  void waitUntil(std::condition_variable& wake, std::unique_lock<std::mutex>& lock,
                 TimePoint deadline) override {
    // The scheduler's loop beats on every turn (StatusBoard::beat(), read by /healthz and the
    // systemd watchdog), so a real wait lasts a second at most, even without a deadline; the
    // loop then finds nothing due and waits again.
    wake.wait_until(lock, std::min(deadline, now() + kLongestWait));
  }
};

}  // namespace

SchedulerClock& steadySchedulerClock() {
  static SteadyClock clock;
  return clock;
}

}  // namespace popgate::gateway
