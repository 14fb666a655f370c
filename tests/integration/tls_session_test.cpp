// TLS session resumption against a real Dovecot: a provider polls thousands of accounts on the same
// server every minute, and a resumed handshake costs a fraction of a full one. The second
// connection to a server resumes the first one's session; a session is never offered to another
// server; a resumed connection still checks nothing less (the same pinned, verified peer).
#include <boost/test/unit_test.hpp>

#include <memory>
#include <string>

#include "connectors/net/PocoTransport.h"
#include "connectors/net/TlsContextCache.h"
#include "tests/support/DovecotSandbox.h"

namespace {

using popgate::net::Endpoint;
using popgate::net::PocoTransport;
using popgate::net::TlsContextCache;
using popgate::TlsMode;
using popgate::test::DovecotSandbox;
using popgate::test::SandboxOptions;

// A Dovecot whose POP3S sessions can always be resumed (one login process, one ticket key).
SandboxOptions resumable() {
  SandboxOptions options;
  options.pop3_login = SandboxOptions::Pop3Login::One;
  return options;
}

Endpoint pop3s(const DovecotSandbox& dovecot) {
  Endpoint e;
  e.protocol = "POP3";
  e.host = "localhost";
  e.port = dovecot.pop3sPort();
  e.tls = TlsMode::Implicit;
  e.ca_file = dovecot.caFile();
  e.timeout = std::chrono::seconds(20);
  return e;
}

// Connects, reads the greeting (which also reads a TLS 1.3 session ticket), says QUIT and closes
// as the POP3 client does; whether the handshake was resumed.
bool greetAndQuit(const Endpoint& endpoint) {
  PocoTransport transport(endpoint);
  char buf[512];
  std::string greeting;
  while (greeting.find('\n') == std::string::npos) {
    std::size_t n = transport.readSome(buf, sizeof buf, "the greeting");
    BOOST_REQUIRE(n > 0);
    greeting.append(buf, n);
  }
  BOOST_TEST(greeting.rfind("+OK", 0) == 0, greeting);
  transport.writeAll("QUIT\r\n");
  std::size_t n = transport.readSome(buf, sizeof buf, "the QUIT answer");
  BOOST_TEST(std::string(buf, n).rfind("+OK", 0) == 0);
  const bool resumed = transport.sessionResumed();
  transport.close();
  return resumed;
}

}  // namespace

BOOST_AUTO_TEST_CASE(testRepeatedPollOfSameServerResumesTlsSession) {
  DovecotSandbox dovecot({"work"}, resumable());
  const Endpoint endpoint = pop3s(dovecot);
  BOOST_TEST(TlsContextCache::instance().sessionFor(endpoint.host, endpoint.port, endpoint.ca_file).isNull());
  BOOST_TEST(!greetAndQuit(endpoint));  // the first connection: a full handshake
  BOOST_TEST(!TlsContextCache::instance().sessionFor(endpoint.host, endpoint.port, endpoint.ca_file).isNull());
  BOOST_TEST(greetAndQuit(endpoint));   // then resumed
  BOOST_TEST(greetAndQuit(endpoint));   // and again: each connection keeps a fresh session
}

BOOST_AUTO_TEST_CASE(testSessionNeverOfferedToAnotherServer) {
  DovecotSandbox first({"work"}, resumable());
  DovecotSandbox second({"work"}, resumable());
  const Endpoint a = pop3s(first);
  const Endpoint b = pop3s(second);
  greetAndQuit(a);
  BOOST_TEST(greetAndQuit(a));
  // Same host name and CA file name pattern, another port (another server): a full handshake.
  BOOST_TEST(TlsContextCache::instance().sessionFor(b.host, b.port, b.ca_file).isNull());
  BOOST_TEST(!greetAndQuit(b));
}

BOOST_AUTO_TEST_CASE(testServerThatNeverResumesGetsFullHandshakesThatStillWork) {
  SandboxOptions options;
  options.pop3_login = SandboxOptions::Pop3Login::PerConnection;
  DovecotSandbox dovecot({"work"}, options);
  const Endpoint endpoint = pop3s(dovecot);
  // Whatever is offered, the server declines: each connection is a verified full handshake.
  for (int i = 0; i < 3; ++i) BOOST_TEST(!greetAndQuit(endpoint));
}
