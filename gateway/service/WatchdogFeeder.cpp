#include "WatchdogFeeder.h"

#include <algorithm>
#include <cerrno>
#include <ctime>
#include <string>

#include "Logging.h"

namespace popgate::gateway {

WatchdogFeeder::WatchdogFeeder(const SystemdNotifier& systemd, const StatusBoard& board,
                               std::chrono::seconds stall_timeout)
    : systemd_(systemd), board_(board), stall_timeout_(stall_timeout) {}

bool WatchdogFeeder::alive(std::chrono::steady_clock::time_point last_beat,
                           std::chrono::steady_clock::time_point now,
                           std::chrono::seconds stall_timeout) noexcept {
  return now - last_beat <= stall_timeout;
}

int WatchdogFeeder::waitForSignal(const sigset_t& signals) {
  const auto timeout = systemd_.watchdogTimeout();
  if (!timeout) {
    int signal = 0;
    return sigwait(&signals, &signal) == 0 ? signal : 0;
  }
  const auto half = std::max<std::chrono::microseconds>(*timeout / 2, std::chrono::milliseconds(1));
  timespec wait{};
  wait.tv_sec =
      static_cast<std::time_t>(std::chrono::duration_cast<std::chrono::seconds>(half).count());
  wait.tv_nsec = static_cast<long>((half % std::chrono::seconds(1)).count() * 1000);
  const int signal = sigtimedwait(&signals, nullptr, &wait);
  if (signal > 0) return signal;
  if (errno != EAGAIN) return 0;  // EINTR: just another turn
  const auto now = std::chrono::steady_clock::now();
  if (alive(board_.lastBeat(), now, stall_timeout_)) {
    systemd_.notify("WATCHDOG=1");
    warned_ = false;
  } else if (!warned_) {
    const auto quiet = std::chrono::duration_cast<std::chrono::seconds>(now - board_.lastBeat());
    logError("the scheduler has made no progress for " + std::to_string(quiet.count()) +
             " s: the systemd watchdog is no longer fed and /healthz answers 503");
    warned_ = true;
  }
  return 0;
}

}  // namespace popgate::gateway
