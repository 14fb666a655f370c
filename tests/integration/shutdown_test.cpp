// SIGTERM while the target is slow: `popgate run` stops within its grace period with exit 0.
// Retrieval stops, each upload thread ends the batch it has in flight and takes no other, and a
// batch held up by the slow server has its connection cut; what was in flight stays in flight in
// the ledger. The next pass then delivers every message exactly once.
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <csignal>

#include "tests/support/FaultProxy.h"
#include "tests/support/GatewaySetup.h"
#include "tests/support/Messages.h"

using namespace std::chrono_literals;
using namespace popgate::test;

BOOST_AUTO_TEST_CASE(testSigtermWithASlowTargetStopsCleanlyWithinTheGracePeriod) {
  DovecotSandbox dovecot({"work", "me"});
  std::vector<std::string> originals;
  for (std::size_t i = 0; i < 80; ++i) originals.push_back(bulkMessage(i, 40000));
  dovecot.seedMany("work", originals);
  // Every chunk to and from the target waits 200 ms: a far, slow server.
  FaultProxy slow(dovecot.imapPort(), Fault{}, 200ms);
  TempDir dir;
  AccountSetup account{"work", "Work", "implicit", false, {}, "    poll_interval: 1h\n"};
  const auto config = writeGatewayConfig(dir, dovecot, "me", {account}, {}, 4, slow.port());

  Process daemon({popgateBinary().string(), "run", "--config", config.string()});
  BOOST_REQUIRE_MESSAGE(waitFor([&] { return countOrZero(dovecot, "me", "Work") > 0; }, 60s),
                        "nothing was delivered: " << daemon.output() << daemon.errorOutput());
  const auto asked = std::chrono::steady_clock::now();
  daemon.kill(SIGTERM);
  const auto status = daemon.wait(20s);
  const auto took = std::chrono::steady_clock::now() - asked;
  const std::string log = daemon.output() + daemon.errorOutput();
  BOOST_REQUIRE_MESSAGE(status.has_value(), "popgate run did not stop after SIGTERM: " << log);
  BOOST_TEST_MESSAGE("SIGTERM with a slow target: stopped in "
                     << std::chrono::duration_cast<std::chrono::milliseconds>(took).count()
                     << " ms, " << countOrZero(dovecot, "me", "Work") << " of " << originals.size()
                     << " delivered by then");
  BOOST_TEST(status->shellCode() == 0, log);
  BOOST_TEST(took < 10s, log);  // the contract: SIGTERM stops the daemon within 10 s
  BOOST_TEST(log.find("was abandoned") == std::string::npos, log);  // ended, not left running
  BOOST_TEST(log.find("stopped") != std::string::npos, log);

  // What the slow network still carries reaches Dovecot first (a message whose bytes all left
  // before the cut may yet be stored: the next pass must find it, not append it again).
  BOOST_TEST(slow.waitIdle(60s));
  // Straight to Dovecot: the pass that finishes the job. It waits out the target's timeout (3 s
  // here) from the daemon's end before it looks for what the daemon left in flight.
  const auto direct = writeGatewayConfig(dir, dovecot, "me", {account}, {}, 4, 0, "3s");
  const CommandResult last = runPopgate({"once", "--config", direct.string()});
  BOOST_TEST(last.exit_code == 0, last.out << last.err);
  const Tally t = tally(originals, dovecot.messages("me", "Work"));
  BOOST_TEST(t.exact(), t);
  BOOST_TEST(dovecot.popBoxSize("work") == 0u);
}
