#pragma once
// POST /accounts/NAME/poll cannot be turned into a login storm: a second request for the same
// account within a minimum interval is refused, and an account failing on its credentials or on
// TLS is never polled sooner than its backoff says (a wrong password tried in a loop gets accounts
// locked at providers). Pure decisions on the StatusBoard's view of the account; thread-safe.

#include <chrono>
#include <map>
#include <mutex>
#include <string>

#include "gateway/service/StatusBoard.h"

namespace popgate::gateway::admin {

// What to answer a poll-now request.
struct PollVerdict {
  bool accepted = false;
  std::chrono::seconds retry_after{0};  // when refused: Retry-After (at least 1 s)
  std::string reason;                   // when refused: why, for the JSON body (no secret)
};

class PollNowGate {
 public:
  // `min_interval` between two accepted requests for one account (0 = no limit).
  explicit PollNowGate(std::chrono::seconds min_interval);

  // Decides for the account described by `status` at `now`; an accepted request starts the
  // account's interval. Refused: the account fails with kind auth or security (retry when its
  // backoff ends: next_poll, or min_interval when that is not known or past), or a request was
  // accepted less than min_interval ago (retry when the interval ends).
  PollVerdict admit(const AccountStatus& status, SystemTime now);

 private:
  std::chrono::seconds min_interval_;
  std::mutex mutex_;
  std::map<std::string, SystemTime> last_accepted_;
};

}  // namespace popgate::gateway::admin
