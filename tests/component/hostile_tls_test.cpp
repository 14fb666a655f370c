// TLS, STARTTLS and where credentials may travel, on both sides of a whole pass (PollJob over the
// real Pop3Source and/or ImapSink against scripted servers): STLS/STARTTLS not offered or refused,
// plaintext injected after their OK, PREAUTH under starttls, certificates for another host or
// self-signed (also behind a slow handshake), handshakes cut by the network (transient, not a
// security failure), and credentials that go only after the handshake, in clear only with
// tls: none. These are the rules of docs/protocol-notes.md "STARTTLS rules"; each case also keeps
// the promises of checkPass() (tests/support/HostileRig.h).
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>

#include "connectors/common/Error.h"
#include "connectors/common/Printable.h"
#include "gateway/service/PassRunner.h"
#include "tests/support/HostileRig.h"
#include "tests/support/PassScripts.h"
#include "tests/support/ScriptedServer.h"
#include "tests/support/TestCerts.h"

using namespace std::chrono_literals;
using namespace popgate;
using namespace popgate::test;

namespace {

// True when no client line before `upgrade` (the STLS/STARTTLS command) in transcript `i`
// carries a credential: everything before the handshake is what went in clear.
bool credentialsOnlyAfter(const ScriptedServer& srv, std::size_t i, std::string_view upgrade) {
  const std::string t = srv.transcript(i);
  const std::size_t at = t.find(upgrade);
  if (at == std::string::npos) return false;
  const std::string clear = t.substr(0, at);
  return !has(clear, "USER") && !has(clear, "PASS") && !has(clear, "AUTH") &&
         !has(clear, "LOGIN") && !has(clear, "AUTHENTICATE") && !has(clear, kPopPassword) &&
         !has(clear, kImapPassword);
}

}  // namespace

// =============================================================================================
// STARTTLS injection, POP3 side (target = FakeTarget)

BOOST_AUTO_TEST_CASE(testStlsInjectionInTheSamePacketIsDiscarded) {
  // A man in the middle appends a forged CAPA answer (offering SASL PLAIN) to the plaintext OK.
  // Acted upon, the client would answer the TLS-side CAPA with AUTH PLAIN and break the script.
  const std::string m1 = mail(1);
  ScriptedServer pop({test::pop3Greeting()
                          .then(test::pop3Capa({"STLS", "USER", "UIDL"}))
                          .expect("STLS")
                          .send("+OK Begin TLS\r\n+OK\r\nSASL PLAIN\r\nUSER\r\n.\r\n")
                          .tls(TestCerts::localhost())
                          .then(test::pop3Capa({"USER", "UIDL"}))
                          .expect("USER " + kPopUser)
                          .send("+OK\r\n")
                          .expect("PASS ")
                          .send("+OK\r\n")
                          .then(popListingOf({m1}))
                          .then(popRetr(1, m1))
                          .then(popDele(1))
                          .then(popQuit())});
  auto rig = popRig(pop, TlsMode::StartTls);
  checkPass(*rig, runPass(rig),
            {.uploaded = 1, .deleted = 1, .delivered = {m1}, .dele = {"DELE 1"}, .landed = {"m1"}},
            {.pop = {&pop}});
  BOOST_TEST(credentialsOnlyAfter(pop, 0, "STLS\r\n"), printable(pop.transcript(0)));
}

BOOST_AUTO_TEST_CASE(testStlsInjectionInALaterPacketFailsTheHandshake) {
  // The forged bytes arrive after the client has started its handshake: they are not TLS, so
  // the handshake fails; nothing is read as a POP3 answer and no credential is sent.
  ScriptedServer pop({test::pop3Greeting()
                          .then(test::pop3Capa({"STLS", "USER", "UIDL"}))
                          .expect("STLS")
                          .send("+OK Begin TLS\r\n")
                          .stall(500ms)
                          .send("+OK\r\nSASL PLAIN\r\nUSER\r\n.\r\n")
                          .tls(TestCerts::localhost())});
  auto rig = popRig(pop, TlsMode::StartTls);
  checkPass(*rig, runPass(rig), {.kind = ErrorKind::Security, .message = "TLS handshake"},
            {.pop = {&pop}});
  BOOST_TEST(credentialsOnlyAfter(pop, 0, "STLS\r\n"), printable(pop.transcript(0)));
  BOOST_TEST(!pop.received(0, "USER"));
}

