#pragma once
// The upload sessions of every target (central mailbox) in the process: one ImapPool per target,
// each with its own connections, limits (TargetGate) and daily budget, shared by every pass that
// delivers to that target. A reload that changes a target's settings replaces its pool; a target
// no longer configured has its pool closed. Thread-safe.

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "gateway/delivery/ImapPool.h"
#include "gateway/delivery/Ledger.h"
#include "gateway/service/StatusBoard.h"
#include "config/GatewayConfig.h"

namespace popgate::gateway {

class TargetPools {
 public:
  // `ledger` (may be null) restores each new pool's daily upload budget.
  explicit TargetPools(Ledger* ledger);
  ~TargetPools();
  TargetPools(const TargetPools&) = delete;
  TargetPools& operator=(const TargetPools&) = delete;

  // The pool for `target`: made on first use, replaced (the old one closed) when the settings
  // differ from those it was made with.
  std::shared_ptr<ImapPool> poolFor(const config::ImapTarget& target);
  // Closes and forgets the pools of targets `cfg` no longer has.
  void retain(const config::GatewayConfig& cfg);
  // Each configured target of `cfg` with its gate's state (pauses, budget), for /status.
  std::vector<TargetStatus> status(const config::GatewayConfig& cfg) const;
  // Stopping: uploads waiting out a pause end now (ImapPool::release()).
  void releaseAll() noexcept;
  // Logs every idle session of every pool out.
  void closeAll() noexcept;

 private:
  struct Entry {
    config::ImapTarget settings;
    std::shared_ptr<ImapPool> pool;
  };
  Ledger* ledger_;
  mutable std::mutex mutex_;
  std::map<std::string, Entry> pools_;
};

// Whether two target settings would open the same kind of session.
bool sameTarget(const config::ImapTarget& a, const config::ImapTarget& b);

}  // namespace popgate::gateway
