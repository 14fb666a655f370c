// Pop3Client against scripted POP3 servers on loopback: the happy path byte for byte, refusals,
// broken connections, servers without CAPA or with CAPA words of their own, and every STLS /
// certificate rule of docs/protocol-notes.md.
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <map>

#include "connectors/common/Error.h"
#include "connectors/pop3/Pop3Client.h"
#include "tests/support/ClientHarness.h"
#include "tests/support/ScriptedServer.h"
#include "tests/support/TestCerts.h"

using namespace std::chrono_literals;
using namespace popgate;
using popgate::test::endpoint;
using popgate::test::expectError;
using popgate::test::pop3Capa;
using popgate::test::pop3Greeting;
using popgate::test::pop3Stls;
using popgate::test::Script;
using popgate::test::ScriptedServer;
using popgate::test::TestCerts;

namespace {

std::unique_ptr<pop3::Pop3Client> connect(const net::Endpoint& e) {
  return std::make_unique<pop3::Pop3Client>(net::openTransport(e), e);
}

pop3::Credentials creds(pop3::AuthMethod method = pop3::AuthMethod::Auto) {
  return pop3::Credentials{"bob", popgate::Secret("s3cret-pw"), method};
}

// Collects retrieved messages by number.
class Collect final : public pop3::RetrieveHandler, public pop3::ByteSink {
 public:
  pop3::ByteSink& begin(const pop3::MessageInfo& m) override {
    current_ = m.number;
    bytes[current_].clear();
    return *this;
  }
  void write(std::string_view b) override { bytes[current_].append(b); }
  void end(const pop3::MessageInfo& m, pop3::RetrieveOutcome o, std::string_view) override {
    outcomes[m.number] = o;
  }
  std::map<std::uint32_t, std::string> bytes;
  std::map<std::uint32_t, pop3::RetrieveOutcome> outcomes;

 private:
  std::uint32_t current_ = 0;
};

}  // namespace

BOOST_AUTO_TEST_CASE(testSessionRetrievesByteExactAndDeletesAtQuit) {
  ScriptedServer srv({pop3Greeting()
                          .then(pop3Capa({"USER", "UIDL", "TOP"}))
                          .expect("USER bob").send("+OK\r\n")
                          .expect("PASS s3cret-pw").send("+OK logged in\r\n")
                          .expect("UIDL").send("+OK\r\n1 aaa\r\n2 bbb\r\n.\r\n")
                          .expect("LIST").send("+OK\r\n1 21\r\n2 5\r\n.\r\n")
                          .expect("RETR 1")
                          .send("+OK 21 octets\r\nSubject: x\r\n\r\n..dot\r\n.\r\n")
                          .expect("RETR 2").send("+OK\r\n.\r\n")
                          .expect("DELE 1").send("+OK\r\n")
                          .expect("QUIT").send("+OK bye\r\n")
                          .close()});
  auto client = connect(endpoint(srv));
  client->login(creds());
  const pop3::Listing listing = client->list();
  BOOST_REQUIRE(listing.messages.size() == 2u);
  BOOST_TEST(listing.messages[0].uidl == "aaa");
  BOOST_TEST(listing.messages[0].size == 21u);
  BOOST_TEST(listing.messages[1].uidl == "bbb");
  Collect got;
  client->retrieveMany(listing.messages, 1000, got);
  BOOST_TEST(got.bytes[1] == "Subject: x\r\n\r\n.dot\r\n");
  BOOST_TEST(got.bytes[2] == "");
  BOOST_TEST((got.outcomes[1] == pop3::RetrieveOutcome::Complete));
  BOOST_TEST(client->markDeleted({1}).empty());
  BOOST_TEST(client->quit());
  BOOST_TEST(srv.wait());
  BOOST_TEST(srv.failures().empty(), srv.report());
}