// =============================================================================================
// TLS and STARTTLS, both protocols

BOOST_AUTO_TEST_CASE(testStlsNotOfferedFailsBeforeCredentials) {
  ScriptedServer pop({test::pop3Greeting().then(test::pop3Capa({"USER", "UIDL"})).expectEof()});
  auto rig = popRig(pop, TlsMode::StartTls);
  checkPass(*rig, runPass(rig), {.kind = ErrorKind::Security, .message = "does not offer STLS"},
            {.pop = {&pop}});
  BOOST_TEST(pop.transcript(0) == "CAPA\r\n");
}

BOOST_AUTO_TEST_CASE(testStlsRefusedFailsBeforeCredentials) {
  ScriptedServer pop({test::pop3Greeting()
                          .then(test::pop3Capa({"STLS", "USER", "UIDL"}))
                          .expect("STLS")
                          .send("-ERR TLS not available right now\r\n")
                          .expectEof()});
  auto rig = popRig(pop, TlsMode::StartTls);
  checkPass(*rig, runPass(rig),
            {.kind = ErrorKind::Security,
             .message = "refused STLS",
             .server = "-ERR TLS not available right now"},
            {.pop = {&pop}});
  BOOST_TEST(pop.transcript(0) == "CAPA\r\nSTLS\r\n");
}

BOOST_AUTO_TEST_CASE(testStartTlsNotOfferedFailsBeforeCredentials) {
  ScriptedServer imap({test::imapGreeting("IMAP4rev1 LITERAL+ AUTH=PLAIN").expectEof()});
  auto rig = imapRig(imap, {{"m1", mail(1)}}, TlsMode::StartTls);
  checkPass(*rig, runPass(rig),
            {.kind = ErrorKind::Security, .message = "does not offer STARTTLS", .kept = {"m1"}},
            {.imap = {&imap}});
  BOOST_TEST(imap.transcript(0).empty(), printable(imap.transcript(0)));
}

BOOST_AUTO_TEST_CASE(testStartTlsRefusedFailsBeforeCredentials) {
  ScriptedServer imap({test::imapGreeting("IMAP4rev1 STARTTLS")
                           .expectCommand("STARTTLS")
                           .sendTagged("NO STARTTLS unavailable\r\n")
                           .expectEof()});
  auto rig = imapRig(imap, {{"m1", mail(1)}}, TlsMode::StartTls);
  checkPass(*rig, runPass(rig),
            {.kind = ErrorKind::Security,
             .message = "refused STARTTLS",
             .server = "NO STARTTLS unavailable",
             .kept = {"m1"}},
            {.imap = {&imap}});
  BOOST_TEST(!imap.received(0, "LOGIN"));
  BOOST_TEST(!imap.received(0, "AUTHENTICATE"));
}

BOOST_AUTO_TEST_CASE(testStartTlsInjectionInTheSamePacketIsDiscarded) {
  // Forged capabilities and a forged answer to the client's next command ride on the OK. Acted
  // upon, the client would log in with AUTHENTICATE PLAIN and break the script.
  const std::string m1 = mail(1);
  const std::string caps = "IMAP4rev1 LITERAL+ UIDPLUS";
  ScriptedServer imap({test::imapGreeting("IMAP4rev1 STARTTLS LOGINDISABLED")
                           .expectCommand("STARTTLS")
                           .sendTagged("OK Begin TLS negotiation now\r\n"
                                       "* CAPABILITY IMAP4rev1 AUTH=PLAIN SASL-IR\r\n"
                                       "A0002 OK injected\r\n")
                           .tls(TestCerts::localhost())
                           .then(test::imapCapability(caps))
                           .expectCommand("LOGIN")
                           .sendTagged("OK [CAPABILITY " + caps + "] Logged in\r\n")
                           .then(imapDelimiter())
                           .then(imapAppendPlus())
                           .then(imapLogout())});
  auto rig = imapRig(imap, {{"m1", m1}}, TlsMode::StartTls);
  checkPass(*rig, runPass(rig), {.uploaded = 1, .deleted = 1, .delivered = {m1}, .landed = {"m1"}},
            {.imap = {&imap}});
  BOOST_TEST(credentialsOnlyAfter(imap, 0, "STARTTLS\r\n"), printable(imap.transcript(0)));
}

