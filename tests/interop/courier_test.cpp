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
std::string courierPop3dServes(const std::string& seeded) { return popDelivered(seeded); }

}  // namespace

BOOST_AUTO_TEST_SUITE(courier, *boost::unit_test::precondition(RootAvailable{"courier"}))

BOOST_AUTO_TEST_CASE(testCourierPop3dAsSourceDeliversItsMaildir) {
  CourierSandbox courier({"work"});
  DovecotSandbox dovecot({"me"});
  const std::vector<std::string> set = bytesOf(realisticSet());
  courier.seedMany("work", set);
  BOOST_TEST(tally(transformed(set, crlfToLf), courier.messages("work")).exact());
  TempDir dir;
  const auto config = writePairedConfig(
      dir, imapLogin(dovecot, "me"), {PairedAccount{"co", pop3Login(courier, "work"), "Work"}});

  const CommandResult first = runPopgate({"once", "--config", config.string()});
  BOOST_TEST_INFO("stdout: " << first.out << "\nstderr: " << first.err);
  BOOST_TEST(first.exit_code == 0);
  BOOST_TEST(first.out.find("co: " + std::to_string(set.size()) + " uploaded") != std::string::npos);
  const std::vector<std::string> expected = transformed(set, courierPop3dServes);
  const std::vector<std::string> arrived = dovecot.messages("me", "Work");
  const Tally counted = tally(expected, arrived);
  BOOST_TEST(counted.exact(), counted << mismatch(expected, arrived));

  const CommandResult second = runPopgate({"once", "--config", config.string()});
  BOOST_TEST(second.exit_code == 0, second.out << second.err);
  BOOST_TEST(second.out.find("co: 0 uploaded, " + std::to_string(set.size()) +
                             " already delivered") != std::string::npos, second.out);
  BOOST_TEST(dovecot.count("me", "Work") == set.size());
  printFigures("Courier 5 pop3d -> Dovecot", set.size(), 0, counted, 0);
}

BOOST_AUTO_TEST_CASE(testCourierImapdAsTargetStoresWithoutCarriageReturns) {
  DovecotSandbox dovecot({"work"});
  CourierSandbox courier({"me"});
  const std::vector<std::string> set = bytesOf(realisticSet());
  dovecot.seedMany("work", set);
  TempDir dir;
  const auto config = writePairedConfig(
      dir, imapLogin(courier, "me"),
      {PairedAccount{"dc", pop3Login(dovecot, "work"), "Clients/Acme"}}, 4);

  const CommandResult first = runPopgate({"once", "--config", config.string()});
  BOOST_TEST_INFO("stdout: " << first.out << "\nstderr: " << first.err);
  BOOST_TEST(first.exit_code == 0);
  BOOST_TEST(first.out.find("dc: " + std::to_string(set.size() - 1) + " uploaded") !=
             std::string::npos);
  BOOST_TEST(first.out.find("1 quarantined") != std::string::npos);
  BOOST_TEST(first.err.find("refused by the target, kept on the server: not sent: the message "
                            "contains NUL bytes") != std::string::npos);
  std::vector<std::string> want;
  for (const std::string& m : set) {
    if (m.find('\0') == std::string::npos) want.push_back(courierStores(popDelivered(m)));
  }
  const std::vector<std::string> expected = want;
  const std::vector<std::string> arrived = courier.messages("me", "INBOX.Clients.Acme");
  const Tally counted = tally(expected, arrived);
  BOOST_TEST(counted.exact(), counted << mismatch(expected, arrived));

  const CommandResult second = runPopgate({"once", "--config", config.string()});
  BOOST_TEST(second.exit_code == 0, second.out << second.err);
  BOOST_TEST(second.out.find("dc: 0 uploaded, " + std::to_string(set.size() - 1) +
                             " already delivered") != std::string::npos, second.out);
  BOOST_TEST(courier.count("me", "INBOX.Clients.Acme") == set.size() - 1);
  printFigures("Dovecot -> Courier 5 imapd", set.size(), 0, counted, 1,
               "NUL byte, no BINARY: not sent");
}

BOOST_AUTO_TEST_CASE(testKillNineWithCourierPop3dAsSource) {
  CourierSandbox courier({"work"});
  DovecotSandbox dovecot({"me"});
  TempDir dir;
  const auto config = writePairedConfig(
      dir, imapLogin(dovecot, "me"),
      {PairedAccount{"co", pop3Login(courier, "work"), "Work", false}}, 4, "20s", "debug");
  const KillRound round = killNineRounds(
      config, courier, "work", dovecot.imapPort(), 5,
      [](int r) { return killRoundMessages(static_cast<std::size_t>(r) * 1000, 150); }, 1601);
  BOOST_TEST(round.last.exit_code == 0, round.last.out << round.last.err);
  BOOST_TEST(round.kills >= 5);
  BOOST_TEST(courier.popBoxSize("work") == 0u);
  const std::vector<std::string> expected = round.seeded;
  const std::vector<std::string> arrived = dovecot.messages("me", "Work");
  const Tally counted = tally(expected, arrived);
  BOOST_TEST(counted.exact(), counted << mismatch(expected, arrived) << "\nlast pass: " << round.last.out);
  printFigures("Courier 5 pop3d -> Dovecot, kill -9", round.seeded.size(), round.kills, counted,
               0, std::to_string(round.lookups) + " recovery searches");
}

BOOST_AUTO_TEST_CASE(testKillNineWithCourierImapdAsTarget) {
  DovecotSandbox dovecot({"work"});
  CourierSandbox courier({"me"});
  TempDir dir;
  const auto config = writePairedConfig(
      dir, imapLogin(courier, "me"),
      {PairedAccount{"dc", pop3Login(dovecot, "work"), "Work", false}}, 4, "20s", "debug");
  const KillRound round = killNineRounds(
      config, dovecot, "work", courier.imapPort(), 5,
      [](int r) { return killRoundMessages(static_cast<std::size_t>(r) * 1000, 150); }, 1602);
  BOOST_TEST(round.last.exit_code == 0, round.last.out << round.last.err);
  BOOST_TEST(round.kills >= 5);
  BOOST_TEST(dovecot.popBoxSize("work") == 0u);
  const std::vector<std::string> expected = transformed(round.seeded, courierStores);
  const std::vector<std::string> arrived = courier.messages("me", "INBOX.Work");
  const Tally counted = tally(expected, arrived);
  BOOST_TEST(counted.exact(), counted << mismatch(expected, arrived) << "\nlast pass: " << round.last.out);
  printFigures("Dovecot -> Courier 5 imapd, kill -9", round.seeded.size(), round.kills, counted,
               0, std::to_string(round.lookups) + " recovery searches");
}

BOOST_AUTO_TEST_SUITE_END()
