#include "Scheduler.h"

#include <algorithm>
#include <exception>
#include <system_error>

#include "Logging.h"
#include "SchedulePolicy.h"

namespace popgate::gateway {

using std::chrono::milliseconds;

namespace {

// The wait before trying again when the system refuses a new thread.
constexpr std::chrono::seconds kThreadRetry{30};

// A pass that threw instead of returning its result: a failed pass like any other.
PassOutcome failedPass(const std::string& account, std::string_view why) {
  PassOutcome outcome;
  outcome.result.account = account;
  outcome.result.error = Error(ErrorKind::Internal, "the pass ended abnormally: " + std::string(why))
                             .withAccount(account);
  return outcome;
}

}  // namespace

Scheduler::Scheduler(StatusBoard& board, PassFunction pass, std::uint64_t seed,
                     SchedulerClock& clock)
    : board_(board), pass_(std::move(pass)), rng_(seed), clock_(clock) {}

Scheduler::~Scheduler() {
  stop(milliseconds(0));
  std::unique_lock lock(mutex_);
  idle_.wait(lock, [this] { return passes_.empty(); });
  reap(lock);
}

SystemTime Scheduler::toSystem(TimePoint t) const {
  return std::chrono::system_clock::now() +
         std::chrono::duration_cast<std::chrono::system_clock::duration>(t - clock_.now());
}

void Scheduler::configure(std::shared_ptr<const config::GatewayConfig> cfg) {
  std::vector<AccountStatus> listed;
  {
    std::lock_guard lock(mutex_);
    const auto now = clock_.now();
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
        if (isRunning(account.name)) {
          logInfo(account.name + ": added back while its earlier pass still runs; the next pass "
                                 "waits for it to end");
        }
      }
      slot.account = account;
      slot.order = order_.size() - 1;
      next.emplace(account.name, std::move(slot));
      AccountStatus status;
      status.name = account.name;
      status.target = account.target;
      status.host = hostPort(account.server.host, account.server.port);
      status.folder = account.folder;
      status.poll_interval = account.poll_interval;
      listed.push_back(std::move(status));
    }
    // Passes of removed accounts finish on their own; finished() then finds no slot.
    for (const auto& [name, thread] : passes_) {
      if (slots_.count(name) != 0 && next.count(name) == 0) {
        logInfo(name + ": removed from the configuration; its running pass finishes first");
      }
    }
    slots_ = std::move(next);
    queue_.clear();
    for (const auto& [name, slot] : slots_) queue_.emplace(slot.due, slot.order);
    cfg_ = std::move(cfg);
  }
  board_.setAccounts(listed);
  {
    std::lock_guard lock(mutex_);
    for (auto& [name, slot] : slots_) {
      board_.setNextPoll(name, isRunning(name) ? AccountState::Polling
                                               : (slot.failures > 0 ? AccountState::Backoff
                                                                    : AccountState::Idle),
                         toSystem(slot.due));
    }
  }
  wake_.notify_all();
}

void Scheduler::onPassFinished(std::function<void(const PollResult&)> observer) {
  std::lock_guard lock(mutex_);
  observer_ = std::move(observer);
}

void Scheduler::start() {
  std::lock_guard lock(mutex_);
  if (thread_.joinable() || stopping_) return;
  thread_ = std::thread([this] { loop(); });
}

bool Scheduler::pollNow(const std::string& account) {
  {
    std::lock_guard lock(mutex_);
    auto it = slots_.find(account);
    if (it == slots_.end()) return false;
    if (isRunning(account)) {
      it->second.again = true;
    } else {
      setDue(it->second, clock_.now());
    }
  }
  logInfo(account + ": poll requested");
  wake_.notify_all();
  return true;
}

void Scheduler::reap(std::unique_lock<std::mutex>& lock) {
  if (ended_.empty()) return;
  std::vector<std::thread> ended;
  ended.swap(ended_);
  lock.unlock();
  for (std::thread& t : ended) t.join();  // each has left finished(): this returns at once
  lock.lock();
}

void Scheduler::onlyWhen(std::function<bool(const std::string&)> may_start) {
  std::lock_guard lock(mutex_);
  may_start_ = std::move(may_start);
}

bool Scheduler::running(const std::string& name) {
  std::lock_guard lock(mutex_);
  return isRunning(name);
}

