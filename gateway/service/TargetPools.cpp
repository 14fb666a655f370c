#include "TargetPools.h"

#include "PassRunner.h"
#include "connectors/common/HostPort.h"

namespace popgate::gateway {

bool sameTarget(const config::ImapTarget& a, const config::ImapTarget& b) {
  return a.name == b.name && a.server.host == b.server.host && a.server.port == b.server.port &&
         a.server.tls == b.server.tls && a.server.ca_file == b.server.ca_file &&
         a.server.username == b.server.username &&
         a.server.password.reveal() == b.server.password.reveal() && a.auth == b.auth &&
         config::sameOAuth(a.server.oauth, b.server.oauth) && a.connections == b.connections && a.server.timeout == b.server.timeout &&
         a.daily_upload_limit == b.daily_upload_limit && a.kind == b.kind &&
         a.never_mark_spam == b.never_mark_spam &&
         a.process_for_calendar == b.process_for_calendar && a.api_url == b.api_url;
}

TargetPools::TargetPools(Ledger* ledger, std::shared_ptr<oauth::TokenManager> tokens)
    : ledger_(ledger), tokens_(std::move(tokens)) {}

TargetPools::~TargetPools() { closeAll(); }

std::shared_ptr<ImapPool> TargetPools::poolFor(const config::ImapTarget& target) {
  std::lock_guard lock(mutex_);
  auto it = pools_.find(target.name);
  if (it != pools_.end() && sameTarget(it->second.settings, target)) return it->second.pool;
  if (it != pools_.end()) it->second.pool->closeAll();
  Entry entry{target, makeImapPool(target, ledger_, tokens_)};
  auto pool = entry.pool;
  pools_.insert_or_assign(target.name, std::move(entry));
  return pool;
}

void TargetPools::retain(const config::GatewayConfig& cfg) {
  std::lock_guard lock(mutex_);
  for (auto it = pools_.begin(); it != pools_.end();) {
    if (cfg.findTarget(it->first) == nullptr) {
      it->second.pool->closeAll();
      it = pools_.erase(it);
    } else {
      ++it;
    }
  }
}

std::vector<TargetStatus> TargetPools::status(const config::GatewayConfig& cfg) const {
  std::vector<TargetStatus> out;
  std::lock_guard lock(mutex_);
  for (const config::ImapTarget& target : cfg.targets) {
    auto it = pools_.find(target.name);
    if (it != pools_.end()) {
      out.push_back(targetStatusOf(target, *it->second.pool));
      continue;
    }
    // No pass has delivered to it yet: as configured, nothing used, no pause.
    TargetStatus status;
    status.name = target.name;
    status.host = hostPort(target.server.host, target.server.port);
    status.connections = target.connections;
    status.capacity = target.connections;
    status.daily_limit = target.daily_upload_limit;
    out.push_back(std::move(status));
  }
  return out;
}

void TargetPools::releaseAll() noexcept {
  std::lock_guard lock(mutex_);
  for (auto& [name, entry] : pools_) entry.pool->release();
}

void TargetPools::closeAll() noexcept {
  std::lock_guard lock(mutex_);
  for (auto& [name, entry] : pools_) entry.pool->closeAll();
}

}  // namespace popgate::gateway
