// The daemon's Scheduler driven with a fake pass function and a clock the test moves by hand: an
// account removed by one reload and added back by the next while its pass runs never gets a second
// pass beside it; max_parallel_polls holds; poll-now during a pass runs once more right after it;
// stop() asks passes to end and waits for them; the destructor joins a running pass; failures back
// off (refused credentials never sooner than the interval); no wakeups while every slot is busy.
// No sockets, no sleeps to let things happen: every wait is for an event (or a condition the board
// shows), with a generous deadline.
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

#include "gateway/service/Scheduler.h"
#include "gateway/service/SchedulerClock.h"
#include "gateway/service/StatusBoard.h"

using namespace popgate;
using namespace popgate::gateway;
using namespace std::chrono_literals;

namespace {

// What any wait of this test allows before it counts as a hang.
constexpr auto kDeadline = 30s;

using TimePoint = SchedulerClock::TimePoint;

// Polls `ready` (the StatusBoard has no condition variable to wait on) until it holds; a failure
// after kDeadline.
template <typename Ready>
void eventually(Ready ready, const std::string& what) {
  const auto deadline = std::chrono::steady_clock::now() + kDeadline;
  while (!ready()) {
    BOOST_REQUIRE_MESSAGE(std::chrono::steady_clock::now() < deadline, what);
    std::this_thread::sleep_for(1ms);
  }
}

// Time moved by the test. advance() wakes the scheduler (under its mutex, so the wakeup cannot be
// lost) only when the deadline it waits for has come, as a timer would; settle() lets it look at
// everything done so far and waits until it sleeps again.
class ManualClock final : public SchedulerClock {
 public:
  TimePoint now() const override {
    std::lock_guard lock(mutex_);
    return now_;
  }

  void waitUntil(std::condition_variable& wake, std::unique_lock<std::mutex>& lock,
                 TimePoint deadline) override {
    {
      std::lock_guard guard(mutex_);
      wake_ = &wake;
      scheduler_mutex_ = lock.mutex();
      deadline_ = deadline;
      seen_epoch_ = epoch_;
      ++waits_;
      if (now_ >= deadline) return;
      waiting_ = true;
      changed_.notify_all();
    }
    wake.wait(lock);
    std::lock_guard guard(mutex_);
    waiting_ = false;
  }

  void advance(std::chrono::milliseconds by) {
    std::condition_variable* wake = nullptr;
    std::mutex* scheduler_mutex = nullptr;
    {
      std::lock_guard lock(mutex_);
      now_ += by;
      if (waiting_ && now_ >= deadline_) {
        wake = wake_;
        scheduler_mutex = scheduler_mutex_;
      }
    }
    if (wake != nullptr) {
      std::lock_guard lock(*scheduler_mutex);
      wake->notify_all();
    }
  }

  // Returns once the scheduler has evaluated its accounts after everything this thread did before
  // the call (configure, pollNow, advance, a pass it saw end) and is waiting again. It nudges the
  // scheduler awake once, which the clock contract allows ("may return early").
  void settle() {
    std::condition_variable* wake = nullptr;
    std::mutex* scheduler_mutex = nullptr;
    std::uint64_t epoch = 0;
    {
      std::lock_guard lock(mutex_);
      epoch = ++epoch_;
      wake = wake_;
      scheduler_mutex = scheduler_mutex_;
    }
    if (wake != nullptr) {
      std::lock_guard lock(*scheduler_mutex);
      wake->notify_all();
    }
    std::unique_lock lock(mutex_);
    BOOST_REQUIRE_MESSAGE(changed_.wait_for(lock, kDeadline,
                                            [&] { return waiting_ && seen_epoch_ >= epoch; }),
                          "the scheduler did not settle");
  }

  // How often the scheduler has gone to sleep, and the deadline of its latest sleep.
  std::uint64_t waits() const {
    std::lock_guard lock(mutex_);
    return waits_;
  }
  TimePoint deadline() const {
    std::lock_guard lock(mutex_);
    return deadline_;
  }

 private:
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  TimePoint now_{std::chrono::hours(1000)};
  std::condition_variable* wake_ = nullptr;
  std::mutex* scheduler_mutex_ = nullptr;
  TimePoint deadline_{};
  bool waiting_ = false;
  std::uint64_t waits_ = 0;
  std::uint64_t epoch_ = 0;
  std::uint64_t seen_epoch_ = 0;
};

// Passes the test holds and ends at will. A pass counts itself in, optionally waits for the stop
// flag, then waits for a release (its result) and counts itself out. Records how many passes of
// an account, and of all accounts, ran at the same time.
class Passes {
 public:
  PassFunction function() {
    return [this](const config::GatewayConfig&, const config::PopAccount& account,
                  const std::atomic<bool>& stop) { return run(account.name, stop); };
  }

