#pragma once
// What the admin endpoint shows: per-account state, times, last error and running totals. Jobs and
// the scheduler write to it; the HTTP handlers only ever read a snapshot() copy, so they never reach
// into a running job and never block one for longer than a copy.

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "gateway/delivery/LeaseBoard.h"
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

// An OAuth credential as /status and /metrics show it (docs/oauth.md); never a token.
struct OAuthStatus {
  std::string mechanism;  // "xoauth2" or "oauthbearer"; empty: this login does not use OAuth
  std::optional<SystemTime> access_token_expires, last_refresh, refresh_token_rotated;
  std::uint64_t refresh_failures = 0;
};

struct AccountStatus {
  std::string name;
  std::string target;               // the target's name (config::kSingleTargetName for target:)
  std::string host;                 // "pop.example.com:995"
  std::string folder;
  std::chrono::seconds poll_interval{0};  // as configured; 0 when not known
  AccountState state = AccountState::Idle;
  std::optional<SystemTime> last_start, last_end, last_success, next_poll;
  std::string last_error;           // admin-readable, never a secret; empty after a success
  std::string last_error_kind;      // kindName() of the last error ("auth", "transient", ...)
  std::uint32_t consecutive_failures = 0;
  // Totals since the process started.
  std::uint64_t polls = 0, failures = 0;
  std::uint64_t uploaded = 0, recovered = 0, skipped = 0, deleted = 0, bytes = 0;
  std::uint64_t rejected = 0, too_large = 0;
  std::uint64_t in_target = 0;  // dedupe: found in the target already, not appended
  // From the last pass: messages parked on the server (backlog: kept there for good).
  std::uint64_t listed = 0, quarantined = 0, backlog = 0;
  // LIST bytes the last pass set out to deliver and did not (PollResult::waiting_bytes).
  std::uint64_t waiting_bytes = 0;
  std::vector<QuarantinedMessage> quarantine;
  // Poll durations: cumulative bucket counts matching kDurationBuckets, then +Inf = polls.
  std::array<std::uint64_t, kDurationBuckets.size()> duration_buckets{};
  double duration_sum_seconds = 0;
  OAuthStatus oauth;
  // While a pass runs: how far it has got (PollOptions::progress); none between passes.
  std::optional<PassProgress> progress;
};

// The upload target as its pool and gate see it now (ImapPool, TargetGate).
struct TargetStatus {
  std::string name;                     // its key under targets:, "target" for the one `target:`
  std::string host;                     // "imap.example.com:993"
  std::size_t connections = 0;          // target.connections
  std::size_t capacity = 0;             // fewer after "too many simultaneous connections"
  std::int64_t paused_until = 0;        // unix seconds; 0 or past: not paused
  std::string pause_reason;             // the server's words
  std::uint64_t daily_limit = 0;        // target.daily_upload_limit; 0: none
  std::uint64_t used = 0;               // bytes uploaded in the last 24 hours
  std::int64_t next_room_at = 0;        // when the oldest counted hour leaves the window
  std::uint64_t waiting_bytes = 0;      // the waiting_bytes of its accounts, summed
  std::int64_t backlog_eta = 0;         // unix seconds the backlog should be through; 0: none
  OAuthStatus oauth;                    // of the target's login (the board adds it)
};

// When `waiting` bytes will have gone through a budget of `daily_limit` bytes a rolling day of
// which `used` are spent, at `now` (unix seconds): now if they fit in what is left, else one day
// for each further daily_limit bytes (an estimate: the window frees up hour by hour). 0 when
// nothing waits or there is no budget.
std::int64_t backlogEta(std::uint64_t daily_limit, std::uint64_t used, std::uint64_t waiting,
                        std::int64_t now);

// Replicas sharing a PostgreSQL ledger, as this one last read it (LeaseKeeper, every third of
// lease_ttl): for /status of any replica to show the whole cluster.
struct ClusterStatus {
  std::string replica;                // this process
  std::vector<std::string> replicas;  // every live replica, sorted
  std::vector<LeaseRow> leases;       // every account's lease, by account
};

struct StatusSnapshot {
  std::string version;
  SystemTime started;
  SystemTime now;
  std::vector<AccountStatus> accounts;  // in configuration order
  std::vector<TargetStatus> targets;    // from the target probe, in configuration order; empty
                                        // without one
  std::optional<ClusterStatus> cluster;  // from the cluster probe; none for a single process
};

class StatusBoard {
 public:
  explicit StatusBoard(std::string version);

  // Declares the accounts (configuration order). Accounts no longer listed are dropped; the totals
  // of those that remain are kept (SIGHUP reload).
  void setAccounts(const std::vector<AccountStatus>& accounts);
  void pollStarted(const std::string& account, SystemTime at);
  // How far the running pass of `account` has got (PollOptions::progress: quick, never throws).
  void passProgress(const std::string& account, const PassProgress& progress) noexcept;
  // Records a finished pass and what the scheduler decided next.
  void pollFinished(const std::string& account, const PollResult& result, SystemTime at,
                    AccountState next_state, std::optional<SystemTime> next_poll,
                    std::vector<QuarantinedMessage> quarantine);
  void setNextPoll(const std::string& account, AccountState state, std::optional<SystemTime> next_poll);

  // Declares which credentials sign in with OAuth, by credential id ("target" or "target-NAME",
  // "account-NAME") and mechanism; the others show no OAuth status. What is known of a credential
  // that stays is kept (SIGHUP reload).
  void setOAuthLogins(const std::map<std::string, std::string>& mechanisms);
  // What the token manager reports of credential `id` (ignored unless declared).
  void oauthChanged(const std::string& id, const OAuthStatus& status);

  // Where snapshot() reads the targets' state from (the daemon's TargetPools); called without the
  // board's lock held, from the thread calling snapshot(). It must not call back into the board.
  using TargetProbe = std::function<std::vector<TargetStatus>()>;
  void setTargetProbe(TargetProbe probe);
  // Where snapshot() reads the replicas' state from (the daemon's LeaseKeeper), like the target
  // probe. None: a single process, no cluster in the snapshot.
  using ClusterProbe = std::function<ClusterStatus()>;
  void setClusterProbe(ClusterProbe probe);

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
  const AccountStatus* find(const std::string& account) const;
  mutable std::mutex mutex_;
  std::string version_;
  SystemTime started_;
  std::vector<AccountStatus> accounts_;
  // Where each account is in accounts_ (a board of thousands is asked several times a pass).
  std::unordered_map<std::string, std::size_t> index_;
  mutable std::mutex probe_mutex_;
  TargetProbe probe_;
  ClusterProbe cluster_probe_;
  std::atomic<std::chrono::steady_clock::rep> last_beat_;
  std::map<std::string, OAuthStatus> oauth_;  // by credential id
};

}  // namespace popgate::gateway