BOOST_AUTO_TEST_CASE(testPipelinedListingAndRetrWindow) {
  ScriptedServer srv({pop3Greeting()
                          .then(pop3Capa({"USER", "UIDL", "PIPELINING"}))
                          .expect("USER").send("+OK\r\n").expect("PASS").send("+OK\r\n")
                          .expect("UIDL").expect("LIST")  // both before any answer
                          .send("+OK\r\n1 a\r\n2 b\r\n3 c\r\n.\r\n+OK\r\n1 3\r\n2 3\r\n3 3\r\n.\r\n")
                          .expect("RETR 1").expect("RETR 2").expect("RETR 3")
                          .send("+OK\r\nm1\r\n.\r\n-ERR gone\r\n+OK\r\nm3\r\n.\r\n")
                          .expect("QUIT").send("+OK\r\n").close()});
  auto client = connect(endpoint(srv));
  client->login(creds());
  BOOST_TEST(client->pipelining());
  const auto listing = client->list();
  Collect got;
  client->retrieveMany(listing.messages, 1000, got);
  BOOST_TEST(got.bytes[1] == "m1\r\n");
  BOOST_TEST((got.outcomes[2] == pop3::RetrieveOutcome::Refused));
  BOOST_TEST(got.bytes[3] == "m3\r\n");
  BOOST_TEST(client->quit());
  BOOST_TEST(srv.wait());
  BOOST_TEST(srv.failures().empty(), srv.report());
}

BOOST_AUTO_TEST_CASE(testErrAtLoginIsAnAuthErrorWithTheServerText) {
  ScriptedServer srv({pop3Greeting()
                          .then(pop3Capa({"USER"}))
                          .expect("USER").send("+OK\r\n")
                          .expect("PASS").send("-ERR [AUTH] Authentication failed.\r\n")
                          .expectEof()});
  auto client = connect(endpoint(srv));
  const Error e = expectError([&] { client->login(creds()); });
  BOOST_TEST((e.kind() == ErrorKind::Auth));
  BOOST_TEST(e.serverText() == "-ERR [AUTH] Authentication failed.");
  BOOST_TEST(std::string(e.what()).find("s3cret") == std::string::npos);
  client.reset();
  BOOST_TEST(srv.wait());
}

BOOST_AUTO_TEST_CASE(testInUseAtLoginIsTransient) {
  ScriptedServer srv({pop3Greeting()
                          .then(pop3Capa({"USER", "RESP-CODES"}))
                          .expect("USER").send("+OK\r\n")
                          .expect("PASS").send("-ERR [IN-USE] Mailbox locked\r\n").expectEof()});
  auto client = connect(endpoint(srv));
  BOOST_TEST((expectError([&] { client->login(creds()); }).kind() == ErrorKind::Transient));
}

BOOST_AUTO_TEST_CASE(testAuthPlainWhenOffered) {
  ScriptedServer srv({pop3Greeting()
                          .then(pop3Capa({"USER", "SASL PLAIN LOGIN"}))
                          // base64("\0bob\0s3cret-pw")
                          .expect("AUTH PLAIN AGJvYgBzM2NyZXQtcHc=").send("+OK\r\n")
                          .expect("QUIT").send("+OK\r\n").close()});
  auto client = connect(endpoint(srv));
  client->login(creds());
  BOOST_TEST(client->quit());
  BOOST_TEST(srv.wait());
  BOOST_TEST(srv.failures().empty(), srv.report());
}

BOOST_AUTO_TEST_CASE(testApopIsRefusedWithoutTls) {
  ScriptedServer srv({pop3Greeting("ready <1896.697170952@dbc.mtview.ca.us>")
                          .then(pop3Capa({"USER"}))
                          .expectEof()});
  auto client = connect(endpoint(srv));
  const Error e = expectError([&] { client->login(creds(pop3::AuthMethod::Apop)); });
  BOOST_TEST((e.kind() == ErrorKind::Security));
  client.reset();
  BOOST_TEST(srv.wait());
  BOOST_TEST(!srv.received(0, "APOP"));
}

BOOST_AUTO_TEST_CASE(testApopOverTls) {
  ScriptedServer srv({Script{}
                          .tls(TestCerts::localhost())
                          .then(pop3Greeting("ready <1896.697170952@dbc.mtview.ca.us>"))
                          .then(pop3Capa({"USER"}))
                          .expect("APOP bob ").send("+OK\r\n")
                          .expect("QUIT").send("+OK\r\n").close()});
  auto client = connect(endpoint(srv, TlsMode::Implicit));
  client->login(creds(pop3::AuthMethod::Apop));
  BOOST_TEST(client->quit());
  BOOST_TEST(srv.wait());
  BOOST_TEST(srv.failures().empty(), srv.report());
}

