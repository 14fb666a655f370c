// The client's TLS policy against real handshakes on loopback: TLS 1.2 only with forward-secret
// AEAD suites (a server that offers only RSA key exchange, or only CBC, gets no connection, so no
// credential is ever sent), and a ca_file changed on disk takes effect at the next connection,
// which is what a SIGHUP reload relies on.
#include <boost/test/unit_test.hpp>

#include <openssl/ssl.h>

#include <chrono>
#include <filesystem>
#include <future>
#include <string>
#include <thread>

#include <Poco/Net/Context.h>
#include <Poco/Net/SecureStreamSocket.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/SocketAddress.h>

#include "connectors/common/Error.h"
#include "connectors/net/TlsContextCache.h"
#include "connectors/net/Transport.h"
#include "tests/support/TempDir.h"
#include "tests/support/TestCerts.h"

using namespace popgate;
using popgate::test::CertFiles;
using popgate::test::TestCerts;

namespace {

// One TLS connection on 127.0.0.1 with `cert` and exactly the TLS 1.2 suites in `ciphers` (TLS
// 1.3 switched off, so the suite list decides); answers "+OK\r\n" after a handshake. `result()`
// says how the handshake went on the server's side.
class OneTlsServer {
 public:
  OneTlsServer(const CertFiles& cert, const std::string& ciphers)
      : socket_(Poco::Net::SocketAddress("127.0.0.1", 0)) {
    Poco::Net::Context::Params params;
    params.certificateFile = cert.cert;
    params.privateKeyFile = cert.key;
    params.verificationMode = Poco::Net::Context::VERIFY_NONE;
    params.loadDefaultCAs = false;
    params.cipherList = ciphers;
    params.dhUse2048Bits = true;
    context_ = new Poco::Net::Context(Poco::Net::Context::SERVER_USE, params);
    context_->disableProtocols(Poco::Net::Context::PROTO_TLSV1_3);
    done_ = std::async(std::launch::async, [this] { return serve(); });
  }
  std::uint16_t port() const { return socket_.address().port(); }
  // "handshake done" or what went wrong; waits for the server to finish (at most 20 s).
  std::string result() {
    if (done_.wait_for(std::chrono::seconds(20)) != std::future_status::ready) return "hung";
    return done_.get();
  }

 private:
  std::string serve() {
    try {
      if (!socket_.poll(Poco::Timespan(15, 0), Poco::Net::Socket::SELECT_READ)) return "no client";
      Poco::Net::StreamSocket plain = socket_.acceptConnection();
      plain.setReceiveTimeout(Poco::Timespan(10, 0));
      Poco::Net::SecureStreamSocket tls = Poco::Net::SecureStreamSocket::attach(plain, context_);
      if (tls.completeHandshake() != 1) return "client left during the handshake";
      tls.sendBytes("+OK\r\n", 5);
      return "handshake done";
    } catch (const Poco::Exception& e) {
      return e.displayText();
    }
  }

  Poco::Net::ServerSocket socket_;
  Poco::Net::Context::Ptr context_;
  std::future<std::string> done_;
};

net::Endpoint endpointFor(std::uint16_t port, const std::filesystem::path& ca_file) {
  net::Endpoint e;
  e.protocol = "POP3";
  e.host = "localhost";
  e.port = port;
  e.tls = TlsMode::Implicit;
  e.ca_file = ca_file;
  e.timeout = std::chrono::seconds(10);
  return e;
}

// "ok" when a verified TLS connection came up, else the kind and text of the Error.
std::string connect(std::uint16_t port, const std::filesystem::path& ca_file) {
  try {
    auto transport = net::openTransport(endpointFor(port, ca_file));
    char buffer[16];
    const std::size_t n = transport->readSome(buffer, sizeof buffer, "a greeting");
    return std::string(buffer, n) == "+OK\r\n" ? "ok" : "unexpected bytes";
  } catch (const Error& e) {
    return std::string(kindName(e.kind())) + ": " + e.what();
  }
}

}  // namespace

