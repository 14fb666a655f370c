// The delivery promise under faults, with the real binary and a real Dovecot:
// - 100 seeded runs through a fault proxy that resets, closes or stalls the POP3 or the IMAP
//   connection at a random byte offset in either direction, each followed by a clean pass:
//   0 lost, 0 duplicated, the POP box empty; stalls end in the configured timeout;
// - `popgate once` with keep: false on a few hundred messages killed with SIGKILL at random
//   moments 20+ times, then finished: 0 lost, 0 duplicated, the POP box empty.
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <csignal>
#include <functional>
#include <random>
#include <thread>

#include "tests/support/FaultProxy.h"
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
// keep: false killed at a random moment until the POP box is empty, until 25 kills have struck;
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
  const auto config = writeGatewayConfig(dir, dovecot, "me", {account}, {}, 4, imap.port());

  std::mt19937 rng(4242);
  std::uniform_int_distribution<int> delay_ms(20, longest_delay_ms);
  std::vector<std::string> originals;
  int kills = 0, passes = 0, rounds = 0;
  for (int round = 0; round < 40 && kills < 25; ++round) {
    std::vector<std::string> batch;
    ++rounds;
    for (std::size_t i = 0; i < 200; ++i) batch.push_back(make(round, i));
    dovecot.seedMany("work", batch);
    originals.insert(originals.end(), batch.begin(), batch.end());
    while (kills < 25 && dovecot.popBoxSize("work") > 0) {
      Process popgate({popgateBinary().string(), "once", "--config", config.string()});
      ++passes;
      std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms(rng)));
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