BOOST_AUTO_TEST_CASE(testStartTlsInjectionInALaterPacketFailsTheHandshake) {
  ScriptedServer imap({test::imapGreeting("IMAP4rev1 STARTTLS LOGINDISABLED")
                           .expectCommand("STARTTLS")
                           .sendTagged("OK Begin TLS negotiation now\r\n")
                           .stall(500ms)
                           .send("* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\nA0002 OK injected\r\n")
                           .tls(TestCerts::localhost())});
  auto rig = imapRig(imap, {{"m1", mail(1)}}, TlsMode::StartTls);
  checkPass(*rig, runPass(rig),
            {.kind = ErrorKind::Security, .message = "TLS handshake", .kept = {"m1"}},
            {.imap = {&imap}});
  BOOST_TEST(credentialsOnlyAfter(imap, 0, "STARTTLS\r\n"), printable(imap.transcript(0)));
  BOOST_TEST(!imap.received(0, "LOGIN"));
}

BOOST_AUTO_TEST_CASE(testPreauthGreetingWithStartTlsFails) {
  ScriptedServer imap({Script{}
                           .send("* PREAUTH [CAPABILITY IMAP4rev1 STARTTLS] you are logged in\r\n")
                           .expectEof()});
  auto rig = imapRig(imap, {{"m1", mail(1)}}, TlsMode::StartTls);
  checkPass(*rig, runPass(rig), {.kind = ErrorKind::Security, .message = "PREAUTH", .kept = {"m1"}},
            {.imap = {&imap}});
  BOOST_TEST(imap.transcript(0).empty(), printable(imap.transcript(0)));
}

BOOST_AUTO_TEST_CASE(testPop3sCertificateForAnotherHostIsRefused) {
  ScriptedServer pop({Script{}.tls(TestCerts::otherHost())});
  auto rig = popRig(pop, TlsMode::Implicit);
  checkPass(*rig, runPass(rig), {.kind = ErrorKind::Security, .message = "TLS handshake"},
            {.pop = {&pop}});
  BOOST_TEST(pop.transcript(0).empty());
}

BOOST_AUTO_TEST_CASE(testPop3sSlowHandshakeDoesNotBypassTheHostNameCheck) {
  // docs/protocol-notes.md: a handshake slower than Poco's receive slice once skipped the name check.
  ScriptedServer pop({Script{}.stallHandshake(1500ms).tls(TestCerts::otherHost())});
  auto rig = popRig(pop, TlsMode::Implicit);
  rig->account.server.timeout = 4s;
  checkPass(*rig, runPass(rig), {.kind = ErrorKind::Security, .message = "TLS handshake"},
            {.pop = {&pop}});
  BOOST_TEST(pop.transcript(0).empty());
}

// A handshake cut by the network (a reset, or the server closing after the ClientHello) says
// nothing about the server's identity: a transient failure with normal backoff, not a TLS
// (security) failure that backs off like a wrong password.
BOOST_AUTO_TEST_CASE(testPop3sHandshakeCutByResetIsTransient) {
  ScriptedServer pop({Script{}.stallHandshake(100ms).reset()});
  auto rig = popRig(pop, TlsMode::Implicit);
  checkPass(*rig, runPass(rig), {.kind = ErrorKind::Transient, .message = "TLS handshake"},
            {.pop = {&pop}});
}

BOOST_AUTO_TEST_CASE(testPop3sHandshakeCutByCloseIsTransient) {
  ScriptedServer pop({Script{}.stallHandshake(100ms).close()});
  auto rig = popRig(pop, TlsMode::Implicit);
  checkPass(*rig, runPass(rig), {.kind = ErrorKind::Transient, .message = "TLS handshake"},
            {.pop = {&pop}});
}

BOOST_AUTO_TEST_CASE(testImapStartTlsHandshakeCutByResetIsTransient) {
  ScriptedServer imap({test::imapGreeting("IMAP4rev1 STARTTLS")
                           .expectCommand("STARTTLS")
                           .sendTagged("OK Begin TLS negotiation now\r\n")
                           .stallHandshake(100ms)
                           .reset()});
  auto rig = imapRig(imap, {{"m1", mail(1)}}, TlsMode::StartTls);
  checkPass(*rig, runPass(rig),
            {.kind = ErrorKind::Transient, .message = "TLS handshake", .kept = {"m1"}},
            {.imap = {&imap}});
}

