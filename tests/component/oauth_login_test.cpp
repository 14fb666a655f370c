// OAuth 2.0 logins of Pop3Client and ImapClient against scripted servers that speak the providers'
// real dialogues: Microsoft's POP3 two-step AUTH XOAUTH2 (a bare "+"), Gmail's base64 JSON failure
// challenge, Microsoft's "User is authenticated but not connected", tokens over 4 KB, the
// deadline of an AUTHENTICATE that never ends, and no token without TLS.
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <string>

#include "connectors/codec/OAuthSasl.h"
#include "connectors/common/Error.h"
#include "connectors/imap/ImapClient.h"
#include "connectors/pop3/Pop3Client.h"
#include "tests/support/ClientHarness.h"
#include "tests/support/ScriptedServer.h"
#include "tests/support/TestCerts.h"

using namespace std::chrono_literals;
using popgate::test::endpoint;
using popgate::test::expectError;
using namespace popgate;
using popgate::test::imapCapability;
using popgate::test::imapGreeting;
using popgate::test::pop3Capa;
using popgate::test::pop3Greeting;
using popgate::test::Script;
using popgate::test::ScriptedServer;
using popgate::test::TestCerts;

namespace {

const std::string kToken = "EwBIA8l6BAAU-access-token.part2_x";
// Gmail's failure challenge (Google's "OAuth 2.0 Mechanism" page).
const std::string kGmailChallenge =
    "eyJzdGF0dXMiOiI0MDEiLCJzY2hlbWVzIjoiYmVhcmVyIG1hYyIsInNjb3BlIjoiaHR0cHM6Ly9tYWlsLmdvb2dsZS5jb20vIn0K";
// Microsoft's POP3 greeting and capabilities (outlook.office365.com:995).
const std::string kMicrosoftPopGreeting =
    "The Microsoft Exchange POP3 service is ready. [UABSADAAUAAyADgAQwBBADAAMAAxADAALgBuAGEAbQBwAHIAZAAyADgA]";
const std::vector<std::string> kMicrosoftPopCaps{"TOP", "UIDL", "SASL PLAIN XOAUTH2", "USER"};

pop3::Credentials popToken(pop3::AuthMethod method, std::string token = kToken) {
  pop3::Credentials c;
  c.username = "me@work.example";
  c.method = method;
  c.access_token = popgate::Secret(std::move(token));
  return c;
}

imap::Credentials imapToken(imap::AuthMethod method, std::string token = kToken) {
  imap::Credentials c;
  c.username = "me@gmail.com";
  c.method = method;
  c.access_token = popgate::Secret(std::move(token));
  return c;
}

// A predicate for exactly this line.
test::LinePredicate exactly(std::string expected) {
  return [expected = std::move(expected)](std::string_view line) { return line == expected; };
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// POP3

BOOST_AUTO_TEST_CASE(testMicrosoftPop3TwoStepXoauth2OverTls) {
  // Microsoft answers AUTH XOAUTH2 with a bare "+" and wants the token on a line of its own; a
  // token on the AUTH line itself gets "-ERR Protocol error. Connection is closed. 10", which this
  // script would send after any other first line (the expectation below fails and closes).
  const std::string response = codec::saslXoauth2("me@work.example", kToken);
  ScriptedServer srv({Script()
                          .tls(TestCerts::localhost())
                          .then(pop3Greeting(kMicrosoftPopGreeting))
                          .then(pop3Capa(kMicrosoftPopCaps))
                          .expectLine("AUTH XOAUTH2 (alone)", exactly("AUTH XOAUTH2"))
                          .send("+\r\n")
                          .expectLine("the token line", exactly(response))
                          .send("+OK User successfully authenticated.\r\n")
                          .expect("QUIT").send("+OK Microsoft Exchange Server POP3 server signing off.\r\n")
                          .expectEof()});
  const net::Endpoint e = endpoint(srv, TlsMode::Implicit);
  pop3::Pop3Client client(net::openTransport(e), e);
  client.login(popToken(pop3::AuthMethod::XOAuth2));
  BOOST_TEST(client.quit());
  BOOST_TEST(srv.wait());
  BOOST_TEST(srv.failures().empty(), srv.report());
}

BOOST_AUTO_TEST_CASE(testPop3OauthBearerPromptWithTrailingSpace) {
  const ScriptedServer* self = nullptr;
  ScriptedServer srv({pop3Greeting()
                          .then(pop3Capa({"UIDL", "SASL OAUTHBEARER XOAUTH2"}))
                          .expectLine("AUTH OAUTHBEARER (alone)", exactly("AUTH OAUTHBEARER"))
                          .send("+ \r\n")
                          .expectLine("the token line", [&](std::string_view line) {
                            // host and port are the endpoint's (RFC 7628 §3.1)
                            return self != nullptr &&
                                   line == codec::saslOauthBearer("me@work.example", kToken,
                                                                  "localhost", self->port());
                          })
                          .send("+OK Logged in.\r\n")
                          .expectEof()});
  self = &srv;
  const net::Endpoint e = endpoint(srv);
  {
    pop3::Pop3Client client(net::openTransport(e), e);
    client.login(popToken(pop3::AuthMethod::OAuthBearer));
  }
  BOOST_TEST(srv.wait());
  BOOST_TEST(srv.failures().empty(), srv.report());
}

BOOST_AUTO_TEST_CASE(testPop3TokenOver4KbTravelsWhole) {
  // Microsoft's JWT access tokens have passed 4,096 characters: no line limit may cut them.
  const std::string token(6000, 'J');
  const std::string response = codec::saslXoauth2("me@work.example", token);
  BOOST_TEST(response.size() > 8000u);
  ScriptedServer srv({pop3Greeting()
                          .then(pop3Capa(kMicrosoftPopCaps))
                          .expectLine("AUTH XOAUTH2 (alone)", exactly("AUTH XOAUTH2"))
                          .send("+\r\n")
                          .expectLine("the whole token line", exactly(response))
                          .send("+OK User successfully authenticated.\r\n")
                          .expectEof()});
  const net::Endpoint e = endpoint(srv);
  {
    pop3::Pop3Client client(net::openTransport(e), e);
    client.login(popToken(pop3::AuthMethod::XOAuth2, token));
  }
  BOOST_TEST(srv.wait());
  BOOST_TEST(srv.failures().empty(), srv.report());
}

BOOST_AUTO_TEST_CASE(testMicrosoftPop3RefusedTokenIsAnAuthError) {
  ScriptedServer srv({pop3Greeting(kMicrosoftPopGreeting)
                          .then(pop3Capa(kMicrosoftPopCaps))
                          .expect("AUTH XOAUTH2").send("+\r\n")
                          .expect("")
                          .send("-ERR Authentication failure: unknown user name or bad password.\r\n")
                          .expectEof()});
  const net::Endpoint e = endpoint(srv);
  auto client = std::make_unique<pop3::Pop3Client>(net::openTransport(e), e);
  const Error error = expectError([&] { client->login(popToken(pop3::AuthMethod::XOAuth2)); });
  client.reset();
  BOOST_TEST((error.kind() == ErrorKind::Auth));
  BOOST_TEST(std::string(error.what()).find("unknown user name or bad password") != std::string::npos);
  BOOST_TEST(std::string(error.what()).find(kToken) == std::string::npos);
  BOOST_TEST(srv.wait());
}

BOOST_AUTO_TEST_CASE(testPop3FailureChallengeIsAnsweredAndQuoted) {
  // OAUTHBEARER's failure challenge is answered with a single 0x01 ("AQ=="), RFC 7628 §3.2.3.
  ScriptedServer srv({pop3Greeting()
                          .then(pop3Capa({"UIDL", "SASL OAUTHBEARER"}))
                          .expect("AUTH OAUTHBEARER").send("+ \r\n")
                          .expect("")
                          .send("+ " + kGmailChallenge + "\r\n")
                          .expectLine("the failure answer AQ==", exactly("AQ=="))
                          .send("-ERR [AUTH] Invalid credentials.\r\n")
                          .expectEof()});
  const net::Endpoint e = endpoint(srv);
  auto client = std::make_unique<pop3::Pop3Client>(net::openTransport(e), e);
  const Error error = expectError([&] { client->login(popToken(pop3::AuthMethod::OAuthBearer)); });
  client.reset();
  BOOST_TEST((error.kind() == ErrorKind::Auth));
  BOOST_TEST(std::string(error.what()).find(R"("status":"401")") != std::string::npos, error.what());
  BOOST_TEST(std::string(error.what()).find("Invalid credentials") != std::string::npos);
  BOOST_TEST(srv.wait());
  BOOST_TEST(srv.failures().empty(), srv.report());
}

BOOST_AUTO_TEST_CASE(testPop3TokenNeverSentWithoutTls) {
  // A configuration that asks for TLS never sends the token in the clear, whatever happened.
  ScriptedServer srv({pop3Greeting().then(pop3Capa(kMicrosoftPopCaps)).expectEof()});
  net::Endpoint plain = endpoint(srv, TlsMode::None);
  net::Endpoint configured = plain;
  configured.tls = TlsMode::Implicit;
  auto client = std::make_unique<pop3::Pop3Client>(net::openTransport(plain), configured);
  const Error error = expectError([&] { client->login(popToken(pop3::AuthMethod::XOAuth2)); });
  client.reset();
  BOOST_TEST((error.kind() == ErrorKind::Security));
  BOOST_TEST(srv.wait());
  BOOST_TEST(!srv.received(0, "AUTH"));
}

// ---------------------------------------------------------------------------------------------
// IMAP

BOOST_AUTO_TEST_CASE(testImapXoauth2WithSaslIr) {
  const std::string response = codec::saslXoauth2("me@gmail.com", kToken);
  ScriptedServer srv({imapGreeting("IMAP4rev1 SASL-IR AUTH=XOAUTH2 AUTH=OAUTHBEARER")
                          .expectLine("AUTHENTICATE XOAUTH2 with the initial response",
                                      exactly("A0001 AUTHENTICATE XOAUTH2 " + response))
                          .send("A0001 OK me@gmail.com authenticated (Success)\r\n")
                          .then(imapCapability("IMAP4rev1 UIDPLUS LITERAL- APPENDLIMIT=35651584"))
                          .expectEof()});
  const net::Endpoint e = endpoint(srv);
  auto client = std::make_unique<imap::ImapClient>(net::openTransport(e), e);
  client->login(imapToken(imap::AuthMethod::XOAuth2));
  BOOST_TEST(client->hasCapability("UIDPLUS"));
  client.reset();
  BOOST_TEST(srv.wait());
  BOOST_TEST(srv.failures().empty(), srv.report());
}

BOOST_AUTO_TEST_CASE(testImapOauthBearerTwoStepWithoutSaslIr) {
  const ScriptedServer* self = nullptr;
  ScriptedServer srv({imapGreeting("IMAP4rev1 AUTH=OAUTHBEARER")
                          .expectLine("AUTHENTICATE OAUTHBEARER alone",
                                      exactly("A0001 AUTHENTICATE OAUTHBEARER"))
                          .send("+ \r\n")
                          .expectLine("the token line", [&](std::string_view line) {
                            return self != nullptr &&
                                   line == codec::saslOauthBearer("me@gmail.com", kToken, "localhost",
                                                                  self->port());
                          })
                          .send("A0001 OK [CAPABILITY IMAP4rev1] Logged in\r\n")
                          .then(imapCapability("IMAP4rev1 LITERAL+"))
                          .expectEof()});
  self = &srv;
  const net::Endpoint e = endpoint(srv);
  auto client = std::make_unique<imap::ImapClient>(net::openTransport(e), e);
  client->login(imapToken(imap::AuthMethod::OAuthBearer));
  BOOST_TEST(client->hasCapability("LITERAL+"));
  client.reset();
  BOOST_TEST(srv.wait());
  BOOST_TEST(srv.failures().empty(), srv.report());
}

BOOST_AUTO_TEST_CASE(testGmailFailureContinuationXoauth2) {
  // Gmail sends the JSON status as a continuation, wants an empty line, then says NO.
  ScriptedServer srv({imapGreeting("IMAP4rev1 SASL-IR AUTH=XOAUTH2")
                          .expectCommand("AUTHENTICATE")
                          .send("+ " + kGmailChallenge + "\r\n")
                          .expectLine("an empty answer", exactly(""))
                          .send("A0001 NO [AUTHENTICATIONFAILED] Invalid credentials (Failure)\r\n")
                          .expectEof()});
  const net::Endpoint e = endpoint(srv);
  auto client = std::make_unique<imap::ImapClient>(net::openTransport(e), e);
  const Error error = expectError([&] { client->login(imapToken(imap::AuthMethod::XOAuth2)); });
  client.reset();
  BOOST_TEST((error.kind() == ErrorKind::Auth));
  const std::string text = error.what();
  BOOST_TEST(text.find(R"({"status":"401","schemes":"bearer mac","scope":"https://mail.google.com/"})") !=
                 std::string::npos,
             text);
  BOOST_TEST(text.find("Invalid credentials (Failure)") != std::string::npos);
  BOOST_TEST(text.find(kToken) == std::string::npos);
  BOOST_TEST(srv.wait());
  BOOST_TEST(srv.failures().empty(), srv.report());
}

BOOST_AUTO_TEST_CASE(testGmailFailureContinuationOauthBearer) {
  ScriptedServer srv({imapGreeting("IMAP4rev1 SASL-IR AUTH=OAUTHBEARER")
                          .expectCommand("AUTHENTICATE")
                          .send("+ " + kGmailChallenge + "\r\n")
                          .expectLine("the answer AQ==", exactly("AQ=="))
                          .send("A0001 NO [AUTHENTICATIONFAILED] Invalid credentials (Failure)\r\n")
                          .expectEof()});
  const net::Endpoint e = endpoint(srv);
  auto client = std::make_unique<imap::ImapClient>(net::openTransport(e), e);
  const Error error = expectError([&] { client->login(imapToken(imap::AuthMethod::OAuthBearer)); });
  client.reset();
  BOOST_TEST((error.kind() == ErrorKind::Auth));
  BOOST_TEST(std::string(error.what()).find(R"("status":"401")") != std::string::npos);
  BOOST_TEST(srv.wait());
  BOOST_TEST(srv.failures().empty(), srv.report());
}

BOOST_AUTO_TEST_CASE(testMicrosoftAuthenticatedButNotConnectedIsAConfigurationError) {
  // Microsoft 365 accepts a valid token for another user (or a mailbox without IMAP), then
  // answers the next command with BAD.
  ScriptedServer srv(
      {Script()
           .send("* OK The Microsoft Exchange IMAP4 service is ready. [TQBOADIAUABSADAAMgBDAEEAMAAwADAAMQA=]\r\n")
           .then(imapCapability("IMAP4 IMAP4rev1 AUTH=PLAIN AUTH=XOAUTH2 SASL-IR UIDPLUS ID UNSELECT "
                                "CHILDREN IDLE NAMESPACE LITERAL+"))
           .expectCommand("AUTHENTICATE")
           .sendTagged("OK AUTHENTICATE completed.\r\n")
           .expectCommand("CAPABILITY")
           .sendTagged("BAD User is authenticated but not connected.\r\n")
           .expectEof()});
  const net::Endpoint e = endpoint(srv);
  auto client = std::make_unique<imap::ImapClient>(net::openTransport(e), e);
  const Error error = expectError([&] { client->login(imapToken(imap::AuthMethod::XOAuth2)); });
  client.reset();
  BOOST_TEST((error.kind() == ErrorKind::Config));
  const std::string text = error.what();
  BOOST_TEST(text.find("token belongs to another user") != std::string::npos, text);
  BOOST_TEST(text.find("IMAP is disabled") != std::string::npos, text);
  BOOST_TEST(text.find("User is authenticated but not connected") != std::string::npos, text);
  BOOST_TEST(srv.wait());
  BOOST_TEST(srv.failures().empty(), srv.report());
}

BOOST_AUTO_TEST_CASE(testImapTokenOver4KbWithSaslIr) {
  const std::string token(6000, 'J');
  const std::string response = codec::saslXoauth2("me@gmail.com", token);
  ScriptedServer srv({imapGreeting("IMAP4rev1 SASL-IR AUTH=XOAUTH2")
                          .expectLine("the whole AUTHENTICATE line",
                                      exactly("A0001 AUTHENTICATE XOAUTH2 " + response))
                          .send("A0001 OK Success\r\n")
                          .then(imapCapability("IMAP4rev1"))
                          .expectEof()});
  const net::Endpoint e = endpoint(srv);
  auto client = std::make_unique<imap::ImapClient>(net::openTransport(e), e);
  client->login(imapToken(imap::AuthMethod::XOAuth2, token));
  client.reset();
  BOOST_TEST(srv.wait());
  BOOST_TEST(srv.failures().empty(), srv.report());
}

BOOST_AUTO_TEST_CASE(testAuthenticateThatNeverEndsHitsItsDeadline) {
  // Untagged lines keep every read alive; the exchange as a whole must still end. The server
  // never asks for the token (no "+"), it only chatters.
  std::string chatter;
  for (int i = 0; i < 60; ++i) chatter += "* OK still thinking\r\n";
  ScriptedServer srv({imapGreeting("IMAP4rev1 AUTH=XOAUTH2")
                          .expectCommand("AUTHENTICATE")
                          .sendSlowly(chatter, 21, 200ms)
                          .expectEof(30s)});
  const net::Endpoint e = endpoint(srv, TlsMode::None, 1s);
  auto client = std::make_unique<imap::ImapClient>(net::openTransport(e), e);
  const Error error = expectError([&] { client->login(imapToken(imap::AuthMethod::XOAuth2)); });
  client.reset();
  BOOST_TEST((error.kind() == ErrorKind::Transient));
  BOOST_TEST(std::string(error.what()).find("sent only untagged responses for 4 s while we waited "
                                            "for the go-ahead of AUTHENTICATE XOAUTH2") !=
                 std::string::npos,
             error.what());
  BOOST_TEST(!srv.received(0, codec::saslXoauth2("me@gmail.com", kToken)));
  BOOST_TEST(srv.wait());
}

BOOST_AUTO_TEST_CASE(testImapTokenNeverSentWithoutTls) {
  ScriptedServer srv({imapGreeting("IMAP4rev1 SASL-IR AUTH=XOAUTH2").expectEof()});
  net::Endpoint plain = endpoint(srv, TlsMode::None);
  net::Endpoint configured = plain;
  configured.tls = TlsMode::Implicit;
  auto client = std::make_unique<imap::ImapClient>(net::openTransport(plain), configured);
  const Error error = expectError([&] { client->login(imapToken(imap::AuthMethod::XOAuth2)); });
  client.reset();
  BOOST_TEST((error.kind() == ErrorKind::Security));
  BOOST_TEST(srv.wait());
  BOOST_TEST(!srv.received(0, "AUTHENTICATE"));
}
