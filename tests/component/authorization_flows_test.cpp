// The flows of `popgate authorize` against the test suite's authorization server on loopback: the
// device grant through pending, slow_down (+5 s on every later poll), declined and expired, with
// the waits recorded instead of slept; the loopback redirect with PKCE S256 from a browser, from a
// pasted address, with a forged state, and refused by the user.
#include <boost/test/unit_test.hpp>

#include <unistd.h>

#include <future>
#include <mutex>
#include <sstream>
#include <thread>

#include <Poco/URI.h>

#include "connectors/common/Error.h"
#include "connectors/oauth/AuthorizationFlows.h"
#include "tests/support/ClientHarness.h"
#include "tests/support/GatewaySetup.h"
#include "tests/support/OAuthTestServer.h"

using namespace std::chrono_literals;
using popgate::test::expectError;
using namespace popgate;
using oauth::ClientSettings;
using oauth::EndpointSettings;
using oauth::TokenEndpoint;
using test::OAuthServerOptions;
using test::OAuthTestServer;

namespace {

TokenEndpoint at(const std::string& url) {
  EndpointSettings settings;
  settings.url = url;
  settings.timeout = 5s;
  return TokenEndpoint(settings);
}

const ClientSettings kMicrosoftClient{"popgate-test-client", popgate::Secret(),
                                      "https://outlook.office.com/POP.AccessAsUser.All offline_access"};
const ClientSettings kGoogleClient{"popgate-test-client", popgate::Secret(), "https://mail.google.com/"};

// A pipe standing for stdin.
struct Pipe {
  int fds[2] = {-1, -1};
  Pipe() { BOOST_REQUIRE(::pipe(fds) == 0); }
  ~Pipe() {
    for (int fd : fds) {
      if (fd >= 0) ::close(fd);
    }
  }
  void write(const std::string& text) const {
    BOOST_REQUIRE(::write(fds[1], text.data(), text.size()) == static_cast<ssize_t>(text.size()));
  }
};

// What the flow prints, written on its thread and read on the test's: a locked buffer.
class Printed : private std::streambuf {
 public:
  Printed() : stream_(this) {}
  std::ostream& stream() { return stream_; }
  std::string text() {
    std::lock_guard lock(mutex_);
    return text_;
  }
  // The authorization URL the loopback flow printed ("  http://...authorize?..."), once it did.
  std::optional<std::string> authorizationUrl() {
    const std::string all = text();
    const std::size_t at = all.find("  http://127.0.0.1:");
    if (at == std::string::npos) return std::nullopt;
    const std::size_t end = all.find('\n', at);
    if (end == std::string::npos) return std::nullopt;
    return all.substr(at + 2, end - at - 2);
  }

 private:
  int overflow(int c) override {
    if (c != traits_type::eof()) {
      std::lock_guard lock(mutex_);
      text_.push_back(static_cast<char>(c));
    }
    return c;
  }
  std::streamsize xsputn(const char* bytes, std::streamsize n) override {
    std::lock_guard lock(mutex_);
    text_.append(bytes, static_cast<std::size_t>(n));
    return n;
  }

  std::mutex mutex_;
  std::string text_;
  std::ostream stream_;
};

// Follows the authorization URL at the test server: the redirect it answers with.
std::string consent(const std::string& url) {
  const Poco::URI uri(url);
  const test::HttpResponse answer = test::httpRequest("GET", uri.getPort(), uri.getPathAndQuery());
  BOOST_REQUIRE(answer.status == 302);
  return answer.headers.at("Location");
}

// The loopback flow on a thread of its own, with a pipe for stdin, started and waited for until it
// printed its authorization URL.
class LoopbackFlow {
 public:
  explicit LoopbackFlow(OAuthTestServer& server, std::string login_hint = {}) {
    settings_.authorization_url = server.url("/authorize");
    settings_.login_hint = std::move(login_hint);
    settings_.input_fd = input_.fds[0];
    settings_.timeout = std::chrono::seconds(30);  // a failed test must not wait ten minutes
    result_ = std::async(std::launch::async, [this, token = server.url("/token")] {
      return oauth::runLoopbackGrant(at(token), kGoogleClient, settings_, printed_.stream());
    });
    BOOST_REQUIRE(test::waitFor([&] { return printed_.authorizationUrl().has_value(); }, 10s));
  }
  ~LoopbackFlow() {
    if (result_.valid()) result_.wait();
  }
  std::string url() { return *printed_.authorizationUrl(); }
  void paste(const std::string& text) { input_.write(text); }
  oauth::TokenGrant result() { return result_.get(); }
  std::string printed() { return printed_.text(); }

 private:
  Printed printed_;
  Pipe input_;
  oauth::LoopbackSettings settings_;
  std::future<oauth::TokenGrant> result_;
};

}  // namespace

