// POP3 servers that misbehave, against a whole pass (PollJob over the real Pop3Source; the target
// is the in-memory FakeTarget): silence and refusals, bare LF and lone CR, over-long, malformed and
// overflowing listing lines, duplicate UIDLs, lying sizes, endless and dripping bodies, connections
// lost mid-message, -ERR to RETR, DELE or QUIT, a server that breaks under PIPELINING. These are
// the POP3 cases of docs/protocol-notes.md "Hostile inputs popgate survives"; each also keeps the
// promises of checkPass() (tests/support/HostileRig.h): nothing deleted that did not reach the
// target, the server's words quoted, no password anywhere, no forged log line, no spool left.
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <chrono>
#include <set>
#include <string>
#include <vector>

#include "connectors/common/Error.h"
#include "gateway/delivery/Ledger.h"
#include "tests/support/HostileRig.h"
#include "tests/support/PassScripts.h"
#include "tests/support/ScriptedServer.h"

using namespace std::chrono_literals;
using namespace popgate;
using namespace popgate::test;
using gateway::LedgerState;

BOOST_AUTO_TEST_CASE(testSilentServerWithoutGreetingEndsInTheTimeout) {
  ScriptedServer pop({Script{}.stall(3s).expectEof()});
  auto rig = popRig(pop);
  const Outcome out = runPass(rig);
  checkPass(*rig, out, {.kind = ErrorKind::Transient, .message = "(timeout)"}, {.pop = {&pop}});
  BOOST_TEST(pop.transcript(0).empty(), "the client spoke before the greeting");
}

BOOST_AUTO_TEST_CASE(testErrGreetingFailsThePassWithTheServersWords) {
  ScriptedServer pop(
      {Script{}.send("-ERR [SYS/TEMP] too many connections, try later\r\n").expectEof()});
  auto rig = popRig(pop);
  checkPass(*rig, runPass(rig),
            {.kind = ErrorKind::Transient,
             .message = "refused the session",
             .server = "-ERR [SYS/TEMP] too many connections, try later"},
            {.pop = {&pop}});
  BOOST_TEST(!pop.received(0, "USER"));
}

BOOST_AUTO_TEST_CASE(testCapaErrFallsBackToUserPass) {
  const std::string m1 = mail(1);
  ScriptedServer pop({Script{}
                          .send("+OK RFC 1939 only\r\n")
                          .expect("CAPA")
                          .send("-ERR unknown command\r\n")
                          .expect("USER " + kPopUser)
                          .send("+OK\r\n")
                          .expect("PASS ")
                          .send("+OK\r\n")
                          .then(popListingOf({m1}))
                          .then(popRetr(1, m1))
                          .then(popDele(1))
                          .then(popQuit())});
  auto rig = popRig(pop);
  checkPass(*rig, runPass(rig),
            {.uploaded = 1,
             .deleted = 1,
             .delivered = {m1},
             .dele = {"DELE 1"},
             .landed = {"m1"},
             .problems = {"the server offers no CAPA (it answered \"-ERR unknown command\")"}},
            {.pop = {&pop}});
}

BOOST_AUTO_TEST_CASE(testOverlongStatusLineIsAProtocolError) {
  const std::string m1 = mail(1);
  ScriptedServer pop({popLogin()
                          .then(popListingOf({m1}))
                          .expect("RETR 1")
                          .send("+OK " + std::string(20000, 'x') + "\r\n" + m1 + ".\r\n")
                          .expectEof()});
  auto rig = popRig(pop);
  checkPass(*rig, runPass(rig),
            {.kind = ErrorKind::Protocol, .message = "status line longer than 4096 octets"},
            {.pop = {&pop}});
}

BOOST_AUTO_TEST_CASE(testOverlongUidlLineLeavesThatMessageAlone) {
  const std::string m1 = mail(1), m2 = mail(2);
  ScriptedServer pop({popLogin()
                          .then(popListing(multiline({"1 " + std::string(100000, 'u'), "2 m2"}),
                                           multiline({"1 " + sizeOf(m1), "2 " + sizeOf(m2)})))
                          .then(popRetr(2, m2))
                          .then(popDele(2))
                          .then(popQuit())});
  auto rig = popRig(pop);
  const Outcome out = runPass(rig);
  checkPass(*rig, out,
            {.uploaded = 1,
             .deleted = 1,
             .delivered = {m2},
             .dele = {"DELE 2"},
             .landed = {"m2"},
             .problems = {"unusable UIDL line"}},
            {.pop = {&pop}});
  for (const std::string& p : out.result.problems) BOOST_TEST(p.size() < 300u, "warning too long");
  BOOST_TEST(!pop.received(0, "RETR 1"));
}