  // Passes of `account` wait for the stop flag before they look for a release.
  void waitForStop(const std::string& account) {
    std::lock_guard lock(mutex_);
    stats_[account].wait_for_stop = true;
  }
  // Lets one pass of `account` (held now or still to come) end, failing with `error` if given.
  void release(const std::string& account, std::optional<Error> error = std::nullopt) {
    std::lock_guard lock(mutex_);
    stats_[account].releases.push_back(std::move(error));
    changed_.notify_all();
  }
  // Every pass, held or to come, ends at once (when a test is over, passed or failed).
  void openAll() {
    std::lock_guard lock(mutex_);
    open_all_ = true;
    changed_.notify_all();
  }

  void awaitStarted(const std::string& account, std::size_t n) {
    await([&] { return stats_[account].started >= n; },
          account + ": pass " + std::to_string(n) + " did not start");
  }
  void awaitEnded(const std::string& account, std::size_t n) {
    await([&] { return stats_[account].ended >= n; },
          account + ": pass " + std::to_string(n) + " did not end");
  }
  void awaitSawStop(const std::string& account, std::size_t n) {
    await([&] { return stats_[account].saw_stop >= n; },
          account + ": a pass did not see the stop flag");
  }

  std::size_t started(const std::string& account) { return read(&Stats::started, account); }
  std::size_t ended(const std::string& account) { return read(&Stats::ended, account); }
  std::size_t running(const std::string& account) { return read(&Stats::running, account); }
  std::size_t mostAtOnce(const std::string& account) { return read(&Stats::most, account); }
  std::size_t mostAtOnceOverall() {
    std::lock_guard lock(mutex_);
    return most_overall_;
  }
  // The order in which passes ended (a number from `sequence`, shared with the test).
  std::uint64_t endedAt(const std::string& account) { return read(&Stats::ended_at, account); }
  std::atomic<std::uint64_t> sequence{0};

 private:
  struct Stats {
    std::size_t started = 0, ended = 0, running = 0, most = 0, saw_stop = 0;
    std::uint64_t ended_at = 0;
    bool wait_for_stop = false;
    std::deque<std::optional<Error>> releases;
  };

  PassOutcome run(const std::string& account, const std::atomic<bool>& stop) {
    std::unique_lock lock(mutex_);
    Stats& s = stats_[account];
    ++s.started;
    s.most = std::max(s.most, ++s.running);
    most_overall_ = std::max(most_overall_, ++running_overall_);
    changed_.notify_all();
    if (s.wait_for_stop) {
      lock.unlock();
      stop.wait(false);  // the scheduler notifies the flag when it sets it
      lock.lock();
      ++s.saw_stop;
      changed_.notify_all();
    }
    changed_.wait(lock, [&] { return open_all_ || !s.releases.empty(); });
    PassOutcome outcome;
    outcome.result.account = account;
    if (!s.releases.empty()) {
      outcome.result.error = s.releases.front();
      s.releases.pop_front();
    }
    --s.running;
    --running_overall_;
    ++s.ended;
    s.ended_at = ++sequence;
    changed_.notify_all();
    return outcome;
  }

  template <typename Ready>
  void await(Ready ready, const std::string& what) {
    std::unique_lock lock(mutex_);
    BOOST_REQUIRE_MESSAGE(changed_.wait_for(lock, kDeadline, ready), what);
  }
  template <typename T>
  T read(T Stats::*field, const std::string& account) {
    std::lock_guard lock(mutex_);
    return stats_[account].*field;
  }

  std::mutex mutex_;
  std::condition_variable changed_;
  std::map<std::string, Stats> stats_;
  std::size_t running_overall_ = 0, most_overall_ = 0;
  bool open_all_ = false;
};

config::PopAccount account(const std::string& name, std::chrono::seconds interval = 1h) {
  config::PopAccount a;
  a.name = name;
  a.server.host = name + ".example";
  a.server.port = 995;
  a.poll_interval = interval;
  return a;
}

std::shared_ptr<const config::GatewayConfig> configWith(std::vector<config::PopAccount> accounts,
                                                        std::uint32_t parallel = 4) {
  auto cfg = std::make_shared<config::GatewayConfig>();
  cfg->max_parallel_polls = parallel;
  cfg->accounts = std::move(accounts);
  return cfg;
}

// The scheduler with its clock, board and passes. Whatever happens in a test, held passes are
// let go before the scheduler's destructor waits for them.
struct Rig {
  ManualClock clock;
  StatusBoard board{"test"};
  Passes passes;
  std::unique_ptr<Scheduler> scheduler =
      std::make_unique<Scheduler>(board, passes.function(), 7, clock);