// popa3d 1.0.3 as it answers: "+OK" without a timestamp, CAPA refused with a bare "-ERR". The
// client logs in with USER/PASS, sends UIDL and LIST one at a time (LIST only once UIDL's list
// has ended), RETRs one at a time, and its listing says the server offers no CAPA.
BOOST_AUTO_TEST_CASE(testPopa3dWithoutCapaGetsUserPassAndNoPipelining) {
  ScriptedServer srv({Script{}
                          .send("+OK\r\n")
                          .expect("CAPA").send("-ERR\r\n")
                          .expect("USER bob").send("+OK\r\n")
                          .expect("PASS s3cret-pw").send("+OK\r\n")
                          .expectLine("UIDL alone", [](std::string_view l) { return l == "UIDL"; })
                          .send("+OK\r\n1 233126efa5745439\r\n2 d98c1dd404b2008f\r\n.\r\n")
                          .expectLine("LIST alone", [](std::string_view l) { return l == "LIST"; })
                          .send("+OK\r\n1 63\r\n2 27\r\n.\r\n")
                          .expect("RETR 1").send("+OK\r\na: 1\r\n\r\none\r\n.\r\n")
                          .expect("RETR 2").send("+OK\r\na: 2\r\n\r\ntwo\r\n.\r\n")
                          .expect("QUIT").send("+OK\r\n")
                          .expectEof()});
  auto client = connect(endpoint(srv));
  BOOST_TEST(!client->pipelining());
  client->login(creds());
  const pop3::Listing listing = client->list();
  BOOST_REQUIRE(listing.messages.size() == 2u);
  BOOST_TEST(listing.messages[1].uidl == "d98c1dd404b2008f");
  BOOST_TEST(listing.messages[1].size == 27u);
  BOOST_REQUIRE(listing.problems.size() == 1u);
  BOOST_TEST(listing.problems[0].find("offers no CAPA (it answered \"-ERR\")") != std::string::npos,
             listing.problems[0]);
  Collect collect;
  client->retrieveMany(listing.messages, 1 << 20, collect);
  BOOST_TEST(collect.bytes[2] == "a: 2\r\n\r\ntwo\r\n");
  BOOST_TEST(client->quit());
  client.reset();
  BOOST_TEST(srv.wait());
  BOOST_TEST(srv.failures().empty(), srv.report());
}

// Twisted 22.4's POP3 server: an APOP timestamp in its greeting, CAPA words of its own
// ("PIPELINE", not PIPELINING, and CELERITY AUSPEX POTENCE) and LIST sizes that count the stored
// LF line ends. Nothing is pipelined; the words nobody knows are ignored; the RETR is what counts.
BOOST_AUTO_TEST_CASE(testTwistedCapaWordsDoNotTurnOnPipelining) {
  ScriptedServer srv({Script{}
                          .send("+OK <20261204203508.30706.1993042289.0@localhost>\r\n")
                          .expect("CAPA")
                          .send("+OK I can do the following:\r\nTOP\r\nUSER\r\nUIDL\r\n"
                                "PIPELINE\r\nCELERITY\r\nAUSPEX\r\nPOTENCE\r\n.\r\n")
                          .expect("USER bob").send("+OK USER accepted, send PASS\r\n")
                          .expect("PASS s3cret-pw").send("+OK Authentication succeeded\r\n")
                          .expectLine("UIDL alone", [](std::string_view l) { return l == "UIDL"; })
                          .send("+OK \r\n1 701f6036a4304682b5a3605aa0f9bf12\r\n.\r\n")
                          .expectLine("LIST alone", [](std::string_view l) { return l == "LIST"; })
                          .send("+OK 1\r\n1 12\r\n.\r\n")
                          .expect("RETR 1").send("+OK 12\r\na: b\r\n\r\nline\r\n.\r\n")
                          .expect("QUIT").send("+OK \r\n")
                          .expectEof()});
  auto client = connect(endpoint(srv));
  BOOST_TEST(!client->pipelining());
  client->login(creds());
  const pop3::Listing listing = client->list();
  BOOST_REQUIRE(listing.messages.size() == 1u);
  BOOST_TEST(listing.problems.empty());
  Collect collect;
  client->retrieveMany(listing.messages, 1 << 20, collect);
  BOOST_TEST(collect.bytes[1] == "a: b\r\n\r\nline\r\n");  // 14 bytes, LIST said 12
  BOOST_TEST(client->quit());
  client.reset();
  BOOST_TEST(srv.wait());
  BOOST_TEST(srv.failures().empty(), srv.report());
}

