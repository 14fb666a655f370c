// The OAuth keys of the configuration: auth: xoauth2 | oauthbearer with an oauth section, the
// provider presets (what they fill in, what explicit keys override), defaults merged key by key,
// and the exact "FILE:LINE: KEY: what" errors for each mistake. Also the kind: gmail-api target:
// the keys of issue 16, their defaults, Google's token endpoint and the scopes (gmail.insert,
// gmail.labels, and gmail.readonly for the search after a crash) that `popgate authorize` then asks
// for, api_url for tests.
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "config/ConfigLoader.h"
#include "config/OAuthKeys.h"
#include "connectors/common/Error.h"
#include "tests/support/ConfigEnv.h"
#include "tests/support/TempDir.h"

using popgate::config::EnvLookup;
using popgate::config::GatewayConfig;
using popgate::config::ImapAuth;
using popgate::config::PopAuth;
using popgate::config::Provider;
using popgate::config::TargetKind;
using popgate::test::envOf;
using popgate::test::TempDir;

namespace {

// A scratch directory with secrets: refresh (a refresh token), client (a client secret).
class Files {
 public:
  Files() {
    dir_.write("refresh", "1//0refresh-token\n");
    dir_.write("client", "GOCSPX-client-secret\n");
  }
  const std::filesystem::path& path() const { return dir_.path(); }

  GatewayConfig load(const std::string& yaml, const EnvLookup& env = envOf({})) const {
    return popgate::config::loadConfigText(yaml, "gw.yaml", dir_.path(), env);
  }
  std::string error(const std::string& yaml, const EnvLookup& env = envOf({})) const {
    try {
      load(yaml, env);
    } catch (const popgate::Error& e) {
      BOOST_TEST((e.kind() == popgate::ErrorKind::Config));
      return e.what();
    }
    BOOST_FAIL("no error for:\n" << yaml);
    return {};
  }

 private:
  TempDir dir_{"popgate-oauth-config"};
};

// Lines 1-6: state_dir and a password target; accounts follow from line 7.
const std::string kHead =
    "state_dir: /var/lib/popgate\n"  // 1
    "target:\n"                      // 2
    "  host: imap.example.com\n"     // 3
    "  username: me@example.com\n"   // 4
    "  password: target-pw\n"        // 5
    "accounts:\n";                   // 6

// A single account for the gmail-api target cases.
const std::string kTail =
    "accounts:\n"
    "  - {name: isp, host: pop.isp.example, username: me, password: pw, folder: Lists/ISP}\n";

}  // namespace

BOOST_AUTO_TEST_CASE(testExplicitOAuthAccount) {
  Files files;
  const GatewayConfig cfg = files.load(kHead +
                                       "  - name: work\n"
                                       "    host: pop.work.example\n"
                                       "    username: me@work.example\n"
                                       "    auth: oauthbearer\n"
                                       "    oauth:\n"
                                       "      token_url: https://login.example.com/oauth2/token\n"
                                       "      client_id: 1234-abcd\n"
                                       "      client_secret_file: client\n"
                                       "      refresh_token_file: refresh\n"
                                       "      scope: pop offline_access\n");
  const auto& server = cfg.accounts[0].server;
  BOOST_TEST((cfg.accounts[0].auth == PopAuth::OAuthBearer));
  BOOST_REQUIRE(server.oauth);
  BOOST_TEST(server.oauth->token_url == "https://login.example.com/oauth2/token");
  BOOST_TEST(server.oauth->client_id == "1234-abcd");
  BOOST_TEST(server.oauth->client_secret.reveal() == "GOCSPX-client-secret");
  BOOST_TEST(server.oauth->refresh_token.reveal() == "1//0refresh-token");
  BOOST_TEST(server.oauth->refresh_token_source == "refresh_token_file " + (files.path() / "refresh").string());
  BOOST_TEST(server.oauth->refresh_token_written.has_value());
  BOOST_TEST(server.oauth->scope == "pop offline_access");
  BOOST_TEST(server.port == 995);
  BOOST_TEST(server.password.empty());
  BOOST_TEST(server.preset_filled.empty());
}

