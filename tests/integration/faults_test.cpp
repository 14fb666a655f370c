// The delivery promise under faults, with the real binary and a real Dovecot:
// - 100 seeded runs through a fault proxy that resets, closes or stalls the POP3 or the IMAP
//   connection at a random byte offset in either direction, each followed by a clean pass:
//   0 lost, 0 duplicated, the POP box empty; stalls end in the configured timeout;
// - `popgate once` with keep: false on a few hundred messages killed with SIGKILL at random
//   moments 20+ times, then finished: 0 lost, 0 duplicated, the POP box empty;
// - `popgate once` killed with a whole APPEND still on its way through a slow network, restarted
//   at once: the new pass waits out the target's timeout before it looks for the message, finds
//   the copy the network delivered meanwhile and appends none.
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <functional>
#include <random>

#include "tests/support/FaultProxy.h"
#include "tests/support/HeldAppend.h"
#include "tests/support/GatewaySetup.h"
#include "tests/support/Messages.h"

using namespace std::chrono_literals;
using namespace popgate::test;

namespace {

const char* actionName(Fault::Action a) {
  switch (a) {
    case Fault::Action::Reset: return "reset";
    case Fault::Action::Close: return "close";
    case Fault::Action::Stall: return "stall";
    case Fault::Action::Hold: return "hold";
    case Fault::Action::None: break;
  }
  return "none";
}

}  // namespace

BOOST_AUTO_TEST_CASE(testHundredSeededFaultRunsLoseAndDuplicateNothing) {
  DovecotSandbox dovecot({"work", "me"});
  constexpr int kRuns = 100;
  constexpr std::size_t kMessages = 10;
  int fired = 0, stalls = 0;
  for (int run = 0; run < kRuns; ++run) {
    std::mt19937 rng(static_cast<std::uint32_t>(1000 + run));
    std::vector<std::string> originals;
    for (std::size_t i = 0; i < kMessages; ++i) {
      originals.push_back(bulkMessage(static_cast<std::size_t>(run) * 100 + i, 1000 + 700 * i));
    }
    dovecot.seedMany("work", originals);

    Fault fault;
    const int action = std::uniform_int_distribution<int>(0, 9)(rng);
    fault.action = action < 6 ? Fault::Action::Reset
                              : action < 8 ? Fault::Action::Close : Fault::Action::Stall;
    fault.direction = rng() % 2 ? Fault::Direction::ToClient : Fault::Direction::ToServer;
    fault.connection = -1;
    const bool on_pop = rng() % 2 == 0;
    // Offsets within what each direction carries: commands are short, message bytes are long
    // (POP3 to the client, IMAP to the server), and the TLS handshakes come first in each.
    const bool message_bytes = (fault.direction == Fault::Direction::ToClient) == on_pop;
    fault.offset = std::uniform_int_distribution<std::uint64_t>(0, message_bytes ? 40000 : 2500)(rng);
    FaultProxy pop(dovecot.pop3sPort(), on_pop ? fault : Fault{});
    FaultProxy imap(dovecot.imapPort(), on_pop ? Fault{} : fault);

    TempDir dir;
    const std::string folder = "Run" + std::to_string(run);
    AccountSetup account{"work", folder, "implicit", false};
    account.port = pop.port();
    const auto faulty = writeGatewayConfig(dir, dovecot, "me", {account}, {}, 2, imap.port(), "2s");
    const CommandResult first = runPopgate({"once", "--config", faulty.string()}, 60s);
    BOOST_TEST_CONTEXT("run " << run << ": " << actionName(fault.action) << " of the "
                              << (on_pop ? "POP3" : "IMAP") << " connection at byte "
                              << fault.offset << (fault.direction == Fault::Direction::ToClient
                                                      ? " to the client"
                                                      : " to the server")) {
      BOOST_TEST(!first.timed_out);  // a stall ends in the 2 s timeout, never a hang
      BOOST_TEST((first.exit_code == 0 || first.exit_code == 1), first.out << first.err);
      if ((on_pop ? pop : imap).fired()) ++fired;
      if (fault.action == Fault::Action::Stall && (on_pop ? pop : imap).fired()) ++stalls;

      // The same state_dir, straight to Dovecot: the pass that finishes the job (after a cut
      // APPEND it first waits out the 2 s timeout, for bytes that may still be on their way).
      account.port = 0;
      const auto clean = writeGatewayConfig(dir, dovecot, "me", {account}, {}, 2, 0, "2s");
      const CommandResult second = runPopgate({"once", "--config", clean.string()});
      BOOST_TEST(second.exit_code == 0, second.out << second.err);
      BOOST_TEST(sorted(dovecot.messages("me", folder)) == sorted(originals));
      BOOST_TEST(dovecot.popBoxSize("work") == 0u);
    }
  }
  BOOST_TEST_MESSAGE("fault proxy: " << kRuns << " runs, " << fired << " faults struck ("
                                     << stalls << " stalls), 0 lost, 0 duplicated");
  BOOST_TEST(fired >= kRuns * 8 / 10);
}

