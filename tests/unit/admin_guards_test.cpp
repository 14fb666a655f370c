// The admin endpoint's guards as pure decisions: which Host headers name the endpoint (DNS
// rebinding), when poll-now is refused (interval, auth/TLS backoff) and with which Retry-After,
// and when the scheduler counts as stuck (/healthz 503, no more WATCHDOG=1).
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <string>
#include <vector>

#include "gateway/service/WatchdogFeeder.h"
#include "gateway/admin/HostCheck.h"
#include "gateway/admin/PollNowGate.h"

using namespace popgate::gateway;
using namespace popgate::gateway::admin;
using namespace std::chrono_literals;

namespace {

const SystemTime kNoon = SystemTime(std::chrono::seconds(1'750'000'000));

AccountStatus healthy(const std::string& name) {
  AccountStatus a;
  a.name = name;
  return a;
}

AccountStatus failing(const std::string& name, const std::string& kind,
                      std::optional<SystemTime> next_poll) {
  AccountStatus a = healthy(name);
  a.state = AccountState::Failing;
  a.consecutive_failures = 2;
  a.last_error_kind = kind;
  a.next_poll = next_poll;
  return a;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(host_check)

BOOST_AUTO_TEST_CASE(testLoopbackListener) {
  const HostCheck check("127.0.0.1", {});
  for (const char* ok : {"127.0.0.1", "127.0.0.1:8025", "127.0.0.2:1", "localhost", "LocalHost:80",
                         "localhost.", "[::1]", "[::1]:8025"}) {
    BOOST_TEST(check.allows(ok), ok);
  }
  for (const char* bad :
       {"evil.example", "evil.example:8025", "localhost.evil.example", "127.0.0.1.nip.io",
        "192.0.2.1", "", ":8025", "[::1", "[evil]:80", "::1", "localhost:80:80", "localhost:x",
        "a b", "local%host", "localhost:123456"}) {
    BOOST_TEST(!check.allows(bad), bad);
  }
}

BOOST_AUTO_TEST_CASE(testSpecificAddressAndName) {
  const HostCheck ip("192.0.2.10", {});
  BOOST_TEST(ip.allows("192.0.2.10:8025"));
  BOOST_TEST(!ip.allows("192.0.2.11:8025"));
  BOOST_TEST(!ip.allows("localhost"));  // not a loopback listener
  BOOST_TEST(!ip.allows("127.0.0.1"));
  const HostCheck name("gateway.lan", {"popgate.example"});
  BOOST_TEST(name.allows("gateway.lan:8025"));
  BOOST_TEST(name.allows("GATEWAY.LAN"));
  BOOST_TEST(name.allows("popgate.example"));
  BOOST_TEST(!name.allows("other.lan"));
  const HostCheck v6("2001:db8::1", {});
  BOOST_TEST(v6.allows("[2001:db8:0::1]:8025"));  // compared as addresses, not as text
  BOOST_TEST(!v6.allows("[2001:db8::2]"));
}

BOOST_AUTO_TEST_CASE(testWildcardListener) {
  for (const char* any : {"0.0.0.0", "::"}) {
    const HostCheck check(any, {"popgate"});
    BOOST_TEST(check.allows("10.0.0.7:8025"), any);  // any address of this host or its pod
    BOOST_TEST(check.allows("[fd00::7]:8025"), any);
    BOOST_TEST(check.allows("localhost:8025"), any);
    BOOST_TEST(check.allows("popgate:8025"), any);
    BOOST_TEST(!check.allows("evil.example"), any);
  }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(poll_now_gate)

BOOST_AUTO_TEST_CASE(testMinimumIntervalPerAccount) {
  PollNowGate gate(60s);
  BOOST_TEST(gate.admit(healthy("work"), kNoon).accepted);
  const PollVerdict again = gate.admit(healthy("work"), kNoon + 1s);
  BOOST_TEST(!again.accepted);
  BOOST_TEST(again.retry_after.count() == 59);
  BOOST_TEST(gate.admit(healthy("home"), kNoon + 1s).accepted);  // each account its own
  BOOST_TEST(gate.admit(healthy("work"), kNoon + 59500ms).retry_after.count() == 1);  // rounded up
  BOOST_TEST(gate.admit(healthy("work"), kNoon + 60s).accepted);
  // Refused requests do not restart the interval.
  BOOST_TEST(!gate.admit(healthy("work"), kNoon + 61s).accepted);
  BOOST_TEST(gate.admit(healthy("work"), kNoon + 120s).accepted);
}

BOOST_AUTO_TEST_CASE(testNoIntervalWhenZero) {
  PollNowGate gate(0s);
  for (int i = 0; i < 5; ++i) BOOST_TEST(gate.admit(healthy("work"), kNoon).accepted);
}

BOOST_AUTO_TEST_CASE(testAuthAndTlsFailuresWaitForTheirBackoff) {
  PollNowGate gate(0s);
  const PollVerdict auth = gate.admit(failing("work", "auth", kNoon + 600s), kNoon);
  BOOST_TEST(!auth.accepted);
  BOOST_TEST(auth.retry_after.count() == 600);
  BOOST_TEST(auth.reason.find("failing on its login") != std::string::npos);
  const PollVerdict tls = gate.admit(failing("work", "security", kNoon + 90s), kNoon);
  BOOST_TEST(!tls.accepted);
  BOOST_TEST(tls.retry_after.count() == 90);
  // A pass already due (or running): still not sooner; retry after at least a second.
  BOOST_TEST(!gate.admit(failing("work", "auth", kNoon - 5s), kNoon).accepted);
  BOOST_TEST(gate.admit(failing("work", "auth", std::nullopt), kNoon).retry_after.count() >= 1);
  // Other failures can be retried on request.
  for (const char* kind : {"transient", "protocol", "mailbox", "overquota", "internal"}) {
    BOOST_TEST(gate.admit(failing(kind, kind, kNoon + 600s), kNoon).accepted, kind);
  }
  // Fixed (a success cleared the failures): allowed again.
  BOOST_TEST(gate.admit(healthy("work"), kNoon).accepted);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(stall)

BOOST_AUTO_TEST_CASE(testSchedulerAliveWithinTheStallTimeout) {
  const auto beat = std::chrono::steady_clock::time_point(std::chrono::hours(10));
  BOOST_TEST(WatchdogFeeder::alive(beat, beat, 60s));
  BOOST_TEST(WatchdogFeeder::alive(beat, beat + 60s, 60s));
  BOOST_TEST(!WatchdogFeeder::alive(beat, beat + 60s + 1ms, 60s));
  BOOST_TEST(!WatchdogFeeder::alive(beat, beat + 1h, 60s));
}

BOOST_AUTO_TEST_SUITE_END()