BOOST_AUTO_TEST_CASE(testBareLfStatusLinesAreAccepted) {
  const std::string m1 = mail(1);
  ScriptedServer pop({Script{}
                          .send("+OK bare LF server\n")
                          .expect("CAPA")
                          .send("+OK\nUSER\r\nUIDL\r\n.\r\n")
                          .expect("USER")
                          .send("+OK\n")
                          .expect("PASS")
                          .send("+OK\n")
                          .expect("UIDL")
                          .send("+OK\n1 m1\r\n.\r\n")
                          .expect("LIST")
                          .send("+OK\n1 " + sizeOf(m1) + "\r\n.\r\n")
                          .expect("RETR 1")
                          .send("+OK\n" + m1 + ".\r\n")
                          .expect("DELE 1")
                          .send("+OK\n")
                          .expect("QUIT")
                          .send("+OK\n")
                          .close()});
  auto rig = popRig(pop);
  checkPass(*rig, runPass(rig),
            {.uploaded = 1, .deleted = 1, .delivered = {m1}, .dele = {"DELE 1"}, .landed = {"m1"}},
            {.pop = {&pop}});
}

BOOST_AUTO_TEST_CASE(testLoneCrAndLoneLfInABodyAreDeliveredUnchanged) {
  const std::string body =
      "Message-ID: <lone@example.test>\r\nSubject: lone line ends\r\n\r\n"
      "old Mac line\rsame line\nunix line\n.not a terminator\r\n\r\r\nend\r\n";
  ScriptedServer pop({popLogin()
                          .then(popListingOf({body}))
                          .then(popRetr(1, body))
                          .then(popDele(1))
                          .then(popQuit())});
  auto rig = popRig(pop);
  checkPass(
      *rig, runPass(rig),
      {.uploaded = 1, .deleted = 1, .delivered = {body}, .dele = {"DELE 1"}, .landed = {"m1"}},
      {.pop = {&pop}});
}

BOOST_AUTO_TEST_CASE(testLoneCrInStatusLinesCannotForgeALogLine) {
  // A lone CR is not a line end: it stays inside the status line, whose text reaches the log.
  const std::string m1 = mail(1), m2 = mail(2), m3 = mail(3);
  const std::string forged = "2025-01-01T00:00:00.000Z error   other: forged";
  ScriptedServer pop({test::pop3Greeting("hello\rworld")
                          .then(test::pop3Capa({"USER", "UIDL"}))
                          .expect("USER")
                          .send("+OK\r\n")
                          .expect("PASS")
                          .send("+OK\r\n")
                          .then(popListingOf({m1, m2, m3}))
                          .then(popRetr(1, m1))
                          .expect("RETR 2")
                          .send("-ERR message 2 is locked\r" + forged + "\r\n")
                          .then(popRetr(3, m3))
                          .then(popDele(1))
                          .then(popDele(3))
                          .then(popQuit())});
  auto rig = popRig(pop);
  checkPass(*rig, runPass(rig),
            {.uploaded = 2,
             .deleted = 2,
             .delivered = {m1, m3},
             .dele = {"DELE 1", "DELE 3"},
             .landed = {"m1", "m3"},
             .problems = {"could not be retrieved: -ERR message 2 is locked"}},
            {.pop = {&pop}});
}

BOOST_AUTO_TEST_CASE(testBareLfTerminatorIsNotAnEnd) {
  // "\n.\n" looks like the end to a sloppy client; then the connection drops.
  ScriptedServer pop({popLogin()
                          .then(popListing(multiline({"1 m1"}), multiline({"1 80"})))
                          .expect("RETR 1")
                          .send("+OK\r\nMessage-ID: <fake-end@example.test>\r\n\r\ncut here\n.\n")
                          .close()});
  auto rig = popRig(pop);
  checkPass(*rig, runPass(rig),
            {.kind = ErrorKind::Transient,
             .message = "closed the connection while we waited for message 1"},
            {.pop = {&pop}});
}

