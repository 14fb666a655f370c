// IMAP targets that misbehave, and messages whose bytes only the target can judge, against a whole
// pass (PollJob over the real ImapSink; the POP3 side is the in-memory FakeMaildrop, or a scripted
// server where the bytes matter): BYE and -ERR greetings, NO instead of the literal's go-ahead,
// BYE or a reset mid-literal (resent exactly once, or recovered without a duplicate), no
// APPENDUID, over quota, TRYCREATE twice, untagged noise, over-long responses and huge literals;
// empty messages and NUL bytes (BINARY, or refused honestly). Each case also keeps the promises of
// checkPass() (tests/support/HostileRig.h): a message leaves the POP3 server only once the target
// holds it, the server's words quoted, no password anywhere, no forged log line, no spool left.
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <string>

#include "connectors/common/Error.h"
#include "connectors/common/Printable.h"
#include "gateway/delivery/Ledger.h"
#include "tests/support/HostileRig.h"
#include "tests/support/PassScripts.h"
#include "tests/support/ScriptedServer.h"

using namespace std::chrono_literals;
using namespace popgate;
using namespace popgate::test;
using gateway::LedgerState;

namespace {

// One APPEND with a synchronizing literal, accepted.
Script imapAppendSync(const std::string& ok = "OK [APPENDUID 9 1] Append completed\r\n") {
  Script s;
  s.expectCommand("APPEND").send("+ go ahead\r\n").readAnnouncedLiteral().expect("").sendTagged(ok);
  return s;
}

}  // namespace

// =============================================================================================
// Both sides scripted: what the target decides about odd messages

BOOST_AUTO_TEST_CASE(testEmptyMessageRefusedByTheTargetIsQuarantined) {
  // Dovecot refuses a zero-byte APPEND: the message is parked (kept on POP3, shown in /status).
  ScriptedServer pop({popLogin()
                          .then(popListing(multiline({"1 empty"}), multiline({"1 0"})))
                          .then(popRetr(1, ""))
                          .then(popQuit())});
  ScriptedServer imap({imapLoggedIn("IMAP4rev1 UIDPLUS")
                           .expectCommand("APPEND")
                           .sendTagged("NO Can't save a zero byte message\r\n")
                           .then(imapLogout())});
  auto rig = popRig(pop);
  useImap(*rig, imap);
  const Outcome out = runPass(rig);
  checkPass(*rig, out, {.rejected = 1, .problems = {"refused by the target, kept on the server"}},
            {.pop = {&pop}, .imap = {&imap}});
  BOOST_TEST((ledgerState(*rig, "empty") == LedgerState::Rejected));
  BOOST_TEST(has(out.status, "Can't save a zero byte message"), out.status);
  BOOST_TEST(has(imap.transcript(0), "{0}\r\n"));
}

BOOST_AUTO_TEST_CASE(testEmptyMessageAcceptedByTheTargetIsDelivered) {
  ScriptedServer pop({popLogin()
                          .then(popListing(multiline({"1 empty"}), multiline({"1 0"})))
                          .then(popRetr(1, ""))
                          .then(popDele(1))
                          .then(popQuit())});
  ScriptedServer imap(
      {imapLoggedIn("IMAP4rev1 UIDPLUS").then(imapAppendSync()).then(imapLogout())});
  auto rig = popRig(pop);
  useImap(*rig, imap);
  checkPass(*rig, runPass(rig),
            {.uploaded = 1, .deleted = 1, .dele = {"DELE 1"}, .landed = {"empty"}},
            {.pop = {&pop}, .imap = {&imap}});
}

BOOST_AUTO_TEST_CASE(testNulBytesGoAsABinaryLiteral) {
  const std::string body =
      std::string("Message-ID: <nul@example.test>\r\nSubject: nul\r\n\r\nbefore") + '\0' +
      "after\r\n";
  ScriptedServer pop({popLogin()
                          .then(popListingOf({body}))
                          .then(popRetr(1, body))
                          .then(popDele(1))
                          .then(popQuit())});
  ScriptedServer imap({imapLoggedIn("IMAP4rev1 LITERAL+ UIDPLUS BINARY")
                           .then(imapAppendPlus())
                           .then(imapLogout())});
  auto rig = popRig(pop);
  useImap(*rig, imap);
  checkPass(
      *rig, runPass(rig),
      {.uploaded = 1, .deleted = 1, .delivered = {body}, .dele = {"DELE 1"}, .landed = {"m1"}},
      {.pop = {&pop}, .imap = {&imap}});
  BOOST_TEST(has(imap.transcript(0), "~{" + sizeOf(body) + "+}\r\n"),
             printable(imap.transcript(0)));
}

