// GNU mailutils 3.15 (pop3d and imap4d, on the host) with the real `popgate once`, both ways:
// - pop3d as the POP3 source, Dovecot the target: the realistic set arrives as pop3d serves it,
//   with the X-UIDL header pop3d writes into every message, and a headers-only message reduced to
//   that header (the server's loss, stated here);
// - imap4d as the target, Dovecot's POP3 the source: messages stored with LF line ends, a
//   nested folder "Clients/Acme" created although four sessions race to create it ("NO CREATE
//   already exists"), the message with a NUL byte quarantined (no BINARY);
// - a kill -9 round each way with keep: false: 0 lost, 0 duplicated. imap4d has no UIDPLUS, so
//   every interrupted upload is recovered through search and content alone.
// docs/servers.md has the table these figures go into.
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cctype>

#include "tests/support/InteropRun.h"
#include "tests/support/MailutilsSandbox.h"

using namespace popgate::test;

namespace {

// What pop3d serves for a message seeded (with CRLF line ends, stored with LF) into its maildir,
// leaving out the "X-UIDL: <md5>.<time>.<n>" line it adds as the last header line: the message
// as POP3 hands out any message (a final line end added where it lacked one) — except that a
// message with no empty line after its header loses everything, leaving only the empty line.
std::string pop3dServes(const std::string& seeded) {
  if (headerEnd(seeded) == std::string::npos) return "\r\n";
  return popDelivered(seeded);
}

// `delivered` without its X-UIDL line, which must be the last line of the header; `uidl` gets
// its value ("" when there is no such line where it belongs).
std::string withoutXUidl(const std::string& delivered, std::string& uidl) {
  uidl.clear();
  const std::size_t end = headerEnd(delivered);
  if (end == std::string::npos || end < 2) return delivered;
  const std::size_t start = delivered.rfind("\r\n", end - 3);
  const std::size_t line = start == std::string::npos ? 0 : start + 2;
  const std::string_view field = std::string_view(delivered).substr(line, end - 2 - line);
  if (field.substr(0, 8) != "X-UIDL: ") return delivered;
  // <32 hex digits of MD5>.<seconds>.<message number>
  const std::string_view value = field.substr(8);
  const bool md5 = value.size() > 33 && value[32] == '.' &&
                   std::all_of(value.begin(), value.begin() + 32,
                               [](char c) { return std::isxdigit(static_cast<unsigned char>(c)); });
  const std::size_t dot = value.find('.', 33);
  const auto digits = [](std::string_view d) {
    return !d.empty() &&
           std::all_of(d.begin(), d.end(), [](char c) { return c >= '0' && c <= '9'; });
  };
  if (!md5 || dot == std::string_view::npos || !digits(value.substr(33, dot - 33)) ||
      !digits(value.substr(dot + 1))) {
    return delivered;
  }
  uidl = std::string(value);
  return delivered.substr(0, line) + delivered.substr(end);
}

// What imap4d stores for a message it is given: LF line ends, and an empty line added after a
// header that has none.
std::string imap4dStores(const std::string& given) {
  std::string stored = crlfToLf(given);
  if (headerEnd(given) == std::string::npos) stored += "\n";
  return stored;
}

// withoutXUidl() for messages read back from the target.
std::string readWithoutXUidl(const std::string& delivered) {
  std::string uidl;
  return withoutXUidl(delivered, uidl);
}

}  // namespace

