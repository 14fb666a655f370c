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
  const auto config = writePairedConfig(dir, imapLogin(dovecot, "me"),
                                        {PairedAccount{"tw", pop3Login(twisted, "work"), "Work"}},
                                        4, "20s", "debug");

  const CommandResult first = checkFirstPass(config, "tw", set.size());
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
  checkSecondPassAddsNothing(config, "tw", set.size(), dovecot, "me", "Work");
  printMatrixLine({.cell = "twisted-pop3-source",
                   .name = "Twisted 22.4 POP3 -> Dovecot",
                   .messages = set.size(),
                   .tally = counted,
                   .quarantined = 0});
}

BOOST_AUTO_TEST_CASE(testKillNineWithTwistedAsSource) {
  TwistedSandbox twisted({"work"});
  DovecotSandbox dovecot({"me"});
  checkKillNineCell(twisted, dovecot,
                    {.cell = "twisted-pop3-source-kill9",
                     .name = "Twisted 22.4 POP3 -> Dovecot",
                     .folder = "Work",
                     .stored_folder = "Work",
                     .min_kills = 5,
                     .seed = 1801,
                     .stores = popDelivered});
}
