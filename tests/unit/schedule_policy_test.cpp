// The scheduler's timing rules as pure functions: jitter bounds, backoff growth and caps, and the
// state shown after a pass.
#include <boost/test/unit_test.hpp>

#include "gateway/service/SchedulePolicy.h"

using namespace popgate;
using namespace popgate::gateway;
using namespace std::chrono_literals;
using std::chrono::milliseconds;

BOOST_AUTO_TEST_CASE(testJitterStaysWithinTenPercent) {
  std::mt19937_64 rng(42);
  milliseconds lo = 1h, hi = 0ms;
  for (int i = 0; i < 10000; ++i) {
    const milliseconds j = jittered(300s, rng);
    lo = std::min(lo, j);
    hi = std::max(hi, j);
  }
  BOOST_TEST(lo.count() >= 270000);
  BOOST_TEST(hi.count() <= 330000);
  BOOST_TEST(hi - lo > 50s);  // it really spreads
}

BOOST_AUTO_TEST_CASE(testBackoffDoublesFromThirtySeconds) {
  BOOST_TEST(backoffDelay(1h, 1, ErrorKind::Transient).count() == milliseconds(30s).count());
  BOOST_TEST(backoffDelay(1h, 2, ErrorKind::Transient).count() == milliseconds(60s).count());
  BOOST_TEST(backoffDelay(1h, 3, ErrorKind::Transient).count() == milliseconds(120s).count());
}

BOOST_AUTO_TEST_CASE(testBackoffIsCappedAtEightIntervalsAndOneHour) {
  BOOST_TEST(backoffDelay(1min, 10, ErrorKind::Transient).count() == milliseconds(8min).count());
  BOOST_TEST(backoffDelay(30min, 50, ErrorKind::Transient).count() == milliseconds(1h).count());
  BOOST_TEST(backoffDelay(2s, 1, ErrorKind::Transient).count() == milliseconds(16s).count());
}

BOOST_AUTO_TEST_CASE(testRefusedCredentialsNeverRetrySoonerThanTheInterval) {
  BOOST_TEST(backoffDelay(5min, 1, ErrorKind::Auth).count() == milliseconds(5min).count());
  BOOST_TEST(backoffDelay(5min, 6, ErrorKind::Auth).count() == milliseconds(16min).count());
  BOOST_TEST(backoffDelay(2s, 1, ErrorKind::Auth).count() == milliseconds(16s).count());
}

BOOST_AUTO_TEST_CASE(testStateAfterAPass) {
  BOOST_TEST((stateAfter(true, 0, ErrorKind::Transient) == AccountState::Idle));
  BOOST_TEST((stateAfter(false, 1, ErrorKind::Transient) == AccountState::Backoff));
  BOOST_TEST((stateAfter(false, 3, ErrorKind::Transient) == AccountState::Failing));
  BOOST_TEST((stateAfter(false, 1, ErrorKind::Auth) == AccountState::Failing));
  BOOST_TEST((stateAfter(false, 1, ErrorKind::Security) == AccountState::Failing));
  BOOST_TEST((stateAfter(false, 1, ErrorKind::OverQuota) == AccountState::Backoff));
}

// A throttled target said when to come back (Microsoft's "Suggested Backoff Time", the hour the
// daily upload budget has room again): the next pass comes then, not after the usual backoff,
// however many throttled passes came before; and a throttled account is never shown as failing.
BOOST_AUTO_TEST_CASE(testThrottledPassWaitsWhatTheServerAsked) {
  const Error hour = Error(ErrorKind::Throttled, "daily upload budget spent").withRetryAfter(1h);
  BOOST_TEST(retryDelay(5min, 1, hour).count() == milliseconds(1h).count());
  BOOST_TEST(retryDelay(5min, 9, hour).count() == milliseconds(1h).count());
  const Error brief = Error(ErrorKind::Throttled, "throttled").withRetryAfter(20ms);
  BOOST_TEST(retryDelay(5min, 1, brief).count() == milliseconds(1s).count());
  const Error plain(ErrorKind::Transient, "connection reset");
  BOOST_TEST(retryDelay(5min, 2, plain).count() == backoffDelay(5min, 2, ErrorKind::Transient).count());
  BOOST_TEST((stateAfter(false, 7, ErrorKind::Throttled) == AccountState::Backoff));
}
