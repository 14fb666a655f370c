#pragma once
// Where replicas sharing a ledger meet: a heartbeat row per replica and a lease row per account
// (holder, fencing epoch, expiry), all times by the database's clock so replicas' clocks may
// differ. PostgresLedger implements it; gateway/service/LeaseKeeper decides what to hold.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "Ledger.h"

namespace popgate::gateway {

// One lease, for /status.
struct LeaseRow {
  std::string account;
  std::string holder;
  std::int64_t epoch = 0;
  std::int64_t expires_at = 0;  // unix seconds
};

// A lease as acquire() grants it: the hold, and how long its new holder waits before it may
// touch the target. A lease that lapsed (its holder died, stalled or lost the database) may have
// left bytes on their way to the target, an APPEND's end among them; one given up by release()
// left none (its holder had finished its passes).
struct LeaseGrant {
  LeaseHold hold;
  std::chrono::milliseconds settle{0};  // 0 unless the lease was taken from a lapsed one
};

class LeaseBoard {
 public:
  virtual ~LeaseBoard() = default;
  // Records that `replica` is alive now and returns every replica whose heartbeat is younger than
  // `ttl` (itself included), sorted. Throws Error(Internal) when the database cannot be reached.
  virtual std::vector<std::string> heartbeat(const std::string& replica,
                                             std::chrono::seconds ttl) = 0;
  // Takes or renews `account` for `holder` until `ttl` from now, when it is free, expired or
  // already `holder`'s; the epoch goes up whenever it was not `holder`'s unexpired lease. Taken
  // from a lease that lapsed without release(), the grant's settle runs until `grace` after the
  // old expiry (a renewal reports what is left of it). nullopt: another replica holds it. Throws
  // Error(Internal).
  virtual std::optional<LeaseGrant> acquire(const std::string& account, const std::string& holder,
                                            std::chrono::seconds ttl,
                                            std::chrono::milliseconds grace) = 0;
  // Gives `account` up (expires it now) when `hold` still holds it; only once no pass of it runs
  // here. `settled`: its passes here left nothing on its way to the target (the last one ended
  // without an error), so the next holder need not wait (beyond what was left of this grant's
  // own settle); otherwise the next grant settles as after a lapse. Throws Error(Internal).
  virtual void release(const std::string& account, const LeaseHold& hold, bool settled) = 0;
  // Removes `replica`'s heartbeat (a clean shutdown: the others rebalance at once).
  virtual void leave(const std::string& replica) = 0;
  // Every lease row.
  virtual std::vector<LeaseRow> leases() = 0;
};

}  // namespace popgate::gateway