// Courier 5's pop3d offers UTF8 (RFC 6856) and, to a client that never says UTF8, serves a
// message with raw UTF-8 in its header as a new message ("Cannot display Unicode content") with
// the original attached. So the client says UTF8 before it logs in, and gets the message itself.
BOOST_AUTO_TEST_CASE(testCourierUtf8IsEnabledBeforeLogin) {
  const std::string message = "Subject: \xd0\x9f\xd0\x9e\xd0\x9f\r\n\r\nbody\r\n";
  ScriptedServer srv({pop3Greeting("Hello there.")
                          .then(pop3Capa({"STLS", "TOP", "USER", "LOGIN-DELAY 10", "PIPELINING",
                                          "UIDL", "UTF8 USER", "IMPLEMENTATION Courier Mail Server"}))
                          .expectLine("UTF8", [](std::string_view l) { return l == "UTF8"; })
                          .send("+OK UTF8 enabled\r\n")
                          .expect("USER bob").send("+OK Password required.\r\n")
                          .expect("PASS s3cret-pw").send("+OK logged in.\r\n")
                          .expect("RETR 1").send("+OK 27 octets follow.\r\n" + message + ".\r\n")
                          .expect("QUIT").send("+OK Bye-bye.\r\n")
                          .expectEof()});
  auto client = connect(endpoint(srv));
  client->login(creds());
  BOOST_TEST(client->utf8());
  Collect collect;
  client->retrieveMany({pop3::MessageInfo{1, "UID1-1796420812", 27}}, 1 << 20, collect);
  BOOST_TEST(collect.bytes[1] == message);
  BOOST_TEST(client->quit());
  client.reset();
  BOOST_TEST(srv.wait());
  BOOST_TEST(srv.failures().empty(), srv.report());
}

// A server that offers UTF8 and then refuses it: nothing changes, the login goes on.
BOOST_AUTO_TEST_CASE(testRefusedUtf8IsNoObstacle) {
  ScriptedServer srv({pop3Greeting()
                          .then(pop3Capa({"USER", "UIDL", "UTF8"}))
                          .expect("UTF8").send("-ERR not now\r\n")
                          .expect("USER bob").send("+OK\r\n")
                          .expect("PASS s3cret-pw").send("+OK\r\n")
                          .expectEof()});
  auto client = connect(endpoint(srv));
  client->login(creds());
  BOOST_TEST(!client->utf8());
  client.reset();
  BOOST_TEST(srv.wait());
  BOOST_TEST(srv.failures().empty(), srv.report());
}

