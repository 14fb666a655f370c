// popa3d 1.0.3 (Debian's package, in a Debian root of its own, inetd-style behind socat), a POP3
// server without CAPA, as the source of the real `popgate once`, Dovecot the target:
// - CAPA answered "-ERR": popgate logs in with USER/PASS, sends UIDL and LIST and every RETR one at
//   a time, and says in its log that the server offers no CAPA;
// - the mbox arrives as popa3d serves it (popa3dServes()): CRLF lines, body lines starting
//   "From " as the delivery agent quoted them (">From "), an empty line ending every header;
// - popa3d's UIDLs are hashes of a few header fields: different messages can share one, and each
//   still arrives once;
// - a kill -9 round with keep: false: 0 lost, 0 duplicated.
// docs/servers.md has the table these figures go into.
#include <boost/test/unit_test.hpp>

#include "tests/support/InteropRun.h"
#include "tests/support/Popa3dSandbox.h"

using namespace popgate::test;

namespace {

// What popa3d serves for a message a delivery agent wrote into its mbox: CRLF lines (a final one
// added where the message has none), every body line that starts with "From " quoted as ">From "
// (written so in the mbox, served as it is there), and an empty line after a header that has
// none (a message without a body gets one).
std::string popa3dServes(const std::string& delivered) {
  std::string served = popDelivered(delivered);
  if (headerEnd(served) == std::string::npos) served += "\r\n";
  for (std::size_t at = served.find("\r\nFrom "); at != std::string::npos;
       at = served.find("\r\nFrom ", at + 3)) {
    served.insert(at + 2, ">");
  }
  return served;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(popa3d, *boost::unit_test::precondition(RootAvailable{"popa3d"}))

BOOST_AUTO_TEST_CASE(testPopa3dWithoutCapaDeliversTheSetOneCommandAtATime) {
  Popa3dSandbox popa3d({"work"});
  DovecotSandbox dovecot({"me"});
  const std::vector<std::string> set = bytesOf(realisticSet());
  popa3d.seedMany("work", set);
  TempDir dir;
  const auto config = writePairedConfig(
      dir, imapLogin(dovecot, "me"), {PairedAccount{"pa", pop3Login(popa3d, "work"), "Work"}}, 4,
      "20s", "debug");

  const CommandResult first = checkFirstPass(config, "pa", set.size());
  BOOST_TEST(first.err.find("the server offers no CAPA (it answered \"-ERR\"): USER/PASS, UIDL and "
                            "LIST, one command at a time") != std::string::npos);
  BOOST_TEST(first.err.find("pop3 C: USER work") != std::string::npos);
  BOOST_TEST(first.err.find("pop3 C: AUTH") == std::string::npos);
  // One command at a time: each RETR only after the previous message has ended.
  std::size_t retrs = 0;
  for (std::size_t at = first.err.find("pop3 C: RETR "); at != std::string::npos;
       at = first.err.find("pop3 C: RETR ", at + 1)) {
    const std::size_t next = first.err.find("pop3 C: RETR ", at + 1);
    if (next != std::string::npos) {
      BOOST_TEST(first.err.substr(at, next - at).find("pop3 S: +OK") != std::string::npos);
    }
    ++retrs;
  }
  BOOST_TEST(retrs == set.size());
  const std::vector<std::string> expected = transformed(set, popa3dServes);
  const std::vector<std::string> arrived = dovecot.messages("me", "Work");
  const Tally counted = tally(expected, arrived);
  BOOST_TEST(counted.exact(), counted << mismatch(expected, arrived));
  checkSecondPassAddsNothing(config, "pa", set.size(), dovecot, "me", "Work");
  printFigures("popa3d 1.0.3 (no CAPA) -> Dovecot", set.size(), 0, counted, 0);
}

BOOST_AUTO_TEST_CASE(testKillNineWithPopa3dAsSource) {
  Popa3dSandbox popa3d({"work"});
  DovecotSandbox dovecot({"me"});
  checkKillNineCell("popa3d 1.0.3 (no CAPA) -> Dovecot, kill -9", popa3d, dovecot, "Work", "Work",
                    5, 1701, popDelivered);
}

BOOST_AUTO_TEST_SUITE_END()
