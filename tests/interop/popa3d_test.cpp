// popa3d 1.0.3 (Debian's package, in a Debian root of its own, inetd-style behind socat), a POP3
// server without CAPA, as the source of the real `popgate once`, Dovecot the target:
// - CAPA answered "-ERR": popgate logs in with USER/PASS, sends UIDL and LIST and every RETR one at
//   a time, and says in its log that the server offers no CAPA;
// - the mbox arrives as popa3d serves it (popa3dServes()): CRLF lines, body lines starting
//   "From " as the delivery agent quoted them (">From "), an empty line ending every header;
// - popa3d's UIDLs are hashes of a few header fields: different messages can share one, and each
//   still arrives once, and is deleted once;
// - a kill -9 round with keep: false: 0 lost, 0 duplicated.
// docs/servers.md has the table these figures go into.
#include <boost/test/unit_test.hpp>

#include <Poco/Net/SocketAddress.h>
#include <Poco/Net/StreamSocket.h>

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

// The lines of popa3d's answer to UIDL for user "work" (a session of its own, QUIT at the end).
std::string uidlListing(std::uint16_t port) {
  Poco::Net::StreamSocket socket(Poco::Net::SocketAddress("127.0.0.1", port));
  socket.setReceiveTimeout(Poco::Timespan(20, 0));
  const std::string commands = "USER work\r\nPASS pw-work\r\nUIDL\r\nQUIT\r\n";
  socket.sendBytes(commands.data(), static_cast<int>(commands.size()));
  std::string answer;
  char buffer[4096];
  for (int n; (n = socket.receiveBytes(buffer, sizeof buffer)) > 0;) {
    answer.append(buffer, static_cast<std::size_t>(n));
  }
  // "+OK" greeting, USER, PASS, then "+OK" and the listing up to ".", then QUIT's "+OK".
  const std::size_t from = answer.find("+OK\r\n1 ");
  const std::size_t to = answer.find("\r\n.\r\n", from);
  if (from == std::string::npos || to == std::string::npos) return answer;
  return answer.substr(from + 5, to + 2 - from - 5);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(popa3d, *boost::unit_test::precondition(RootAvailable{"popa3d"}))

BOOST_AUTO_TEST_CASE(testPopa3dWithoutCapaDeliversTheSetOneCommandAtATime) {
  Popa3dSandbox popa3d({"work"});
  DovecotSandbox dovecot({"me"});
  const std::vector<std::string> set = bytesOf(realisticSet());
  popa3d.seedMany("work", set);
  TempDir dir;
  const auto config = writePairedConfig(dir, imapLogin(dovecot, "me"),
                                        {PairedAccount{"pa", pop3Login(popa3d, "work"), "Work"}}, 4,
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
  printMatrixLine({.cell = "popa3d-source",
                   .name = "popa3d 1.0.3 (no CAPA) -> Dovecot",
                   .messages = set.size(),
                   .tally = counted,
                   .quarantined = 0});
}

// popa3d's UIDL is a hash of a few header fields (Date, Message-ID...): messages that have none of
// them share one UIDL ("d98c1dd404b2008f" for each of these three). Each is still delivered once,
// a second pass adds nothing, and keep: false then deletes all three, and only them.
BOOST_AUTO_TEST_CASE(testPopa3dSharedUidlsStillDeliverEachMessageOnce) {
  Popa3dSandbox popa3d({"work"});
  DovecotSandbox dovecot({"me"});
  const std::vector<std::string> set{
      crlfLines({"From: a@popgate.test", "Subject: one", "", "first body"}),
      crlfLines({"From: b@popgate.test", "Subject: two", "", "second body"}),
      crlfLines({"From: c@popgate.test", "Subject: three", "", "third body"})};
  popa3d.seedMany("work", set);
  TempDir dir;
  PairedAccount account{"pa", pop3Login(popa3d, "work"), "Work"};
  const auto keep = writePairedConfig(dir, imapLogin(dovecot, "me"), {account}, 2, "20s", "debug");
  BOOST_TEST(uidlListing(popa3d.pop3Port()) ==
             "1 d98c1dd404b2008f\r\n2 d98c1dd404b2008f\r\n3 d98c1dd404b2008f\r\n");
  checkFirstPass(keep, "pa", set.size());
  const std::vector<std::string> arrived = dovecot.messages("me", "Work");
  BOOST_TEST(tally(set, arrived).exact(), mismatch(set, arrived));
  const CommandResult second = runPopgate({"once", "--config", keep.string()});
  BOOST_TEST(second.exit_code == 0, second.out << second.err);
  BOOST_TEST(second.out.find("pa: 0 uploaded") != std::string::npos, second.out);
  account.keep = false;
  const auto drop = writePairedConfig(dir, imapLogin(dovecot, "me"), {account}, 2);
  const CommandResult third = runPopgate({"once", "--config", drop.string()});
  BOOST_TEST(third.exit_code == 0, third.out << third.err);
  BOOST_TEST(third.out.find("pa: 0 uploaded") != std::string::npos, third.out);
  BOOST_TEST(popa3d.popBoxSize("work") == 0u);
  BOOST_TEST(dovecot.count("me", "Work") == set.size());
}

BOOST_AUTO_TEST_CASE(testKillNineWithPopa3dAsSource) {
  Popa3dSandbox popa3d({"work"});
  DovecotSandbox dovecot({"me"});
  checkKillNineCell(popa3d, dovecot,
                    {.cell = "popa3d-source-kill9",
                     .name = "popa3d 1.0.3 (no CAPA) -> Dovecot",
                     .folder = "Work",
                     .stored_folder = "Work",
                     .min_kills = 5,
                     .seed = 1701,
                     .stores = popDelivered});
}

BOOST_AUTO_TEST_SUITE_END()
