#include "StatusBoard.h"

#include <algorithm>

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
  for (const AccountStatus& a : accounts_) {
    if (a.name == name) return a;
  }
  return std::nullopt;
}

void StatusBoard::setAccounts(const std::vector<AccountStatus>& accounts) {
  std::lock_guard lock(mutex_);
  std::vector<AccountStatus> next;
  for (const AccountStatus& a : accounts) {
    auto old = std::find_if(accounts_.begin(), accounts_.end(),
                            [&](const AccountStatus& o) { return o.name == a.name; });
    if (old != accounts_.end()) {
      AccountStatus kept = *old;
      kept.host = a.host;
      kept.folder = a.folder;
      next.push_back(std::move(kept));
    } else {
      next.push_back(a);
    }
  }
  accounts_ = std::move(next);
}

AccountStatus* StatusBoard::find(const std::string& account) {
  auto it = std::find_if(accounts_.begin(), accounts_.end(),
                         [&](const AccountStatus& a) { return a.name == account; });
  return it == accounts_.end() ? nullptr : &*it;
}

void StatusBoard::pollStarted(const std::string& account, SystemTime at) {
  std::lock_guard lock(mutex_);
  if (AccountStatus* a = find(account)) {
    a->state = AccountState::Polling;
    a->last_start = at;
  }
}

void StatusBoard::pollFinished(const std::string& account, const PollResult& r, SystemTime at,
                               AccountState next_state, std::optional<SystemTime> next_poll,
                               std::vector<QuarantinedMessage> quarantine) {
  std::lock_guard lock(mutex_);
  AccountStatus* a = find(account);
  if (a == nullptr) return;
  a->state = next_state;
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
  a->listed = r.listed;
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

StatusSnapshot StatusBoard::snapshot() const {
  std::lock_guard lock(mutex_);
  return StatusSnapshot{version_, started_, std::chrono::system_clock::now(), accounts_};
}

bool StatusBoard::hasAccount(const std::string& account) const {
  std::lock_guard lock(mutex_);
  return std::any_of(accounts_.begin(), accounts_.end(),
                     [&](const AccountStatus& a) { return a.name == account; });
}

}  // namespace popgate::gateway
