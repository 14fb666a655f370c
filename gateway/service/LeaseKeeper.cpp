#include "LeaseKeeper.h"

#include <unistd.h>

#include <algorithm>
#include <random>
#include <set>

#include "Logging.h"
#include "connectors/common/Error.h"

namespace popgate::gateway {

namespace {

// FNV-1a: the same on every replica and every build (std::hash is neither).
std::uint64_t stableHash(const std::string& text) {
  std::uint64_t h = 14695981039346656037ull;
  for (char c : text) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ull;
  }
  return h;
}

}  // namespace

std::vector<std::string> shareOf(const std::string& replica, std::vector<std::string> live,
                                 std::vector<std::string> accounts) {
  std::sort(live.begin(), live.end());
  live.erase(std::unique(live.begin(), live.end()), live.end());
  const auto me = std::find(live.begin(), live.end(), replica);
  if (me == live.end()) return {};
  const std::size_t rank = static_cast<std::size_t>(me - live.begin());
  std::sort(accounts.begin(), accounts.end(), [](const std::string& a, const std::string& b) {
    const std::uint64_t ha = stableHash(a), hb = stableHash(b);
    return ha != hb ? ha < hb : a < b;
  });
  accounts.erase(std::unique(accounts.begin(), accounts.end()), accounts.end());
  std::vector<std::string> mine;
  for (std::size_t i = rank; i < accounts.size(); i += live.size()) mine.push_back(accounts[i]);
  return mine;
}

std::string makeReplicaId() {
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) != 0 || host[0] == '\0') std::snprintf(host, sizeof host, "popgate");
  std::random_device random;
  char suffix[16];
  std::snprintf(suffix, sizeof suffix, "%06x", random() & 0xffffffu);
  return std::string(host) + "-" + std::to_string(::getpid()) + "-" + suffix;
}

LeaseKeeper::LeaseKeeper(LeaseBoard& board, std::string replica, std::chrono::seconds ttl,
                         std::chrono::milliseconds grace, Clock clock)
    : board_(board),
      replica_(std::move(replica)),
      ttl_(ttl),
      grace_(grace),
      clock_(std::move(clock)) {}

LeaseKeeper::~LeaseKeeper() { leave(); }

std::chrono::milliseconds LeaseKeeper::interval() const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(ttl_) / 3;
}

bool LeaseKeeper::fresh(const Held& h) const {
  return clock_() < h.renewed + std::chrono::duration_cast<std::chrono::milliseconds>(ttl_) * 2 / 3;
}

void LeaseKeeper::tick(const std::vector<std::string>& accounts,
                       const std::function<bool(const std::string&)>& running) {
  const std::vector<std::string> live = board_.heartbeat(replica_, ttl_);
  const std::vector<std::string> share = shareOf(replica_, live, accounts);
  const std::set<std::string> wanted(share.begin(), share.end());
  std::map<std::string, Held> held;
  {
    std::lock_guard lock(mutex_);
    held = held_;
  }
  // Not ours any more: give it up once its pass (if any) has ended, so the new owner need not wait
  // for the lease to expire. A running pass keeps it renewed until it ends.
  for (const auto& [account, h] : held) {
    if (wanted.count(account) > 0) continue;
    if (running && running(account)) {
      renew(account);
      continue;
    }
    bool settled = false;
    {
      std::lock_guard lock(mutex_);
      settled = unclean_.count(account) == 0;
    }
    board_.release(account, h.hold, settled);
    std::lock_guard lock(mutex_);
    held_.erase(account);
    unclean_.erase(account);
  }
  for (const std::string& account : share) renew(account);
  std::vector<LeaseRow> rows = board_.leases();
  std::lock_guard lock(mutex_);
  last_replicas_ = live;
  last_leases_ = std::move(rows);
}

void LeaseKeeper::renew(const std::string& account) {
  const auto before = clock_();  // the lease runs ttl from a moment after this one
  const std::optional<LeaseGrant> grant = board_.acquire(account, replica_, ttl_, grace_);
  const auto after = clock_();  // the settle time runs from a moment before this one
  std::lock_guard lock(mutex_);
  if (!grant) {
    held_.erase(account);  // another replica has it (until it gives it up or it expires)
    return;
  }
  const auto it = held_.find(account);
  const bool taken = it == held_.end() || it->second.hold.epoch != grant->hold.epoch;
  held_[account] = Held{grant->hold, before, after + grant->settle};
  if (taken) {
    unclean_.erase(account);  // a new epoch: the passes that ended unclean were under an old one
    if (grant->settle.count() > 0) {
      logInfo(account + ": replica " + replica_ + " took it over from a lapsed lease (epoch " +
              std::to_string(grant->hold.epoch) + "); first pass in " +
              std::to_string((grant->settle.count() + 999) / 1000) +
              " s, once what the last holder sent can have reached the target");
    }
  }
}

