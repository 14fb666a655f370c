#pragma once
// The daemon's clock: one schedule per account (SchedulePolicy), at most max_parallel_polls passes
// at once, never two passes of the same account at the same time, poll-now on request, a prompt
// and safe stop, and configuration reloads that keep each account's history. Every pass runs on
// its own thread; the scheduler thread only decides when.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "gateway/delivery/PollJob.h"
#include "StatusBoard.h"
#include "config/GatewayConfig.h"

namespace popgate::gateway {

// What a pass produced, plus the account's quarantine afterwards (for /status).
struct PassOutcome {
  PollResult result;
  std::vector<QuarantinedMessage> quarantine;
};

// Runs one pass of `account` under `cfg`; `stop` turns true when the daemon shuts down and the
// pass should end at its next safe point. Must not throw.
using PassFunction = std::function<PassOutcome(const config::GatewayConfig& cfg,
                                               const config::PopAccount& account,
                                               const std::atomic<bool>& stop)>;

class Scheduler {
 public:
  Scheduler(StatusBoard& board, PassFunction pass, std::uint64_t seed = std::random_device{}());
  ~Scheduler();
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // Installs a configuration (first time or reload): new accounts are polled soon, removed ones
  // dropped, kept ones keep their failure count and timing. Updates the StatusBoard's account list.
  void configure(std::shared_ptr<const config::GatewayConfig> cfg);
  // Starts the scheduler thread.
  void start();
  // Polls `account` as soon as a slot is free, or right after its running pass. False if unknown.
  bool pollNow(const std::string& account);
  // Stops scheduling and asks running passes to end; waits at most `grace`.
  // Returns true when no pass is running any more.
  bool stop(std::chrono::milliseconds grace);

 private:
  using Clock = std::chrono::steady_clock;
  struct Slot {
    config::PopAccount account;
    Clock::time_point due;
    bool running = false;
    bool again = false;
    std::uint32_t failures = 0;
  };
  void loop();
  void launch(Slot& slot);
  void finished(const std::string& name, const PassOutcome& outcome);
  SystemTime toSystem(Clock::time_point t) const;

  StatusBoard& board_;
  PassFunction pass_;
  std::mt19937_64 rng_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable idle_;
  std::shared_ptr<const config::GatewayConfig> cfg_;
  std::map<std::string, Slot> slots_;
  std::vector<std::string> order_;
  unsigned running_ = 0;
  bool stopping_ = false;
  std::atomic<bool> stop_flag_{false};
  std::thread thread_;
};

}  // namespace popgate::gateway
