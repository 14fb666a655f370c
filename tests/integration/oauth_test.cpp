// OAuth 2.0 end to end: the popgate binary against a real Dovecot whose passdb checks every access
// token at the test suite's own token server (RFC 7662 introspection). Both mechanisms on both
// protocols; a process restart after rotation (the stored refresh token is used, the configured
// one is refused by then); in the daemon, an access token that expired by time (refreshed before
// use), one the server refuses (refreshed once and retried), a revoked refresh token (the account
// fails with kind auth quoting the endpoint, the others go on) and an endpoint answering 500
// (transient backoff, then recovery).
#include <boost/test/unit_test.hpp>


#include <csignal>
#include <thread>

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include "tests/support/GatewaySetup.h"
#include "tests/support/Messages.h"
#include "tests/support/OAuthTestServer.h"
#include "tests/support/PromText.h"

using namespace std::chrono_literals;
using namespace popgate::test;
using Poco::JSON::Object;

namespace {

const std::string kAdminToken = "admin-t0ken-for-oauth-tests";

// One OAuth login as it goes into the configuration.
struct Login {
  std::string user;       // sandbox user; also the account name for accounts
  std::string auth;       // xoauth2 | oauthbearer | (empty: password)
  std::string folder;     // accounts only
  std::string interval = "1h";
};

// The config file: target `target` on IMAP STARTTLS, accounts on POP3S, refresh tokens in files
// (written once: later writes would be "a new configured token" that wins over the store).
class Setup {
 public:
  Setup(DovecotSandbox& dovecot, OAuthTestServer& server) : dovecot_(dovecot), server_(server) {}

  std::filesystem::path write(const Login& target, const std::vector<Login>& accounts,
                              const std::string& extra_top = {}) {
    std::string y = "state_dir: " + (dir_.path() / "state").string() + "\nlog_level: info\n" + extra_top;
    y += "target:\n" + endpoint(target, "  ", dovecot_.imapPort(), "starttls") +
         "  connections: 2\n";
    y += "accounts:\n";
    for (const Login& a : accounts) {
      y += "  - name: " + a.user + "\n" + endpoint(a, "    ", dovecot_.pop3sPort(), "implicit");
      y += "    folder: " + a.folder + "\n    poll_interval: " + a.interval + "\n";
    }
    return dir_.write("popgate.yaml", y);
  }
  // The refresh token configured for `user` (its file is written on first use).
  const std::string& seed(const std::string& user) {
    auto it = seeds_.find(user);
    if (it == seeds_.end()) {
      it = seeds_.emplace(user, server_.issueRefreshToken(user)).first;
      dir_.writePrivate("secrets/" + user + "-refresh", it->second + "\n");
    }
    return it->second;
  }
  const TempDir& dir() const { return dir_; }
  std::filesystem::path state() const { return dir_.path() / "state"; }

 private:
  std::string endpoint(const Login& login, const std::string& indent, std::uint16_t port,
                       const std::string& tls) {
    std::string y = indent + "host: localhost\n" + indent + "port: " + std::to_string(port) + "\n" +
                    indent + "tls: " + tls + "\n" + indent + "ca_file: " +
                    dovecot_.caFile().string() + "\n" + indent + "username: " + login.user + "\n" +
                    indent + "timeout: 20s\n";
    if (login.auth.empty()) {
      const auto file =
          dir_.writePrivate("secrets/" + login.user, DovecotSandbox::password(login.user) + "\n");
      return y + indent + "password_file: " + file.string() + "\n";
    }
    seed(login.user);
    return y + indent + "auth: " + login.auth + "\n" + indent + "oauth:\n" + indent +
           "  token_url: " + server_.url("/token") + "\n" + indent +
           "  client_id: popgate-test-client\n" + indent + "  refresh_token_file: " +
           (dir_.path() / "secrets" / (login.user + "-refresh")).string() + "\n" + indent +
           "  scope: mail offline_access\n";
  }

