// Cyrus IMAP 3.6 (Debian's package, in a Debian root of its own) with the real `popgate once`,
// both ways:
// - Cyrus' pop3d as the POP3 source, Dovecot the target: what Cyrus stored arrives byte for byte,
//   but for a line with a NUL byte, which pop3d cuts short (cyrusPop3dServes()); Cyrus takes the
//   messages by APPEND, so its own rules apply first (cyrusStores());
// - Cyrus' imapd as the target, Dovecot's POP3 the source: MULTIAPPEND batches into the folder
//   "Clients/Acme", which Cyrus names INBOX.Clients.Acme (personal namespace "INBOX.", delimiter
//   "."), created while four sessions race ("NO Mailbox already exists"); 8-bit header bytes
//   stored as "X" (Debian's default munge8bit), or unchanged with munge8bit: no; the message
//   with a header line that is no field quarantined with Cyrus' words, the rest delivered; the NUL
//   byte delivered in a BINARY literal;
// - a kill -9 round each way with keep: false: 0 lost, 0 duplicated.
// docs/servers.md has the table these figures go into.
#include <boost/test/unit_test.hpp>

#include "tests/support/CyrusSandbox.h"
#include "tests/support/InteropRun.h"

using namespace popgate::test;

namespace {

// What Cyrus stores for a message it is given (APPEND), munge8bit on: every byte above 0x7F in
// the header becomes "X"; nullopt for what it refuses: a header line that is not a field
// ("X Broken Header: ..."; a bare CR or LF or a NUL outside a BINARY literal would be refused
// too, but neither reaches it here: POP3 serves CRLF lines, and popgate sends NUL as BINARY).
std::optional<std::string> cyrusStores(const std::string& given, bool munge8bit = true) {
  if (given.find("\r\nX Broken Header: ") != std::string::npos) return std::nullopt;
  std::string stored = given;
  const std::size_t end = headerEnd(given);
  const std::size_t header = end == std::string::npos ? given.size() : end;
  if (munge8bit) {
    for (std::size_t i = 0; i < header; ++i) {
      if (static_cast<unsigned char>(stored[i]) > 0x7F) stored[i] = 'X';
    }
  }
  return stored;
}

// What Cyrus' pop3d serves for a stored message: what POP3 hands out of any message, except
// that a line with a NUL byte loses everything from the NUL to its line end, CRLF included (the
// rest of the message joins the line: "[\0]\r\nEnd." is served as "[End."). Its imapd serves
// the same message whole.
std::string cyrusPop3dServes(const std::string& stored) {
  std::string served = popDelivered(stored);
  for (std::size_t nul = served.find('\0'); nul != std::string::npos; nul = served.find('\0', nul)) {
    const std::size_t eol = served.find("\r\n", nul);
    served.erase(nul, eol == std::string::npos ? std::string::npos : eol + 2 - nul);
  }
  return served;
}

// The messages of `set` Cyrus stores, as it stores them.
std::vector<std::string> storedByCyrus(const std::vector<std::string>& set, bool munge8bit = true) {
  std::vector<std::string> out;
  for (const std::string& m : set) {
    if (auto stored = cyrusStores(m, munge8bit)) out.push_back(*stored);
  }
  return out;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(cyrus, *boost::unit_test::precondition(RootAvailable{"cyrus"}))

BOOST_AUTO_TEST_CASE(testCyrusPop3dAsSourceDeliversWhatCyrusStored) {
  CyrusSandbox cyrus({"work"});
  DovecotSandbox dovecot({"me"});
  // Seeded by APPEND, as mail reaches a Cyrus mailbox: the bad header is refused there already.
  const std::vector<std::string> set = storedByCyrus(bytesOf(realisticSet()));
  const std::vector<std::string> given = [] {
    std::vector<std::string> g;
    for (const std::string& m : bytesOf(realisticSet())) {
      if (cyrusStores(m)) g.push_back(m);
    }
    return g;
  }();
  cyrus.seedMany("work", given);
  BOOST_TEST(tally(set, cyrus.messages("work")).exact());  // the stated transformation
  TempDir dir;
  const auto config = writePairedConfig(
      dir, imapLogin(dovecot, "me"), {PairedAccount{"cy", pop3Login(cyrus, "work"), "Work"}});

  const CommandResult first = runPopgate({"once", "--config", config.string()});
  BOOST_TEST_INFO("stdout: " << first.out << "\nstderr: " << first.err);
  BOOST_TEST(first.exit_code == 0);
  BOOST_TEST(first.out.find("cy: " + std::to_string(set.size()) + " uploaded") != std::string::npos);
  const std::vector<std::string> expected = transformed(set, cyrusPop3dServes);
  const std::vector<std::string> arrived = dovecot.messages("me", "Work");
  const Tally counted = tally(expected, arrived);
  BOOST_TEST(counted.exact(), counted << mismatch(expected, arrived));

  const CommandResult second = runPopgate({"once", "--config", config.string()});
  BOOST_TEST(second.exit_code == 0, second.out << second.err);
  BOOST_TEST(second.out.find("cy: 0 uploaded, " + std::to_string(set.size()) +
                             " already delivered") != std::string::npos, second.out);
  BOOST_TEST(dovecot.count("me", "Work") == set.size());
  printFigures("Cyrus 3.6 pop3d -> Dovecot", set.size(), 0, counted, 0,
               "Cyrus refused 1 at its own APPEND (invalid header), wrote X for 8-bit header "
               "bytes, and its pop3d cuts a line at a NUL byte");
}

BOOST_AUTO_TEST_CASE(testCyrusImapdAsTargetMungesRefusesAndStoresTheRest) {
  DovecotSandbox dovecot({"work"});
  CyrusSandbox cyrus({"me"});
  const std::vector<std::string> set = bytesOf(realisticSet());
  dovecot.seedMany("work", set);
  TempDir dir;
  const auto config = writePairedConfig(
      dir, imapLogin(cyrus, "me"),
      {PairedAccount{"dc", pop3Login(dovecot, "work"), "Clients/Acme"}}, 4);

  const CommandResult first = runPopgate({"once", "--config", config.string()});
  BOOST_TEST_INFO("stdout: " << first.out << "\nstderr: " << first.err);
  BOOST_TEST(first.exit_code == 0);
  BOOST_TEST(first.out.find("dc: " + std::to_string(set.size() - 1) + " uploaded") !=
             std::string::npos);
  BOOST_TEST(first.out.find("1 quarantined") != std::string::npos);
  BOOST_TEST(first.err.find("refused by the target, kept on the server: ") != std::string::npos);
  BOOST_TEST(first.err.find("NO Message contains invalid header") != std::string::npos);
  const std::vector<std::string> want = storedByCyrus(transformed(set, popDelivered));
  const std::vector<std::string> expected = want;
  const std::vector<std::string> arrived = cyrus.messages("me", "INBOX.Clients.Acme");
  const Tally counted = tally(expected, arrived);
  BOOST_TEST(counted.exact(), counted << mismatch(expected, arrived));
  BOOST_TEST(dovecot.popBoxSize("work") == set.size());  // keep: true; the refused one stays too

  const CommandResult second = runPopgate({"once", "--config", config.string()});
  BOOST_TEST(second.exit_code == 0, second.out << second.err);
  BOOST_TEST(second.out.find("dc: 0 uploaded, " + std::to_string(set.size() - 1) +
                             " already delivered") != std::string::npos, second.out);
  BOOST_TEST(cyrus.count("me", "INBOX.Clients.Acme") == set.size() - 1);
  printFigures("Dovecot -> Cyrus 3.6 imapd", set.size(), 0, counted, 1,
               "\"NO Message contains invalid header\"");
}

BOOST_AUTO_TEST_CASE(testCyrusWithMunge8bitOffStoresHeaderBytesUnchanged) {
  DovecotSandbox dovecot({"work"});
  CyrusSandbox cyrus({"me"}, false);
  const std::vector<std::string> set{sampleMessage("03-utf8-mongolian").bytes,
                                     hardCases().front().bytes};  // h1-8bit-header
  dovecot.seedMany("work", set);
  TempDir dir;
  const auto config = writePairedConfig(
      dir, imapLogin(cyrus, "me"), {PairedAccount{"dc", pop3Login(dovecot, "work"), "INBOX"}});
  const CommandResult r = runPopgate({"once", "--config", config.string()});
  BOOST_TEST(r.exit_code == 0, r.out << r.err);
  BOOST_TEST(tally(set, cyrus.messages("me", "INBOX")).exact());
}

BOOST_AUTO_TEST_CASE(testKillNineWithCyrusPop3dAsSource) {
  CyrusSandbox cyrus({"work"});
  DovecotSandbox dovecot({"me"});
  TempDir dir;
  const auto config = writePairedConfig(
      dir, imapLogin(dovecot, "me"),
      {PairedAccount{"cy", pop3Login(cyrus, "work"), "Work", false}}, 4, "20s", "debug");
  const KillRound round = killNineRounds(
      config, cyrus, "work", dovecot.imapPort(), 5,
      [](int r) { return killRoundMessages(static_cast<std::size_t>(r) * 1000, 150); }, 1501);
  BOOST_TEST(round.last.exit_code == 0, round.last.out << round.last.err);
  BOOST_TEST(round.kills >= 5);
  BOOST_TEST(cyrus.popBoxSize("work") == 0u);
  const std::vector<std::string> expected = round.seeded;
  const std::vector<std::string> arrived = dovecot.messages("me", "Work");
  const Tally counted = tally(expected, arrived);
  BOOST_TEST(counted.exact(), counted << mismatch(expected, arrived) << "\nlast pass: " << round.last.out);
  printFigures("Cyrus 3.6 pop3d -> Dovecot, kill -9", round.seeded.size(), round.kills, counted,
               0, std::to_string(round.lookups) + " recovery searches");
}

BOOST_AUTO_TEST_CASE(testKillNineWithCyrusImapdAsTarget) {
  DovecotSandbox dovecot({"work"});
  CyrusSandbox cyrus({"me"});
  TempDir dir;
  const auto config = writePairedConfig(
      dir, imapLogin(cyrus, "me"), {PairedAccount{"dc", pop3Login(dovecot, "work"), "Work", false}},
      4, "20s", "debug");
  const KillRound round = killNineRounds(
      config, dovecot, "work", cyrus.imapPort(), 5,
      [](int r) { return killRoundMessages(static_cast<std::size_t>(r) * 1000, 150); }, 1502);
  BOOST_TEST(round.last.exit_code == 0, round.last.out << round.last.err);
  BOOST_TEST(round.kills >= 5);
  BOOST_TEST(dovecot.popBoxSize("work") == 0u);
  const std::vector<std::string> expected = round.seeded;
  const std::vector<std::string> arrived = cyrus.messages("me", "INBOX.Work");
  const Tally counted = tally(expected, arrived);
  BOOST_TEST(counted.exact(), counted << mismatch(expected, arrived) << "\nlast pass: " << round.last.out);
  printFigures("Dovecot -> Cyrus 3.6 imapd, kill -9", round.seeded.size(), round.kills, counted,
               0, std::to_string(round.lookups) + " recovery searches");
}

BOOST_AUTO_TEST_SUITE_END()