BOOST_AUTO_TEST_CASE(testGmailPresetOnTheTarget) {
  Files files;
  const GatewayConfig cfg = files.load(
      "state_dir: /s\n"
      "target:\n"
      "  provider: gmail\n"
      "  username: me@gmail.com\n"
      "  oauth: {client_id: 1234.apps.googleusercontent.com, client_secret_file: client, "
      "refresh_token_env: GMAIL_REFRESH}\n"
      "accounts:\n"
      "  - {name: isp, host: pop.isp.example, username: me, password: pw}\n",
      envOf({{"GMAIL_REFRESH", "1//0env-token"}}));
  const auto& target = cfg.targets.at(0);
  BOOST_TEST(target.server.host == "imap.gmail.com");
  BOOST_TEST(target.server.port == 993);
  BOOST_TEST((target.server.tls == popgate::TlsMode::Implicit));
  BOOST_TEST((target.auth == ImapAuth::XOAuth2));
  BOOST_TEST((target.server.provider == Provider::Gmail));
  BOOST_REQUIRE(target.server.oauth);
  BOOST_TEST(target.server.oauth->token_url == "https://oauth2.googleapis.com/token");
  BOOST_TEST(target.server.oauth->scope == "https://mail.google.com/");
  BOOST_TEST(target.server.oauth->refresh_token.reveal() == "1//0env-token");
  BOOST_TEST(target.server.oauth->refresh_token_source == "refresh_token_env GMAIL_REFRESH");
  BOOST_TEST(!target.server.oauth->refresh_token_written.has_value());
  const std::vector<std::string> filled{"host imap.gmail.com", "tls implicit", "auth xoauth2",
                                        "connections 4", "daily_upload_limit 500MB",
                                        "port 993", "oauth.token_url https://oauth2.googleapis.com/token",
                                        "oauth.scope https://mail.google.com/"};
  BOOST_TEST(target.connections == 4u);
  BOOST_TEST(target.daily_upload_limit == 500ull * 1024 * 1024);
  BOOST_TEST(target.server.preset_filled == filled, boost::test_tools::per_element());
  // check says what the preset filled in, and never a secret.
  const std::string summary = popgate::config::describe(cfg);
  BOOST_TEST(summary.find("preset gmail filled in: host imap.gmail.com, tls implicit, auth xoauth2, "
                          "connections 4, daily_upload_limit 500MB, port 993, oauth.token_url "
                          "https://oauth2.googleapis.com/token, oauth.scope https://mail.google.com/") !=
                 std::string::npos,
             summary);
  BOOST_TEST(summary.find("first refresh token from refresh_token_env GMAIL_REFRESH") != std::string::npos);
  BOOST_TEST(summary.find("1//0env-token") == std::string::npos);
  BOOST_TEST(summary.find("GOCSPX") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(testExplicitKeysWinOverThePreset) {
  Files files;
  const GatewayConfig cfg = files.load(kHead +
                                       "  - name: work\n"
                                       "    provider: microsoft365\n"
                                       "    host: 127.0.0.1\n"
                                       "    tls: starttls\n"
                                       "    auth: oauthbearer\n"
                                       "    username: me@work.example\n"
                                       "    oauth:\n"
                                       "      token_url: http://127.0.0.1:8080/token\n"
                                       "      client_id: c\n"
                                       "      refresh_token_file: refresh\n"
                                       "      scope: custom\n");
  const auto& account = cfg.accounts[0];
  BOOST_TEST(account.server.host == "127.0.0.1");
  BOOST_TEST(account.server.port == 110);
  BOOST_TEST((account.server.tls == popgate::TlsMode::StartTls));
  BOOST_TEST((account.auth == PopAuth::OAuthBearer));
  BOOST_TEST(account.server.oauth->token_url == "http://127.0.0.1:8080/token");
  BOOST_TEST(account.server.oauth->scope == "custom");
  BOOST_TEST(account.server.preset_filled == std::vector<std::string>{"port 110"},
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(testMicrosoftTenants) {
  Files files;
  auto account = [&](const std::string& preset) {
    return files.load(kHead + "  - name: work\n" + preset +
                      "    username: me@work.example\n"
                      "    oauth: {client_id: c}\n")
        .accounts[0];
  };
  const auto work = account("    provider: microsoft365\n");
  BOOST_TEST(work.server.host == "outlook.office365.com");
  BOOST_TEST(work.server.port == 995);
  BOOST_TEST((work.auth == PopAuth::XOAuth2));
  BOOST_TEST(work.server.tenant == "organizations");
  BOOST_TEST(work.server.oauth->token_url ==
             "https://login.microsoftonline.com/organizations/oauth2/v2.0/token");
  BOOST_TEST(work.server.oauth->scope ==
             "https://outlook.office.com/POP.AccessAsUser.All offline_access");
  BOOST_TEST(work.server.oauth->refresh_token.empty());  // popgate authorize stores one later
  const auto tenant = account("    provider: microsoft365\n    tenant: contoso.onmicrosoft.com\n");
  BOOST_TEST(tenant.server.oauth->token_url ==
             "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token");
  const auto outlook = account("    provider: outlook\n");
  BOOST_TEST(outlook.server.oauth->token_url ==
             "https://login.microsoftonline.com/consumers/oauth2/v2.0/token");
  BOOST_TEST(files.error(kHead + "  - name: work\n    provider: outlook\n    tenant: common\n"
                                 "    username: u\n    oauth: {client_id: c}\n") ==
             "gw.yaml:9: accounts[0].tenant: outlook always uses the tenant 'consumers'; remove tenant");
  BOOST_TEST(files.error(kHead + "  - name: work\n    provider: gmail\n    tenant: x\n"
                                 "    username: u\n    oauth: {client_id: c}\n") ==
             "gw.yaml:9: accounts[0].tenant: only provider: microsoft365 takes a tenant");
  BOOST_TEST(files.error(kHead + "  - name: work\n    provider: microsoft365\n    tenant: 'a/b'\n"
                                 "    username: u\n    oauth: {client_id: c}\n") ==
             "gw.yaml:9: accounts[0].tenant: expected a tenant: organizations, common, a directory "
             "(tenant) ID or a domain, found 'a/b'");
  BOOST_TEST(files.error(kHead + "  - name: work\n    provider: yahoo\n    username: u\n") ==
             "gw.yaml:8: accounts[0].provider: expected gmail, microsoft365 or outlook");
}

BOOST_AUTO_TEST_CASE(testGmailTargetPresetKeepsWrittenConnectionsAndBudget) {
  Files files;
  const GatewayConfig cfg = files.load(
      "state_dir: /s\ntarget:\n  provider: gmail\n  username: me@gmail.com\n  connections: 2\n"
      "  daily_upload_limit: 100MB\n  password: app-password\n"
      "accounts:\n  - {name: isp, host: pop.isp.example, username: me, password: pw}\n");
  BOOST_TEST(cfg.targets.at(0).connections == 2u);
  BOOST_TEST(cfg.targets.at(0).daily_upload_limit == 100ull * 1024 * 1024);
  BOOST_TEST((cfg.targets.at(0).auth == ImapAuth::Auto));  // an app password keeps password logins
  BOOST_TEST(cfg.targets.at(0).server.preset_filled ==
                 (std::vector<std::string>{"host imap.gmail.com", "tls implicit", "port 993"}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(testGmailPresetWithAnAppPasswordKeepsPasswordLogin) {
  Files files;
  const GatewayConfig cfg = files.load(kHead +
                                       "  - name: gmail\n"
                                       "    provider: gmail\n"
                                       "    username: me@gmail.com\n"
                                       "    password_file: client\n");
  BOOST_TEST((cfg.accounts[0].auth == PopAuth::Auto));
  BOOST_TEST(!cfg.accounts[0].server.oauth);
  BOOST_TEST(cfg.accounts[0].server.host == "pop.gmail.com");
}

BOOST_AUTO_TEST_CASE(testCredentialMistakes) {
  Files files;
  const std::string account = kHead + "  - name: work\n    host: pop.example\n    username: u\n";
  BOOST_TEST(files.error(account + "    auth: xoauth2\n") ==
             "gw.yaml:7: accounts[0]: missing required key 'oauth' (auth: xoauth2 needs oauth: "
             "{client_id: ..., refresh_token_file: ...}; see docs/oauth.md)");
  BOOST_TEST(files.error(account + "    auth: xoauth2\n    password: pw\n    oauth: {client_id: c, "
                                   "token_url: 'https://t.example/token'}\n") ==
             "gw.yaml:11: accounts[0].password: auth: xoauth2 signs in with an OAuth access token, "
             "not a password; remove password");
  BOOST_TEST(files.error(account + "    password: pw\n    oauth: {client_id: c}\n") ==
             "gw.yaml:11: accounts[0].oauth: is only used with auth: xoauth2 or oauthbearer (auth "
             "is auto)");
  BOOST_TEST(files.error(account + "    auth: xoauth2\n    oauth: {client_id: c}\n") ==
             "gw.yaml:11: accounts[0].oauth: missing required key 'token_url' (or set provider: "
             "gmail, microsoft365 or outlook, which knows it)");
  BOOST_TEST(files.error(account + "    auth: xoauth2\n    oauth: {token_url: 'https://t.example/t'}\n") ==
             "gw.yaml:11: accounts[0].oauth: missing required key 'client_id' (the OAuth client "
             "(app) ID registered with the provider)");
  BOOST_TEST(files.error(account + "    auth: xoauth2\n    oauth:\n      client_id: c\n"
                                   "      token_url: https://t.example/t\n"
                                   "      client_secret: s\n      client_secret_file: client\n") ==
             "gw.yaml:15: accounts[0].oauth.client_secret_file: conflicts with client_secret (line "
             "14); use exactly one of client_secret, client_secret_file or client_secret_env");
  BOOST_TEST(files.error(account + "    auth: xoauth2\n    oauth:\n      client_id: c\n"
                                   "      token_url: https://t.example/t\n"
                                   "      refresh_token: abc\n") ==
             "gw.yaml:14: accounts[0].oauth.refresh_token: a refresh token does not go into the "
             "configuration file: name a file (refresh_token_file) or a variable "
             "(refresh_token_env), or run popgate authorize, which stores it in state_dir");
  const std::string missing = files.error(account + "    auth: xoauth2\n    oauth:\n      client_id: c\n"
                                                    "      token_url: https://t.example/t\n"
                                                    "      refresh_token_file: nowhere\n");
  BOOST_TEST(missing.find("gw.yaml:14: accounts[0].oauth.refresh_token_file: cannot read ") == 0u, missing);
  BOOST_TEST(missing.find("run popgate authorize") != std::string::npos, missing);
  BOOST_TEST(files.error(account + "    auth: xoauth2\n    oauth:\n      client_id: c\n"
                                   "      token_url: https://t.example/t\n"
                                   "      refresh_token_env: NOT_SET\n") ==
             "gw.yaml:14: accounts[0].oauth.refresh_token_env: environment variable NOT_SET is not set");
}

BOOST_AUTO_TEST_CASE(testTokenUrlRules) {
  using popgate::config::parseTokenUrl;
  BOOST_TEST(*parseTokenUrl("https://oauth2.googleapis.com/token").value ==
             "https://oauth2.googleapis.com/token");
  BOOST_TEST(parseTokenUrl("https://login.example.com:8443/t?x=1").value.has_value());
  BOOST_TEST(parseTokenUrl("http://127.0.0.1:8080/token").value.has_value());
  BOOST_TEST(parseTokenUrl("http://127.3.2.1/token").value.has_value());
  BOOST_TEST(parseTokenUrl("http://[::1]:8080/token").value.has_value());
  BOOST_TEST(parseTokenUrl("https://[2001:db8::1]/token").value.has_value());
  BOOST_TEST(parseTokenUrl("http://example.com/token").error ==
             "http:// is only accepted for a loopback address (127.0.0.1, [::1]); the token "
             "endpoint of a provider is https://");
  BOOST_TEST(parseTokenUrl("http://localhost/token").error.starts_with("http:// is only accepted"));
  BOOST_TEST(parseTokenUrl("ftp://example.com/").error == "expected an https:// URL, found 'ftp://example.com/'");
  BOOST_TEST(parseTokenUrl("https://user:pw@example.com/").error ==
             "user:password@ in token_url is not supported; use client_id and client_secret");
  BOOST_TEST(parseTokenUrl("https://example.com/t#x").error == "a token_url has no #fragment");
  BOOST_TEST(!parseTokenUrl("https://exa mple.com/").value);
  BOOST_TEST(!parseTokenUrl("https://example.com:99999/").value);
  BOOST_TEST(!parseTokenUrl("https://[::1/").value);
}

BOOST_AUTO_TEST_CASE(testDefaultsOAuthMergesKeyByKey) {
  Files files;
  const GatewayConfig cfg = files.load(
      kHead.substr(0, kHead.find("accounts:")) +
      "defaults:\n"
      "  provider: microsoft365\n"
      "  tenant: contoso.example\n"
      "  oauth: {client_id: shared-app, client_secret_file: client}\n"
      "accounts:\n"
      "  - name: alice\n"
      "    username: alice@contoso.example\n"
      "    oauth: {refresh_token_file: refresh}\n"
      "  - name: bob\n"
      "    username: bob@contoso.example\n"
      "    oauth: {client_id: bobs-app, client_secret: inline-s}\n");
  const auto& alice = *cfg.accounts[0].server.oauth;
  BOOST_TEST(alice.client_id == "shared-app");
  BOOST_TEST(alice.client_secret.reveal() == "GOCSPX-client-secret");
  BOOST_TEST(alice.refresh_token.reveal() == "1//0refresh-token");
  BOOST_TEST(alice.token_url == "https://login.microsoftonline.com/contoso.example/oauth2/v2.0/token");
  const auto& bob = *cfg.accounts[1].server.oauth;
  BOOST_TEST(bob.client_id == "bobs-app");
  BOOST_TEST(bob.client_secret.reveal() == "inline-s");  // the group counts as one key
  BOOST_TEST(bob.client_secret_source == "client_secret (inline in config)");
  BOOST_TEST(bob.refresh_token.empty());
}

BOOST_AUTO_TEST_CASE(testPlaintextTokenWarning) {
  Files files;
  const GatewayConfig cfg = files.load(kHead +
                                       "  - name: lab\n"
                                       "    host: 127.0.0.1\n"
                                       "    tls: none\n"
                                       "    username: u\n"
                                       "    auth: xoauth2\n"
                                       "    oauth: {client_id: c, token_url: 'http://127.0.0.1:9/t'}\n");
  const auto warnings = popgate::config::warnings(cfg);
  BOOST_REQUIRE(warnings.size() == 1u);
  BOOST_TEST(warnings[0] == "account lab: tls: none sends the OAuth access token for u@127.0.0.1:110 in plaintext");
}

// OAuth secret files are checked like password files: a refresh token or client secret that the
// group or others can read is listed among the secret files (run and once refuse it), and an
// inline client_secret makes the config file one.
BOOST_AUTO_TEST_CASE(testOAuthSecretFilesAreCheckedForReadability) {
  Files files;
  std::filesystem::permissions(files.path() / "refresh",
                               std::filesystem::perms::owner_read | std::filesystem::perms::others_read);
  std::filesystem::permissions(files.path() / "client", std::filesystem::perms::owner_read);
  const GatewayConfig cfg = files.load(kHead +
                                       "  - name: work\n"
                                       "    host: pop.work.example\n"
                                       "    username: me@work.example\n"
                                       "    auth: xoauth2\n"
                                       "    oauth:\n"
                                       "      token_url: https://login.example.com/oauth2/token\n"
                                       "      client_id: 1234-abcd\n"
                                       "      client_secret_file: client\n"
                                       "      refresh_token_file: refresh\n"
                                       "  - name: isp\n"
                                       "    host: pop.isp.example\n"
                                       "    username: me@isp.example\n"
                                       "    auth: xoauth2\n"
                                       "    oauth:\n"
                                       "      token_url: https://login.example.com/oauth2/token\n"
                                       "      client_id: 1234-abcd\n"
                                       "      client_secret: inline-client-secret\n");
  std::vector<std::string> found;
  for (const auto& secret : cfg.secret_files) {
    found.push_back(secret.key + " " + secret.file.string() + " " +
                    (secret.readableByOthers() ? "readable" : "private"));
  }
  const std::vector<std::string> expected{
      "target.password  private",
      "accounts[0].oauth.client_secret_file " + (files.path() / "client").string() + " private",
      "accounts[0].oauth.refresh_token_file " + (files.path() / "refresh").string() + " readable",
      "accounts[1].oauth.client_secret  private"};
  BOOST_TEST(found == expected, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(testGmailApiTargetWithDefaults) {
  Files files;
  const GatewayConfig cfg = files.load(
      "state_dir: /s\n"
      "targets:\n"
      "  me:\n"
      "    kind: gmail-api\n"
      "    username: me@gmail.com\n"
      "    oauth: {client_id: 1234.apps.googleusercontent.com, refresh_token_file: refresh}\n"
      "accounts:\n"
      "  - {name: isp, target: me, host: pop.isp.example, username: me, password: pw}\n");
  const auto& target = cfg.targets.at(0);
  BOOST_TEST((target.kind == TargetKind::GmailApi));
  BOOST_TEST(!target.never_mark_spam);
  BOOST_TEST(target.process_for_calendar);
  BOOST_TEST(target.api_url == "https://gmail.googleapis.com");
  BOOST_TEST(target.server.host == "gmail.googleapis.com");
  BOOST_TEST(target.server.port == 443);
  BOOST_REQUIRE(target.server.oauth);
  BOOST_TEST(target.server.oauth->token_url == "https://oauth2.googleapis.com/token");
  BOOST_TEST(target.server.oauth->scope ==
             "https://www.googleapis.com/auth/gmail.insert "
             "https://www.googleapis.com/auth/gmail.labels "
             "https://www.googleapis.com/auth/gmail.readonly");
  for (const std::string& w : popgate::config::warnings(cfg)) {
    BOOST_TEST(w.find("read scope") == std::string::npos, w);  // the default can search
  }
  const std::string summary = popgate::config::describe(cfg);
  BOOST_TEST(summary.find("Gmail API https://gmail.googleapis.com as me@gmail.com, spam filter on, "
                          "invitations to Calendar") != std::string::npos,
             summary);
}

BOOST_AUTO_TEST_CASE(testGmailApiTargetKeys) {
  Files files;
  const GatewayConfig cfg = files.load(
      "state_dir: /s\n"
      "target:\n"
      "  kind: gmail-api\n"
      "  username: me@gmail.com\n"
      "  never_mark_spam: true\n"
      "  process_for_calendar: false\n"
      "  api_url: https://localhost:8443/\n"
      "  connections: 2\n"
      "  oauth: {client_id: c, refresh_token_file: refresh, scope: 'https://www.googleapis.com/auth/gmail.insert https://www.googleapis.com/auth/gmail.labels'}\n" +
      kTail);
  const auto& target = cfg.targets.at(0);
  BOOST_TEST(target.never_mark_spam);
  BOOST_TEST(!target.process_for_calendar);
  BOOST_TEST(target.api_url == "https://localhost:8443");
  BOOST_TEST(target.server.host == "localhost");
  BOOST_TEST(target.server.port == 8443);
  BOOST_TEST(target.connections == 2u);
  // An explicit scope is taken as written, even one without the read scope recovery needs; the
  // configuration then warns that a message in doubt after a crash may be imported twice.
  BOOST_TEST(target.server.oauth->scope.find("gmail.readonly") == std::string::npos);
  const auto warned = popgate::config::warnings(cfg);
  BOOST_TEST(std::count_if(warned.begin(), warned.end(), [](const std::string& w) {
               return w.find("target: oauth.scope has no read scope (gmail.readonly)") == 0 &&
                      w.find("a duplicate is possible") != std::string::npos;
             }) == 1);
}

BOOST_AUTO_TEST_CASE(testGmailApiTargetMistakes) {
  Files files;
  const std::string head = "state_dir: /s\ntarget:\n  kind: gmail-api\n  username: me@gmail.com\n";
  BOOST_TEST(files.error(head + kTail) ==
             "gw.yaml:2: target: missing required key 'oauth' (kind: gmail-api signs in with OAuth "
             "2.0: oauth: {client_id: ..., refresh_token_file: ...}; see docs/gmail.md)");
  BOOST_TEST(files.error(head + "  host: imap.gmail.com\n  oauth: {client_id: c}\n" + kTail) ==
             "gw.yaml:5: target.host: is not used with kind: gmail-api (it signs in with oauth and "
             "talks to Google's API over HTTPS; see docs/gmail.md)");
  BOOST_TEST(files.error(head + "  password: pw\n" + kTail) ==
             "gw.yaml:5: target.password: is not used with kind: gmail-api (it signs in with oauth "
             "and talks to Google's API over HTTPS; see docs/gmail.md)");
  BOOST_TEST(files.error(head + "  api_url: http://localhost:80\n  oauth: {client_id: c}\n" + kTail) ==
             "gw.yaml:5: target.api_url: expected an https:// URL (the Gmail API's base, for tests)");
  BOOST_TEST(files.error("state_dir: /s\ntarget:\n  kind: pop\n  username: u\n" + kTail) .find(
                 "gw.yaml:3: target.kind: ") == 0u);
  BOOST_TEST(files.error("state_dir: /s\ntarget:\n  host: imap.example.com\n  username: u\n"
                         "  password: pw\n  never_mark_spam: true\n" + kTail) ==
             "gw.yaml:6: target.never_mark_spam: is only used with kind: gmail-api");
  BOOST_TEST(files.error(head + "  oauth: {client_id: c}\n" +
                         "accounts:\n  - {name: isp, host: pop.example, username: me, password: pw, "
                         "dedupe: message-id}\n") ==
             "gw.yaml:7: accounts[0].dedupe: message-id searches the target for copies, which a "
             "kind: gmail-api target cannot do without a read scope; move with a kind: imap "
             "target, or use backlog: none or since (docs/gmail.md)");
  BOOST_TEST(files.error("state_dir: /s\ntarget:\n  username: me@gmail.com\n  kind: gmail-api\n"
                         "  oauth: {client_id: c}\n  process_for_calendar: maybe\n" + kTail)
                 .find("gw.yaml:6: target.process_for_calendar: ") == 0u);
}
