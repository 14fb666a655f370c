// UploadSettle: when a pass may look for what an interrupted upload left in flight. Grace after
// the last moment the writer could have written — the previous process's last stamp, this
// process's last failed pass of the account — on a manual clock.
#include <boost/test/unit_test.hpp>

#include <atomic>

#include "connectors/common/Error.h"
#include "gateway/service/UploadSettle.h"

using namespace popgate;
using namespace popgate::gateway;
using namespace std::chrono_literals;
using Clock = UploadSettle::Clock;

namespace {

struct ManualClock {
  Clock::time_point now = Clock::time_point(1'750'000'000s);
  std::function<Clock::time_point()> fn() {
    return [this] { return now; };
  }
};

}  // namespace

BOOST_AUTO_TEST_CASE(testNoEarlierProcessAndNoFailedPassMeansNoWait) {
  ManualClock clock;
  const UploadSettle settle(std::nullopt, clock.fn());
  BOOST_TEST((settle.settlesAt("work", 60s) == clock.now));
  settle.await("work", 60s, nullptr);  // returns at once
}

BOOST_AUTO_TEST_CASE(testGraceCountsFromThePreviousProcessLastStamp) {
  ManualClock clock;
  const Clock::time_point died = clock.now - 2s;  // killed two seconds ago
  const UploadSettle settle(died, clock.fn());
  BOOST_TEST((settle.settlesAt("work", 60s) == died + 60s));
  BOOST_TEST((settle.settlesAt("other", 4s) == died + 4s));  // every account: one process wrote
  clock.now += 70s;  // a process that ended long ago leaves nothing to wait for
  BOOST_TEST((settle.settlesAt("work", 60s) <= clock.now));
}

BOOST_AUTO_TEST_CASE(testAFailedPassMakesItsAccountWaitFromItsEnd) {
  ManualClock clock;
  UploadSettle settle(clock.now - 100s, clock.fn());
  BOOST_TEST((settle.settlesAt("work", 10s) <= clock.now));
  clock.now += 5s;
  settle.passFailed("work");
  const Clock::time_point failed = clock.now;
  clock.now += 3s;
  BOOST_TEST((settle.settlesAt("work", 10s) == failed + 10s));
  BOOST_TEST((settle.settlesAt("other", 10s) <= clock.now));  // only the account that failed
}

BOOST_AUTO_TEST_CASE(testAClockSetBackNeverMakesTheWaitLongerThanTheGrace) {
  ManualClock clock;
  const UploadSettle settle(clock.now + 3600s, clock.fn());  // stamped before the clock went back
  BOOST_TEST((settle.settlesAt("work", 60s) == clock.now + 60s));
}

BOOST_AUTO_TEST_CASE(testAStopEndsTheWaitWithATransientError) {
  ManualClock clock;
  const UploadSettle settle(clock.now, clock.fn());
  const std::atomic<bool> stop{true};
  try {
    settle.await("work", 60s, &stop);
    BOOST_FAIL("the wait went on after stop");
  } catch (const Error& e) {
    BOOST_TEST((e.kind() == ErrorKind::Transient));
    BOOST_TEST(std::string(e.what()).find("work: stopped while waiting") == 0u, e.what());
  }
}

BOOST_AUTO_TEST_CASE(testTheWaitEndsWhenTheClockPassesTheSettleTime) {
  std::atomic<std::int64_t> seconds{1'750'000'000};
  const UploadSettle settle(Clock::time_point(std::chrono::seconds(seconds.load())),
                            [&seconds] {
                              // Each look at the clock moves it on a second: the wait ends after
                              // about a grace's worth of looks, whatever the real time.
                              return Clock::time_point(std::chrono::seconds(seconds++));
                            });
  settle.await("work", 3s, nullptr);
  BOOST_TEST(seconds.load() >= 1'750'000'003);
}
