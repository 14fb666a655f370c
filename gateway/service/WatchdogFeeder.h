#pragma once
// The daemon's main thread waits for signals here; when systemd asked for a watchdog it also wakes
// at half the watchdog timeout and sends WATCHDOG=1, but only while the scheduler's loop has
// beaten within stall_timeout. A stuck scheduler stops the feeding, and systemd restarts popgate.

#include <signal.h>

#include <chrono>

#include "StatusBoard.h"
#include "SystemdNotifier.h"

namespace popgate::gateway {

class WatchdogFeeder {
 public:
  // `systemd` and `board` must outlive the feeder.
  WatchdogFeeder(const SystemdNotifier& systemd, const StatusBoard& board,
                 std::chrono::seconds stall_timeout);

  // Whether a scheduler that last beat at `last_beat` counts as alive at `now`.
  static bool alive(std::chrono::steady_clock::time_point last_beat,
                    std::chrono::steady_clock::time_point now,
                    std::chrono::seconds stall_timeout) noexcept;

  // Waits for one of `signals` (blocked in every thread) and returns it; returns 0 after a
  // watchdog turn (WATCHDOG=1 sent if the scheduler is alive; a warning logged when it first
  // is not). Without a watchdog it just waits for a signal.
  int waitForSignal(const sigset_t& signals);

 private:
  const SystemdNotifier& systemd_;
  const StatusBoard& board_;
  std::chrono::seconds stall_timeout_;
  bool warned_ = false;
};

}  // namespace popgate::gateway
