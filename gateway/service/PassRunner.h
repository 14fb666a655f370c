#pragma once
// Wiring of passes to the real servers. runPasses() runs several accounts with at most `parallel`
// at a time (for `popgate once`); the daemon's Scheduler runs single PollJobs from makePollJob().
// Every pass of the process delivering to one target shares that target's ImapPool (TargetPools),
// so uploads use target.connections sessions per target in all.

#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <vector>

#include "gateway/delivery/ImapPool.h"
#include "gateway/delivery/Ledger.h"
#include "gateway/delivery/PollJob.h"
#include "LeaseKeeper.h"
#include "StatusBoard.h"
#include "UploadSettle.h"
#include "config/GatewayConfig.h"

namespace popgate::gateway {

// The shared upload sessions for `target`, each numbered in the protocol trace ("imap#3", or
// "imap:NAME#3" for a named target) at debug level, with the client's notices logged as warnings.
// Its daily upload budget starts from what `ledger` recorded for it in the last 24 hours. An OAuth
// target gets access tokens from `tokens`.
std::shared_ptr<ImapPool> makeImapPool(const config::ImapTarget& target, Ledger* ledger = nullptr,
                                       std::shared_ptr<oauth::TokenManager> tokens = {});

// The state of `pool`, the sessions to `target` (named target.name in /status and /metrics):
// its capacity, a pause the server asked for, the daily upload budget. Never throws but bad_alloc.
TargetStatus targetStatusOf(const config::ImapTarget& target, const ImapPool& pool);

// Appends `message` (a notice popgate wrote) to `mailbox` of `target`: through a session of
// `pool`, or imported through the Gmail API (tokens from `tokens`) for kind: gmail-api. Throws
// what the pool, the session or the API throw, and Error of the server's kind when it refuses
// the message.
void appendNotice(const config::ImapTarget& target, ImapPool& pool, oauth::TokenManager* tokens,
                  const std::string& mailbox, const std::string& message);

// A PollJob for `account` wired to the real POP3 server and to `pool`, the pool of the account's
// target (protocol trace at debug level); an OAuth account gets access tokens from `tokens`.
// Upload threads default to that target's connections.
std::unique_ptr<PollJob> makePollJob(const config::GatewayConfig& cfg,
                                     const config::PopAccount& account, Ledger& ledger,
                                     std::shared_ptr<ImapPool> pool, PollOptions options = {},
                                     std::shared_ptr<oauth::TokenManager> tokens = {});

// What runPasses() tells as it goes, by the account's index in its list; each may be empty. Called
// from the passes' threads (progress with the job's lock held: see PollOptions::progress).
struct PassEvents {
  std::function<void(std::size_t account)> started;
  std::function<void(std::size_t account, const PassProgress&)> progress;
  std::function<void(std::size_t account, const PollResult&)> finished;
};

// One result per account, in the order given; each pass with `options` (a dry run, say), telling
// `events` as it goes. With `leases` (a shared ledger), each account's pass writes to the ledger
// and to the target under the lease `leases` holds for it (HeldLedger, the keeper's write guard),
// once that lease has settled (waited for here; `options.stop` ends the wait), and an account
// without one fails with Error(Fenced) unpolled; each pass's end is told to `leases`
// (passEnded()). With `settle`, a pass looks for messages an earlier process left in flight only
// once they have settled (UploadSettle::await, the account's target timeout). Never throws.
std::vector<PollResult> runPasses(const config::GatewayConfig& cfg, Ledger& ledger,
                                  const std::vector<const config::PopAccount*>& accounts,
                                  unsigned parallel, const PollOptions& options = {},
                                  const PassEvents& events = {},
                                  LeaseKeeper* leases = nullptr,
                                  const UploadSettle* settle = nullptr);

}  // namespace popgate::gateway
