// Twisted 22.4's POP3 server (python3-twisted, on the host) as the source of the real `popgate
// once`, Dovecot the target:
// - CAPA words of its own ("PIPELINE", not PIPELINING, and CELERITY AUSPEX POTENCE): popgate does
//   not pipeline and ignores the words it does not know;
// - LIST sizes that count the stored LF line ends, not what RETR sends: the RETR is what counts;
// - the maildir arrives with CRLF lines, byte for byte otherwise;
// - a kill -9 round with keep: false: 0 lost, 0 duplicated.
// docs/servers.md has the table these figures go into.
#include <boost/test/unit_test.hpp>

#include "tests/support/InteropRun.h"
#include "tests/support/TwistedSandbox.h"

using namespace popgate::test;

BOOST_AUTO_TEST_CASE(testTwistedPop3DeliversTheSetWithoutPipelining) {
  TwistedSandbox twisted({"work"});
  DovecotSandbox dovecot({"me"});
  const std::vector<std::string> set = bytesOf(realisticSet());
  twisted.seedMany("work", set);
  TempDir dir;
  const auto config = writePairedConfig(
      dir, imapLogin(dovecot, "me"), {PairedAccount{"tw", pop3Login(twisted, "work"), "Work"}}, 4,
      "20s", "debug");

  const CommandResult first = runPopgate({"once", "--config", config.string()});
  BOOST_TEST_INFO("stdout: " << first.out << "\nstderr: " << first.err.substr(0, 4000));
  BOOST_TEST(first.exit_code == 0);
  BOOST_TEST(first.out.find("tw: " + std::to_string(set.size()) + " uploaded") != std::string::npos);
  // No pipelining: LIST goes only after UIDL's answer.
  const std::size_t uidl = first.err.find("pop3 C: UIDL");
  const std::size_t list = first.err.find("pop3 C: LIST");
  BOOST_REQUIRE(uidl != std::string::npos);
  BOOST_REQUIRE(list != std::string::npos);
  BOOST_TEST(first.err.substr(uidl, list - uidl).find("pop3 S: +OK") != std::string::npos);
  const std::vector<std::string> expected = transformed(set, popDelivered);
  const std::vector<std::string> arrived = dovecot.messages("me", "Work");
  const Tally counted = tally(expected, arrived);
  BOOST_TEST(counted.exact(), counted << mismatch(expected, arrived));

  const CommandResult second = runPopgate({"once", "--config", config.string()});
  BOOST_TEST(second.exit_code == 0, second.out << second.err);
  BOOST_TEST(second.out.find("tw: 0 uploaded, " + std::to_string(set.size()) +
                             " already delivered") != std::string::npos, second.out);
  printFigures("Twisted 22.4 POP3 -> Dovecot", set.size(), 0, counted, 0);
}

BOOST_AUTO_TEST_CASE(testKillNineWithTwistedAsSource) {
  TwistedSandbox twisted({"work"});
  DovecotSandbox dovecot({"me"});
  TempDir dir;
  const auto config = writePairedConfig(
      dir, imapLogin(dovecot, "me"),
      {PairedAccount{"tw", pop3Login(twisted, "work"), "Work", false}}, 4, "20s", "debug");
  const KillRound round = killNineRounds(
      config, twisted, "work", dovecot.imapPort(), 5,
      [](int r) { return killRoundMessages(static_cast<std::size_t>(r) * 1000, 150); }, 1801);
  BOOST_TEST(round.last.exit_code == 0, round.last.out << round.last.err);
  BOOST_TEST(round.kills >= 5);
  BOOST_TEST(twisted.popBoxSize("work") == 0u);
  const std::vector<std::string> expected = round.seeded;
  const std::vector<std::string> arrived = dovecot.messages("me", "Work");
  const Tally counted = tally(expected, arrived);
  BOOST_TEST(counted.exact(), counted << mismatch(expected, arrived) << "\nlast pass: " << round.last.out);
  printFigures("Twisted 22.4 POP3 -> Dovecot, kill -9", round.seeded.size(), round.kills, counted,
               0, std::to_string(round.lookups) + " recovery searches");
}
