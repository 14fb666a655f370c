#pragma once
// Wiring of passes to the real servers. runPasses() runs several accounts with at most `parallel`
// at a time (for `popgate once`); the daemon's Scheduler runs single PollJobs from makePollJob().
// Every pass of the process shares one ImapPool, so uploads use target.connections sessions in all.

#include <memory>
#include <vector>

#include "gateway/delivery/ImapPool.h"
#include "gateway/delivery/Ledger.h"
#include "gateway/delivery/PollJob.h"
#include "config/GatewayConfig.h"

namespace popgate::gateway {

// The shared upload sessions for `target`, each numbered in the protocol trace ("imap#3") at
// debug level, with the client's notices logged as warnings.
// Its daily upload budget starts from what `ledger` recorded in the last 24 hours.
std::shared_ptr<ImapPool> makeImapPool(const config::ImapTarget& target, Ledger* ledger = nullptr);

// A PollJob for `account` wired to the real POP3 server and to `pool` (protocol trace at debug
// level). Upload threads default to target.connections.
std::unique_ptr<PollJob> makePollJob(const config::GatewayConfig& cfg,
                                     const config::PopAccount& account, Ledger& ledger,
                                     std::shared_ptr<ImapPool> pool, PollOptions options = {});

// One result per account, in the order given. Never throws.
std::vector<PollResult> runPasses(const config::GatewayConfig& cfg, Ledger& ledger,
                                  const std::vector<const config::PopAccount*>& accounts,
                                  unsigned parallel);

}  // namespace popgate::gateway