  DovecotSandbox& dovecot_;
  OAuthTestServer& server_;
  TempDir dir_{"popgate-oauth-it"};
  std::map<std::string, std::string> seeds_;
};

SandboxOptions withIntrospection(const OAuthTestServer& server) {
  SandboxOptions options;
  options.oauth2_introspection_url = server.url("/introspect");
  return options;
}

// The refresh token stored for credential `id`, from state_dir/oauth.
std::string storedRefreshToken(const Setup& setup, const std::string& id) {
  const std::string json = readFile(setup.state() / "oauth" / (id + ".json"));
  return Poco::JSON::Parser().parse(json).extract<Object::Ptr>()->getValue<std::string>("refresh_token");
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

}  // namespace

BOOST_AUTO_TEST_CASE(testBothMechanismsOnPop3AndImapAndARestartAfterRotation) {
  OAuthTestServer server;
  DovecotSandbox dovecot({"work", "isp", "me"}, withIntrospection(server));
  const auto samples = sampleMessages();
  dovecot.seed("work", samples[0].bytes);
  dovecot.seed("work", samples[1].bytes);
  dovecot.seed("isp", samples[2].bytes);
  Setup setup(dovecot, server);

  // Run 1: POP3 XOAUTH2 (work) and OAUTHBEARER (isp), IMAP OAUTHBEARER (target).
  const auto config = setup.write({"me", "oauthbearer", ""}, {{"work", "xoauth2", "Work"},
                                                                {"isp", "oauthbearer", "ISP"}});
  const CommandResult first = runPopgate({"once", "--config", config.string()});
  BOOST_TEST(first.exit_code == 0, first.out + first.err + dovecot.log());
  BOOST_TEST(sorted(dovecot.messages("me", "Work")) ==
             sorted({popDelivered(samples[0].bytes), popDelivered(samples[1].bytes)}));
  BOOST_TEST(dovecot.messages("me", "ISP") == std::vector<std::string>{popDelivered(samples[2].bytes)});
  BOOST_TEST(server.refreshes("work") == 1u);
  BOOST_TEST(server.refreshes("isp") == 1u);
  BOOST_TEST(server.refreshes("me") == 1u);
  BOOST_TEST(server.introspectionsInactive() == 0u);
  // Every rotated refresh token is stored, 0600 in a 0700 directory; the configured ones are
  // spent (the server refuses them now).
  for (const std::string id : {"account-work", "account-isp", "target"}) {
    BOOST_TEST(fileMode(setup.state() / "oauth" / (id + ".json")) == 0600u, id);
  }
  BOOST_TEST(fileMode(setup.state() / "oauth") == 0700u);
  for (const std::string user : {"work", "isp", "me"}) {
    BOOST_TEST(!server.refreshTokenValid(setup.seed(user)), user);
  }
  const std::string stored_work = storedRefreshToken(setup, "account-work");
  const std::string stored_target = storedRefreshToken(setup, "target");
  BOOST_TEST(server.refreshTokenValid(stored_work));

  // Run 2, a new process: IMAP XOAUTH2 now. It can only have signed in with the stored tokens.
  dovecot.seed("work", samples[3].bytes);
  setup.write({"me", "xoauth2", ""}, {{"work", "xoauth2", "Work"}, {"isp", "oauthbearer", "ISP"}});
  const CommandResult second = runPopgate({"once", "--config", config.string()});
  BOOST_TEST(second.exit_code == 0, second.out + second.err + dovecot.log());
  BOOST_TEST(dovecot.count("me", "Work") == 3u);
  const auto shown = server.refreshTokensShown();
  BOOST_TEST(std::count(shown.begin(), shown.end(), stored_work) == 1);
  BOOST_TEST(std::count(shown.begin(), shown.end(), stored_target) == 1);
  BOOST_TEST(std::count(shown.begin(), shown.end(), setup.seed("work")) == 1);  // run 1 only
  BOOST_TEST(storedRefreshToken(setup, "account-work") != stored_work);       // rotated again
  // No token of any kind in what popgate printed.
  for (const auto& output : {first.out + first.err, second.out + second.err}) {
    BOOST_TEST(!contains(output, "RTOKEN"), output);
    BOOST_TEST(!contains(output, "ATOKEN"), output);
  }
}

BOOST_AUTO_TEST_CASE(testDaemonRefreshesExpiredTokensAndIsolatesARevokedAccount) {
  OAuthTestServer server;
  DovecotSandbox dovecot({"work", "ms", "isp", "me"}, withIntrospection(server));
  const auto samples = sampleMessages();
  Setup setup(dovecot, server);
  const std::uint16_t port = freeLocalPort();
  setup.dir().writePrivate("secrets/admin", kAdminToken + "\n");
  const std::string admin = "admin:\n  listen: 127.0.0.1:" + std::to_string(port) +
                            "\n  token_file: " + (setup.dir().path() / "secrets/admin").string() + "\n";
  for (const std::string folder : {"Work", "MS", "ISP"}) dovecot.createFolder("me", folder);
  // Every account is polled about once a second (poll-now is limited to one a minute per
  // account, so each step waits for the scheduler's passes instead).
  const auto config = setup.write({"me", "oauthbearer", ""},
                                  {{"work", "xoauth2", "Work", "1s"}, {"ms", "oauthbearer", "MS", "1s"},
                                   {"isp", "", "ISP", "1s"}},
                                  admin);
  Process daemon({popgateBinary().string(), "run", "--config", config.string()});
  auto log = [&] { return daemon.output() + daemon.errorOutput(); };
  BOOST_REQUIRE_MESSAGE(waitFor([&] { return httpRequest("GET", port, "/healthz").status == 200; }, 15s), log());
  auto account = [&](const std::string& name) {
    const HttpResponse r = httpRequest("GET", port, "/status", kAdminToken);
    BOOST_REQUIRE(r.status == 200);
    const auto accounts = Poco::JSON::Parser().parse(r.body).extract<Object::Ptr>()->getArray("accounts");
    for (unsigned i = 0; i < accounts->size(); ++i) {
      if (accounts->getObject(i)->getValue<std::string>("name") == name) return accounts->getObject(i);
    }
    BOOST_FAIL("no account " << name);
    return Object::Ptr();
  };
  auto polls = [&](const std::string& name) {
    return account(name)->getObject("totals")->getValue<int>("polls");
  };
  // Waits for a whole pass of `name` that started after this call (the one running may have
  // started before).
  auto nextPass = [&](const std::string& name) {
    const int before = polls(name);
    BOOST_REQUIRE_MESSAGE(waitFor([&] { return polls(name) >= before + 2; }, 30s), log());
  };
  auto state = [&](const std::string& name) { return account(name)->getValue<std::string>("state"); };
  BOOST_REQUIRE(waitFor([&] { return polls("work") >= 1 && polls("ms") >= 1 && polls("isp") >= 1; }, 20s));

  // 1. The server refuses a token popgate still thinks good (its cache says 55 more minutes):
  //    refreshed once, tried again, delivered.
  const unsigned refused_before = server.introspectionsInactive();
  server.expireAccessTokens("work");
  dovecot.seed("work", samples[0].bytes);
  BOOST_TEST(waitFor([&] { return dovecot.count("me", "Work") == 1u; }, 30s), log());
  nextPass("work");
  BOOST_TEST(server.introspectionsInactive() > refused_before);
  BOOST_TEST(state("work") == "idle");

  // 2. Access tokens that live 10 s: popgate refreshes each before it expires (a tenth of the
  //    lifetime ahead), so no login is refused on the way.
  server.setAccessLifetime(10s);
  server.expireAccessTokens("work");
  nextPass("work");  // refused once more, refreshed: a 10 s token
  const unsigned refreshes = server.refreshes("work");
  const unsigned refused = server.introspectionsInactive();
  BOOST_TEST(waitFor([&] { return server.refreshes("work") > refreshes; }, 30s), log());
  server.setAccessLifetime(3600s);
  dovecot.seed("work", samples[1].bytes);
  BOOST_TEST(waitFor([&] { return dovecot.count("me", "Work") == 2u; }, 30s), log());
  BOOST_TEST(server.introspectionsInactive() == refused);  // no login was refused on the way
  nextPass("work");
  auto work = account("work");
  BOOST_TEST(work->getValue<std::string>("state") == "idle");
  const Object::Ptr oauth = work->getObject("oauth");
  BOOST_TEST(oauth->getValue<std::string>("mechanism") == "xoauth2");
  BOOST_TEST(!oauth->isNull("access_token_expires"));
  BOOST_TEST(!oauth->isNull("refresh_token_rotated"));

  // 3. The endpoint answers 500: a transient failure with backoff, then recovery.
  server.failNext(1000, 500);
  server.expireAccessTokens("ms");
  dovecot.seed("ms", samples[2].bytes);
  BOOST_TEST(waitFor([&] {
    const Object::Ptr a = account("ms");
    return !a->isNull("last_error_kind") && a->getValue<std::string>("last_error_kind") == "transient";
  }, 30s), log());
  auto ms = account("ms");
  BOOST_TEST(ms->getValue<std::string>("state") == "backoff");
  BOOST_TEST(contains(ms->getValue<std::string>("last_error"), "HTTP 500"), ms->getValue<std::string>("last_error"));
  BOOST_TEST(dovecot.count("me", "MS") == 0u);
  server.failNext(0);
  BOOST_TEST(waitFor([&] { return dovecot.count("me", "MS") == 1u; }, 30s), log());
  nextPass("ms");
  BOOST_TEST(state("ms") == "idle");

  // 4. The refresh token is revoked: the account fails (auth, the endpoint quoted, what to do);
  //    the others are not touched.
  server.revokeUser("work");
  dovecot.seed("work", samples[3].bytes);
  dovecot.seed("isp", samples[4].bytes);
  dovecot.seed("ms", samples[5].bytes);
  BOOST_TEST(waitFor([&] { return state("work") == "failing"; }, 30s), log());
  BOOST_TEST(waitFor([&] { return dovecot.count("me", "ISP") == 1u && dovecot.count("me", "MS") == 2u; }, 30s), log());
  nextPass("work");
  work = account("work");
  BOOST_TEST(work->getValue<std::string>("state") == "failing");
  BOOST_TEST(work->getValue<std::string>("last_error_kind") == "auth");
  const std::string error = work->getValue<std::string>("last_error");
  BOOST_TEST(contains(error, "invalid_grant: AADSTS70000: The provided grant has expired due to it being revoked"), error);
  BOOST_TEST(contains(error, "popgate authorize --config " + config.string() + " --account work"), error);
  BOOST_TEST(dovecot.count("me", "Work") == 2u);
  BOOST_TEST(dovecot.count("me", "ISP") == 1u);
  BOOST_TEST(dovecot.count("me", "MS") == 2u);
  BOOST_TEST(account("isp")->isNull("oauth"));

  // /metrics: the failures counted per login, and an expiry time for each.
  const HttpResponse metrics = httpRequest("GET", port, "/metrics", kAdminToken);
  BOOST_REQUIRE(metrics.status == 200);
  const auto families = parseExposition(metrics.body);
  BOOST_TEST(value(families, "popgate_oauth_refresh_failures_total",
                   "popgate_oauth_refresh_failures_total", {{"account", "work"}}) >= 1);
  BOOST_TEST(value(families, "popgate_oauth_refresh_failures_total",
                   "popgate_oauth_refresh_failures_total", {{"account", "ms"}}) >= 1);
  BOOST_TEST(value(families, "popgate_oauth_token_expiry_timestamp_seconds",
                   "popgate_oauth_token_expiry_timestamp_seconds", {{"target", "target"}}) > 0);
  const HttpResponse status = httpRequest("GET", port, "/status", kAdminToken);
  for (const auto& body : {status.body, metrics.body, log()}) {
    BOOST_TEST(!contains(body, "RTOKEN"));
    BOOST_TEST(!contains(body, "ATOKEN"));
  }
  daemon.kill(SIGTERM);
  BOOST_TEST(daemon.wait(10s).has_value());
}
