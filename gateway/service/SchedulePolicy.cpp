#include "SchedulePolicy.h"

#include <algorithm>

namespace popgate::gateway {

using std::chrono::milliseconds;

milliseconds jittered(milliseconds interval, std::mt19937_64& rng) {
  std::uniform_real_distribution<double> factor(0.9, 1.1);
  return milliseconds(static_cast<milliseconds::rep>(static_cast<double>(interval.count()) * factor(rng)));
}

milliseconds backoffDelay(milliseconds interval, std::uint32_t failures, ErrorKind kind) {
  const milliseconds cap = std::min<milliseconds>(interval * 8, std::chrono::hours(1));
  const std::uint32_t doublings = std::min<std::uint32_t>(failures > 0 ? failures - 1 : 0, 20);
  milliseconds delay = std::min<milliseconds>(std::chrono::seconds(30) * (1LL << doublings), cap);
  if (kind == ErrorKind::Auth || kind == ErrorKind::Security) {
    delay = std::max(delay, std::min(interval, cap));
  }
  return delay;
}

milliseconds retryDelay(milliseconds interval, std::uint32_t failures, const Error& error) {
  if (const auto wait = error.retryAfter()) return std::max<milliseconds>(*wait, std::chrono::seconds(1));
  return backoffDelay(interval, failures, error.kind());
}

AccountState stateAfter(bool ok, std::uint32_t failures, ErrorKind kind) {
  if (ok) return AccountState::Idle;
  switch (kind) {
    case ErrorKind::Auth:
    case ErrorKind::Security:
    case ErrorKind::Protocol:
    case ErrorKind::MailboxProblem:
    case ErrorKind::Config:
      return AccountState::Failing;
    case ErrorKind::Throttled:
      return AccountState::Backoff;  // the server asked for a pause: not a failure of the account
    case ErrorKind::Fenced:
      return AccountState::Idle;  // another replica has the account now: not a failure of it
    default:
      return failures >= 3 ? AccountState::Failing : AccountState::Backoff;
  }
}

}  // namespace popgate::gateway