BOOST_AUTO_TEST_CASE(testServerWithoutUidlGetsAClearError) {
  ScriptedServer srv({pop3Greeting()
                          .then(pop3Capa({"USER"}))
                          .expect("USER").send("+OK\r\n").expect("PASS").send("+OK\r\n")
                          .expect("UIDL").send("-ERR unknown command\r\n")
                          .expect("LIST").send("+OK\r\n.\r\n")
                          .expectEof()});
  auto client = connect(endpoint(srv));
  client->login(creds());
  const Error e = expectError([&] { client->list(); });
  BOOST_TEST((e.kind() == ErrorKind::Protocol));
  BOOST_TEST(std::string(e.what()).find("UIDL") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(testDisconnectMidRetrIsAnErrorNotAShortMessage) {
  ScriptedServer srv({pop3Greeting()
                          .then(pop3Capa({"USER", "UIDL"}))
                          .expect("USER").send("+OK\r\n").expect("PASS").send("+OK\r\n")
                          .expect("UIDL").send("+OK\r\n1 a\r\n.\r\n")
                          .expect("LIST").send("+OK\r\n1 100\r\n.\r\n")
                          .expect("RETR 1").send("+OK\r\nSubject: cut\r\n\r\nhalf a mess")
                          .reset()});
  auto client = connect(endpoint(srv));
  client->login(creds());
  const auto listing = client->list();
  Collect got;
  const Error e = expectError([&] { client->retrieveMany(listing.messages, 1000, got); });
  BOOST_TEST((e.kind() == ErrorKind::Transient));
  BOOST_TEST(got.outcomes.empty());  // never reported complete
  client->abandon();
  BOOST_TEST(srv.wait());
  BOOST_TEST(!srv.received(0, "DELE"));
}

BOOST_AUTO_TEST_CASE(testBareLfTerminatorIsNotAnEnd) {
  ScriptedServer srv({pop3Greeting()
                          .then(pop3Capa({"USER", "UIDL"}))
                          .expect("USER").send("+OK\r\n").expect("PASS").send("+OK\r\n")
                          .expect("UIDL").send("+OK\r\n1 a\r\n.\r\n")
                          .expect("LIST").send("+OK\r\n1 10\r\n.\r\n")
                          .expect("RETR 1").send("+OK\r\nline\n.\n")
                          .close()});
  auto client = connect(endpoint(srv));
  client->login(creds());
  const auto listing = client->list();
  Collect got;
  BOOST_TEST((expectError([&] { client->retrieveMany(listing.messages, 1000, got); }).kind() ==
              ErrorKind::Transient));
  BOOST_TEST(got.outcomes.empty());
}

BOOST_AUTO_TEST_CASE(testStalledServerEndsInTheTimeout) {
  ScriptedServer srv({pop3Greeting()
                          .then(pop3Capa({"USER"}))
                          .expect("USER").stall(3s).close()});
  auto client = connect(endpoint(srv, TlsMode::None, 1s));
  // The stall outlasts the timeout: the error must be the timeout, not the later close.
  const Error e = expectError([&] { client->login(creds()); });
  BOOST_TEST((e.kind() == ErrorKind::Transient));
  BOOST_TEST(std::string(e.what()).find("timeout") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(testOverlongLineIsAProtocolError) {
  ScriptedServer srv({pop3Greeting()
                          .then(pop3Capa({"USER"}))
                          .expect("USER").send("+OK " + std::string(20000, 'x') + "\r\n")
                          .expectEof()});
  auto client = connect(endpoint(srv));
  BOOST_TEST((expectError([&] { client->login(creds()); }).kind() == ErrorKind::Protocol));
}

BOOST_AUTO_TEST_CASE(testStlsUpgradeForgetsPlaintextCapabilitiesAndInjectedBytes) {
  ScriptedServer srv({pop3Greeting()
                          .then(pop3Capa({"STLS", "USER"}))
                          .expect("STLS")
                          // An attacker appends a forged reply to the plaintext OK.
                          .send("+OK Begin TLS\r\n+OK injected\r\n")
                          .tls(TestCerts::localhost())
                          .then(pop3Capa({"USER", "UIDL"}))
                          .expect("USER bob").send("+OK\r\n")
                          .expect("PASS").send("+OK\r\n")
                          .expect("QUIT").send("+OK\r\n").close()});
  auto client = connect(endpoint(srv, TlsMode::StartTls));
  client->login(creds());
  BOOST_TEST(!client->capabilities().stls);  // capabilities asked again over TLS
  BOOST_TEST(client->quit());
  BOOST_TEST(srv.wait());
  BOOST_TEST(srv.failures().empty(), srv.report());
}

BOOST_AUTO_TEST_CASE(testStlsNotOfferedFailsBeforeAnyCredential) {
  ScriptedServer srv({pop3Greeting().then(pop3Capa({"USER", "UIDL"})).expectEof()});
  const Error e = expectError([&] { connect(endpoint(srv, TlsMode::StartTls)); });
  BOOST_TEST((e.kind() == ErrorKind::Security));
  BOOST_TEST(srv.wait());
  BOOST_TEST(!srv.received(0, "USER"));
}

BOOST_AUTO_TEST_CASE(testStlsRefusedFails) {
  ScriptedServer srv({pop3Greeting()
                          .then(pop3Capa({"STLS", "USER"}))
                          .expect("STLS").send("-ERR not now\r\n")
                          .expectEof()});
  BOOST_TEST((expectError([&] { connect(endpoint(srv, TlsMode::StartTls)); }).kind() ==
              ErrorKind::Security));
  BOOST_TEST(srv.wait());
  BOOST_TEST(!srv.received(0, "USER"));
}

BOOST_AUTO_TEST_CASE(testCertificateForAnotherHostIsRefusedBeforeCredentials) {
  ScriptedServer srv({Script{}.tls(TestCerts::otherHost()).then(pop3Greeting()).expectEof(2s)});
  const Error e = expectError([&] { connect(endpoint(srv, TlsMode::Implicit)); });
  BOOST_TEST((e.kind() == ErrorKind::Security));
  BOOST_TEST(srv.wait());
  BOOST_TEST(!srv.received(0, "USER"));
}

BOOST_AUTO_TEST_CASE(testSlowHandshakeDoesNotBypassTheHostNameCheck) {
  // docs/protocol-notes.md: a stalled handshake made Poco skip its name check. The name is pinned in
  // OpenSSL and the handshake is finished before anything is sent.
  ScriptedServer srv({Script{}
                          .stallHandshake(1500ms)
                          .tls(TestCerts::otherHost())
                          .then(pop3Greeting())
                          .expectEof(3s)});
  const Error e = expectError([&] { connect(endpoint(srv, TlsMode::Implicit, 5s)); });
  BOOST_TEST((e.kind() == ErrorKind::Security));
  BOOST_TEST(srv.wait());
  BOOST_TEST(!srv.received(0, "CAPA"));
  BOOST_TEST(!srv.received(0, "USER"));
}

BOOST_AUTO_TEST_CASE(testSlowHandshakeWithTheRightCertificateSucceeds) {
  ScriptedServer srv({Script{}
                          .stallHandshake(1500ms)
                          .tls(TestCerts::localhost())
                          .then(pop3Greeting())
                          .then(pop3Capa({"USER"}))
                          .expect("QUIT").send("+OK\r\n").close()});
  auto client = connect(endpoint(srv, TlsMode::Implicit, 5s));
  BOOST_TEST(client->quit());
  BOOST_TEST(srv.wait());
  BOOST_TEST(srv.failures().empty(), srv.report());
}

BOOST_AUTO_TEST_CASE(testSelfSignedCertificateWithoutCaFileIsRefused) {
  ScriptedServer srv({Script{}.tls(TestCerts::selfSigned()).then(pop3Greeting()).expectEof(2s)});
  net::Endpoint e = endpoint(srv, TlsMode::Implicit);
  e.ca_file.reset();
  BOOST_TEST((expectError([&] { connect(e); }).kind() == ErrorKind::Security));
  BOOST_TEST(srv.wait());
}

BOOST_AUTO_TEST_CASE(testErrGreetingIsTransient) {
  ScriptedServer srv({Script{}.send("-ERR too many connections\r\n").close()});
  const Error e = expectError([&] { connect(endpoint(srv)); });
  BOOST_TEST((e.kind() == ErrorKind::Transient));
  BOOST_TEST(e.serverText() == "-ERR too many connections");
}

BOOST_AUTO_TEST_CASE(testPipelinedRetrAndDeleTravelInWindows) {
  // Window of 2: RETR 1 and 2 go together; RETR 3 only once message 1 is read (the window
  // slides); a -ERR in the middle of a window leaves the others in their place.
  ScriptedServer srv({pop3Greeting()
                          .then(pop3Capa({"USER", "UIDL", "PIPELINING"}))
                          .expect("USER").send("+OK\r\n").expect("PASS").send("+OK\r\n")
                          .expect("UIDL").expect("LIST")
                          .send("+OK\r\n1 a\r\n2 b\r\n3 c\r\n4 d\r\n.\r\n"
                                "+OK\r\n1 3\r\n2 3\r\n3 3\r\n4 3\r\n.\r\n")
                          .expect("RETR 1").expect("RETR 2")
                          .send("+OK\r\nm1\r\n.\r\n")
                          .expect("RETR 3")
                          .send("-ERR [SYS/PERM] unreadable\r\n")
                          .expect("RETR 4")
                          .send("+OK\r\nm3\r\n.\r\n+OK\r\nm4\r\n.\r\n")
                          .expect("DELE 1").expect("DELE 3")
                          .send("+OK\r\n-ERR locked\r\n")
                          .expect("DELE 4").send("+OK\r\n")
                          .expect("QUIT").send("+OK\r\n").close()});
  const net::Endpoint e = endpoint(srv);
  pop3::Pop3Options options;
  options.pipeline_window = 2;
  pop3::Pop3Client client(net::openTransport(e), e, {}, options);
  client.login(creds());
  const auto listing = client.list();
  Collect got;
  client.retrieveMany(listing.messages, 1000, got);
  BOOST_TEST(got.bytes[1] == "m1\r\n");
  BOOST_TEST((got.outcomes[2] == pop3::RetrieveOutcome::Refused));
  BOOST_TEST(got.bytes[3] == "m3\r\n");
  BOOST_TEST(got.bytes[4] == "m4\r\n");
  const auto refused = client.markDeleted({1, 3, 4});
  BOOST_REQUIRE(refused.size() == 1u);
  BOOST_TEST(refused[0].number == 3u);
  BOOST_TEST(refused[0].reply == "-ERR locked");
  BOOST_TEST(client.quit());
  BOOST_TEST(srv.wait());
  BOOST_TEST(srv.failures().empty(), srv.report());
}

// A maildrop that lists more than max_listed messages fails list() with a clear error as soon as
// the limit is passed, before the rest of the listing costs memory or time.
BOOST_AUTO_TEST_CASE(testListingLongerThanTheLimitFailsClearly) {
  std::string uidl = "+OK\r\n";
  for (int i = 1; i <= 150; ++i) uidl += std::to_string(i) + " u" + std::to_string(i) + "\r\n";
  ScriptedServer srv({pop3Greeting()
                          .then(pop3Capa({"USER", "UIDL"}))
                          .expect("USER").send("+OK\r\n").expect("PASS").send("+OK\r\n")
                          .expect("UIDL").send(uidl + ".\r\n")
                          .expectEof()});
  pop3::Pop3Options options;
  options.max_listed = 100;
  const net::Endpoint e = endpoint(srv);
  auto client = std::make_unique<pop3::Pop3Client>(net::openTransport(e), e, net::TraceSink{}, options);
  client->login(creds());
  const Error error = expectError([&] { client->list(); });
  BOOST_TEST((error.kind() == ErrorKind::Protocol));
  BOOST_TEST(std::string(error.what()).find("lists more than 100 messages") != std::string::npos,
             error.what());
  BOOST_TEST(std::string(error.what()).find("listing_limit") != std::string::npos, error.what());
}

// Thousands of unusable UIDL lines cost 20 warnings and a count; lines of any length cost a
// bounded line buffer. The good lines still make the listing, with their LIST sizes.
BOOST_AUTO_TEST_CASE(testUnusableListingLinesAreCountedNotKept) {
  std::string uidl = "+OK\r\n1 good-one\r\n";
  for (int i = 0; i < 500; ++i) uidl += "x" + std::to_string(i) + " bad\r\n";
  uidl += "2 " + std::string(100000, 'a') + "\r\n3 good-three\r\n.\r\n";
  ScriptedServer srv({pop3Greeting()
                          .then(pop3Capa({"USER", "UIDL"}))
                          .expect("USER").send("+OK\r\n").expect("PASS").send("+OK\r\n")
                          .expect("UIDL").send(uidl)
                          .expect("LIST").send("+OK\r\n1 100\r\n2 200\r\n3 300\r\n.\r\n")
                          .expectEof()});
  auto client = connect(endpoint(srv));
  client->login(creds());
  const pop3::Listing listing = client->list();
  BOOST_REQUIRE(listing.messages.size() == 2u);
  BOOST_TEST(listing.messages[0].uidl == "good-one");
  BOOST_TEST(listing.messages[0].size == 100u);
  BOOST_TEST(listing.messages[1].uidl == "good-three");
  BOOST_TEST(listing.messages[1].size == 300u);
  BOOST_TEST(listing.problems.size() == Problems::kKept);
  BOOST_TEST(listing.problems.omitted() == 481u);  // 500 bad lines and the endless one, less 20
  for (const std::string& p : listing.problems) BOOST_TEST(p.size() < 200u);
}

// Headers before retrieval (backlog: since, dedupe): every TOP n 0 of the listing leaves in one
// pipelined stream before the first answer is read, and each answer is read as carefully as a
// RETR: dot-unstuffed, a -ERR for that message alone, a header over the limit drained and
// reported TooLarge, the session still in step afterwards.
BOOST_AUTO_TEST_CASE(testHeadersTravelInOnePipelinedRound) {
  ScriptedServer srv({pop3Greeting()
                          .then(pop3Capa({"USER", "UIDL", "TOP", "PIPELINING"}))
                          .expect("USER").send("+OK\r\n").expect("PASS").send("+OK\r\n")
                          .expect("TOP 1 0").expect("TOP 2 0").expect("TOP 3 0").expect("TOP 4 0")
                          .send("+OK top of message follows\r\n"
                                "Date: Mon, 5 Jan 2026 09:00:00 +0000\r\n"
                                "X-Odd: \r\n..starts with a dot\r\n\r\n.\r\n"
                                "-ERR no such message\r\n"
                                "+OK\r\nSubject: " + std::string(300, 'h') + "\r\n\r\n.\r\n"
                                "+OK\r\nMessage-ID: <4@x>\r\n\r\n.\r\n")
                          .expect("QUIT").send("+OK\r\n").close()});
  auto client = connect(endpoint(srv));
  client->login(creds());
  BOOST_TEST(client->offersTop());
  const std::vector<pop3::MessageInfo> messages{{1, "a", 900000}, {2, "b", 10}, {3, "c", 10},
                                                {4, "d", 10}};
  Collect got;
  client->headersMany(messages, 200, got);
  BOOST_TEST(got.bytes[1] == "Date: Mon, 5 Jan 2026 09:00:00 +0000\r\nX-Odd: \r\n.starts with a "
                             "dot\r\n\r\n");
  BOOST_TEST((got.outcomes[1] == pop3::RetrieveOutcome::Complete));
  BOOST_TEST((got.outcomes[2] == pop3::RetrieveOutcome::Refused));
  BOOST_TEST((got.outcomes[3] == pop3::RetrieveOutcome::TooLarge));
  BOOST_TEST(got.bytes[4] == "Message-ID: <4@x>\r\n\r\n");
  BOOST_TEST(client->quit());
  BOOST_TEST(srv.wait());
  BOOST_TEST(srv.failures().empty(), srv.report());
}

// Without PIPELINING, one TOP at a time; a server without TOP in its CAPA is not asked at all,
// one without CAPA is (TOP is optional in RFC 1939: its answers tell).
BOOST_AUTO_TEST_CASE(testHeadersWithoutPipeliningAndWithoutTop) {
  ScriptedServer srv({pop3Greeting()
                          .then(pop3Capa({"USER", "UIDL", "TOP"}))
                          .expect("USER").send("+OK\r\n").expect("PASS").send("+OK\r\n")
                          .expect("TOP 1 0").send("+OK\r\nFrom: a\r\n\r\n.\r\n")
                          .expect("TOP 2 0").send("+OK\r\nFrom: b\r\n\r\n.\r\n")
                          .expect("QUIT").send("+OK\r\n").close(),
                      pop3Greeting().then(pop3Capa({"USER", "UIDL"})).expectEof(),
                      pop3Greeting().expect("CAPA").send("-ERR what?\r\n").expectEof()});
  {
    auto client = connect(endpoint(srv));
    client->login(creds());
    Collect got;
    client->headersMany({{1, "a", 5}, {2, "b", 5}}, 1000, got);
    BOOST_TEST(got.bytes[1] == "From: a\r\n\r\n");
    BOOST_TEST(got.bytes[2] == "From: b\r\n\r\n");
    BOOST_TEST(client->quit());
  }
  BOOST_TEST(!connect(endpoint(srv))->offersTop());
  BOOST_TEST(connect(endpoint(srv))->offersTop());
  BOOST_TEST(srv.wait());
  BOOST_TEST(srv.failures().empty(), srv.report());
}

// A [SYS/TEMP] refusal of a TOP is the server's trouble, not the message's: the call fails.
BOOST_AUTO_TEST_CASE(testTemporaryRefusalOfTopFailsTheCall) {
  ScriptedServer srv({pop3Greeting()
                          .then(pop3Capa({"USER", "UIDL", "TOP"}))
                          .expect("USER").send("+OK\r\n").expect("PASS").send("+OK\r\n")
                          .expect("TOP 1 0").send("-ERR [SYS/TEMP] try later\r\n")
                          .expectEof()});
  auto client = connect(endpoint(srv));
  client->login(creds());
  Collect got;
  const Error e = expectError([&] { client->headersMany({{1, "a", 5}}, 1000, got); });
  BOOST_TEST((e.kind() == ErrorKind::Transient));
  client.reset();
  BOOST_TEST(srv.wait());
}
