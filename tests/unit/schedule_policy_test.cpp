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