void Scheduler::loop() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    reap(lock);
    if (stopping_) break;
    board_.beat();  // /healthz and the systemd watchdog: the loop is alive
    const TimePoint now = clock_.now();
    const std::size_t parallel = cfg_ ? std::max(cfg_->max_parallel_polls, 1u) : 1u;
    // Only a due time still to come sets a timer (the clock itself wakes the loop once a second
    // for the heartbeat). A running account, and a due one waiting for a free slot, are woken by
    // the end of a pass (finished() notifies): no polling for a slot.
    // queue_ is in launch order: the longest waiting first, configuration order among equals.
    // Only as many due accounts as there are free slots are taken; the others wait for the end
    // of a pass. (Replicas: the due accounts another replica holds are passed over each time.)
    const std::size_t room = parallel > passes_.size() ? parallel - passes_.size() : 0;
    TimePoint wake_at = TimePoint::max();
    std::vector<Slot*> due;
    for (const auto& [at, index] : queue_) {
      const std::string& name = order_[index];
      if (isRunning(name)) continue;
      if (at > now) {
        wake_at = at;
        break;
      }
      if (due.size() >= room) break;
      if (may_start_ && !may_start_(name)) continue;  // another replica's
      due.push_back(&slots_.at(name));
    }
    for (Slot* slot : due) {
      launch(*slot);
      // No thread for it (launch() moved it later): try the next due account at once.
      if (!isRunning(slot->account.name)) wake_at = now;
    }
    clock_.waitUntil(wake_, lock, wake_at);
  }
}

void Scheduler::setDue(Slot& slot, TimePoint due) {
  queue_.erase({slot.due, slot.order});
  slot.due = due;
  queue_.emplace(due, slot.order);
}

void Scheduler::launch(Slot& slot) {
  const std::string name = slot.account.name;
  // The board shows the pass before it can run (and so before it can finish).
  board_.pollStarted(name, std::chrono::system_clock::now());
  try {
    std::thread thread([this, cfg = cfg_, account = slot.account] {
      PassOutcome outcome;
      try {
        outcome = pass_(*cfg, account, stop_flag_);
      } catch (const std::exception& e) {
        outcome = failedPass(account.name, e.what());
      } catch (...) {
        outcome = failedPass(account.name, "unknown exception");
      }
      finished(account.name, outcome);
    });
    // finished() needs mutex_, held here: the entry exists before the pass can end.
    passes_.emplace(name, std::move(thread));
  } catch (const std::system_error& e) {
    setDue(slot, clock_.now() + kThreadRetry);
    board_.setNextPoll(name, slot.failures > 0 ? AccountState::Backoff : AccountState::Idle,
                       toSystem(slot.due));
    logError(name + ": cannot start a thread for its pass (" + e.what() + "); next try in " +
             std::to_string(kThreadRetry.count()) + " s");
    return;
  }
  slot.again = false;
}

void Scheduler::finished(const std::string& name, const PassOutcome& outcome) {
  const PollResult& r = outcome.result;
  for (const std::string& p : r.problems.lines()) logWarning(name + ": " + p);
  // Set before start(): no lock needed to read it. A pass cut short by stop() says nothing about
  // the account, so it is not reported.
  if (observer_ && !stop_flag_.load()) observer_(r);
  {
    std::lock_guard lock(mutex_);
    auto pass = passes_.find(name);
    ended_.push_back(std::move(pass->second));  // this very thread: reap() or stop() joins it
    passes_.erase(pass);
    auto it = slots_.find(name);
    if (it != slots_.end()) {
      Slot& slot = it->second;
      const auto now = clock_.now();
      const milliseconds interval = slot.account.poll_interval;
      AccountState state = AccountState::Idle;
      TimePoint due;
      if (r.ok()) {
        slot.failures = 0;
        due = now + jittered(interval, rng_);
      } else {
        ++slot.failures;
        state = stateAfter(false, slot.failures, r.error->kind());
        due = now + retryDelay(interval, slot.failures, *r.error);
      }
      if (slot.again && !stopping_) due = now;
      slot.again = false;
      setDue(slot, due);
      board_.pollFinished(name, r, std::chrono::system_clock::now(), state, toSystem(slot.due),
                          outcome.quarantine);
      if (!r.ok() && !stopping_) {
        const auto wait = std::chrono::duration_cast<std::chrono::seconds>(slot.due - now);
        logError(summarize(r) + "; next try in " + std::to_string(wait.count()) + " s");
      }
    }
    if (r.ok() || stopping_ || it == slots_.end()) logInfo(summarize(r));
  }
  wake_.notify_all();
  idle_.notify_all();
}

bool Scheduler::stop(std::chrono::milliseconds grace) {
  std::unique_lock lock(mutex_);
  stopping_ = true;
  stop_flag_ = true;
  stop_flag_.notify_all();
  wake_.notify_all();
  std::thread loop_thread = std::move(thread_);
  lock.unlock();
  if (loop_thread.joinable()) loop_thread.join();
  lock.lock();
  if (!idle_.wait_for(lock, grace, [this] { return passes_.empty(); })) return false;
  reap(lock);
  return true;
}

}  // namespace popgate::gateway
