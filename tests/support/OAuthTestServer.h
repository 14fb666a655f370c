#pragma once
// An OAuth 2.0 authorization server of the test suite's own, on 127.0.0.1 (Poco HTTPServer, plain
// HTTP or TLS with the test certificates). It plays the parts popgate meets at Microsoft and
// Google, with their error texts, and Dovecot's token introspection:
//
//   POST /token       grant_type=refresh_token | authorization_code (PKCE S256) |
//                     urn:ietf:params:oauth:grant-type:device_code. Like the providers, a
//                     device grant brings a refresh token only with the offline_access scope,
//                     an authorization code only when access_type=offline&prompt=consent were
//                     asked for; a public client that sends a secret gets AADSTS700025.
//   POST /devicecode  RFC 8628 device authorization
//   GET  /authorize   the user's consent, answered at once with a redirect carrying the code
//   POST /introspect  RFC 7662 for Dovecot's passdb oauth2 (introspection_mode = post):
//                     {"active": true, "email": USER} or {"active": false}
//
//   OAuthTestServer server;
//   const std::string refresh = server.issueRefreshToken("work");   // what authorize would give
//   ... popgate refreshes at server.url("/token"), Dovecot checks at server.url("/introspect") ...
//   server.revokeUser("work");   server.failNext(3);   server.expireAccessTokens();
//
// Every access token has a lifetime (accessLifetime); each refresh rotates the refresh token by
// default (Microsoft's way): the old one is then refused with invalid_grant. Thread-safe.

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tests/support/LoopbackHttpServer.h"
#include "tests/support/TestCerts.h"

namespace popgate::test {

struct OAuthServerOptions {
  bool tls = false;            // https with `cert` (ca: TestCerts::caFile())
  CertFiles cert{};            // empty: TestCerts::localhost()
  std::string client_id = "popgate-test-client";
  // "" = a public client (Microsoft's rule: sending a secret is refused with AADSTS700025);
  // otherwise the secret a confidential client must send.
  std::string client_secret;
  bool rotate = true;          // every refresh hands out a new refresh token, the old one dies
  std::chrono::seconds access_lifetime{3600};
  int device_interval = 0;     // "interval" of device authorization answers (seconds)
};

// One device authorization popgate asked for.
struct DeviceRequest {
  std::string device_code, user_code, client_id, scope;
};

// One GET /authorize the test (as the browser) passed on.
struct AuthorizeRequest {
  std::map<std::string, std::string> params;
};

class OAuthTestServer {
 public:
  // Starts listening on 127.0.0.1 at an ephemeral port. Throws Poco::Exception when it cannot.
  explicit OAuthTestServer(OAuthServerOptions options = {});
  ~OAuthTestServer();
  OAuthTestServer(const OAuthTestServer&) = delete;
  OAuthTestServer& operator=(const OAuthTestServer&) = delete;

  std::uint16_t port() const;
  // "http://127.0.0.1:PORT" + path, or "https://localhost:PORT" + path with tls.
  std::string url(const std::string& path) const;

  // A new valid refresh token for `user` (as an authorization would have given).
  std::string issueRefreshToken(const std::string& user);
  // Every refresh token of `user` is refused from now on (invalid_grant), and its access tokens.
  void revokeUser(const std::string& user);
  // Every access token issued so far (to `user`, or to anyone when empty) is expired:
  // introspection answers active: false.
  void expireAccessTokens(const std::string& user = {});
  void setAccessLifetime(std::chrono::seconds lifetime);
  // The next `count` requests to /token get HTTP `status` with a non-JSON body.
  void failNext(unsigned count, int status = 500);
  // The next request to /token gets exactly this status and body (JSON when it starts with "{").
  void answerNext(int status, std::string body);
  // Whether `refresh_token` would be accepted now.
  bool refreshTokenValid(const std::string& refresh_token) const;
  // Whether `access_token` was issued, is not expired and not revoked.
  bool accessTokenActive(const std::string& access_token) const;
  // The scope `access_token` was granted: the one its token request named ("" when unknown).
  std::string accessTokenScope(const std::string& access_token) const;
  // When the access tokens issued so far to `user` expire at the latest.
  std::chrono::steady_clock::time_point lastAccessExpiry(const std::string& user) const;

  // Successful refresh_token grants for `user` so far, and every refresh token shown to /token
  // (valid or not) in order.
  unsigned refreshes(const std::string& user) const;
  std::vector<std::string> refreshTokensShown() const;
  // Requests answered with 500 by failNext, and /token requests in total.
  unsigned failedOnPurpose() const;
  unsigned tokenRequests() const;
  // Introspection answers so far: active and inactive.
  unsigned introspectionsActive() const;
  unsigned introspectionsInactive() const;

  // Device grant: the answers the next polls get, in order, the last one repeated:
  // "authorization_pending", "slow_down", "authorization_declined", "expired_token", or "ok"
  // (tokens for `user`). Default: {"ok"} for user "work".
  void scriptDevice(std::vector<std::string> answers, const std::string& user);
  std::optional<DeviceRequest> lastDeviceRequest() const;
  // Polls of the device token grant so far.
  unsigned devicePolls() const;
  // Authorization code flow: requests to /authorize so far (the last one, if any), and the user
  // the codes stand for.
  std::optional<AuthorizeRequest> lastAuthorizeRequest() const;
  void setAuthorizeUser(const std::string& user);
  // A client_secret the token endpoint saw last ("" when none was sent).
  std::string lastClientSecretSeen() const;
  // Form fields of the last /token request (secrets included: tests only).
  std::map<std::string, std::string> lastTokenRequest() const;

 private:
  struct State;
  class Handler;
  std::shared_ptr<State> state_;
  std::unique_ptr<LoopbackHttpServer> server_;
  OAuthServerOptions options_;
};

}  // namespace popgate::test