BOOST_AUTO_TEST_CASE(testBareLfDotLineInsideABodyIsData) {
  const std::string body =
      "Message-ID: <lfdot@example.test>\r\nSubject: lf dot\r\n\r\nbefore\n.\nafter\r\n";
  ScriptedServer pop({popLogin()
                          .then(popListingOf({body}))
                          .then(popRetr(1, body))
                          .then(popDele(1))
                          .then(popQuit())});
  auto rig = popRig(pop);
  checkPass(
      *rig, runPass(rig),
      {.uploaded = 1, .deleted = 1, .delivered = {body}, .dele = {"DELE 1"}, .landed = {"m1"}},
      {.pop = {&pop}});
}

BOOST_AUTO_TEST_CASE(testEofMidMessageDeletesNothing) {
  const std::string m1 = mail(1), m2 = mail(2);
  ScriptedServer pop({popLogin()
                          .then(popListingOf({m1, m2}))
                          .then(popRetr(1, m1))
                          .expect("RETR 2")
                          .send("+OK\r\n" + m2.substr(0, m2.size() / 2))
                          .close()});
  auto rig = popRig(pop);
  // m1 arrived whole before the connection broke: it is delivered (and deleted next pass), m2
  // is not, and nothing is deleted now.
  checkPass(*rig, runPass(rig),
            {.kind = ErrorKind::Transient,
             .message = "closed the connection while we waited for message 2",
             .uploaded = 1,
             .delivered = {m1},
             .not_delivered = {m2},
             .landed = {"m1"}},
            {.pop = {&pop}});
  BOOST_TEST(!pop.received(0, "QUIT"), "QUIT after a failed pass could commit deletions");
}

BOOST_AUTO_TEST_CASE(testStallMidMessageEndsInTheTimeout) {
  const std::string m1 = mail(1);
  ScriptedServer pop({popLogin()
                          .then(popListingOf({m1}))
                          .expect("RETR 1")
                          .send("+OK\r\n" + m1.substr(0, 20))
                          .stall(3s)
                          .expectEof()});
  auto rig = popRig(pop);
  checkPass(*rig, runPass(rig), {.kind = ErrorKind::Transient, .message = "(timeout)"},
            {.pop = {&pop}});
}

BOOST_AUTO_TEST_CASE(testEofMidUidlListDeletesNothing) {
  ScriptedServer pop({popLogin().expect("UIDL").send("+OK\r\n1 m1\r\n2 m").close()});
  auto rig = popRig(pop);
  checkPass(*rig, runPass(rig),
            {.kind = ErrorKind::Transient,
             .message = "closed the connection while we waited for UIDL list"},
            {.pop = {&pop}});
}

BOOST_AUTO_TEST_CASE(testStallMidListEndsInTheTimeout) {
  ScriptedServer pop({popLogin()
                          .expect("UIDL")
                          .send(multiline({"1 m1", "2 m2"}))
                          .expect("LIST")
                          .send("+OK\r\n1 120\r\n")
                          .stall(3s)
                          .expectEof()});
  auto rig = popRig(pop);
  checkPass(*rig, runPass(rig), {.kind = ErrorKind::Transient, .message = "(timeout)"},
            {.pop = {&pop}});
}

BOOST_AUTO_TEST_CASE(testUidlLinesWithoutIdOverlongOrWithControlCharsAreLeftAlone) {
  const std::string m4 = mail(4);
  const std::string id71(71, 'a');
  ScriptedServer pop(
      {popLogin()
           .then(popListing(multiline({"1", "2 " + id71,
                                       "3 ab\x01"
                                       "cd",
                                       "4 m4",
                                       "5 e\x7f"
                                       "f",
                                       "6 caf\xe9"}),
                            multiline({"1 10", "2 10", "3 10", "4 " + sizeOf(m4), "5 10", "6 10"})))
           .then(popRetr(4, m4))
           .then(popDele(4))
           .then(popQuit())});
  auto rig = popRig(pop);
  const Outcome out = runPass(rig);
  checkPass(*rig, out,
            {.uploaded = 1,
             .deleted = 1,
             .delivered = {m4},
             .dele = {"DELE 4"},
             .landed = {"m4"},
             .problems = {"unusable UIDL line \"1\"", "unusable UIDL line \"2 aaaa"}},
            {.pop = {&pop}});
  BOOST_TEST(out.result.listed == 1u);
  BOOST_TEST(out.result.problems.size() == 5u, show(out.result.problems));
  BOOST_TEST(rig->ledger.load(kAccount).size() == 1u);
}