BOOST_AUTO_TEST_CASE(testNulBytesWithoutBinaryAreRefusedHonestly) {
  const std::string nul =
      std::string("Message-ID: <nul@example.test>\r\nSubject: nul\r\n\r\nbefore") + '\0' +
      "after\r\n";
  const std::string m2 = mail(2);
  ScriptedServer pop({popLogin()
                          .then(popListingOf({nul, m2}))
                          .then(popRetr(1, nul))
                          .then(popRetr(2, m2))
                          .then(popDele(2))
                          .then(popQuit())});
  ScriptedServer imap(
      {imapLoggedIn("IMAP4rev1 LITERAL+ UIDPLUS").then(imapAppendPlus()).then(imapLogout())});
  auto rig = popRig(pop);
  useImap(*rig, imap);
  const Outcome out = runPass(rig);
  checkPass(*rig, out,
            {.uploaded = 1,
             .deleted = 1,
             .rejected = 1,
             .delivered = {m2},
             .not_delivered = {"before"},
             .dele = {"DELE 2"},
             .landed = {"m2"},
             .problems = {"contains NUL bytes", "does not offer BINARY"}},
            {.pop = {&pop}, .imap = {&imap}});
  BOOST_TEST((ledgerState(*rig, "m1") == LedgerState::Rejected));
  BOOST_TEST(occurrences(imap, 0, " APPEND ") == 1u);
}
// =============================================================================================
// IMAP side (POP3 side = FakeMaildrop)

BOOST_AUTO_TEST_CASE(testImapByeGreetingFailsThePass) {
  ScriptedServer imap({Script{}.send("* BYE Too many connections from your IP\r\n").expectEof()});
  auto rig = imapRig(imap, {{"m1", mail(1)}});
  checkPass(*rig, runPass(rig),
            {.kind = ErrorKind::Transient,
             .message = "refused the session",
             .server = "* BYE Too many connections from your IP",
             .kept = {"m1"}},
            {.imap = {&imap}});
  BOOST_TEST(!imap.received(0, "LOGIN"));
}

BOOST_AUTO_TEST_CASE(testImapErrGreetingIsAProtocolError) {
  // A POP3 server on the IMAP port.
  ScriptedServer imap({Script{}.send("-ERR this is a POP3 server\r\n").expectEof()});
  auto rig = imapRig(imap, {{"m1", mail(1)}});
  checkPass(
      *rig, runPass(rig),
      {.kind = ErrorKind::Protocol, .message = "cannot understand the greeting", .kept = {"m1"}},
      {.imap = {&imap}});
  BOOST_TEST(!imap.received(0, "LOGIN"));
}

// An administrator who points the target at a POP3 port must see what the server said: protocol
// errors quote the server's line.
BOOST_AUTO_TEST_CASE(testImapProtocolErrorQuotesTheServer) {
  ScriptedServer imap({Script{}.send("-ERR this is a POP3 server\r\n").expectEof()});
  auto rig = imapRig(imap, {{"m1", mail(1)}});
  checkPass(*rig, runPass(rig),
            {.kind = ErrorKind::Protocol,
             .message = "cannot understand the greeting",
             .server = "-ERR this is a POP3 server",
             .kept = {"m1"}},
            {.imap = {&imap}});
}

