#pragma once
// The sd_notify protocol without libsystemd: datagrams of "KEY=VALUE" lines to the Unix socket
// named by $NOTIFY_SOCKET (a path, or "@name" for the abstract namespace). systemd's Type=notify
// waits for READY=1; with WatchdogSec= it restarts the service when WATCHDOG=1 stops coming for
// that long ($WATCHDOG_USEC, for the process named by $WATCHDOG_PID when that is set).

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace popgate::gateway {

class SystemdNotifier {
 public:
  // Reads NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID from the environment. Without
  // NOTIFY_SOCKET (not started by systemd) every notify() does nothing.
  static SystemdNotifier fromEnvironment();

  // Whether a notification socket is configured.
  bool active() const noexcept { return !socket_.empty(); }
  // How often systemd expects WATCHDOG=1 at the latest, when it asked for it (for this process).
  std::optional<std::chrono::microseconds> watchdogTimeout() const noexcept { return watchdog_; }

  // Sends `state` ("READY=1", "WATCHDOG=1", "STOPPING=1", "STATUS=...", several separated by
  // newlines) as one datagram. False when not active or the send failed; never throws, never
  // blocks for long (the socket is non-blocking).
  bool notify(std::string_view state) const noexcept;

 private:
  std::string socket_;  // as given: a path or "@abstract"
  std::optional<std::chrono::microseconds> watchdog_;
};

}  // namespace popgate::gateway