namespace {

// Every 5th message loses its Message-ID and every 13th all of its header.
std::string withoutIdentity(std::string message, std::size_t i) {
  if (i % 13 == 0) return message.substr(message.find("\r\n\r\n") + 2);
  if (i % 5 == 0) {
    const std::size_t at = message.find("Message-ID:");
    message.erase(at, message.find("\r\n", at) + 2 - at);
  }
  return message;
}


// Rounds of 200 fresh messages (made by `make(round, i)`), each pass of `popgate once` with
// keep: false killed at a random moment until the POP box is empty, until 20 kills have struck;
// then a clean pass. Everything sent must be in the target exactly once.
void killNineRounds(const std::function<std::string(int round, std::size_t i)>& make,
                    int longest_delay_ms = 400) {
  DovecotSandbox dovecot({"work", "me"});
  // A little latency on every chunk makes a pass take long enough to be killed now and then.
  FaultProxy pop(dovecot.pop3sPort(), Fault{}, 2ms);
  FaultProxy imap(dovecot.imapPort(), Fault{}, 2ms);
  TempDir dir;
  AccountSetup account{"work", "Work", "implicit", false};
  account.port = pop.port();
  // A small target timeout: a pass restarted after a kill waits it out (from the killed pass's
  // last sign of life) before it looks for the messages that pass left in flight.
  const auto config = writeGatewayConfig(dir, dovecot, "me", {account}, {}, 4, imap.port(), "2s");

  std::mt19937 rng(4242);
  std::uniform_int_distribution<int> delay_ms(20, longest_delay_ms);
  std::vector<std::string> originals;
  int kills = 0, passes = 0, rounds = 0;
  for (int round = 0; round < 40 && kills < 20; ++round) {
    std::vector<std::string> batch;
    ++rounds;
    for (std::size_t i = 0; i < 200; ++i) batch.push_back(make(round, i));
    dovecot.seedMany("work", batch);
    originals.insert(originals.end(), batch.begin(), batch.end());
    while (kills < 20 && dovecot.popBoxSize("work") > 0) {
      Process popgate({popgateBinary().string(), "once", "--config", config.string()});
      ++passes;
      // The pass's wait for what the killed one left in flight does not count: the kills keep
      // striking passes at work, not only passes that wait.
      letItWork(popgate, std::chrono::milliseconds(delay_ms(rng)));
      if (popgate.running()) {
        popgate.kill(SIGKILL);
        ++kills;
      }
      popgate.wait(10s);
    }
  }
  const std::size_t before = countOrZero(dovecot, "me", "Work");
  const CommandResult last = runPopgate({"once", "--config", config.string()});
  BOOST_TEST(last.exit_code == 0, last.out << last.err);
  BOOST_TEST(kills >= 20);
  BOOST_TEST(dovecot.popBoxSize("work") == 0u);
  const Tally t = tally(originals, dovecot.messages("me", "Work"));
  BOOST_TEST_MESSAGE("kill -9: " << kills << " kills in " << passes << " passes over " << rounds
                                 << " rounds, " << before
                                 << " delivered before the final pass; " << t);
  BOOST_TEST(t.exact(), t);  // 0 lost, 0 twice
}

}  // namespace

// Every 5th message has no Message-ID and every 13th no header at all: an interrupted upload of
// those is recognised in the target by its content alone (UID FETCH and SHA-256).
BOOST_AUTO_TEST_CASE(testKillNineTwentyTimesLosesAndDuplicatesNothing) {
  killNineRounds([](int round, std::size_t i) {
    return withoutIdentity(
        bulkMessage(static_cast<std::size_t>(round) * 1000 + i, 2000 + (i % 11) * 700), i);
  });
}