BOOST_AUTO_TEST_CASE(testUidlDuplicateIdsAreDeliveredOnceEachKeyedByContent) {
  // Hash-based servers repeat UIDLs. Each message counts by content; a second pass (after a QUIT
  // the server did not confirm) fetches them again to tell them apart, and uploads nothing twice.
  const std::string d1 = mail(1), d2 = mail(2), m3 = mail(3);
  const std::string uidl = multiline({"1 dup", "2 dup", "3 m3"});
  const std::string list = multiline({"1 " + sizeOf(d1), "2 " + sizeOf(d2), "3 " + sizeOf(m3)});
  ScriptedServer first({popLogin()
                            .then(popListing(uidl, list))
                            .then(popRetr(1, d1))
                            .then(popRetr(2, d2))
                            .then(popRetr(3, m3))
                            .then(popDele(1))
                            .then(popDele(2))
                            .then(popDele(3))
                            .expect("QUIT")
                            .send("-ERR [SYS/TEMP] could not commit\r\n")
                            .close()});
  auto rig = popRig(first);
  checkPass(*rig, runPass(rig),
            {.uploaded = 3,
             .delivered = {d1, d2, m3},
             .dele = {"DELE 1", "DELE 2", "DELE 3"},
             .landed = {"dup", "m3"},
             .problems = {"did not confirm QUIT"}},
            {.pop = {&first}});
  std::set<std::string> keys;
  for (const auto& [key, entry] : rig->ledger.load(kAccount)) keys.insert(key);
  BOOST_TEST(keys.size() == 3u, show(keys));
  BOOST_TEST(std::count_if(keys.begin(), keys.end(),
                           [](const std::string& k) { return k.starts_with("dup sha256:"); }) == 2);

  ScriptedServer second({popLogin()
                             .then(popListing(uidl, list))
                             .then(popRetr(1, d1))
                             .then(popRetr(2, d2))  // not 3: known by UIDL
                             .then(popDele(3))
                             .then(popDele(1))
                             .then(popDele(2))
                             .then(popQuit())});
  rig->account.server.port = second.port();
  checkPass(*rig, runPass(rig),
            {.skipped = 3,
             .deleted = 3,
             .delivered = {d1, d2, m3},
             .dele = {"DELE 1", "DELE 2", "DELE 3"},
             .landed = {"dup", "m3"}},
            {.pop = {&second}});
}

BOOST_AUTO_TEST_CASE(testNonNumericAndOverflowingNumbersAreNotMisread) {
  // 4294967297 = 2^32 + 1 would read as message 1 with a 32-bit wrap: "wraps" would then claim
  // message 1's upload. Sizes that do not parse leave the size unknown: the RETR cap still holds.
  const std::string m1 = mail(1), m2 = mail(2);
  ScriptedServer pop(
      {popLogin()
           .then(popListing(multiline({"x1 bad", "-1 negative", "0 zero", "2147483648 toobig",
                                       "4294967297 wraps", "1 m1", "2 m2"}),
                            multiline({"1 abc", "2 18446744073709551616", "99999999999 5"})))
           .then(popRetr(1, m1))
           .then(popRetr(2, m2))
           .then(popDele(1))
           .then(popDele(2))
           .then(popQuit())});
  auto rig = popRig(pop);
  const Outcome out = runPass(rig);
  checkPass(*rig, out,
            {.uploaded = 2,
             .deleted = 2,
             .delivered = {m1, m2},
             .dele = {"DELE 1", "DELE 2"},
             .landed = {"m1", "m2"},
             .problems = {"\"4294967297 wraps\"", "\"0 zero\"", "\"x1 bad\""}},
            {.pop = {&pop}});
  BOOST_TEST(out.result.problems.size() == 5u, show(out.result.problems));
  BOOST_TEST(occurrences(pop, 0, "RETR 1\r\n") == 1u);
}