BOOST_AUTO_TEST_CASE(testNoInsteadOfContinuationSendsNoLiteral) {
  // The server refuses the first APPEND instead of saying "+": its literal must not follow (it
  // would be read as commands). The message is quarantined; the next one is delivered.
  const std::string m1 = mail(1), m2 = mail(2);
  ScriptedServer imap({imapLoggedIn("IMAP4rev1 UIDPLUS")
                           .expectCommand("APPEND")
                           .sendTagged("NO Message refused: content policy\r\n")
                           .then(imapAppendSync())
                           .then(imapLogout())});
  auto rig = imapRig(imap, {{"m1", m1}, {"m2", m2}});
  const Outcome out = runPass(rig);
  checkPass(*rig, out,
            {.uploaded = 1,
             .deleted = 1,
             .rejected = 1,
             .delivered = {m2},
             .not_delivered = {m1},
             .kept = {"m1"},
             .landed = {"m2"},
             .problems = {"NO Message refused: content policy"}},
            {.imap = {&imap}});
  BOOST_TEST((ledgerState(*rig, "m1") == LedgerState::Rejected));
  BOOST_TEST(has(out.status, "Message refused: content policy"), out.status);
}

BOOST_AUTO_TEST_CASE(testByeMidLiteralFailsTheLaterPassResumes) {
  std::string m1 = mail(1);
  m1 += std::string(50000, 'z') + "\r\n";
  ScriptedServer imap({imapLoggedIn("IMAP4rev1 UIDPLUS")
                           .expectCommand("APPEND")
                           .send("+ go ahead\r\n")
                           .readLiteral(100)
                           .send("* BYE Server shutting down\r\n")
                           .close()});
  auto rig = imapRig(imap, {{"m1", m1}});
  checkPass(*rig, runPass(rig),
            {.kind = ErrorKind::Transient,
             .message = "ended the session",
             .server = "* BYE Server shutting down",
             .kept = {"m1"}},
            {.imap = {&imap}});
  BOOST_TEST((ledgerState(*rig, "m1") == LedgerState::InFlight));
}

BOOST_AUTO_TEST_CASE(testOkWithoutAppendUidIsDelivered) {
  const std::string m1 = mail(1);
  ScriptedServer imap({imapLoggedIn("IMAP4rev1 LITERAL+")
                           .then(imapAppendPlus("OK Append completed\r\n"))
                           .then(imapLogout())});
  auto rig = imapRig(imap, {{"m1", m1}});
  checkPass(*rig, runPass(rig), {.uploaded = 1, .deleted = 1, .delivered = {m1}, .landed = {"m1"}},
            {.imap = {&imap}});
  const auto rows = rig->ledger.load(kAccount);
  BOOST_REQUIRE(rows.count("m1") == 1u);
  BOOST_TEST(rows.at("m1").uid == 0u);
  BOOST_TEST(rows.at("m1").uidvalidity == 0u);
}

BOOST_AUTO_TEST_CASE(testResetMidLiteralIsResentExactlyOnceNextPass) {
  const std::string m1 = mail(1);
  ScriptedServer imap({imapLoggedIn("IMAP4rev1 UIDPLUS")
                           .expectCommand("APPEND")
                           .send("+ go ahead\r\n")
                           .readLiteral(10)
                           .reset(),
                       // Next pass: the message was in flight, so the client looks first.
                       imapLoggedIn("IMAP4rev1 UIDPLUS")
                           .expectCommand("EXAMINE")
                           .sendTagged("OK [READ-ONLY] Examine completed\r\n")
                           .expectCommand("UID SEARCH")
                           .send("* SEARCH\r\n")
                           .sendTagged("OK Search completed\r\n")
                           // The EXAMINEd folder is left before the APPEND (Courier refuses one
                           // to a mailbox selected read-only).
                           .expectCommand("CLOSE")
                           .sendTagged("OK Close completed\r\n")
                           .then(imapAppendSync())
                           .then(imapLogout())});
  auto rig = imapRig(imap, {{"m1", m1}});
  const Outcome first = runPass(rig);
  BOOST_REQUIRE(first.finished);
  BOOST_TEST(first.result.error.has_value());
  if (first.result.error) BOOST_TEST(first.result.error->kind() == ErrorKind::Transient);
  BOOST_TEST(rig->drop.messages.size() == 1u, "deleted after a failed upload");
  BOOST_TEST((ledgerState(*rig, "m1") == LedgerState::InFlight));
  BOOST_TEST(first.last_error.value_or("").starts_with(kAccount + ": "), first.status);
  checkNoSecret("the log", first.log);

  checkPass(*rig, runPass(rig), {.uploaded = 1, .deleted = 1, .delivered = {m1}, .landed = {"m1"}},
            {.imap = {&imap}});
  BOOST_TEST(occurrences(imap, 1, " APPEND ") == 1u);
  BOOST_TEST(occurrences(imap, 1, m1) == 1u);
  const std::string looked = "UID SEARCH HEADER Message-ID <hostile-1@example.test>\r\n";
  BOOST_TEST(imap.received(1, looked), printable(imap.transcript(1)));
}