std::vector<std::string> LeaseKeeper::lastReplicas() const {
  std::lock_guard lock(mutex_);
  return last_replicas_;
}

std::vector<LeaseRow> LeaseKeeper::lastLeases() const {
  std::lock_guard lock(mutex_);
  return last_leases_;
}

std::optional<LeaseHold> LeaseKeeper::holdOf(const std::string& account) const {
  std::lock_guard lock(mutex_);
  const auto it = held_.find(account);
  if (it == held_.end() || !fresh(it->second) || clock_() < it->second.settles) {
    return std::nullopt;
  }
  return it->second.hold;
}

std::optional<std::chrono::steady_clock::time_point> LeaseKeeper::settlesAt(
    const std::string& account) const {
  std::lock_guard lock(mutex_);
  const auto it = held_.find(account);
  if (it == held_.end() || !fresh(it->second) || clock_() >= it->second.settles) {
    return std::nullopt;
  }
  return it->second.settles;
}

void LeaseKeeper::passEnded(const std::string& account, bool clean) {
  std::lock_guard lock(mutex_);
  if (clean) {
    unclean_.erase(account);
  } else {
    unclean_.insert(account);
  }
}

std::map<std::string, LeaseHold> LeaseKeeper::held() const {
  std::lock_guard lock(mutex_);
  std::map<std::string, LeaseHold> out;
  for (const auto& [account, h] : held_) {
    if (fresh(h)) out.emplace(account, h.hold);
  }
  return out;
}

void LeaseKeeper::checkHeld(const std::string& account, const LeaseHold& hold) const {
  const std::optional<LeaseHold> now = holdOf(account);
  if (!now || now->epoch != hold.epoch) {
    throw Error(ErrorKind::Fenced, account + ": replica " + replica_ +
                                       " no longer holds its lease (epoch " +
                                       std::to_string(hold.epoch) +
                                       "); nothing more is sent for it");
  }
}

std::function<void()> LeaseKeeper::writeGuard(const std::string& account,
                                              const LeaseHold& hold) const {
  return [this, account, hold] { checkHeld(account, hold); };
}

void LeaseKeeper::loop(std::function<void()> round, bool wait_first) {
  thread_ = std::thread([this, round = std::move(round), wait_first] {
    std::unique_lock lock(mutex_);
    if (wait_first) {
      wake_.wait_for(lock, interval(), [this] { return stopping_ || woken_; });
      woken_ = false;
    }
    while (!stopping_) {
      lock.unlock();
      try {
        round();
      } catch (const std::exception& e) {
        logWarning(std::string("replica ") + replica_ + ": cannot renew its leases: " + e.what());
      }
      lock.lock();
      wake_.wait_for(lock, interval(), [this] { return stopping_ || woken_; });
      woken_ = false;
    }
  });
}

void LeaseKeeper::start(std::function<std::vector<std::string>()> accounts,
                        std::function<bool(const std::string&)> running) {
  loop([this, accounts = std::move(accounts), running = std::move(running)] {
    tick(accounts(), running);
  }, false);
}

void LeaseKeeper::keepOnly(const std::vector<std::string>& accounts) {
  for (const std::string& account : accounts) renew(account);
  loop([this] { renewHeld(); }, true);
}

void LeaseKeeper::renewHeld() {
  for (const auto& [account, hold] : held()) renew(account);
}

void LeaseKeeper::wake() {
  std::lock_guard lock(mutex_);
  woken_ = true;
  wake_.notify_all();
}

void LeaseKeeper::leave(bool give_up) {
  {
    std::lock_guard lock(mutex_);
    if (left_) return;
    left_ = true;
    stopping_ = true;
    wake_.notify_all();
  }
  if (thread_.joinable()) thread_.join();
  std::map<std::string, Held> held;
  std::set<std::string> unclean;
  {
    std::lock_guard lock(mutex_);
    held.swap(held_);
    unclean.swap(unclean_);
  }
  try {
    if (give_up) {
      for (const auto& [account, h] : held) {
        board_.release(account, h.hold, unclean.count(account) == 0);
      }
    }
    board_.leave(replica_);
  } catch (const std::exception& e) {
    logWarning(std::string("replica ") + replica_ +
               ": cannot give its leases up (they expire on their own): " + e.what());
  }
}

}  // namespace popgate::gateway