BOOST_AUTO_TEST_CASE(testSizeAbove2To31IsSkippedAndReportedNeverDeleted) {
  const std::string m2 = mail(2);
  ScriptedServer pop({popLogin()
                          .then(popListing(multiline({"1 huge", "2 m2", "3 huger"}),
                                           multiline({"1 3000000000", "2 " + sizeOf(m2),
                                                      "3 9223372036854775807"})))
                          .then(popRetr(2, m2))
                          .then(popDele(2))
                          .then(popQuit())});
  auto rig = popRig(pop);
  const Outcome out = runPass(rig);
  checkPass(*rig, out,
            {.uploaded = 1,
             .deleted = 1,
             .too_large = 2,
             .delivered = {m2},
             .dele = {"DELE 2"},
             .landed = {"m2"}},
            {.pop = {&pop}});
  BOOST_TEST((ledgerState(*rig, "huge") == LedgerState::TooLarge));
  BOOST_TEST((ledgerState(*rig, "huger") == LedgerState::TooLarge));
  BOOST_TEST(logLine(out.log, "info", {kAccount + ": ", "2 too large"}).has_value(), out.log);
  BOOST_TEST(has(out.status, "\"too_large\":2"), out.status);
  BOOST_TEST(!pop.received(0, "RETR 1"));
  BOOST_TEST(!pop.received(0, "RETR 3"));
}

BOOST_AUTO_TEST_CASE(testLyingListSizeStillHitsTheCap) {
  // LIST says 100 bytes; the RETR brings 200 KiB against a 64 KiB limit. The message is drained,
  // parked as too large and kept; the next message on the same connection is delivered.
  std::string big = "Message-ID: <liar@example.test>\r\nSubject: liar\r\n\r\n";
  while (big.size() < 200 * 1024) big += std::string(998, 'x') + "\r\n";
  const std::string m2 = mail(2);
  ScriptedServer pop(
      {popLogin()
           .then(popListing(multiline({"1 liar", "2 m2"}), multiline({"1 100", "2 " + sizeOf(m2)})))
           .then(popRetr(1, big))
           .then(popRetr(2, m2))
           .then(popDele(2))
           .then(popQuit())});
  auto rig = popRig(pop);
  rig->account.max_message_size = 64 * 1024;
  checkPass(*rig, runPass(rig),
            {.uploaded = 1,
             .deleted = 1,
             .too_large = 1,
             .delivered = {m2},
             .dele = {"DELE 2"},
             .landed = {"m2"}},
            {.pop = {&pop}});
  BOOST_TEST((ledgerState(*rig, "liar") == LedgerState::TooLarge));
}

BOOST_AUTO_TEST_CASE(testEndlessBodyEndsAtTheDrainLimit) {
  // The body never ends. Past the size cap the bytes are drained, not stored, and past twice
  // the cap plus 1 MiB the connection is dropped: bounded memory, bounded time.
  std::string endless = "+OK\r\n";
  while (endless.size() < 3 * 1024 * 1024) endless += std::string(1000, 'y') + "\r\n";
  ScriptedServer pop({popLogin()
                          .then(popListing(multiline({"1 endless"}), multiline({"1 100"})))
                          .expect("RETR 1")
                          .send(endless)
                          .stall(3s)
                          .expectEof()});
  auto rig = popRig(pop);
  rig->account.max_message_size = 64 * 1024;
  checkPass(*rig, runPass(rig),
            {.kind = ErrorKind::Transient, .message = "far larger than its LIST size", .too_large = 1},
            {.pop = {&pop}});
}