  explicit Rig(std::shared_ptr<const config::GatewayConfig> cfg,
               std::function<void(const PollResult&)> observer = {}) {
    scheduler->configure(std::move(cfg));
    if (observer) scheduler->onPassFinished(std::move(observer));
    scheduler->start();
    clock.settle();
  }
  ~Rig() {
    passes.openAll();
    scheduler.reset();
  }

  AccountStatus status(const std::string& name) const {
    for (const AccountStatus& a : board.snapshot().accounts) {
      if (a.name == name) return a;
    }
    BOOST_FAIL("no account " << name << " on the board");
    return {};
  }
  // Waits until the board shows `n` finished passes of `name` (finished() has run).
  void awaitPolls(const std::string& name, std::uint64_t n) const {
    eventually([&] { return status(name).polls >= n; },
               name + ": the board never showed poll " + std::to_string(n));
  }
  // Lets pass `n` of `name` start, end with `error` (success without) and be booked.
  void runPass(const std::string& name, std::size_t n, std::optional<Error> error = std::nullopt) {
    passes.awaitStarted(name, n);
    passes.release(name, std::move(error));
    awaitPolls(name, n);
  }
  // Moves time to just before `wait` has passed (no pass starts), then to `wait` (the next starts).
  void expectNextPassAfter(const std::string& name, std::chrono::milliseconds wait) {
    const std::size_t before = passes.started(name);
    clock.advance(wait - 1ms);
    clock.settle();
    BOOST_TEST(passes.started(name) == before, name << ": a pass before " << wait.count() << " ms");
    clock.advance(1ms);
    passes.awaitStarted(name, before + 1);
  }
};

Error failure(ErrorKind kind) { return Error(kind, "test failure"); }

}  // namespace

// Today's bug: SIGHUP without the account, SIGHUP with it again, both while its pass runs; the
// re-added account got a fresh slot and a second pass beside the first (both appended the same
// messages; the second wiped the first's spool).
BOOST_AUTO_TEST_CASE(testAccountRemovedAndAddedBackDuringItsPassGetsNoSecondPass) {
  const auto with_a = configWith({account("a"), account("b")});
  const auto without_a = configWith({account("b")});
  Rig rig(with_a);
  BOOST_TEST(rig.scheduler->pollNow("a"));
  rig.passes.awaitStarted("a", 1);

  rig.scheduler->configure(without_a);
  rig.clock.settle();
  BOOST_TEST(!rig.scheduler->pollNow("a"));  // unknown while removed
  rig.scheduler->configure(with_a);
  BOOST_TEST(rig.scheduler->pollNow("a"));  // known again: runs after the old pass
  rig.clock.advance(2h);                    // and it is long due
  rig.clock.settle();
  BOOST_TEST(!rig.status("a").last_start.has_value(), "a second pass started beside the first");
  BOOST_TEST((rig.status("a").state == AccountState::Polling));

  rig.passes.release("a");
  rig.passes.awaitStarted("a", 2);  // right after the old one, for the poll-now
  BOOST_TEST(rig.passes.ended("a") == 1u);
  rig.passes.release("a");
  rig.passes.release("b");
  BOOST_TEST(rig.scheduler->stop(kDeadline));
  BOOST_TEST(rig.passes.started("a") == 2u);
  BOOST_TEST(rig.passes.mostAtOnce("a") == 1u);
}

BOOST_AUTO_TEST_CASE(testMaxParallelPollsHolds) {
  Rig rig(configWith({account("a"), account("b"), account("c")}, 2));
  for (const char* name : {"a", "b", "c"}) BOOST_TEST(rig.scheduler->pollNow(name));
  rig.passes.awaitStarted("a", 1);
  rig.passes.awaitStarted("b", 1);
  rig.clock.advance(2h);
  rig.clock.settle();
  BOOST_TEST(!rig.status("c").last_start.has_value(), "a third pass started with a limit of 2");

  rig.passes.release("b");
  rig.passes.awaitStarted("c", 1);  // the freed slot goes to the waiting account
  rig.passes.release("a");
  rig.passes.release("c");
  BOOST_TEST(rig.scheduler->stop(kDeadline));
  BOOST_TEST(rig.passes.mostAtOnceOverall() == 2u);
}

