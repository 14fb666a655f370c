#pragma once
// After an upload was cut off (popgate killed, a session lost mid-APPEND), the bytes it had
// written may still be on their way: in the socket buffer the kernel goes on sending after the
// process died, in the network, in the hands of a server still storing them. A pass that looked
// for such a message before they arrived would find nothing and append it again; the old APPEND
// would then land too: two copies. So a message left in flight is looked for only once those
// bytes must have arrived: `grace` (the target's timeout, the time popgate itself gives a server
// to answer) after the writer could last have written — when the previous popgate process on
// this state_dir was last alive (StateLock's stamp), or when this process's last failed pass of
// the account ended. Replicas add the lease takeover's wait (LeaseKeeper) for another host's
// writes.

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>

namespace popgate::gateway {

class UploadSettle {
 public:
  using Clock = std::chrono::system_clock;

  // `previous_alive`: StateLock::previousHolderAlive(); `now` tells the time (tests move it).
  explicit UploadSettle(std::optional<Clock::time_point> previous_alive,
                        std::function<Clock::time_point()> now = [] { return Clock::now(); });

  // When `account`'s messages left in flight may be judged absent from the target: `grace` after
  // the later of the previous process's last stamp and the end of this process's last failed
  // pass of it, never more than `grace` from now (a clock set back). Already past: no wait.
  Clock::time_point settlesAt(const std::string& account, std::chrono::seconds grace) const;

  // A pass of `account` ended with an error: an APPEND it wrote may still be on its way. Thread-safe.
  void passFailed(const std::string& account);

  // Returns once settlesAt(account, grace) has passed, saying in the log why it waits; throws
  // Error(Transient) when `*stop` becomes true meanwhile. Thread-safe.
  void await(const std::string& account, std::chrono::seconds grace,
             const std::atomic<bool>* stop) const;

 private:
  std::optional<Clock::time_point> previous_alive_;
  std::function<Clock::time_point()> now_;
  mutable std::mutex mutex_;
  std::map<std::string, Clock::time_point> failed_at_;
};

}  // namespace popgate::gateway
