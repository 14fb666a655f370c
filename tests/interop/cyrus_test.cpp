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
  for (std::size_t nul = served.find('\0'); nul != std::string::npos;
       nul = served.find('\0', nul)) {
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
  std::vector<std::string> given;
  for (const std::string& m : bytesOf(realisticSet())) {
    if (cyrusStores(m)) given.push_back(m);
  }
  cyrus.seedMany("work", given);
  const std::vector<std::string> set = storedByCyrus(given);
  const std::vector<std::string> seeded = cyrus.messages("work");
  BOOST_TEST(tally(set, seeded).exact(), mismatch(set, seeded));  // the stated transformation
  TempDir dir;
  const auto config = writePairedConfig(dir, imapLogin(dovecot, "me"),
                                        {PairedAccount{"cy", pop3Login(cyrus, "work"), "Work"}});

  checkFirstPass(config, "cy", set.size());
  const std::vector<std::string> expected = transformed(set, cyrusPop3dServes);
  const std::vector<std::string> arrived = dovecot.messages("me", "Work");
  const Tally counted = tally(expected, arrived);
  BOOST_TEST(counted.exact(), counted << mismatch(expected, arrived));
  checkSecondPassAddsNothing(config, "cy", set.size(), dovecot, "me", "Work");
  printMatrixLine(
      {.cell = "cyrus-pop3d-source",
       .name = "Cyrus 3.6 pop3d -> Dovecot",
       .messages = set.size(),
       .tally = counted,
       .quarantined = 0,
       .why = "Cyrus refused 1 at its own APPEND (invalid header), wrote X for 8-bit header "
              "bytes, and its pop3d cuts a line at a NUL byte"});
}

BOOST_AUTO_TEST_CASE(testCyrusImapdAsTargetMungesRefusesAndStoresTheRest) {
  DovecotSandbox dovecot({"work"});
  CyrusSandbox cyrus({"me"});
  const std::vector<std::string> set = bytesOf(realisticSet());
  dovecot.seedMany("work", set);
  TempDir dir;
  const auto config =
      writePairedConfig(dir, imapLogin(cyrus, "me"),
                        {PairedAccount{"dc", pop3Login(dovecot, "work"), "Clients/Acme"}}, 4);

  const CommandResult first = checkFirstPass(config, "dc", set.size() - 1, 1);
  BOOST_TEST(first.err.find("refused by the target, kept on the server: ") != std::string::npos);
  BOOST_TEST(first.err.find("NO Message contains invalid header") != std::string::npos);
  const std::vector<std::string> expected = storedByCyrus(transformed(set, popDelivered));
  const std::vector<std::string> arrived = cyrus.messages("me", "INBOX.Clients.Acme");
  const Tally counted = tally(expected, arrived);
  BOOST_TEST(counted.exact(), counted << mismatch(expected, arrived));
  BOOST_TEST(dovecot.popBoxSize("work") == set.size());  // keep: true; the refused one stays too
  checkSecondPassAddsNothing(config, "dc", set.size() - 1, cyrus, "me", "INBOX.Clients.Acme");
  printMatrixLine({.cell = "cyrus-imapd-target",
                   .name = "Dovecot -> Cyrus 3.6 imapd",
                   .messages = set.size(),
                   .tally = counted,
                   .quarantined = 1,
                   .why = "'NO Message contains invalid header'"});
}

BOOST_AUTO_TEST_CASE(testCyrusWithMunge8bitOffStoresHeaderBytesUnchanged) {
  DovecotSandbox dovecot({"work"});
  CyrusSandbox cyrus({"me"}, false);
  const std::vector<std::string> set{sampleMessage("03-utf8-mongolian").bytes,
                                     hardCases().front().bytes};  // h1-8bit-header
  dovecot.seedMany("work", set);
  TempDir dir;
  const auto config = writePairedConfig(dir, imapLogin(cyrus, "me"),
                                        {PairedAccount{"dc", pop3Login(dovecot, "work"), "INBOX"}});
  checkFirstPass(config, "dc", set.size());
  const std::vector<std::string> arrived = cyrus.messages("me", "INBOX");
  BOOST_TEST(tally(set, arrived).exact(), mismatch(set, arrived));
}

BOOST_AUTO_TEST_CASE(testKillNineWithCyrusPop3dAsSource) {
  CyrusSandbox cyrus({"work"});
  DovecotSandbox dovecot({"me"});
  checkKillNineCell(cyrus, dovecot,
                    {.cell = "cyrus-pop3d-source-kill9",
                     .name = "Cyrus 3.6 pop3d -> Dovecot",
                     .folder = "Work",
                     .stored_folder = "Work",
                     .min_kills = 5,
                     .seed = 1501,
                     .stores = cyrusPop3dServes});
}

BOOST_AUTO_TEST_CASE(testKillNineWithCyrusImapdAsTarget) {
  DovecotSandbox dovecot({"work"});
  CyrusSandbox cyrus({"me"});
  checkKillNineCell(dovecot, cyrus,
                    {.cell = "cyrus-imapd-target-kill9",
                     .name = "Dovecot -> Cyrus 3.6 imapd",
                     .folder = "Work",
                     .stored_folder = "INBOX.Work",
                     .min_kills = 5,
                     .aimed_kills = 5,
                     .seed = 1502,
                     .stores = [](const std::string& m) { return *cyrusStores(m); }});
}

BOOST_AUTO_TEST_SUITE_END()