BOOST_AUTO_TEST_CASE(testResetAfterTheLiteralIsRecoveredWithoutDuplicate) {
  // The server stored the message, then the connection died before its OK: the next pass finds
  // it by Message-ID, proves it by its content, and appends nothing.
  const std::string m1 = mail(1);
  ScriptedServer imap({imapLoggedIn("IMAP4rev1 UIDPLUS")
                           .expectCommand("APPEND")
                           .send("+ go ahead\r\n")
                           .readAnnouncedLiteral()
                           .expect("")
                           .reset(),
                       imapLoggedIn("IMAP4rev1 UIDPLUS")
                           .expectCommand("EXAMINE")
                           .sendTagged("OK [READ-ONLY] Examine completed\r\n")
                           .expectCommand("UID SEARCH")
                           .send("* SEARCH 41\r\n")
                           .sendTagged("OK Search completed\r\n")
                           .expectCommand("UID FETCH")
                           .send("* 1 FETCH (UID 41 BODY[]<0> {" + std::to_string(m1.size()) +
                                 "}\r\n" + m1 + ")\r\n")
                           .sendTagged("OK Fetch completed\r\n")
                           .then(imapLogout())});
  auto rig = imapRig(imap, {{"m1", m1}});
  const Outcome first = runPass(rig);
  BOOST_REQUIRE(first.finished);
  BOOST_TEST(first.result.error.has_value());
  BOOST_TEST(rig->drop.messages.size() == 1u);

  checkPass(*rig, runPass(rig), {.recovered = 1, .deleted = 1, .delivered = {m1}, .landed = {"m1"}},
            {.imap = {&imap}});
  BOOST_TEST(occurrences(imap, 0, " APPEND ") + occurrences(imap, 1, " APPEND ") == 1u);
}

BOOST_AUTO_TEST_CASE(testOverQuotaFailsThePassAndDeletesNothing) {
  const std::string m1 = mail(1), m2 = mail(2);
  const std::string full = "NO [OVERQUOTA] Quota exceeded (mailbox for user is full)";
  ScriptedServer imap({imapLoggedIn("IMAP4rev1 UIDPLUS")
                           .expectCommand("APPEND")
                           .sendTagged(full + "\r\n")
                           .expectCommand("APPEND")
                           .sendTagged(full + "\r\n")
                           .then(imapLogout())});
  auto rig = imapRig(imap, {{"m1", m1}, {"m2", m2}});
  checkPass(*rig, runPass(rig),
            {.kind = ErrorKind::OverQuota,
             .message = "the target refused to store messages in \"INBOX\"",
             .server = full,
             .not_delivered = {m1, m2},
             .kept = {"m1", "m2"}},
            {.imap = {&imap}});
  BOOST_TEST(rig->ledger.load(kAccount).empty(), "a refused APPEND left a ledger row");
}

// [TRYCREATE] after a CREATE that succeeded: the APPEND is retried a bounded number of times
// (after the first, each retry looks for the message first: the folder exists, so the server may
// have stored it; here it cannot even be examined), then the pass fails with the server's words
// (never an endless loop, never a quarantine).
BOOST_AUTO_TEST_CASE(testTryCreateForeverIsAMailboxProblem) {
  const std::string m1 = mail(1);
  Script script = imapLoggedIn("IMAP4rev1 UIDPLUS");
  script.expectCommand("APPEND")
      .sendTagged("NO [TRYCREATE] Mailbox doesn't exist: Archive\r\n")
      .expectCommand("CREATE")
      .sendTagged("OK Create completed\r\n");
  for (int round = 1; round <= imap::ImapClient::kTryCreateRounds; ++round) {
    if (round > 1) {
      script.expectCommand("EXAMINE").sendTagged("NO [NONEXISTENT] Mailbox doesn't exist: Archive\r\n");
    }
    script.expectCommand("APPEND").sendTagged("NO [TRYCREATE] Mailbox doesn't exist: Archive\r\n");
  }
  ScriptedServer imap({script.then(imapLogout())});
  auto rig = imapRig(imap, {{"m1", m1}});
  rig->account.folder = "Archive";
  checkPass(*rig, runPass(rig),
            {.kind = ErrorKind::MailboxProblem,
             .message = "\"Archive\"",
             .server = "NO [TRYCREATE] Mailbox doesn't exist: Archive",
             .not_delivered = {m1},
             .kept = {"m1"}},
            {.imap = {&imap}});
}

