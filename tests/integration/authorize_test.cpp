// `popgate authorize`, the real binary, against the test suite's authorization server: the device
// grant of a microsoft365 account (the session transcript is printed with --log_level=message),
// whose stored refresh token `popgate once` then signs in with at a real Dovecot; the device
// grant declined, expired, and without offline_access; the loopback redirect with PKCE of a gmail
// target, from the browser and pasted on stdin; and the mistakes that exit 2.
#include <boost/test/unit_test.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <Poco/URI.h>

#include "tests/support/GatewaySetup.h"
#include "tests/support/Messages.h"
#include "tests/support/OAuthTestServer.h"

using namespace std::chrono_literals;
using namespace popgate::test;

namespace {

// A config with one microsoft365 POP account "work" at `pop_port` (the preset's host and port
// overridden: the test's Dovecot and token server stand in for Microsoft) and a gmail target
// (likewise) — neither with a refresh token yet.
std::filesystem::path writeConfig(const TempDir& dir, const OAuthTestServer& server,
                                  std::uint16_t pop_port, std::uint16_t imap_port,
                                  const std::string& ca, const std::string& work_extra = {}) {
  std::string y;
  y += "state_dir: " + (dir.path() / "state").string() + "\n";
  y += "target:\n";
  y += "  provider: gmail\n  host: localhost\n  port: " + std::to_string(imap_port) +
       "\n  tls: starttls\n  ca_file: " + ca + "\n  username: me\n";
  y += "  oauth:\n    token_url: " + server.url("/token") + "\n    client_id: popgate-test-client\n";
  y += "accounts:\n";
  y += "  - name: work\n    provider: microsoft365\n    host: localhost\n    port: " +
       std::to_string(pop_port) + "\n    ca_file: " + ca + "\n    username: work\n    folder: Work\n";
  y += "    oauth:\n      token_url: " + server.url("/token") + "\n      client_id: popgate-test-client\n";
  y += work_extra;
  y += "  - name: isp\n    host: localhost\n    port: " + std::to_string(pop_port) +
       "\n    ca_file: " + ca + "\n    username: isp\n    password: pw-isp\n";
  return dir.writePrivate("popgate.yaml", y);  // it holds the isp password
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// The authorization URL popgate printed, once it has.
std::optional<std::string> printedUrl(const Process& popgate) {
  const std::string out = popgate.output();
  const std::size_t at = out.find("  http://127.0.0.1:");
  if (at == std::string::npos) return std::nullopt;
  const std::size_t end = out.find('\n', at);
  if (end == std::string::npos) return std::nullopt;
  return out.substr(at + 2, end - at - 2);
}

// What the user's browser does with the authorization URL at the test server: the redirect.
std::string consent(const std::string& url) {
  const Poco::URI uri(url);
  const HttpResponse answer = httpRequest("GET", uri.getPort(), uri.getPathAndQuery());
  BOOST_REQUIRE(answer.status == 302);
  return answer.headers.at("Location");
}

}  // namespace

BOOST_AUTO_TEST_CASE(testDeviceGrantSessionThenDelivery) {
  OAuthTestServer server;
  SandboxOptions options;
  options.oauth2_introspection_url = server.url("/introspect");
  DovecotSandbox dovecot({"work", "isp", "me"}, options);
  TempDir dir("popgate-authorize");
  const auto config = writeConfig(dir, server, dovecot.pop3sPort(), dovecot.imapPort(),
                                  dovecot.caFile().string());
  // The user takes a while: two polls find the sign-in pending.
  server.scriptDevice({"authorization_pending", "authorization_pending", "ok"}, "work");
  const CommandResult session =
      runPopgate({"authorize", "--config", config.string(), "--account", "work"}, 30s);
  BOOST_TEST_MESSAGE("$ popgate authorize --config " << config.string() << " --account work\n"
                                                    << session.out << session.err);
  BOOST_TEST(session.exit_code == 0, session.out + session.err);
  const auto request = server.lastDeviceRequest();
  BOOST_REQUIRE(request);
  BOOST_TEST(contains(session.out, "enter the code " + request->user_code), session.out);
  BOOST_TEST(request->scope == "https://outlook.office.com/POP.AccessAsUser.All offline_access");
  BOOST_TEST(server.devicePolls() == 3u);
  const auto stored = dir.path() / "state" / "oauth" / "account-work.json";
  BOOST_TEST(fileMode(stored) == 0600u);
  BOOST_TEST(!contains(session.out + session.err, "RTOKEN"));

  // check says where the refresh token comes from now, and what the preset filled in.
  const CommandResult check = runPopgate({"check", "--config", config.string()});
  BOOST_TEST(check.exit_code == 0, check.err);
  BOOST_TEST(contains(check.out, "first refresh token from state_dir (popgate authorize)"), check.out);
  BOOST_TEST(contains(check.out, "preset microsoft365 (tenant organizations) filled in: tls implicit, "
                                 "auth xoauth2, oauth.scope https://outlook.office.com/POP.AccessAsUser.All "
                                 "offline_access"),
             check.out);

  // The target is authorized too (the loopback flow), then a pass signs in with both tokens.
  Process target({popgateBinary().string(), "authorize", "--config", config.string(), "--target",
                  "--auth-url", server.url("/authorize")});
  BOOST_REQUIRE_MESSAGE(waitFor([&] { return printedUrl(target).has_value(); }, 15s),
                        target.output() + target.errorOutput());
  server.setAuthorizeUser("me");
  const Poco::URI back(consent(*printedUrl(target)));
  BOOST_TEST(httpRequest("GET", back.getPort(), back.getPathAndQuery()).status == 200);
  const auto done = target.wait(15s);
  BOOST_REQUIRE(done.has_value());
  BOOST_TEST(done->success(), target.output() + target.errorOutput());

  const auto samples = sampleMessages();
  dovecot.seed("work", samples[0].bytes);
  dovecot.seed("isp", samples[1].bytes);
  const CommandResult pass = runPopgate({"once", "--config", config.string()});
  BOOST_TEST(pass.exit_code == 0, pass.out + pass.err + dovecot.log());
  BOOST_TEST(dovecot.messages("me", "Work") == std::vector<std::string>{popDelivered(samples[0].bytes)});
  BOOST_TEST(dovecot.count("me", "INBOX") == 1u);
}

BOOST_AUTO_TEST_CASE(testDeviceGrantDeclinedExpiredAndWithoutOfflineAccess) {
  OAuthTestServer server;
  TempDir dir("popgate-authorize");
  const auto config = writeConfig(dir, server, 1, 1, "/etc/ssl/certs/ca-certificates.crt");
  const std::vector<std::string> args{"authorize", "--config", config.string(), "--account", "work"};

  server.scriptDevice({"authorization_pending", "authorization_declined"}, "work");
  const CommandResult declined = runPopgate(args, 30s);
  BOOST_TEST(declined.exit_code == 1);
  BOOST_TEST(contains(declined.err, "the sign-in was declined (authorization_declined: AADSTS70000: "
                                    "The user declined to authorize the app.)"),
             declined.err);

  server.scriptDevice({"expired_token"}, "work");
  const CommandResult expired = runPopgate(args, 30s);
  BOOST_TEST(expired.exit_code == 1);
  BOOST_TEST(contains(expired.err, "expired before the sign-in was finished"), expired.err);

  // A scope without offline_access: Microsoft signs the user in but sends no refresh token.
  const auto narrow = writeConfig(dir, server, 1, 1, "/etc/ssl/certs/ca-certificates.crt",
                                  "      scope: https://outlook.office.com/POP.AccessAsUser.All\n");
  server.scriptDevice({"ok"}, "work");
  const CommandResult offline =
      runPopgate({"authorize", "--config", narrow.string(), "--account", "work"}, 30s);
  BOOST_TEST(offline.exit_code == 1);
  BOOST_TEST(contains(offline.err, "no refresh token came back: Microsoft sends one only when the "
                                   "scope includes offline_access"),
             offline.err);
  BOOST_TEST(!std::filesystem::exists(dir.path() / "state" / "oauth" / "account-work.json"));
}

BOOST_AUTO_TEST_CASE(testLoopbackRedirectPastedOnStdin) {
  OAuthTestServer server;
  server.setAuthorizeUser("me");
  TempDir dir("popgate-authorize");
  const auto config = writeConfig(dir, server, 1, 1, "/etc/ssl/certs/ca-certificates.crt");
  // stdin is a FIFO the test writes to, as a user pastes into a terminal.
  const auto fifo = dir.path() / "stdin";
  BOOST_REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  const int writer = ::open(fifo.c_str(), O_RDWR | O_CLOEXEC);  // never blocks, keeps it open
  BOOST_REQUIRE(writer >= 0);
  ProcessOptions options;
  options.stdin_file = fifo;
  Process popgate({popgateBinary().string(), "authorize", "--config", config.string(), "--target",
                   "--auth-url", server.url("/authorize"), "--port", "0"},
                  options);
  BOOST_REQUIRE_MESSAGE(waitFor([&] { return printedUrl(popgate).has_value(); }, 15s),
                        popgate.output() + popgate.errorOutput());
  const std::string pasted = consent(*printedUrl(popgate)) + "\n";
  BOOST_REQUIRE(::write(writer, pasted.data(), pasted.size()) == static_cast<ssize_t>(pasted.size()));
  const auto done = popgate.wait(15s);
  ::close(writer);
  BOOST_REQUIRE(done.has_value());
  BOOST_TEST(done->success(), popgate.output() + popgate.errorOutput());
  BOOST_TEST(contains(popgate.output(), "Signed in. The refresh token is stored in " +
                                            (dir.path() / "state" / "oauth" / "target.json").string()));
  const auto params = server.lastAuthorizeRequest()->params;
  BOOST_TEST(params.at("access_type") == "offline");
  BOOST_TEST(params.at("prompt") == "consent");
  BOOST_TEST(params.at("code_challenge_method") == "S256");
  BOOST_TEST(params.at("scope") == "https://mail.google.com/");  // the gmail preset's
}

BOOST_AUTO_TEST_CASE(testAGmailApiTargetIsAuthorizedForInsertAndLabelsOnly) {
  OAuthTestServer server;
  server.setAuthorizeUser("me");
  TempDir dir("popgate-authorize");
  const auto config = dir.writePrivate(
      "popgate.yaml",
      "state_dir: " + (dir.path() / "state").string() + "\n"
      "target:\n  kind: gmail-api\n  username: me@gmail.com\n"
      "  oauth:\n    token_url: " + server.url("/token") + "\n    client_id: popgate-test-client\n"
      "accounts:\n  - {name: isp, host: localhost, port: 1, username: isp, password: pw-isp}\n");
  Process popgate({popgateBinary().string(), "authorize", "--config", config.string(), "--target",
                   "--auth-url", server.url("/authorize")});
  BOOST_REQUIRE_MESSAGE(waitFor([&] { return printedUrl(popgate).has_value(); }, 15s),
                        popgate.output() + popgate.errorOutput());
  const Poco::URI back(consent(*printedUrl(popgate)));
  BOOST_TEST(httpRequest("GET", back.getPort(), back.getPathAndQuery()).status == 200);
  const auto done = popgate.wait(15s);
  BOOST_REQUIRE(done.has_value());
  BOOST_TEST(done->success(), popgate.output() + popgate.errorOutput());
  const auto params = server.lastAuthorizeRequest()->params;
  BOOST_TEST(params.at("scope") ==
             "https://www.googleapis.com/auth/gmail.insert "
             "https://www.googleapis.com/auth/gmail.labels "
             "https://www.googleapis.com/auth/gmail.readonly");
  BOOST_TEST(params.at("access_type") == "offline");  // Google's way to a refresh token
  BOOST_TEST(params.at("prompt") == "consent");
  BOOST_TEST(std::filesystem::exists(dir.path() / "state" / "oauth" / "target.json"));
}

BOOST_AUTO_TEST_CASE(testAuthorizeMistakesExitTwo) {
  OAuthTestServer server;
  TempDir dir("popgate-authorize");
  const auto config = writeConfig(dir, server, 1, 1, "/etc/ssl/certs/ca-certificates.crt");
  const CommandResult unknown = runPopgate({"authorize", "--config", config.string(), "--account", "nope"});
  BOOST_TEST(unknown.exit_code == 2);
  BOOST_TEST(contains(unknown.err, "no account named \"nope\" (accounts: work, isp)"), unknown.err);
  const CommandResult password = runPopgate({"authorize", "--config", config.string(), "--account", "isp"});
  BOOST_TEST(password.exit_code == 2);
  BOOST_TEST(contains(password.err, "account isp does not sign in with OAuth"), password.err);
  const CommandResult both =
      runPopgate({"authorize", "--config", config.string(), "--account", "work", "--target"});
  BOOST_TEST(both.exit_code == 2);
  BOOST_TEST(contains(both.err, "authorize needs --account NAME or --target"), both.err);
  const CommandResult port = runPopgate({"authorize", "--config", config.string(), "--target", "--port", "x"});
  BOOST_TEST(port.exit_code == 2);
}
