#include "PollNowGate.h"

#include <algorithm>

namespace popgate::gateway::admin {

namespace {

// `d` rounded up to whole seconds, at least one (Retry-After 0 would invite an immediate retry).
std::chrono::seconds atLeastOneSecond(SystemTime::duration d) {
  const auto up = std::chrono::ceil<std::chrono::seconds>(d);
  return std::max(up, std::chrono::seconds(1));
}

}  // namespace

PollNowGate::PollNowGate(std::chrono::seconds min_interval) : min_interval_(min_interval) {}

PollVerdict PollNowGate::admit(const AccountStatus& status, SystemTime now) {
  if (status.consecutive_failures > 0 &&
      (status.last_error_kind == "auth" || status.last_error_kind == "security")) {
    const bool known = status.next_poll && *status.next_poll > now;
    return PollVerdict{
        false,
        atLeastOneSecond(known ? *status.next_poll - now : SystemTime::duration(min_interval_)),
        status.name + " is failing on " + (status.last_error_kind == "auth" ? "its login" : "TLS") +
            "; it is retried when its backoff ends, not sooner (providers lock "
            "accounts that keep failing to log in)"};
  }
  std::lock_guard lock(mutex_);
  const auto last = last_accepted_.find(status.name);
  if (last != last_accepted_.end() && now < last->second + min_interval_) {
    return PollVerdict{false, atLeastOneSecond(last->second + min_interval_ - now),
                       "a poll of " + status.name + " was requested less than " +
                           std::to_string(min_interval_.count()) + " s ago"};
  }
  last_accepted_[status.name] = now;
  return PollVerdict{true, std::chrono::seconds(0), {}};
}

}  // namespace popgate::gateway::admin