// A message whose body never ends must not block the account: it is parked as too large the
// moment it passes the cap (before the connection is dropped), with a size over the limit, so the
// next pass leaves it alone whatever LIST claims, and delivers the messages after it.
BOOST_AUTO_TEST_CASE(testEndlessBodyDoesNotBlockTheMessagesAfterIt) {
  std::string endless = "+OK\r\n";
  while (endless.size() < 3 * 1024 * 1024) endless += std::string(1000, 'y') + "\r\n";
  const std::string m2 = mail(2);
  const std::string uidl = multiline({"1 endless", "2 m2"});
  const std::string list = multiline({"1 100", "2 " + sizeOf(m2)});
  ScriptedServer first({popLogin()
                            .then(popListing(uidl, list))
                            .expect("RETR 1")
                            .send(endless)
                            .stall(3s)
                            .expectEof()});
  auto rig = popRig(first);
  rig->account.max_message_size = 64 * 1024;
  checkPass(*rig, runPass(rig),
            {.kind = ErrorKind::Transient, .message = "far larger than its LIST size", .too_large = 1},
            {.pop = {&first}});

  // Next pass: the endless message is known to be too large and left alone; m2 goes through.
  ScriptedServer second({popLogin()
                             .then(popListing(uidl, list))
                             .then(popRetr(2, m2))
                             .then(popDele(2))
                             .then(popQuit())});
  rig->account.server.port = second.port();
  checkPass(*rig, runPass(rig),
            {.uploaded = 1,
             .deleted = 1,
             .too_large = 1,
             .delivered = {m2},
             .dele = {"DELE 2"},
             .landed = {"m2"}},
            {.pop = {&second}});
}

// A message parked as too large after a lying LIST size is not fetched (and drained) again on
// every pass: the row records a size over the limit, and plan() trusts the larger of the two.
BOOST_AUTO_TEST_CASE(testLyingListSizeIsNotFetchedAgainNextPass) {
  std::string big = "Message-ID: <liar@example.test>\r\nSubject: liar\r\n\r\n";
  while (big.size() < 200 * 1024) big += std::string(998, 'x') + "\r\n";
  const std::string uidl = multiline({"1 liar"});
  const std::string list = multiline({"1 100"});
  ScriptedServer first(
      {popLogin().then(popListing(uidl, list)).then(popRetr(1, big)).then(popQuit())});
  auto rig = popRig(first);
  rig->account.max_message_size = 64 * 1024;
  checkPass(*rig, runPass(rig), {.too_large = 1}, {.pop = {&first}});

  ScriptedServer second({popLogin().then(popListing(uidl, list)).then(popQuit())});
  rig->account.server.port = second.port();
  checkPass(*rig, runPass(rig), {.too_large = 1}, {.pop = {&second}});
  BOOST_TEST(!second.received(0, "RETR"));
}

// The timeout is per read, so a server that drips a body one byte at a time, just inside it,
// could hold the pass for days (1.1 MiB at one byte per 1.9 s is 25 days). A reply slower than the
// timeout must average 1 KiB/s (Connection::checkProgress), so it ends in bounded time.
BOOST_AUTO_TEST_CASE(testDrippingBodyEndsInBoundedTime) {
  const std::string m1 = mail(1);
  ScriptedServer pop({popLogin()
                          .then(popListingOf({m1}))
                          .expect("RETR 1")
                          .send("+OK\r\n")
                          .sendSlowly(std::string(200, 'd'), 1, 400ms)
                          .expectEof()});
  auto rig = popRig(pop);
  checkPass(*rig, runPass(rig), {.kind = ErrorKind::Transient, .message = "message 1"},
            {.pop = {&pop}});
}

BOOST_AUTO_TEST_CASE(testRetrErrForOneMessageKeepsIt) {
  const std::string m1 = mail(1), m2 = mail(2), m3 = mail(3);
  ScriptedServer pop({popLogin()
                          .then(popListingOf({m1, m2, m3}))
                          .then(popRetr(1, m1))
                          .expect("RETR 2")
                          .send("-ERR [SYS/PERM] message 2 is unreadable\r\n")
                          .then(popRetr(3, m3))
                          .then(popDele(1))
                          .then(popDele(3))
                          .then(popQuit())});
  auto rig = popRig(pop);
  checkPass(*rig, runPass(rig),
            {.uploaded = 2,
             .deleted = 2,
             .delivered = {m1, m3},
             .dele = {"DELE 1", "DELE 3"},
             .landed = {"m1", "m3"},
             .problems = {"(m2) could not be retrieved: -ERR [SYS/PERM] message 2 is unreadable"}},
            {.pop = {&pop}});
}

