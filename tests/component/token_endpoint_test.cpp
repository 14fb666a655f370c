// TokenEndpoint against the test suite's own authorization server on loopback (plain HTTP and
// TLS) and a scripted TLS server: the refresh grant as sent, rotation, how each refusal is
// classified (permanent auth with the endpoint's words and the likely cause, transient for 5xx and
// unreachable), and TLS as strict as the mail connections (untrusted CA, wrong name, a stalled
// handshake: no request leaves).
#include <boost/test/unit_test.hpp>

#include <chrono>

#include "connectors/common/Error.h"
#include "connectors/oauth/TokenEndpoint.h"
#include "tests/support/ClientHarness.h"
#include "tests/support/GatewaySetup.h"
#include "tests/support/OAuthTestServer.h"
#include "tests/support/ScriptedServer.h"
#include "tests/support/TestCerts.h"

using namespace std::chrono_literals;
using popgate::test::expectError;
using namespace popgate;
using oauth::EndpointSettings;
using oauth::TokenEndpoint;
using test::OAuthServerOptions;
using test::OAuthTestServer;
using test::TestCerts;

namespace {

EndpointSettings at(const std::string& url, std::optional<std::filesystem::path> ca = std::nullopt,
                    std::chrono::milliseconds timeout = 5s) {
  EndpointSettings settings;
  settings.url = url;
  settings.ca_file = std::move(ca);
  settings.timeout = timeout;
  return settings;
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

}  // namespace

BOOST_AUTO_TEST_CASE(testRefreshGrantAsSentAndRotation) {
  OAuthTestServer server;
  const std::string first = server.issueRefreshToken("work");
  const TokenEndpoint endpoint(at(server.url("/token")));
  const auto grant = endpoint.refresh("popgate-test-client", "", first,
                                      "https://outlook.office.com/IMAP.AccessAsUser.All offline_access");
  BOOST_TEST(server.accessTokenActive(std::string(grant.access_token.reveal())));
  BOOST_TEST(grant.expires_in.count() == 3600);
  BOOST_TEST(!grant.refresh_token.empty());
  BOOST_TEST(grant.refresh_token.reveal() != first);
  BOOST_TEST(!server.refreshTokenValid(first));  // rotated away
  const auto sent = server.lastTokenRequest();
  BOOST_TEST(sent.at("grant_type") == "refresh_token");
  BOOST_TEST(sent.at("client_id") == "popgate-test-client");
  BOOST_TEST(sent.at("scope") == "https://outlook.office.com/IMAP.AccessAsUser.All offline_access");
  BOOST_TEST(sent.count("client_secret") == 0u);  // a public client sends none
}

BOOST_AUTO_TEST_CASE(testConfidentialClientSendsItsSecret) {
  OAuthServerOptions options;
  options.client_secret = "GOCSPX-secret";
  options.rotate = false;  // Google keeps the refresh token
  OAuthTestServer server(options);
  const std::string refresh = server.issueRefreshToken("me");
  const TokenEndpoint endpoint(at(server.url("/token")));
  const auto grant = endpoint.refresh("popgate-test-client", "GOCSPX-secret", refresh, "");
  BOOST_TEST(grant.refresh_token.empty());
  BOOST_TEST(server.lastClientSecretSeen() == "GOCSPX-secret");
  BOOST_TEST(server.lastTokenRequest().count("scope") == 0u);
}

BOOST_AUTO_TEST_CASE(testPublicClientSendingASecretIsToldToRemoveIt) {
  OAuthTestServer server;
  const TokenEndpoint endpoint(at(server.url("/token")));
  const Error error = expectError(
      [&] { endpoint.refresh("popgate-test-client", "oops", server.issueRefreshToken("w"), "s"); });
  BOOST_TEST((error.kind() == ErrorKind::Auth));
  BOOST_TEST(contains(error.what(), "invalid_request: AADSTS700025: Client is public"), error.what());
  BOOST_TEST(contains(error.what(), "remove client_secret"), error.what());
  BOOST_TEST(!contains(error.what(), "oops"));
}

BOOST_AUTO_TEST_CASE(testRevokedRefreshTokenIsAPermanentAuthError) {
  OAuthTestServer server;
  const std::string refresh = server.issueRefreshToken("work");
  server.revokeUser("work");
  const TokenEndpoint endpoint(at(server.url("/token")));
  const Error error = expectError([&] { endpoint.refresh("popgate-test-client", "", refresh, "s"); });
  BOOST_TEST((error.kind() == ErrorKind::Auth));
  BOOST_TEST(contains(error.what(), "(invalid_grant: AADSTS70000: The provided grant has expired due "
                                    "to it being revoked, a fresh auth token is needed.)"),
             error.what());
  BOOST_TEST(contains(error.what(), "run popgate authorize again"), error.what());
  BOOST_TEST(!contains(error.what(), refresh));
}

BOOST_AUTO_TEST_CASE(testServerErrorIsTransient) {
  OAuthTestServer server;
  server.failNext(1, 503);
  const TokenEndpoint endpoint(at(server.url("/token")));
  const Error error =
      expectError([&] { endpoint.refresh("popgate-test-client", "", server.issueRefreshToken("w"), ""); });
  BOOST_TEST((error.kind() == ErrorKind::Transient));
  BOOST_TEST(contains(error.what(), "HTTP 503: <html><body>Service Unavailable</body></html>"), error.what());
  BOOST_TEST(contains(error.what(), "trying again later"), error.what());
}

BOOST_AUTO_TEST_CASE(testTooManyRequestsAndTemporarilyUnavailableAreTransient) {
  OAuthTestServer server;
  const TokenEndpoint endpoint(at(server.url("/token")));
  server.answerNext(429, R"({"error":"too_many_requests"})");
  BOOST_TEST((expectError([&] { endpoint.refresh("popgate-test-client", "", "x", ""); }).kind() ==
              ErrorKind::Transient));
  server.answerNext(400, R"({"error":"temporarily_unavailable","error_description":"busy"})");
  BOOST_TEST((expectError([&] { endpoint.refresh("popgate-test-client", "", "x", ""); }).kind() ==
              ErrorKind::Transient));
}

BOOST_AUTO_TEST_CASE(testUnreachableEndpointIsTransient) {
  const std::uint16_t closed = test::freeLocalPort();
  const TokenEndpoint endpoint(at("http://127.0.0.1:" + std::to_string(closed) + "/token"));
  const Error error = expectError([&] { endpoint.refresh("c", "", "r", ""); });
  BOOST_TEST((error.kind() == ErrorKind::Transient));
  BOOST_TEST(contains(error.what(), "cannot reach token endpoint http://127.0.0.1:"), error.what());
}

BOOST_AUTO_TEST_CASE(testAnswersThatAreNotGrants) {
  OAuthTestServer server;
  const TokenEndpoint endpoint(at(server.url("/token")));
  server.answerNext(200, "<html>a login page</html>");
  const Error html = expectError([&] { endpoint.refresh("popgate-test-client", "", "x", ""); });
  BOOST_TEST((html.kind() == ErrorKind::Protocol));
  BOOST_TEST(contains(html.what(), "without an access token (HTTP 200: <html>a login page</html>)"), html.what());
  server.answerNext(200, R"({"access_token":"has space","token_type":"Bearer","expires_in":3600})");
  BOOST_TEST((expectError([&] { endpoint.refresh("popgate-test-client", "", "x", ""); }).kind() ==
              ErrorKind::Protocol));
  server.answerNext(200, R"({"access_token":"abc","token_type":"mac","expires_in":3600})");
  BOOST_TEST((expectError([&] { endpoint.refresh("popgate-test-client", "", "x", ""); }).kind() ==
              ErrorKind::Protocol));
  server.answerNext(404, "Not Found");
  const Error missing = expectError([&] { endpoint.refresh("popgate-test-client", "", "x", ""); });
  BOOST_TEST((missing.kind() == ErrorKind::Protocol));
  BOOST_TEST(contains(missing.what(), "is token_url right?"), missing.what());
  // expires_in as a string (older endpoints) is understood.
  server.answerNext(200, R"({"access_token":"ya29.a0-AfB_x/y+z==","token_type":"Bearer","expires_in":"3599"})");
  BOOST_TEST(endpoint.refresh("popgate-test-client", "", "x", "").expires_in.count() == 3599);
}

BOOST_AUTO_TEST_CASE(testHttpsWithTheConfiguredCa) {
  OAuthServerOptions options;
  options.tls = true;
  OAuthTestServer server(options);
  const TokenEndpoint endpoint(at(server.url("/token"), TestCerts::caFile()));
  const auto grant = endpoint.refresh("popgate-test-client", "", server.issueRefreshToken("w"), "");
  BOOST_TEST(server.accessTokenActive(std::string(grant.access_token.reveal())));
  // Without the private CA the same server is not trusted, and no request is made.
  const TokenEndpoint untrusted(at(server.url("/token")));
  const unsigned before = server.tokenRequests();
  const Error error = expectError([&] { untrusted.refresh("popgate-test-client", "", "r", ""); });
  BOOST_TEST((error.kind() == ErrorKind::Security));
  BOOST_TEST(contains(error.what(), "certificate verify failed"), error.what());
  BOOST_TEST(server.tokenRequests() == before);
}

BOOST_AUTO_TEST_CASE(testHttpsCertificateForAnotherNameIsRefused) {
  OAuthServerOptions options;
  options.tls = true;
  options.cert = TestCerts::otherHost();
  OAuthTestServer server(options);
  const TokenEndpoint endpoint(at(server.url("/token"), TestCerts::caFile()));
  BOOST_TEST((expectError([&] { endpoint.refresh("popgate-test-client", "", "r", ""); }).kind() ==
              ErrorKind::Security));
  BOOST_TEST(server.tokenRequests() == 0u);
}

BOOST_AUTO_TEST_CASE(testStalledHandshakeDoesNotBypassTheNameCheck) {
  // PROTOCOL pitfall: a server that stalls its handshake past the read timeout must not get the
  // request just because Poco took the handshake for finished.
  test::ScriptedServer srv({test::Script()
                                .stallHandshake(1500ms)
                                .tls(TestCerts::otherHost())
                                .expectEof(10s)});
  const TokenEndpoint endpoint(
      at("https://localhost:" + std::to_string(srv.port()) + "/token", TestCerts::caFile(), 1s));
  const Error error = expectError([&] { endpoint.refresh("c", "", "secret-refresh", ""); });
  BOOST_TEST((error.kind() == ErrorKind::Security || error.kind() == ErrorKind::Transient), error.what());
  BOOST_TEST(srv.wait());
  BOOST_TEST(!srv.received(0, "POST"));
  BOOST_TEST(!srv.received(0, "secret-refresh"));
}

BOOST_AUTO_TEST_CASE(testPlainHttpOnlyToLoopback) {
  BOOST_TEST((expectError([] { TokenEndpoint(at("http://192.0.2.1/token")); }).kind() == ErrorKind::Config));
  BOOST_TEST((expectError([] { TokenEndpoint(at("http://localhost/token")); }).kind() == ErrorKind::Config));
  BOOST_TEST((expectError([] { TokenEndpoint(at("ftp://127.0.0.1/token")); }).kind() == ErrorKind::Config));
  TokenEndpoint loopback(at("http://127.0.0.1:9/token"));
  TokenEndpoint v6(at("http://[::1]:9/token"));
  BOOST_TEST(loopback.url() == "http://127.0.0.1:9/token");
}