BOOST_AUTO_TEST_CASE(testPollNowDuringAPassRunsOnceMoreRightAfter) {
  Rig rig(configWith({account("a", 1h)}));
  BOOST_TEST(rig.scheduler->pollNow("a"));
  rig.passes.awaitStarted("a", 1);
  const auto first_start = rig.status("a").last_start;
  BOOST_TEST(rig.scheduler->pollNow("a"));
  BOOST_TEST(rig.scheduler->pollNow("a"));  // two requests during one pass: one more pass
  rig.clock.settle();
  BOOST_TEST((rig.status("a").last_start == first_start));

  rig.passes.release("a");
  rig.passes.awaitStarted("a", 2);  // no time has passed: it ran right after
  rig.passes.release("a");
  rig.passes.awaitEnded("a", 2);
  rig.awaitPolls("a", 2);
  const auto second_start = rig.status("a").last_start;
  rig.clock.settle();
  BOOST_TEST((rig.status("a").last_start == second_start), "a third pass without a request");
  BOOST_TEST((rig.status("a").state == AccountState::Idle));
  BOOST_TEST(rig.scheduler->stop(kDeadline));
  BOOST_TEST(rig.passes.started("a") == 2u);
  BOOST_TEST(rig.passes.mostAtOnce("a") == 1u);
}

BOOST_AUTO_TEST_CASE(testStopAsksRunningPassesToEndAndWaitsForThem) {
  Rig rig(configWith({account("a"), account("b")}));
  for (const char* name : {"a", "b"}) {
    rig.passes.waitForStop(name);
    rig.passes.release(name);  // each ends as soon as it has seen the stop flag
    BOOST_TEST(rig.scheduler->pollNow(name));
  }
  rig.passes.awaitStarted("a", 1);
  rig.passes.awaitStarted("b", 1);
  BOOST_TEST(rig.scheduler->stop(kDeadline));
  // On return both passes have seen the flag and ended; nothing starts any more.
  BOOST_TEST(rig.passes.ended("a") == 1u);
  BOOST_TEST(rig.passes.ended("b") == 1u);
  BOOST_TEST(rig.scheduler->pollNow("a"));
  rig.clock.advance(24h);
  BOOST_TEST(rig.passes.started("a") == 1u);
}

// The notices' feed: every pass's result, before the pass counts as ended; not a pass that
// ends because the daemon stops (it says nothing about the account).
BOOST_AUTO_TEST_CASE(testPassObserverSeesEveryPassButNotOnesCutShortByStop) {
  std::mutex mutex;
  std::vector<std::string> seen;
  Rig rig(configWith({account("a")}), [&](const PollResult& r) {
    std::lock_guard lock(mutex);
    seen.push_back(r.account + (r.ok() ? " ok" : " failed"));
  });
  BOOST_TEST(rig.scheduler->pollNow("a"));
  rig.runPass("a", 1, failure(ErrorKind::Auth));
  {
    std::lock_guard lock(mutex);
    BOOST_REQUIRE(seen.size() == 1u);  // already there when the board shows the pass
    BOOST_TEST(seen[0] == "a failed");
  }
  // Held until the stop, set before the poll: a pass that started first would end at its release.
  rig.passes.waitForStop("a");
  BOOST_TEST(rig.scheduler->pollNow("a"));
  rig.passes.release("a");
  rig.passes.awaitStarted("a", 2);
  BOOST_TEST(rig.scheduler->stop(kDeadline));
  BOOST_TEST(rig.passes.ended("a") == 2u);
  std::lock_guard lock(mutex);
  BOOST_TEST(seen.size() == 1u);
}

BOOST_AUTO_TEST_CASE(testStopGivesUpAfterTheGraceAndTheDestructorStillWaits) {
  Rig rig(configWith({account("a")}));
  BOOST_TEST(rig.scheduler->pollNow("a"));
  rig.passes.awaitStarted("a", 1);
  // The pass ignores the stop flag until released: the grace runs out.
  BOOST_TEST(!rig.scheduler->stop(1ms));
  BOOST_TEST(rig.passes.running("a") == 1u);
  rig.passes.release("a");
  rig.scheduler.reset();  // joins the pass
  BOOST_TEST(rig.passes.ended("a") == 1u);
}

