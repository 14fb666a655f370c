#include "StatusBoard.h"

#include <algorithm>

#include "gateway/delivery/OAuthCredentials.h"

namespace popgate::gateway {

const char* stateName(AccountState state) noexcept {
  switch (state) {
    case AccountState::Idle: return "idle";
    case AccountState::Polling: return "polling";
    case AccountState::Backoff: return "backoff";
    case AccountState::Failing: return "failing";
  }
  return "idle";
}

StatusBoard::StatusBoard(std::string version)
    : version_(std::move(version)),
      started_(std::chrono::system_clock::now()),
      last_beat_(std::chrono::steady_clock::now().time_since_epoch().count()) {}

void StatusBoard::beat() noexcept {
  last_beat_.store(std::chrono::steady_clock::now().time_since_epoch().count(),
                   std::memory_order_relaxed);
}

std::chrono::steady_clock::time_point StatusBoard::lastBeat() const noexcept {
  return std::chrono::steady_clock::time_point(
      std::chrono::steady_clock::duration(last_beat_.load(std::memory_order_relaxed)));
}

std::optional<AccountStatus> StatusBoard::account(const std::string& name) const {
  std::lock_guard lock(mutex_);
  if (const AccountStatus* a = find(name)) return *a;
  return std::nullopt;
}

void StatusBoard::setAccounts(const std::vector<AccountStatus>& accounts) {
  std::lock_guard lock(mutex_);
  std::vector<AccountStatus> next;
  for (const AccountStatus& a : accounts) {
    if (const AccountStatus* old = find(a.name)) {
      AccountStatus kept = *old;
      kept.host = a.host;
      kept.folder = a.folder;
      kept.poll_interval = a.poll_interval;
      kept.target = a.target;
      next.push_back(std::move(kept));
    } else {
      next.push_back(a);
    }
  }
  accounts_ = std::move(next);
  index_.clear();
  // The first of a name wins, as a search from the front would find it.
  for (std::size_t i = 0; i < accounts_.size(); ++i) index_.emplace(accounts_[i].name, i);
}

AccountStatus* StatusBoard::find(const std::string& account) {
  const auto it = index_.find(account);
  return it == index_.end() ? nullptr : &accounts_[it->second];
}

const AccountStatus* StatusBoard::find(const std::string& account) const {
  const auto it = index_.find(account);
  return it == index_.end() ? nullptr : &accounts_[it->second];
}

void StatusBoard::pollStarted(const std::string& account, SystemTime at) {
  std::lock_guard lock(mutex_);
  if (AccountStatus* a = find(account)) {
    a->state = AccountState::Polling;
    a->last_start = at;
    a->progress = PassProgress{};
  }
}

void StatusBoard::passProgress(const std::string& account, const PassProgress& progress) noexcept {
  std::lock_guard lock(mutex_);
  if (AccountStatus* a = find(account); a != nullptr && a->state == AccountState::Polling) {
    a->progress = progress;
  }
}

void StatusBoard::pollFinished(const std::string& account, const PollResult& r, SystemTime at,
                               AccountState next_state, std::optional<SystemTime> next_poll,
                               std::vector<QuarantinedMessage> quarantine) {
  std::lock_guard lock(mutex_);
  AccountStatus* a = find(account);
  if (a == nullptr) return;
  a->state = next_state;
  a->progress.reset();
  a->last_end = at;
  a->next_poll = next_poll;
  ++a->polls;
  a->uploaded += r.uploaded;
  a->recovered += r.recovered;
  a->skipped += r.skipped;
  a->deleted += r.deleted;
  a->bytes += r.bytes;
  a->rejected += r.rejected;
  a->too_large += r.too_large;
  a->in_target += r.in_target;
  a->listed = r.listed;
  a->backlog = r.backlog;
  a->waiting_bytes = r.waiting_bytes;
  a->quarantined = quarantine.size();
  a->quarantine = std::move(quarantine);
  const double seconds = static_cast<double>(r.duration.count()) / 1000.0;
  a->duration_sum_seconds += seconds;
  for (std::size_t i = 0; i < kDurationBuckets.size(); ++i) {
    if (seconds <= kDurationBuckets[i]) ++a->duration_buckets[i];
  }
  if (r.ok()) {
    a->last_success = at;
    a->last_error.clear();
    a->last_error_kind.clear();
    a->consecutive_failures = 0;
  } else {
    ++a->failures;
    ++a->consecutive_failures;
    a->last_error = r.error->what();
    a->last_error_kind = std::string(kindName(r.error->kind()));
  }
}

void StatusBoard::setNextPoll(const std::string& account, AccountState state,
                              std::optional<SystemTime> next_poll) {
  std::lock_guard lock(mutex_);
  if (AccountStatus* a = find(account)) {
    a->state = state;
    a->next_poll = next_poll;
  }
}

void StatusBoard::setOAuthLogins(const std::map<std::string, std::string>& mechanisms) {
  std::lock_guard lock(mutex_);
  std::map<std::string, OAuthStatus> next;
  for (const auto& [id, mechanism] : mechanisms) {
    OAuthStatus status;
    if (auto old = oauth_.find(id); old != oauth_.end()) status = old->second;
    status.mechanism = mechanism;
    next.emplace(id, std::move(status));
  }
  oauth_ = std::move(next);
}

void StatusBoard::oauthChanged(const std::string& id, const OAuthStatus& status) {
  std::lock_guard lock(mutex_);
  auto it = oauth_.find(id);
  if (it == oauth_.end()) return;
  const std::string mechanism = it->second.mechanism;
  it->second = status;
  it->second.mechanism = mechanism;
}

std::int64_t backlogEta(std::uint64_t daily_limit, std::uint64_t used, std::uint64_t waiting,
                        std::int64_t now) {
  if (daily_limit == 0 || waiting == 0) return 0;
  const std::uint64_t left = daily_limit > used ? daily_limit - used : 0;
  if (waiting <= left) return now;
  const long double days = static_cast<long double>(waiting - left) / daily_limit;
  return now + static_cast<std::int64_t>(days * 86400.0L + 0.5L);
}

void StatusBoard::setTargetProbe(TargetProbe probe) {
  std::lock_guard lock(probe_mutex_);
  probe_ = std::move(probe);
}

void StatusBoard::setClusterProbe(ClusterProbe probe) {
  std::lock_guard lock(probe_mutex_);
  cluster_probe_ = std::move(probe);
}

StatusSnapshot StatusBoard::snapshot() const {
  TargetProbe probe;
  ClusterProbe cluster_probe;
  {
    std::lock_guard lock(probe_mutex_);
    probe = probe_;
    cluster_probe = cluster_probe_;
  }
  std::vector<TargetStatus> targets;
  if (probe) targets = probe();
  std::optional<ClusterStatus> cluster;
  if (cluster_probe) cluster = cluster_probe();
  std::lock_guard lock(mutex_);
  StatusSnapshot snapshot{version_, started_, std::chrono::system_clock::now(), accounts_,
                          std::move(targets), std::move(cluster)};
  for (AccountStatus& account : snapshot.accounts) {
    if (auto it = oauth_.find("account-" + account.name); it != oauth_.end()) {
      account.oauth = it->second;
    }
  }
  const std::int64_t now =
      std::chrono::duration_cast<std::chrono::seconds>(snapshot.now.time_since_epoch()).count();
  for (TargetStatus& t : snapshot.targets) {
    // A target's backlog is what its own accounts still have to send.
    std::uint64_t waiting = 0;
    for (const AccountStatus& a : accounts_) {
      if (a.target == t.name) waiting += a.waiting_bytes;
    }
    t.waiting_bytes = waiting;
    t.backlog_eta = backlogEta(t.daily_limit, t.used, waiting, now);
    if (auto it = oauth_.find(targetCredentialId(t.name)); it != oauth_.end()) {
      t.oauth = it->second;
    }
  }
  return snapshot;
}

bool StatusBoard::hasAccount(const std::string& account) const {
  std::lock_guard lock(mutex_);
  return find(account) != nullptr;
}

}  // namespace popgate::gateway
