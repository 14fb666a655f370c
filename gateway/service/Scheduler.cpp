#include "Scheduler.h"

#include <algorithm>

#include "Logging.h"
#include "SchedulePolicy.h"

namespace popgate::gateway {

using std::chrono::milliseconds;

Scheduler::Scheduler(StatusBoard& board, PassFunction pass, std::uint64_t seed)
    : board_(board), pass_(std::move(pass)), rng_(seed) {}

Scheduler::~Scheduler() { stop(std::chrono::seconds(5)); }

SystemTime Scheduler::toSystem(Clock::time_point t) const {
  return std::chrono::system_clock::now() +
         std::chrono::duration_cast<std::chrono::system_clock::duration>(t - Clock::now());
}

void Scheduler::configure(std::shared_ptr<const config::GatewayConfig> cfg) {
  std::vector<AccountStatus> listed;
  {
    std::lock_guard lock(mutex_);
    const auto now = Clock::now();
    std::map<std::string, Slot> next;
    order_.clear();
    for (const config::PopAccount& account : cfg->accounts) {
      order_.push_back(account.name);
      const milliseconds interval = account.poll_interval;
      auto old = slots_.find(account.name);
      Slot slot;
      if (old != slots_.end()) {
        slot = old->second;
        // A shorter interval takes effect now rather than after the old, longer wait.
        if (slot.failures == 0) slot.due = std::min(slot.due, now + jittered(interval, rng_));
      } else {
        // First poll soon after start, spread a little so accounts do not all connect at once.
        const auto spread = std::min<milliseconds>(interval / 10, std::chrono::seconds(3));
        std::uniform_int_distribution<milliseconds::rep> pick(0, spread.count());
        slot.due = now + milliseconds(pick(rng_));
      }
      slot.account = account;
      next.emplace(account.name, std::move(slot));
      AccountStatus status;
      status.name = account.name;
      status.host = hostPort(account.server.host, account.server.port);
      status.folder = account.folder;
      listed.push_back(std::move(status));
    }
    // Passes of removed accounts finish on their own; finished() then finds no slot.
    for (auto& [name, slot] : slots_) {
      if (slot.running && next.count(name) == 0) {
        logInfo(name + ": removed from the configuration; its running pass finishes first");
      }
    }
    slots_ = std::move(next);
    cfg_ = std::move(cfg);
  }
  board_.setAccounts(listed);
  {
    std::lock_guard lock(mutex_);
    for (auto& [name, slot] : slots_) {
      board_.setNextPoll(name, slot.running ? AccountState::Polling
                                            : (slot.failures > 0 ? AccountState::Backoff
                                                                 : AccountState::Idle),
                         toSystem(slot.due));
    }
  }
  wake_.notify_all();
}

void Scheduler::start() {
  std::lock_guard lock(mutex_);
  if (thread_.joinable()) return;
  thread_ = std::thread([this] { loop(); });
}

bool Scheduler::pollNow(const std::string& account) {
  {
    std::lock_guard lock(mutex_);
    auto it = slots_.find(account);
    if (it == slots_.end()) return false;
    if (it->second.running) {
      it->second.again = true;
    } else {
      it->second.due = Clock::now();
    }
  }
  logInfo(account + ": poll requested");
  wake_.notify_all();
  return true;
}

void Scheduler::loop() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    board_.beat();  // /healthz and the systemd watchdog: the loop is alive
    const auto now = Clock::now();
    auto wake_at = now + std::chrono::seconds(1);  // at least one beat a second
    const unsigned parallel = cfg_ ? std::max(cfg_->max_parallel_polls, 1u) : 1u;
    for (const std::string& name : order_) {
      Slot& slot = slots_.at(name);
      if (slot.running) continue;
      if (slot.due <= now && running_ < parallel) {
        launch(slot);
      } else {
        wake_at = std::min(wake_at, std::max(slot.due, now + milliseconds(10)));
      }
    }
    wake_.wait_until(lock, wake_at);
  }
}

void Scheduler::launch(Slot& slot) {
  slot.running = true;
  slot.again = false;
  ++running_;
  const std::string name = slot.account.name;
  board_.pollStarted(name, std::chrono::system_clock::now());
  auto cfg = cfg_;
  config::PopAccount account = slot.account;
  std::thread([this, cfg, account = std::move(account)] {
    const PassOutcome outcome = pass_(*cfg, account, stop_flag_);
    finished(account.name, outcome);
  }).detach();
}

void Scheduler::finished(const std::string& name, const PassOutcome& outcome) {
  const PollResult& r = outcome.result;
  for (const std::string& p : r.problems.lines()) logWarning(name + ": " + p);
  {
    std::lock_guard lock(mutex_);
    --running_;
    auto it = slots_.find(name);
    if (it != slots_.end()) {
      Slot& slot = it->second;
      slot.running = false;
      const auto now = Clock::now();
      const milliseconds interval = slot.account.poll_interval;
      AccountState state = AccountState::Idle;
      if (r.ok()) {
        slot.failures = 0;
        slot.due = now + jittered(interval, rng_);
      } else {
        ++slot.failures;
        state = stateAfter(false, slot.failures, r.error->kind());
        slot.due = now + backoffDelay(interval, slot.failures, r.error->kind());
      }
      if (slot.again && !stopping_) slot.due = now;
      slot.again = false;
      board_.pollFinished(name, r, std::chrono::system_clock::now(), state, toSystem(slot.due),
                          outcome.quarantine);
      if (!r.ok() && !stopping_) {
        const auto wait = std::chrono::duration_cast<std::chrono::seconds>(slot.due - now);
        logError(summarize(r) + "; next try in " + std::to_string(wait.count()) + " s");
      }
    }
    if (r.ok() || stopping_) logInfo(summarize(r));
  }
  wake_.notify_all();
  idle_.notify_all();
}

bool Scheduler::stop(std::chrono::milliseconds grace) {
  std::unique_lock lock(mutex_);
  stopping_ = true;
  stop_flag_ = true;
  wake_.notify_all();
  std::thread loop_thread = std::move(thread_);
  lock.unlock();
  if (loop_thread.joinable()) loop_thread.join();
  lock.lock();
  return idle_.wait_for(lock, grace, [this] { return running_ == 0; });
}

}  // namespace popgate::gateway
