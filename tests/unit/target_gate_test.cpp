// TargetGate: the daily upload budget over a rolling 24 hours (hourly buckets, a controllable
// clock), pauses the server asked for (short ones waited out, long ones an Error with the time to
// come back), Gmail's [THROTTLED] hint backing off and calming down, and release() for stopping.
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <thread>

#include "connectors/common/Error.h"
#include "gateway/delivery/TargetGate.h"

using namespace popgate;
using namespace popgate::gateway;
using namespace std::chrono_literals;

namespace {

constexpr std::uint64_t kMB = 1024 * 1024;

template <class F>
Error expectError(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e;
  }
  BOOST_FAIL("no popgate::Error was thrown");
  throw std::logic_error("unreachable");
}

}  // namespace

BOOST_AUTO_TEST_CASE(testBudgetSpentPausesUntilTheOldestHourLeavesTheWindow) {
  std::int64_t now = 1'750'000'000;  // some hour plus a few minutes
  TargetGate gate(100 * kMB, [&] { return now; });
  gate.admit(60 * kMB);
  gate.uploaded(60 * kMB);
  now += 3 * 3600;
  gate.admit(30 * kMB);
  gate.uploaded(30 * kMB);
  const Error full = expectError([&] { gate.admit(20 * kMB); });
  BOOST_TEST((full.kind() == ErrorKind::Throttled));
  BOOST_TEST(std::string(full.what()).find("daily upload budget") != std::string::npos, full.what());
  // The first 60 MB leave the window 24 hours after their hour began.
  const std::int64_t first_hour_ends = (1'750'000'000 / 3600 + 24) * 3600;
  BOOST_REQUIRE(full.retryAfter().has_value());
  BOOST_TEST(std::chrono::duration_cast<std::chrono::seconds>(*full.retryAfter()).count() ==
             first_hour_ends - now);
  gate.admit(10 * kMB);  // what still fits goes
  const auto snap = gate.snapshot();
  BOOST_TEST(snap.used == 90 * kMB);
  BOOST_TEST(snap.daily_limit == 100 * kMB);
  now = first_hour_ends;
  gate.admit(20 * kMB);  // the window moved on
  BOOST_TEST(gate.snapshot().used == 30 * kMB);
}

// A message larger than the whole budget still goes, once nothing else counts: otherwise it
// would wait for ever.
BOOST_AUTO_TEST_CASE(testBatchLargerThanTheBudgetGoesIntoAnEmptyWindow) {
  std::int64_t now = 1'750'000'000;
  TargetGate gate(10 * kMB, [&] { return now; });
  gate.admit(30 * kMB);
  gate.uploaded(30 * kMB);
  BOOST_TEST((expectError([&] { gate.admit(1); }).kind() == ErrorKind::Throttled));
  now += 25 * 3600;
  gate.admit(30 * kMB);
}

BOOST_AUTO_TEST_CASE(testWithoutALimitEverythingGoes) {
  TargetGate gate;
  for (int i = 0; i < 100; ++i) {
    gate.admit(1000 * kMB);
    gate.uploaded(1000 * kMB);
  }
  BOOST_TEST(!gate.budgeted());
  BOOST_TEST(gate.snapshot().next_room_at == 0);
}

// A long pause (Microsoft: "Suggested Backoff Time: 299609 milliseconds") is not waited out: the
// pass ends with the time to come back. A short one is waited out.
BOOST_AUTO_TEST_CASE(testLongPauseEndsThePassShortPauseIsWaitedOut) {
  TargetGate gate;
  gate.pause(299609ms, "BAD Request is throttled.");
  const Error e = expectError([&] { gate.admit(1); });
  BOOST_TEST((e.kind() == ErrorKind::Throttled));
  BOOST_REQUIRE(e.retryAfter().has_value());
  BOOST_TEST(e.retryAfter()->count() > 290000);
  BOOST_TEST(gate.snapshot().pause_reason == "BAD Request is throttled.");
  BOOST_TEST(gate.snapshot().paused_until > 0);

  TargetGate brief;
  brief.pause(50ms, "slow down");
  const auto before = std::chrono::steady_clock::now();
  brief.admit(1);
  BOOST_TEST((std::chrono::steady_clock::now() - before >= 40ms));  // it waited (a lower bound)
}

// Gmail's hint: each [THROTTLED] doubles the pause (1 s, 2 s, 4 s ... at most 30 s); an answer
// without it starts again from 1 s.
BOOST_AUTO_TEST_CASE(testThrottledHintBacksOffAndCalmsDown) {
  TargetGate gate;
  std::int64_t last = 0;
  for (int i = 0; i < 8; ++i) {
    gate.slowDown();
    const std::int64_t until = gate.snapshot().paused_until;
    BOOST_TEST(until >= last);
    last = until;
  }
  const auto long_pause = gate.snapshot().paused_until;
  gate.calm();
  TargetGate fresh;
  fresh.slowDown();
  BOOST_TEST(fresh.snapshot().paused_until <= long_pause);
}

// Stopping: an admit() waiting out a pause is woken and told the process stops.
BOOST_AUTO_TEST_CASE(testReleaseWakesAWaitingUpload) {
  TargetGate gate;
  gate.pause(50s, "long enough");  // under kLongestWait: admit() would wait
  std::atomic<bool> stopped{false};
  std::thread waiter([&] {
    try {
      gate.admit(1);
    } catch (const Error& e) {
      stopped = e.kind() == ErrorKind::Transient;
    }
  });
  gate.release();
  waiter.join();
  BOOST_TEST(stopped.load());
}