// The case that once lost 4 of 5,330 messages: every 4th message shares its Message-ID and size
// with the message before it (content one byte different), and every 9th with a message of the
// previous round, already delivered and deleted from POP. Recovery must prove content.
BOOST_AUTO_TEST_CASE(testKillNineWithReusedMessageIdsLosesAndDuplicatesNothing) {
  killNineRounds([](int round, std::size_t i) {
    const auto plain = [](int r, std::size_t k) {
      return bulkMessage(static_cast<std::size_t>(r) * 1000 + k, 2000 + (k % 11) * 700);
    };
    if (i % 4 == 3) return lookAlikeOf(plain(round, i - 1));
    if (i % 9 == 8 && round > 0) return lookAlikeOf(lookAlikeOf(plain(round - 1, i)));
    return plain(round, i);
  }, /*longest_delay_ms=*/700);  // passes that finish make later rounds, with older twins
}

// The gap of an immediate restart after kill -9: bytes of an APPEND the dead popgate had already
// written are still on their way (socket buffers, the network, the server storing them). A proxy
// holds what `popgate once` writes to the target from 64 KiB on (inside the literal of a 256 KiB
// message); once it holds the whole APPEND (literal and final CRLF), popgate is killed and a
// second `popgate once` started at once, on the same state_dir and the same target address. The
// network delivers the old APPEND while that pass runs (a second into its wait, or after it ended
// had it not waited). The second pass must not judge the message absent before the previous
// popgate's last sign of life plus the target's timeout (4 s here): it then finds the copy,
// appends none (1 recovered) and deletes the message from POP. Without that wait it looked at
// once, found nothing, appended the message again and the held APPEND made a second copy.
BOOST_AUTO_TEST_CASE(testAnAppendStillOnItsWayWhenPopgateIsKilledIsNotAppendedAgain) {
  DovecotSandbox dovecot({"work", "me"});
  HeldAppend held(dovecot, "work", "me", "Work");
  const std::string& expected = held.expected;
  FaultProxy& proxy = held.proxy;
  TempDir dir;
  // Plain IMAP, so the proxy can tell when popgate has written the APPEND's last byte.
  const auto config = writeGatewayConfig(dir, dovecot, "me", {{"work", "Work", "implicit", false}},
                                         {}, 1, proxy.port(), "4s", "none");

  Process first({popgateBinary().string(), "once", "--config", config.string()});
  BOOST_TEST_REQUIRE(waitFor([&] { return held.holdsTheWholeAppend(); }, 60s),
                     "held " << proxy.heldBytes() << " bytes of " << expected.size() << "\n"
                             << first.errorOutput());
  BOOST_TEST(countOrZero(dovecot, "me", "Work") == 0u);  // nothing has reached the target yet
  first.kill(SIGKILL);
  BOOST_TEST_REQUIRE(first.wait(10s).has_value());

  const auto started = std::chrono::steady_clock::now();
  Process second({popgateBinary().string(), "once", "--config", config.string()});
  // The network heals while the second pass runs: a second into its wait for the old APPEND, or
  // as soon as it has ended when it does not wait.
  const bool waits = waitFor([&] {
    return second.errorOutput().find("before looking for") != std::string::npos ||
           !second.running();
  }, 60s) && second.running();
  if (waits) waitFor([&] { return !second.running(); }, 1s);
  proxy.release();
  const auto status = second.wait(120s);
  const double took =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  BOOST_TEST(proxy.waitIdle(30s));  // the old APPEND has reached Dovecot
  BOOST_TEST_REQUIRE(status.has_value(), second.errorOutput());
  BOOST_TEST(status->success(), status->describe() << "\n" << second.output() << second.errorOutput());
  BOOST_TEST(second.output().find("1 recovered") != std::string::npos,
             second.output() << second.errorOutput());
  BOOST_TEST(dovecot.popBoxSize("work") == 0u);
  const Tally t = tally({expected}, dovecot.messages("me", "Work"));
  BOOST_TEST(t.exact(), t);
  BOOST_TEST_MESSAGE("the pass restarted after kill -9 " << (waits ? "waited" : "did not wait")
                     << " and took " << took << " s (target timeout 4 s); " << t);
}