BOOST_AUTO_TEST_CASE(testStlsCertificateForAnotherHostIsRefusedBeforeCredentials) {
  ScriptedServer pop({test::pop3Greeting()
                          .then(test::pop3Capa({"STLS", "USER", "UIDL"}))
                          .then(test::pop3Stls(TestCerts::otherHost()))});
  auto rig = popRig(pop, TlsMode::StartTls);
  checkPass(*rig, runPass(rig), {.kind = ErrorKind::Security, .message = "TLS handshake"},
            {.pop = {&pop}});
  BOOST_TEST(pop.transcript(0) == "CAPA\r\nSTLS\r\n");
}

BOOST_AUTO_TEST_CASE(testStlsSlowHandshakeWithAnotherHostsCertificateIsRefused) {
  ScriptedServer pop({test::pop3Greeting()
                          .then(test::pop3Capa({"STLS", "USER", "UIDL"}))
                          .expect("STLS")
                          .send("+OK Begin TLS negotiation\r\n")
                          .stallHandshake(1500ms)
                          .tls(TestCerts::otherHost())});
  auto rig = popRig(pop, TlsMode::StartTls);
  rig->account.server.timeout = 4s;
  checkPass(*rig, runPass(rig), {.kind = ErrorKind::Security, .message = "TLS handshake"},
            {.pop = {&pop}});
  BOOST_TEST(pop.transcript(0) == "CAPA\r\nSTLS\r\n");
}

BOOST_AUTO_TEST_CASE(testImapsCertificateForAnotherHostIsRefused) {
  ScriptedServer imap({Script{}.tls(TestCerts::otherHost())});
  auto rig = imapRig(imap, {{"m1", mail(1)}}, TlsMode::Implicit);
  checkPass(*rig, runPass(rig),
            {.kind = ErrorKind::Security, .message = "TLS handshake", .kept = {"m1"}},
            {.imap = {&imap}});
  BOOST_TEST(imap.transcript(0).empty());
}

BOOST_AUTO_TEST_CASE(testImapsSlowHandshakeDoesNotBypassTheHostNameCheck) {
  ScriptedServer imap({Script{}.stallHandshake(1500ms).tls(TestCerts::otherHost())});
  auto rig = imapRig(imap, {{"m1", mail(1)}}, TlsMode::Implicit);
  rig->target->server.timeout = 4s;
  rig->pool = gateway::makeImapPool(*rig->target);
  checkPass(*rig, runPass(rig),
            {.kind = ErrorKind::Security, .message = "TLS handshake", .kept = {"m1"}},
            {.imap = {&imap}});
  BOOST_TEST(imap.transcript(0).empty());
}

BOOST_AUTO_TEST_CASE(testImapStartTlsCertificateForAnotherHostIsRefusedBeforeLogin) {
  ScriptedServer imap(
      {test::imapGreeting("IMAP4rev1 STARTTLS").then(test::imapStartTls(TestCerts::otherHost()))});
  auto rig = imapRig(imap, {{"m1", mail(1)}}, TlsMode::StartTls);
  checkPass(*rig, runPass(rig),
            {.kind = ErrorKind::Security, .message = "TLS handshake", .kept = {"m1"}},
            {.imap = {&imap}});
  BOOST_TEST(!imap.received(0, "LOGIN"));
  BOOST_TEST(credentialsOnlyAfter(imap, 0, "STARTTLS\r\n"), printable(imap.transcript(0)));
}

BOOST_AUTO_TEST_CASE(testSelfSignedCertificateWithoutCaFileIsRefused) {
  ScriptedServer pop({Script{}.tls(TestCerts::selfSigned())});
  auto rig = popRig(pop, TlsMode::Implicit);
  rig->account.server.ca_file.reset();
  checkPass(*rig, runPass(rig), {.kind = ErrorKind::Security, .message = "TLS handshake"},
            {.pop = {&pop}});

  ScriptedServer imap({Script{}.tls(TestCerts::selfSigned())});
  auto target = imapRig(imap, {{"m1", mail(1)}}, TlsMode::Implicit);
  target->target->server.ca_file.reset();
  target->pool = gateway::makeImapPool(*target->target);
  checkPass(*target, runPass(target),
            {.kind = ErrorKind::Security, .message = "TLS handshake", .kept = {"m1"}},
            {.imap = {&imap}});
}