BOOST_AUTO_TEST_CASE(testEveryTls12SuiteIsForwardSecretAead) {
  auto context = net::TlsContextCache::instance().contextFor("localhost", std::nullopt);
  SSL* ssl = SSL_new(context->sslContext());
  BOOST_REQUIRE(ssl != nullptr);
  STACK_OF(SSL_CIPHER)* ciphers = SSL_get1_supported_ciphers(ssl);
  BOOST_REQUIRE(ciphers != nullptr);
  int tls12 = 0;
  for (int i = 0; i < sk_SSL_CIPHER_num(ciphers); ++i) {
    const SSL_CIPHER* cipher = sk_SSL_CIPHER_value(ciphers, i);
    const std::string name = SSL_CIPHER_get_name(cipher);
    BOOST_TEST_CONTEXT(name) {
      BOOST_TEST(SSL_CIPHER_is_aead(cipher) == 1);
      if (std::string(SSL_CIPHER_get_version(cipher)) == "TLSv1.3") continue;  // OpenSSL's own
      ++tls12;
      const int kx = SSL_CIPHER_get_kx_nid(cipher);
      BOOST_TEST((kx == NID_kx_ecdhe || kx == NID_kx_dhe));
    }
  }
  BOOST_TEST(tls12 >= 6);
  sk_SSL_CIPHER_free(ciphers);
  SSL_free(ssl);
}

BOOST_AUTO_TEST_CASE(testForwardSecretAeadServerIsAccepted) {
  OneTlsServer server(TestCerts::localhost(), "ECDHE-RSA-AES128-GCM-SHA256");
  BOOST_TEST(connect(server.port(), TestCerts::caFile()) == "ok");
  BOOST_TEST(server.result() == "handshake done");
}

BOOST_AUTO_TEST_CASE(testServerWithoutForwardSecrecyGetsNoConnection) {
  // Static RSA key exchange: whoever gets the server's key later can read today's passwords.
  OneTlsServer server(TestCerts::localhost(), "AES128-GCM-SHA256:AES256-GCM-SHA384");
  const std::string outcome = connect(server.port(), TestCerts::caFile());
  BOOST_TEST(outcome.starts_with("security: TLS handshake with POP3 localhost:"), outcome);
  BOOST_TEST(server.result() != "handshake done");
}

BOOST_AUTO_TEST_CASE(testServerWithOnlyCbcSuitesGetsNoConnection) {
  OneTlsServer server(TestCerts::localhost(), "ECDHE-RSA-AES128-SHA256:ECDHE-RSA-AES256-SHA");
  const std::string outcome = connect(server.port(), TestCerts::caFile());
  BOOST_TEST(outcome.starts_with("security: "), outcome);
  BOOST_TEST(server.result() != "handshake done");
}

BOOST_AUTO_TEST_CASE(testChangedCaFileTakesEffectWithoutARestart) {
  test::TempDir dir;
  const std::filesystem::path ca = dir.path() / "ca.pem";
  std::filesystem::copy_file(TestCerts::caFile(), ca);
  {
    OneTlsServer server(TestCerts::localhost(), "ECDHE-RSA-AES128-GCM-SHA256");
    BOOST_TEST(connect(server.port(), ca) == "ok");
  }
  // The operator replaces the trust anchor (a new private CA): the old one is trusted no more...
  test::writeFile(ca, test::readFile(TestCerts::selfSignedCert()));
  {
    OneTlsServer server(TestCerts::localhost(), "ECDHE-RSA-AES128-GCM-SHA256");
    const std::string outcome = connect(server.port(), ca);
    BOOST_TEST(outcome.starts_with("security: "), outcome);
  }
  // ... and the new one is.
  {
    OneTlsServer server(TestCerts::selfSigned(), "ECDHE-RSA-AES128-GCM-SHA256");
    BOOST_TEST(connect(server.port(), ca) == "ok");
  }
  // A ca_file that went away is an error naming it, not the old trust.
  std::filesystem::remove(ca);
  OneTlsServer server(TestCerts::selfSigned(), "ECDHE-RSA-AES128-GCM-SHA256");
  const std::string gone = connect(server.port(), ca);
  BOOST_TEST(gone.starts_with("security: "), gone);
  BOOST_TEST(gone.find("ca_file " + ca.string()) != std::string::npos, gone);
}