BOOST_AUTO_TEST_CASE(testDestroyingTheSchedulerWithARunningPassJoinsIt) {
  Rig rig(configWith({account("a")}));
  rig.passes.waitForStop("a");
  BOOST_TEST(rig.scheduler->pollNow("a"));
  rig.passes.awaitStarted("a", 1);

  std::atomic<std::uint64_t> destroyed_at{0};
  std::thread destroyer([&] {
    rig.scheduler.reset();
    destroyed_at = ++rig.passes.sequence;
  });
  rig.passes.awaitSawStop("a", 1);  // the destructor asked the pass to stop...
  BOOST_TEST(destroyed_at.load() == 0u);  // ...and waits: the pass cannot end before release
  rig.passes.release("a");
  destroyer.join();
  BOOST_TEST(rig.passes.ended("a") == 1u);
  BOOST_TEST(rig.passes.endedAt("a") < destroyed_at.load());
}

BOOST_AUTO_TEST_CASE(testTransientFailuresBackOffExponentially) {
  Rig rig(configWith({account("a", 10min)}));
  BOOST_TEST(rig.scheduler->pollNow("a"));
  rig.runPass("a", 1, failure(ErrorKind::Transient));
  BOOST_TEST((rig.status("a").state == AccountState::Backoff));
  rig.expectNextPassAfter("a", 30s);  // first failure: 30 s, not the 10 min interval
  rig.runPass("a", 2, failure(ErrorKind::Transient));
  rig.expectNextPassAfter("a", 60s);  // second: 60 s
  rig.runPass("a", 3);                // success: back to the interval, ±10%
  BOOST_TEST((rig.status("a").state == AccountState::Idle));
  rig.clock.advance(9min - 10ms);  // 10 min × 0.9, less a margin for rounding
  rig.clock.settle();
  BOOST_TEST(rig.passes.started("a") == 3u);
  rig.clock.advance(2min + 20ms);  // past 10 min × 1.1
  rig.runPass("a", 4);
}

BOOST_AUTO_TEST_CASE(testRefusedCredentialsAreNotPolledSoonerThanTheInterval) {
  Rig rig(configWith({account("a", 2min)}));
  BOOST_TEST(rig.scheduler->pollNow("a"));
  rig.runPass("a", 1, failure(ErrorKind::Auth));
  BOOST_TEST((rig.status("a").state == AccountState::Failing));
  BOOST_TEST(rig.status("a").last_error_kind == "auth");
  // A transient failure would be retried after 30 s; refused credentials wait the interval.
  rig.expectNextPassAfter("a", 2min);
  rig.runPass("a", 2);
}

// The old loop woke every 10 ms while a due account waited for a free slot. Now the scheduler
// sleeps without a deadline until a pass ends (or a reload or poll-now comes).
BOOST_AUTO_TEST_CASE(testNoWakeupsWhileEverySlotIsBusy) {
  Rig rig(configWith({account("a"), account("b")}, 1));
  BOOST_TEST(rig.scheduler->pollNow("a"));
  BOOST_TEST(rig.scheduler->pollNow("b"));
  rig.passes.awaitStarted("a", 1);
  rig.clock.settle();
  BOOST_TEST((rig.clock.deadline() == TimePoint::max()), "the scheduler set a timer");

  const std::uint64_t waits = rig.clock.waits();
  for (int i = 0; i < 100; ++i) rig.clock.advance(10ms);
  rig.clock.advance(2h);
  rig.clock.settle();
  BOOST_TEST(rig.clock.waits() == waits + 1);  // settle()'s own nudge, nothing else
  BOOST_TEST(!rig.status("b").last_start.has_value());

  rig.passes.release("a");
  rig.passes.awaitStarted("b", 1);  // woken by the end of a's pass
  rig.passes.release("b");
}

// A pass function that throws (it should not) is a failed pass, not a stuck account.
BOOST_AUTO_TEST_CASE(testAThrowingPassCountsAsAFailedPass) {
  ManualClock clock;
  StatusBoard board("test");
  std::atomic<int> calls{0};
  {
    Scheduler scheduler(
        board,
        [&](const config::GatewayConfig&, const config::PopAccount&,
            const std::atomic<bool>&) -> PassOutcome {
          ++calls;
          throw std::runtime_error("boom");
        },
        7, clock);
    scheduler.configure(configWith({account("a")}));
    scheduler.start();
    BOOST_TEST(scheduler.pollNow("a"));
    eventually([&] { return board.snapshot().accounts.at(0).polls >= 1; }, "no pass ended");
    const AccountStatus a = board.snapshot().accounts.at(0);
    BOOST_TEST(a.last_error_kind == "internal");
    BOOST_TEST(a.last_error.find("boom") != std::string::npos);
    BOOST_TEST(scheduler.stop(kDeadline));
  }
  BOOST_TEST(calls.load() == 1);
}
