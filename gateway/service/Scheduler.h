#pragma once
// The daemon's clock: one schedule per account (SchedulePolicy), at most max_parallel_polls passes
// at once, never two passes of the same account at the same time (even when a reload removes the
// account and a later one adds it back while its pass still runs), poll-now on request, a prompt
// and safe stop, and configuration reloads that keep each account's history. Every pass runs on
// its own thread, owned and joined by the scheduler; the scheduler thread only decides when, and
// sleeps until the next due time or an event (a pass ending, a reload, a poll-now request).

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "gateway/delivery/PollJob.h"
#include "SchedulerClock.h"
#include "StatusBoard.h"
#include "config/GatewayConfig.h"

namespace popgate::gateway {

// What a pass produced, plus the account's quarantine afterwards (for /status).
struct PassOutcome {
  PollResult result;
  std::vector<QuarantinedMessage> quarantine;
};

// Runs one pass of `account` under `cfg`; `stop` turns true (and is notified, for
// std::atomic::wait) when the daemon shuts down and the pass should end at its next safe point.
// Should not throw: an exception is turned into a failed pass of kind Internal.
using PassFunction = std::function<PassOutcome(const config::GatewayConfig& cfg,
                                               const config::PopAccount& account,
                                               const std::atomic<bool>& stop)>;

class Scheduler {
 public:
  // `board` and `clock` must outlive the scheduler.
  Scheduler(StatusBoard& board, PassFunction pass, std::uint64_t seed = std::random_device{}(),
            SchedulerClock& clock = steadySchedulerClock());
  // stop(), then waits for every pass however long it takes and joins its thread: nothing the
  // scheduler owns is destroyed under a running pass. (A daemon that cannot wait any longer ends
  // the process instead, which the ledger survives like a crash.)
  ~Scheduler();
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // Installs a configuration (first time or reload): new accounts are polled soon, removed ones
  // dropped, kept ones keep their failure count and timing. An account whose pass still runs
  // (kept, removed, or removed and added back) gets no other pass before that one has ended.
  // Updates the StatusBoard's account list.
  void configure(std::shared_ptr<const config::GatewayConfig> cfg);
  // Calls `observer` with every pass's result as it ends, on the pass's thread, before the pass
  // counts as ended (so stop() waits for it); not for passes that end after stop() was called
  // (cut short, they say nothing about the account). Set before start(); it must not throw.
  void onPassFinished(std::function<void(const PollResult&)> observer);
  // Replicas: a due account gets a pass only while `may_start(name)` says so (this replica holds
  // its lease); it is asked again at least once a second. Set before start(); it must not throw
  // and must not call back into the scheduler.
  void onlyWhen(std::function<bool(const std::string&)> may_start);
  // Whether a pass of `name` runs now.
  bool running(const std::string& name);
  // Starts the scheduler thread.
  void start();
  // Polls `account` as soon as a slot is free, or right after its running pass. False if unknown.
  bool pollNow(const std::string& account);
  // Stops scheduling and asks running passes to end; waits at most `grace` for them. Returns true
  // when no pass runs any more (their threads are joined); false leaves them to a later call or
  // to the destructor. May be called again, e.g. after the passes' connections were cut.
  bool stop(std::chrono::milliseconds grace);

 private:
  using TimePoint = SchedulerClock::TimePoint;
  // A configured account's schedule.
  struct Slot {
    config::PopAccount account;
    TimePoint due;       // set only through setDue(), which keeps queue_ in step
    std::size_t order = 0;  // its place in the configuration (order_)
    bool again = false;  // poll-now arrived while its pass ran
    std::uint32_t failures = 0;
  };
  void loop();
  // Moves `slot` to `due` in queue_.
  void setDue(Slot& slot, TimePoint due);
  void launch(Slot& slot);
  void finished(const std::string& name, const PassOutcome& outcome);
  bool isRunning(const std::string& name) const { return passes_.count(name) != 0; }
  // Joins the threads whose passes have returned (with `lock` released meanwhile).
  void reap(std::unique_lock<std::mutex>& lock);
  SystemTime toSystem(TimePoint t) const;

  StatusBoard& board_;
  PassFunction pass_;
  std::function<void(const PollResult&)> observer_;
  std::function<bool(const std::string&)> may_start_;
  std::mt19937_64 rng_;
  SchedulerClock& clock_;
  std::mutex mutex_;
  std::condition_variable wake_;  // the scheduler thread waits here
  std::condition_variable idle_;  // stop() waits here for the passes to end
  std::shared_ptr<const config::GatewayConfig> cfg_;
  std::map<std::string, Slot> slots_;
  std::vector<std::string> order_;
  // Every slot by (due time, configuration order): a wakeup reads the few due ones from the front
  // instead of walking thousands of accounts.
  std::set<std::pair<TimePoint, std::size_t>> queue_;
  // Running passes by account name, configured or not: the one-pass-per-account rule and the
  // parallel limit count these, never the slots.
  std::map<std::string, std::thread> passes_;
  std::vector<std::thread> ended_;  // threads of passes that returned, to be joined
  bool stopping_ = false;
  std::atomic<bool> stop_flag_{false};
  std::thread thread_;
};

}  // namespace popgate::gateway