BOOST_AUTO_TEST_CASE(testDeleErrKeepsTheMessageAndSaysSo) {
  const std::string m1 = mail(1), m2 = mail(2);
  ScriptedServer pop({popLogin()
                          .then(popListingOf({m1, m2}))
                          .then(popRetr(1, m1))
                          .then(popRetr(2, m2))
                          .expect("DELE 1")
                          .send("-ERR message 1 is locked by another session\r\n")
                          .then(popDele(2))
                          .then(popQuit())});
  auto rig = popRig(pop);
  checkPass(*rig, runPass(rig),
            {.uploaded = 2,
             .deleted = 1,
             .delivered = {m1, m2},
             .dele = {"DELE 1", "DELE 2"},
             .landed = {"m1", "m2"},
             .problems = {"DELE of message m1 was refused (server said: -ERR message 1 is locked "
                          "by another session)"}},
            {.pop = {&pop}});
  BOOST_TEST((ledgerState(*rig, "m1") == LedgerState::Uploaded));  // deleted next pass
  BOOST_TEST((ledgerState(*rig, "m2") == LedgerState::Deleted));
}

BOOST_AUTO_TEST_CASE(testQuitErrConfirmsNoDeletion) {
  const std::string m1 = mail(1), m2 = mail(2);
  ScriptedServer first({popLogin()
                            .then(popListingOf({m1, m2}))
                            .then(popRetr(1, m1))
                            .then(popRetr(2, m2))
                            .then(popDele(1))
                            .then(popDele(2))
                            .expect("QUIT")
                            .send("-ERR [SYS/TEMP] unable to commit changes\r\n")
                            .close()});
  auto rig = popRig(first);
  checkPass(*rig, runPass(rig),
            {.uploaded = 2,
             .delivered = {m1, m2},
             .dele = {"DELE 1", "DELE 2"},
             .landed = {"m1", "m2"},
             .problems = {"did not confirm QUIT"}},
            {.pop = {&first}});
  BOOST_TEST((ledgerState(*rig, "m1") == LedgerState::Uploaded));
  BOOST_TEST((ledgerState(*rig, "m2") == LedgerState::Uploaded));

  // Next pass: nothing fetched or uploaded again, the deletions are retried and confirmed.
  ScriptedServer second(
      {popLogin().then(popListingOf({m1, m2})).then(popDele(1)).then(popDele(2)).then(popQuit())});
  rig->account.server.port = second.port();
  checkPass(*rig, runPass(rig),
            {.skipped = 2,
             .deleted = 2,
             .delivered = {m1, m2},
             .dele = {"DELE 1", "DELE 2"},
             .landed = {"m1", "m2"}},
            {.pop = {&second}});
  BOOST_TEST((ledgerState(*rig, "m1") == LedgerState::Deleted));
}

BOOST_AUTO_TEST_CASE(testServerThatBreaksUnderPipeliningIsAskedAgainWithout) {
  const std::string m1 = mail(1), m2 = mail(2);
  const std::vector<std::string> caps{"USER", "UIDL", "PIPELINING"};
  ScriptedServer pop(
      {popLogin(caps)
           .expect("UIDL")
           .expect("LIST")
           .send(multiline({"1 m1", "2 m2"}) + multiline({"1 " + sizeOf(m1), "2 " + sizeOf(m2)}))
           .expect("RETR 1")
           .expect("RETR 2")
           .send(retrReply(m1) + "+OK\r\nhalf of it")
           .reset(),
       // The new session, without pipelining, fetches only what did not arrive whole (m2);
       // m1 is already on its way to the target and is deleted with the new numbering.
       popLogin(caps)
           .then(popListingOf({m1, m2}))
           .then(popRetr(2, m2))
           .then(popDele(1))
           .then(popDele(2))
           .then(popQuit())});
  auto rig = popRig(pop);
  checkPass(*rig, runPass(rig),
            {.uploaded = 2,
             .deleted = 2,
             .delivered = {m1, m2},
             .dele = {"DELE 1", "DELE 2"},
             .landed = {"m1", "m2"},
             .problems = {"failed under PIPELINING"}},
            {.pop = {&pop}});
}