BOOST_AUTO_TEST_CASE(testUntaggedNoiseEverywhereIsSkipped) {
  // Untagged responses before every answer, one with a literal that holds a fake tagged reply.
  const std::string m1 = mail(1);
  const std::string caps = "IMAP4rev1 LITERAL+ UIDPLUS";
  ScriptedServer imap({test::imapGreeting(caps)
                           .expectCommand("LOGIN")
                           .send("* 5 EXISTS\r\n* OK [ALERT] System shutdown in 10 minutes\r\n"
                                 "* CAPABILITY IMAP4rev1\r\n")
                           .sendTagged("OK [CAPABILITY " + caps + "] Logged in\r\n")
                           .expectCommand("LIST")
                           .send("* 1 FETCH (FLAGS (\\Seen) BODY[] {10}\r\nA0002 NO\r\n)\r\n"
                                 "* LIST (\\Noselect) \"/\" \"\"\r\n* 2 EXPUNGE\r\n")
                           .sendTagged("OK List completed\r\n")
                           .expectCommand("APPEND")
                           .readAnnouncedLiteral()
                           .expect("")
                           .send("* 6 EXISTS\r\n* 3 RECENT\r\n"
                                 "* 2 FETCH (BODY[HEADER] {13}\r\nA0003 BAD x\r\n)\r\n"
                                 "* NO [ALERT] disk almost full\r\n* BAD noise\r\n"
                                 "* OK [UNSEEN 3] still here\r\n")
                           .sendTagged("OK [APPENDUID 9 5] Append completed\r\n")
                           .then(imapLogout())});
  auto rig = imapRig(imap, {{"m1", m1}});
  checkPass(*rig, runPass(rig), {.uploaded = 1, .deleted = 1, .delivered = {m1}, .landed = {"m1"}},
            {.imap = {&imap}});
  const auto rows = rig->ledger.load(kAccount);
  BOOST_REQUIRE(rows.count("m1") == 1u);
  BOOST_TEST(rows.at("m1").uid == 5u);
}

BOOST_AUTO_TEST_CASE(testOverlongImapResponseIsAProtocolError) {
  ScriptedServer imap({imapLoggedIn("IMAP4rev1 LITERAL+ UIDPLUS")
                           .expectCommand("APPEND")
                           .readAnnouncedLiteral()
                           .expect("")
                           .send("* OK " + std::string(70000, 'x') + "\r\n")
                           .expectEof()});
  auto rig = imapRig(imap, {{"m1", mail(1)}});
  checkPass(*rig, runPass(rig),
            {.kind = ErrorKind::Protocol,
             .message = "cannot understand the APPEND reply",
             .kept = {"m1"}},
            {.imap = {&imap}});
  BOOST_TEST((ledgerState(*rig, "m1") == LedgerState::InFlight));
}

BOOST_AUTO_TEST_CASE(testHugeLiteralInAnUntaggedResponseIsAProtocolError) {
  // 100 MB announced (over the 64 MiB limit): refused at the announcement, nothing buffered.
  ScriptedServer imap({imapLoggedIn("IMAP4rev1 LITERAL+ UIDPLUS")
                           .expectCommand("APPEND")
                           .readAnnouncedLiteral()
                           .expect("")
                           .send("* 1 FETCH (BODY[] {100000000}\r\n" + std::string(1000, 'a'))
                           .expectEof()});
  auto rig = imapRig(imap, {{"m1", mail(1)}});
  checkPass(*rig, runPass(rig),
            {.kind = ErrorKind::Protocol,
             .message = "cannot understand the APPEND reply",
             .kept = {"m1"}},
            {.imap = {&imap}});
}
