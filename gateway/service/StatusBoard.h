#pragma once
// What the admin endpoint shows: per-account state, times, last error and running totals. Jobs and
// the scheduler write to it; the HTTP handlers only ever read a snapshot() copy, so they never reach
// into a running job and never block one for longer than a copy.

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "gateway/delivery/PollJob.h"

namespace popgate::gateway {

using SystemTime = std::chrono::system_clock::time_point;

enum class AccountState { Idle, Polling, Backoff, Failing };
// "idle", "polling", "backoff", "failing".
const char* stateName(AccountState state) noexcept;

// Upper bounds (seconds) of the poll-duration histogram buckets; +Inf is implied.
inline constexpr std::array<double, 10> kDurationBuckets{0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300};

struct QuarantinedMessage {
  std::string uidl;
  std::string reason;
  std::uint32_t attempts = 0;
  std::int64_t retry_at = 0;  // unix seconds
};

struct AccountStatus {
  std::string name;
  std::string host;                 // "pop.example.com:995"
  std::string folder;
  AccountState state = AccountState::Idle;
  std::optional<SystemTime> last_start, last_end, last_success, next_poll;
  std::string last_error;           // admin-readable, never a secret; empty after a success
  std::string last_error_kind;      // kindName() of the last error ("auth", "transient", ...)
  std::uint32_t consecutive_failures = 0;
  // Totals since the process started.
  std::uint64_t polls = 0, failures = 0;
  std::uint64_t uploaded = 0, recovered = 0, skipped = 0, deleted = 0, bytes = 0;
  std::uint64_t rejected = 0, too_large = 0;
  // From the last pass: messages parked on the server.
  std::uint64_t listed = 0, quarantined = 0;
  std::vector<QuarantinedMessage> quarantine;
  // Poll durations: cumulative bucket counts matching kDurationBuckets, then +Inf = polls.
  std::array<std::uint64_t, kDurationBuckets.size()> duration_buckets{};
  double duration_sum_seconds = 0;
};

struct StatusSnapshot {
  std::string version;
  SystemTime started;
  SystemTime now;
  std::vector<AccountStatus> accounts;  // in configuration order
};

class StatusBoard {
 public:
  explicit StatusBoard(std::string version);

  // Declares the accounts (configuration order). Accounts no longer listed are dropped; the totals
  // of those that remain are kept (SIGHUP reload).
  void setAccounts(const std::vector<AccountStatus>& accounts);
  void pollStarted(const std::string& account, SystemTime at);
  // Records a finished pass and what the scheduler decided next.
  void pollFinished(const std::string& account, const PollResult& result, SystemTime at,
                    AccountState next_state, std::optional<SystemTime> next_poll,
                    std::vector<QuarantinedMessage> quarantine);
  void setNextPoll(const std::string& account, AccountState state, std::optional<SystemTime> next_poll);

  // A consistent copy of everything.
  StatusSnapshot snapshot() const;
  bool hasAccount(const std::string& account) const;
  // A copy of one account's status, or nullopt when there is no such account.
  std::optional<AccountStatus> account(const std::string& name) const;

  // The scheduler's heartbeat: its loop calls beat() on every turn (at least once a second), and
  // /healthz and the systemd watchdog read lastBeat() to tell a live daemon from a stuck one.
  // Lock-free, so a stuck holder of the board's lock does not stop either.
  void beat() noexcept;
  std::chrono::steady_clock::time_point lastBeat() const noexcept;

 private:
  AccountStatus* find(const std::string& account);
  mutable std::mutex mutex_;
  std::string version_;
  SystemTime started_;
  std::vector<AccountStatus> accounts_;
  std::atomic<std::chrono::steady_clock::rep> last_beat_;
};

}  // namespace popgate::gateway