BOOST_AUTO_TEST_CASE(testDeviceGrantThroughPendingAndSlowDown) {
  OAuthServerOptions options;
  options.device_interval = 1;
  OAuthTestServer server(options);
  server.scriptDevice({"authorization_pending", "authorization_pending", "slow_down", "ok"}, "work");
  std::vector<long> waits;
  std::ostringstream out;
  const auto grant = oauth::runDeviceGrant(at(server.url("/devicecode")), at(server.url("/token")),
                                           kMicrosoftClient, out,
                                           [&](std::chrono::seconds s) { waits.push_back(s.count()); });
  BOOST_TEST(server.refreshTokenValid(std::string(grant.refresh_token.reveal())));
  BOOST_TEST((waits == std::vector<long>{1, 1, 1, 6}));  // RFC 8628 §3.5: +5 s after slow_down
  const auto request = server.lastDeviceRequest();
  BOOST_REQUIRE(request);
  BOOST_TEST(request->scope == kMicrosoftClient.scope);
  BOOST_TEST(out.str().find("To sign in, open https://microsoft.com/devicelogin in a browser and "
                            "enter the code " + request->user_code) != std::string::npos,
             out.str());
  BOOST_TEST(out.str().find("every 6 s now") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(testDeviceGrantDeclinedAndExpired) {
  OAuthTestServer server;
  const auto none = [](std::chrono::seconds) {};
  std::ostringstream out;
  server.scriptDevice({"authorization_pending", "authorization_declined"}, "work");
  const Error declined = expectError([&] {
    oauth::runDeviceGrant(at(server.url("/devicecode")), at(server.url("/token")), kMicrosoftClient,
                          out, none);
  });
  BOOST_TEST((declined.kind() == ErrorKind::Auth));
  BOOST_TEST(declined.message().find("the sign-in was declined (authorization_declined: AADSTS70000: "
                                     "The user declined to authorize the app.)") != std::string::npos,
             declined.message());
  server.scriptDevice({"expired_token"}, "work");
  const Error expired = expectError([&] {
    oauth::runDeviceGrant(at(server.url("/devicecode")), at(server.url("/token")), kMicrosoftClient,
                          out, none);
  });
  BOOST_TEST((expired.kind() == ErrorKind::Auth));
  BOOST_TEST(expired.message().find("expired before the sign-in was finished") != std::string::npos);
  BOOST_TEST(expired.message().find("run popgate authorize again") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(testDeviceGrantForAPublicClientSendingASecret) {
  OAuthTestServer server;
  std::ostringstream out;
  ClientSettings client = kMicrosoftClient;
  client.client_secret = popgate::Secret("not-for-public-clients");
  const Error error = expectError([&] {
    oauth::runDeviceGrant(at(server.url("/devicecode")), at(server.url("/token")), client, out,
                          [](std::chrono::seconds) {});
  });
  BOOST_TEST((error.kind() == ErrorKind::Auth));
  BOOST_TEST(error.message().find("AADSTS700025") != std::string::npos, error.message());
  BOOST_TEST(error.message().find("remove client_secret") != std::string::npos, error.message());
}

BOOST_AUTO_TEST_CASE(testLoopbackWithPkceFromTheBrowser) {
  OAuthTestServer server;
  server.setAuthorizeUser("me@gmail.com");
  LoopbackFlow flow(server, "me@gmail.com");
  const Poco::URI back(consent(flow.url()));
  const test::HttpResponse page = test::httpRequest("GET", back.getPort(), back.getPathAndQuery());
  BOOST_TEST(page.status == 200);
  BOOST_TEST(page.body.find("popgate received the sign-in") != std::string::npos);
  const auto grant = flow.result();
  BOOST_TEST(server.refreshTokenValid(std::string(grant.refresh_token.reveal())));  // the server checked the verifier
  const auto params = server.lastAuthorizeRequest()->params;
  BOOST_TEST(params.at("code_challenge_method") == "S256");
  BOOST_TEST(params.at("code_challenge").size() == 43u);
  BOOST_TEST(params.at("access_type") == "offline");
  BOOST_TEST(params.at("prompt") == "consent");
  BOOST_TEST(params.at("login_hint") == "me@gmail.com");
  BOOST_TEST(params.at("scope") == "https://mail.google.com/");
  BOOST_TEST(params.at("redirect_uri") == "http://127.0.0.1:" + std::to_string(back.getPort()));
  BOOST_TEST(server.lastTokenRequest().at("code_verifier").size() == 43u);
}

BOOST_AUTO_TEST_CASE(testLoopbackWithTheRedirectPastedOnAHeadlessHost) {
  OAuthTestServer server;
  LoopbackFlow flow(server);
  const std::string redirect = consent(flow.url());
  flow.paste("not the address\n");  // a slip first: popgate asks again
  flow.paste("  " + redirect + "  \n");
  const auto grant = flow.result();
  BOOST_TEST(server.refreshTokenValid(std::string(grant.refresh_token.reveal())));
  BOOST_TEST(flow.printed().find("That is not the redirected address") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(testLoopbackRefusesAForgedState) {
  OAuthTestServer server;
  LoopbackFlow flow(server);
  flow.paste("http://127.0.0.1:1/?state=forged&code=4/0Aattacker\n");
  const Error error = expectError([&] { flow.result(); });
  BOOST_TEST((error.kind() == ErrorKind::Security));
  BOOST_TEST(server.tokenRequests() == 0u);  // the attacker's code was never exchanged
}

BOOST_AUTO_TEST_CASE(testLoopbackReportsTheUsersRefusal) {
  OAuthTestServer server;
  LoopbackFlow flow(server);
  std::string state;
  for (const auto& [name, value] : Poco::URI(flow.url()).getQueryParameters()) {
    if (name == "state") state = value;
  }
  flow.paste("http://127.0.0.1:1/?error=access_denied&state=" + state + "\n");
  const Error error = expectError([&] { flow.result(); });
  BOOST_TEST((error.kind() == ErrorKind::Auth));
  BOOST_TEST(error.message().find("the provider refused the sign-in (access_denied)") != std::string::npos,
             error.message());
}
