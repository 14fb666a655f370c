// Courier IMAP and POP3 5 (Debian's packages, in a Debian root of its own) with the real
// `popgate once`, both ways:
// - Courier's pop3d as the POP3 source, Dovecot the target: the messages of its maildir (LF line
//   ends, as a delivery agent writes them) arrive with CRLF lines, byte for byte otherwise;
// - Courier's imapd as the target, Dovecot's POP3 the source: no LITERAL+ (every APPEND waits for
//   "+ OK"), the folder "Clients/Acme" named INBOX.Clients.Acme (personal namespace "INBOX.") and
//   created while four sessions race ("NO Cannot create this folder."); every CR taken out of what
//   is stored (courierStores()); the message with a NUL byte quarantined (no BINARY);
// - a kill -9 round each way with keep: false: 0 lost, 0 duplicated.
// docs/servers.md has the table these figures go into.
#include <boost/test/unit_test.hpp>

#include <algorithm>

#include "tests/support/CourierSandbox.h"
#include "tests/support/InteropRun.h"

using namespace popgate::test;

namespace {

// What Courier's imapd stores for a message it is given: the message with every CR removed, the
// one of a CRLF and a CR inside a line alike (its maildir files hold LF line ends; IMAP and POP3
// serve CRLF again).
std::string courierStores(const std::string& given) {
  std::string stored = given;
  stored.erase(std::remove(stored.begin(), stored.end(), '\r'), stored.end());
  return stored;
}

// What Courier's pop3d serves for a message delivered into its maildir (with LF line ends, so
// crlfToLf() of the message): CRLF line ends again, a final one added where the message has none.
std::string courierPop3dServes(const std::string& seeded) {
  return popDelivered(seeded);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(courier, *boost::unit_test::precondition(RootAvailable{"courier"}))

BOOST_AUTO_TEST_CASE(testCourierPop3dAsSourceDeliversItsMaildir) {
  CourierSandbox courier({"work"});
  DovecotSandbox dovecot({"me"});
  const std::vector<std::string> set = bytesOf(realisticSet());
  courier.seedMany("work", set);
  const std::vector<std::string> lf = transformed(set, crlfToLf), seeded = courier.messages("work");
  BOOST_TEST(tally(lf, seeded).exact(), mismatch(lf, seeded));
  TempDir dir;
  const auto config = writePairedConfig(dir, imapLogin(dovecot, "me"),
                                        {PairedAccount{"co", pop3Login(courier, "work"), "Work"}});

  // The UTF8 command (RFC 6856) goes first: without it Courier serves the message with raw
  // UTF-8 in its header as a new message ("Cannot display Unicode content") around it.
  checkFirstPass(config, "co", set.size());
  const std::vector<std::string> expected = transformed(set, courierPop3dServes);
  const std::vector<std::string> arrived = dovecot.messages("me", "Work");
  const Tally counted = tally(expected, arrived);
  BOOST_TEST(counted.exact(), counted << mismatch(expected, arrived));
  checkSecondPassAddsNothing(config, "co", set.size(), dovecot, "me", "Work");
  printMatrixLine({.cell = "courier-pop3d-source",
                   .name = "Courier 5 pop3d -> Dovecot",
                   .messages = set.size(),
                   .tally = counted,
                   .quarantined = 0});
}

BOOST_AUTO_TEST_CASE(testCourierImapdAsTargetStoresWithoutCarriageReturns) {
  DovecotSandbox dovecot({"work"});
  CourierSandbox courier({"me"});
  const std::vector<std::string> set = bytesOf(realisticSet());
  dovecot.seedMany("work", set);
  TempDir dir;
  const auto config =
      writePairedConfig(dir, imapLogin(courier, "me"),
                        {PairedAccount{"dc", pop3Login(dovecot, "work"), "Clients/Acme"}}, 4);

  const CommandResult first = checkFirstPass(config, "dc", set.size() - 1, 1);
  BOOST_TEST(first.err.find("refused by the target, kept on the server: not sent: the message "
                            "contains NUL bytes") != std::string::npos);
  std::vector<std::string> expected;
  for (const std::string& m : set) {
    if (m.find('\0') == std::string::npos) expected.push_back(courierStores(popDelivered(m)));
  }
  const std::vector<std::string> arrived = courier.messages("me", "INBOX.Clients.Acme");
  const Tally counted = tally(expected, arrived);
  BOOST_TEST(counted.exact(), counted << mismatch(expected, arrived));
  checkSecondPassAddsNothing(config, "dc", set.size() - 1, courier, "me", "INBOX.Clients.Acme");
  printMatrixLine({.cell = "courier-imapd-target",
                   .name = "Dovecot -> Courier 5 imapd",
                   .messages = set.size(),
                   .tally = counted,
                   .quarantined = 1,
                   .why = "NUL byte, no BINARY: not sent"});
}

BOOST_AUTO_TEST_CASE(testKillNineWithCourierPop3dAsSource) {
  CourierSandbox courier({"work"});
  DovecotSandbox dovecot({"me"});
  checkKillNineCell(courier, dovecot,
                    {.cell = "courier-pop3d-source-kill9",
                     .name = "Courier 5 pop3d -> Dovecot",
                     .folder = "Work",
                     .stored_folder = "Work",
                     .min_kills = 5,
                     .seed = 1601,
                     .stores = courierPop3dServes});
}

// A recovery lookup EXAMINEs the folder; Courier refuses an APPEND to the EXAMINEd folder, so the
// session leaves it first (else every recovered message would be quarantined).
BOOST_AUTO_TEST_CASE(testKillNineWithCourierImapdAsTarget) {
  DovecotSandbox dovecot({"work"});
  CourierSandbox courier({"me"});
  checkKillNineCell(dovecot, courier,
                    {.cell = "courier-imapd-target-kill9",
                     .name = "Dovecot -> Courier 5 imapd",
                     .folder = "Work",
                     .stored_folder = "INBOX.Work",
                     .min_kills = 5,
                     .aimed_kills = 5,
                     .seed = 1602,
                     .stores = courierStores});
}

BOOST_AUTO_TEST_SUITE_END()