BOOST_AUTO_TEST_CASE(testStartTlsBothSidesCredentialsOnlyAfterTheHandshake) {
  const std::string m1 = mail(1);
  ScriptedServer pop({test::pop3Greeting()
                          .then(test::pop3Capa({"STLS", "USER", "UIDL", "SASL PLAIN"}))
                          .then(test::pop3Stls(TestCerts::localhost()))
                          .then(test::pop3Capa({"USER", "UIDL"}))
                          .expect("USER " + kPopUser)
                          .send("+OK\r\n")
                          .expect("PASS ")
                          .send("+OK\r\n")
                          .then(popListingOf({m1}))
                          .then(popRetr(1, m1))
                          .then(popDele(1))
                          .then(popQuit())});
  const std::string caps = "IMAP4rev1 LITERAL+ UIDPLUS";
  ScriptedServer imap({test::imapGreeting("IMAP4rev1 STARTTLS LOGINDISABLED")
                           .then(test::imapStartTls(TestCerts::localhost()))
                           .then(test::imapCapability(caps))
                           .expectCommand("LOGIN")
                           .sendTagged("OK [CAPABILITY " + caps + "] Logged in\r\n")
                           .then(imapDelimiter())
                           .then(imapAppendPlus())
                           .then(imapLogout())});
  auto rig = popRig(pop, TlsMode::StartTls);
  useImap(*rig, imap, TlsMode::StartTls);
  checkPass(*rig, runPass(rig),
            {.uploaded = 1, .deleted = 1, .delivered = {m1}, .dele = {"DELE 1"}, .landed = {"m1"}},
            {.pop = {&pop}, .imap = {&imap}});
  BOOST_TEST(credentialsOnlyAfter(pop, 0, "STLS\r\n"), printable(pop.transcript(0)));
  BOOST_TEST(credentialsOnlyAfter(imap, 0, "STARTTLS\r\n"), printable(imap.transcript(0)));
  BOOST_TEST(pop.received(0, "PASS " + kPopPassword));  // it did go, over TLS
  BOOST_TEST(imap.received(0, "LOGIN me " + kImapPassword));
}

BOOST_AUTO_TEST_CASE(testImplicitTlsBothSidesHandshakeBeforeAnyByte) {
  const std::string m1 = mail(1);
  ScriptedServer pop({Script{}
                          .tls(TestCerts::localhost())
                          .then(popLogin())
                          .then(popListingOf({m1}))
                          .then(popRetr(1, m1))
                          .then(popDele(1))
                          .then(popQuit())});
  ScriptedServer imap({Script{}
                           .tls(TestCerts::localhost())
                           .then(imapLoggedIn("IMAP4rev1 LITERAL+ UIDPLUS"))
                           .then(imapAppendPlus())
                           .then(imapLogout())});
  auto rig = popRig(pop, TlsMode::Implicit);
  useImap(*rig, imap, TlsMode::Implicit);
  checkPass(*rig, runPass(rig),
            {.uploaded = 1, .deleted = 1, .delivered = {m1}, .dele = {"DELE 1"}, .landed = {"m1"}},
            {.pop = {&pop}, .imap = {&imap}});
  for (const ScriptedServer* srv : {&pop, &imap}) {
    const auto events = srv->events(0);
    BOOST_REQUIRE(events.size() >= 2u);
    BOOST_TEST(events[1] == "TLS handshake done", show(events));
  }
}

BOOST_AUTO_TEST_CASE(testPlaintextCredentialsOnlyWithTlsNone) {
  // tls: none is the one configuration in which the password crosses the wire readable.
  const std::string m1 = mail(1);
  ScriptedServer pop(
      {popLogin().then(popListingOf({m1})).then(popRetr(1, m1)).then(popDele(1)).then(popQuit())});
  ScriptedServer imap(
      {imapLoggedIn("IMAP4rev1 LITERAL+ UIDPLUS").then(imapAppendPlus()).then(imapLogout())});
  auto rig = popRig(pop, TlsMode::None);
  useImap(*rig, imap, TlsMode::None);
  checkPass(*rig, runPass(rig),
            {.uploaded = 1, .deleted = 1, .delivered = {m1}, .dele = {"DELE 1"}, .landed = {"m1"}},
            {.pop = {&pop}, .imap = {&imap}});
  BOOST_TEST(pop.received(0, "\r\nPASS " + kPopPassword + "\r\n"));
  BOOST_TEST(imap.received(0, " LOGIN me " + kImapPassword + "\r\n"));
  BOOST_TEST(pop.events(0).size() >= 2u);
  for (const std::string& e : pop.events(0)) BOOST_TEST(e != "TLS handshake done");
}