BOOST_AUTO_TEST_CASE(testPop3dAsSourceDeliversTheSetWithItsXUidlHeader) {
  MailutilsSandbox mailutils({"work"});
  DovecotSandbox dovecot({"me"});
  const std::vector<std::string> set = bytesOf(realisticSet());
  mailutils.seedMany("work", set);
  TempDir dir;
  const auto config = writePairedConfig(
      dir, imapLogin(dovecot, "me"), {PairedAccount{"mu", pop3Login(mailutils, "work"), "Work"}});

  checkFirstPass(config, "mu", set.size());
  std::vector<std::string> delivered;
  std::size_t with_uidl = 0;
  for (const std::string& m : dovecot.messages("me", "Work")) {
    std::string uidl;
    delivered.push_back(withoutXUidl(m, uidl));
    if (!uidl.empty()) ++with_uidl;
  }
  BOOST_TEST(with_uidl == set.size());  // every message, the emptied one included
  const std::vector<std::string> want = transformed(set, pop3dServes);
  const Tally counted = tally(want, delivered);
  BOOST_TEST(counted.exact(), counted << mismatch(want, delivered));
  // The server-side loss: the headers-only message is nothing but pop3d's X-UIDL line.
  BOOST_TEST(std::count(delivered.begin(), delivered.end(), std::string("\r\n")) == 1);
  checkSecondPassAddsNothing(config, "mu", set.size(), dovecot, "me", "Work");
  printMatrixLine({.cell = "mailutils-pop3d-source",
                   .name = "GNU mailutils 3.15 pop3d -> Dovecot",
                   .messages = set.size(),
                   .tally = counted,
                   .quarantined = 0,
                   .why = "1 emptied by pop3d: no empty line after its header"});
}

BOOST_AUTO_TEST_CASE(testImap4dAsTargetStoresTheSetWithLfLineEnds) {
  DovecotSandbox dovecot({"work"});
  MailutilsSandbox mailutils({"me"});
  const std::vector<std::string> set = bytesOf(realisticSet());
  dovecot.seedMany("work", set);
  TempDir dir;
  // Four sessions meet the missing folder at once: all get [TRYCREATE], one CREATE succeeds and
  // the others are answered "NO CREATE already exists". "/" separates levels on mailutils.
  const auto config =
      writePairedConfig(dir, imapLogin(mailutils, "me"),
                        {PairedAccount{"dc", pop3Login(dovecot, "work"), "Clients/Acme"}}, 4);

  const CommandResult first = checkFirstPass(config, "dc", set.size() - 1, 1);
  // The message with a NUL byte needs a BINARY literal, which imap4d does not offer.
  BOOST_TEST(first.err.find("refused by the target, kept on the server: not sent: the message "
                            "contains NUL bytes") != std::string::npos);
  std::vector<std::string> want;
  for (const std::string& m : set) {
    if (m.find('\0') == std::string::npos) want.push_back(imap4dStores(popDelivered(m)));
  }
  const std::vector<std::string> stored = mailutils.messages("me", "Clients/Acme");
  const Tally counted = tally(want, stored);
  BOOST_TEST(counted.exact(), counted << mismatch(want, stored));
  checkSecondPassAddsNothing(config, "dc", set.size() - 1, mailutils, "me", "Clients/Acme");
  printMatrixLine({.cell = "mailutils-imap4d-target",
                   .name = "Dovecot -> GNU mailutils 3.15 imap4d",
                   .messages = set.size(),
                   .tally = counted,
                   .quarantined = 1,
                   .why = "NUL byte, no BINARY: not sent"});
}

BOOST_AUTO_TEST_CASE(testKillNineWithPop3dAsSource) {
  MailutilsSandbox mailutils({"work"});
  DovecotSandbox dovecot({"me"});
  checkKillNineCell(mailutils, dovecot,
                    {.cell = "mailutils-pop3d-source-kill9",
                     .name = "GNU mailutils 3.15 pop3d -> Dovecot",
                     .folder = "Work",
                     .stored_folder = "Work",
                     .min_kills = 5,
                     .seed = 1401,
                     .stores = pop3dServes,
                     .read_as = readWithoutXUidl});
}

// Half of the random kills strike right after an APPEND; then 5 kills aimed at the gap: the
// target has stored a message, its OK is held back by a proxy and popgate is killed before it
// sees it. The next pass must find each such message, without UIDPLUS, by search and content
// alone (look-alikes with the same Message-ID and size among them), and not append it again.
BOOST_AUTO_TEST_CASE(testKillNineWithImap4dAsTarget) {
  DovecotSandbox dovecot({"work"});
  MailutilsSandbox mailutils({"me"});
  checkKillNineCell(dovecot, mailutils,
                    {.cell = "mailutils-imap4d-target-kill9",
                     .name = "Dovecot -> GNU mailutils 3.15 imap4d",
                     .folder = "Work",
                     .stored_folder = "Work",
                     .min_kills = 8,
                     .aimed_kills = 5,
                     .seed = 1402,
                     .stores = [](const std::string& m) { return imap4dStores(m); }});
}
