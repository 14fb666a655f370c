#pragma once
// A replica's side of sharing accounts (a PostgreSQL ledger, `database:`): it announces itself
// (heartbeat), works out its share of the accounts among the live replicas (shareOf()), gives up
// what is no longer its share once no pass of it runs, and takes or renews its share, every third
// of lease_ttl. The Scheduler starts a pass only for an account held here (holdOf()), and the pass
// writes under that hold (HeldLedger), so a replica that lost an account writes and deletes nothing.
// An account taken from a lapsed lease is not polled until the grant has settled (LeaseGrant): the
// last holder's bytes already on their way to the target arrive before anything is looked up there.

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "gateway/delivery/LeaseBoard.h"

namespace popgate::gateway {

// The accounts `replica` should hold when `live` (replica ids) share `accounts`: the accounts in
// a stable order of their own (a hash of the name, then the name), dealt in turn to the replicas
// in id order. Every replica computes the same from the same inputs; shares differ by at most one.
// Empty when `replica` is not in `live`.
std::vector<std::string> shareOf(const std::string& replica, std::vector<std::string> live,
                                 std::vector<std::string> accounts);

// "HOST-PID-RANDOM": unique per process, readable in /status.
std::string makeReplicaId();

class LeaseKeeper {
 public:
  using Clock = std::function<std::chrono::steady_clock::time_point()>;
  // `board` must outlive the keeper. `ttl` is the lease_ttl; `grace` how long after a lapsed
  // lease's expiry its next holder waits (GatewayConfig::takeoverGrace()); `clock` the local
  // monotonic clock.
  LeaseKeeper(LeaseBoard& board, std::string replica, std::chrono::seconds ttl,
              std::chrono::milliseconds grace,
              Clock clock = [] { return std::chrono::steady_clock::now(); });
  // leave() when still running.
  ~LeaseKeeper();
  LeaseKeeper(const LeaseKeeper&) = delete;
  LeaseKeeper& operator=(const LeaseKeeper&) = delete;

  // One round: heartbeat; give up held accounts outside the share whose pass is not `running`;
  // take or renew the share. Throws Error(Internal) when the database cannot be reached (the
  // holds then lapse by the local clock: holdOf() stops answering before the leases expire).
  void tick(const std::vector<std::string>& accounts,
            const std::function<bool(const std::string&)>& running);
  // The hold a pass of `account` may start under: taken or renewed here less than 2/3 of the ttl
  // ago by the local clock (the lease in the database runs for the whole ttl from that renewal),
  // and settled.
  std::optional<LeaseHold> holdOf(const std::string& account) const;
  // When `account`, held here, settles by the local clock; nullopt when it is not held here or has
  // settled already.
  std::optional<std::chrono::steady_clock::time_point> settlesAt(const std::string& account) const;
  // A pass of `account` ended here; `clean`: without an error, so nothing of it is still on its
  // way to the target. Giving the account up after an unclean one makes its next holder wait as
  // after a lapse.
  void passEnded(const std::string& account, bool clean);
  // Every account held now (settled or not), with its hold.
  std::map<std::string, LeaseHold> held() const;
  // Throws Error(Fenced) unless `account` is still held here under `hold`'s epoch and fresh by
  // the local clock (as holdOf()): a pass asks before every write to the target. A write that
  // passes is made at least a third of the ttl before the lease can expire in the database, which
  // is the time its bytes have to reach the server before another replica may take over and look.
  void checkHeld(const std::string& account, const LeaseHold& hold) const;
  // checkHeld() for `account` and `hold`, as a PollOptions::write_guard.
  std::function<void()> writeGuard(const std::string& account, const LeaseHold& hold) const;
  const std::string& replica() const { return replica_; }
  // The live replicas and every lease as the last round read them (for /status; no database
  // access here).
  std::vector<std::string> lastReplicas() const;
  std::vector<LeaseRow> lastLeases() const;
  // How often tick() runs in the background: a third of the ttl.
  std::chrono::milliseconds interval() const;

  // Runs tick() every interval() on a thread of its own (errors logged), with the accounts and the
  // running check given; wake() runs the next round at once (a reload).
  void start(std::function<std::vector<std::string>()> accounts,
             std::function<bool(const std::string&)> running);
  // For a one-off run (`popgate once`) beside replicas: no heartbeat and no share. Takes each of
  // `accounts` that is free now (one another replica holds is left alone), then renews what it
  // took every interval() on a thread of its own until leave(), so a pass longer than the ttl
  // keeps its account. Throws Error(Internal) when the database cannot be reached.
  void keepOnly(const std::vector<std::string>& accounts);
  // One renewal round of keepOnly(): renews every account still held here. Throws Error(Internal).
  void renewHeld();
  void wake();
  // Stops the thread and removes the heartbeat. `give_up`: every lease is given up too, so the
  // other replicas take the accounts over at once (only when no pass runs any more); otherwise
  // the leases lapse and their takers wait the grace. Never throws (a database out of reach: the
  // leases just expire). Only the first call acts.
  void leave(bool give_up = true);

 private:
  struct Held {
    LeaseHold hold;
    std::chrono::steady_clock::time_point renewed;
    std::chrono::steady_clock::time_point settles;
  };
  bool fresh(const Held& h) const;
  // Takes or renews `account`, the hold dated from before the database was asked.
  void renew(const std::string& account);
  // Runs `round` every interval() (or when woken) until leave(); at once first unless `wait_first`.
  void loop(std::function<void()> round, bool wait_first);
  LeaseBoard& board_;
  const std::string replica_;
  const std::chrono::seconds ttl_;
  const std::chrono::milliseconds grace_;
  Clock clock_;
  mutable std::mutex mutex_;
  std::map<std::string, Held> held_;
  std::set<std::string> unclean_;  // accounts whose last pass here ended with an error
  std::vector<std::string> last_replicas_;
  std::vector<LeaseRow> last_leases_;
  std::condition_variable wake_;
  bool stopping_ = false;
  bool woken_ = false;
  bool left_ = false;
  std::thread thread_;
};

}  // namespace popgate::gateway
