// The configuration loader: every key of docs/configuration.md, its defaults, and the exact error messages
// ("FILE:LINE: KEY.PATH: what is wrong") an administrator sees for each mistake.

#include <boost/test/unit_test.hpp>

#include <stdlib.h>  // setenv
#include <unistd.h>  // getpid

#include <filesystem>
#include <map>
#include <string>

#include "config/ConfigLoader.h"
#include "config/DatabaseUrl.h"
#include "config/Units.h"
#include "connectors/common/Error.h"
#include "tests/support/ConfigEnv.h"
#include "tests/support/TempDir.h"

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using popgate::config::EnvLookup;
using popgate::config::GatewayConfig;
using popgate::test::envOf;
using popgate::test::TempDir;

namespace {

const EnvLookup& noEnv() {
  static const EnvLookup env = envOf({});
  return env;
}

GatewayConfig load(const std::string& yaml, const fs::path& base = "/etc/popgate",
                   const EnvLookup& env = noEnv()) {
  return popgate::config::loadConfigText(yaml, "gw.yaml", base, env);
}

// The text of the Config error that loading `yaml` throws; fails the test if none or another kind.
std::string loadError(const std::string& yaml, const fs::path& base = "/etc/popgate",
                      const EnvLookup& env = noEnv()) {
  try {
    load(yaml, base, env);
  } catch (const popgate::Error& e) {
    BOOST_TEST(static_cast<int>(e.kind()) == static_cast<int>(popgate::ErrorKind::Config));
    std::string text = e.what();
    BOOST_TEST(text.find('\n') == std::string::npos, "one line: " << text);
    return text;
  }
  BOOST_FAIL("no error for:\n" << yaml);
  return {};
}

// Lines 1-10: a complete, valid configuration; tests append account keys from line 11 on.
const std::string& minimal() {
  static const std::string text =
      "state_dir: /var/lib/popgate\n"  // 1
      "target:\n"                      // 2
      "  host: imap.example.com\n"     // 3
      "  username: me@example.com\n"   // 4
      "  password: target-pw\n"        // 5
      "accounts:\n"                    // 6
      "  - name: work\n"               // 7
      "    host: pop.example.com\n"    // 8
      "    username: me\n"             // 9
      "    password: pop-pw\n";        // 10
  return text;
}

// minimal() with `line` appended to the account (at line 11).
std::string withAccountKey(const std::string& line) {
  return minimal() + "    " + line + "\n";
}

}  // namespace

BOOST_AUTO_TEST_SUITE(units)

BOOST_AUTO_TEST_CASE(testDurationsWithUnits) {
  using popgate::config::parseDuration;
  BOOST_TEST(parseDuration("30s").value->count() == 30);
  BOOST_TEST(parseDuration("5m").value->count() == 300);
  BOOST_TEST(parseDuration("1h").value->count() == 3600);
  BOOST_TEST(parseDuration("1h30m").value->count() == 5400);
  BOOST_TEST(parseDuration("90s").value->count() == 90);
  BOOST_TEST(parseDuration("2h0m5s").value->count() == 7205);
  BOOST_TEST(parseDuration("0s").value->count() == 0);
  BOOST_TEST(parseDuration("4294967295s").value->count() == 4294967295);
}

BOOST_AUTO_TEST_CASE(testDurationNeedsAUnit) {
  const auto parsed = popgate::config::parseDuration("30");
  BOOST_TEST(!parsed.value);
  BOOST_TEST(parsed.error == "a unit is required: write 30s, 30m or 30h");
  BOOST_TEST(popgate::config::parseDuration("1h30").error ==
             "missing unit after 30 in '1h30' (units: h, m, s)");
}

BOOST_AUTO_TEST_CASE(testDurationRejectsBadText) {
  using popgate::config::parseDuration;
  BOOST_TEST(parseDuration("5d").error == "unknown unit 'd' in '5d'; units are h, m and s");
  BOOST_TEST(parseDuration("10ms").error == "unknown unit 'ms' in '10ms'; units are h, m and s");
  BOOST_TEST(parseDuration("5M").error == "unknown unit 'M' in '5M'; units are h, m and s");
  BOOST_TEST(parseDuration("1.5h").error ==
             "fractions are not allowed in '1.5h'; write e.g. 1h30m or 90s");
  BOOST_TEST(parseDuration("-5m").error == "must not be negative");
  BOOST_TEST(parseDuration("30m1h").error ==
             "in '30m1h', write each unit once, largest first (e.g. 1h30m)");
  BOOST_TEST(parseDuration("1m1m").error ==
             "in '1m1m', write each unit once, largest first (e.g. 1h30m)");
  BOOST_TEST(parseDuration("").error == "expected a duration such as 30s, 5m or 1h30m");
  BOOST_TEST(parseDuration("1h 30m").error ==
             "expected a duration such as 30s, 5m or 1h30m, found '1h 30m'");
  BOOST_TEST(parseDuration("h").error == "expected a duration such as 30s, 5m or 1h30m, found 'h'");
}

BOOST_AUTO_TEST_CASE(testDurationOverflow) {
  using popgate::config::parseDuration;
  BOOST_TEST(parseDuration("99999999999999999999s").error ==
             "'99999999999999999999s' is too large");
  BOOST_TEST(parseDuration("4294967296s").error == "'4294967296s' is too large");
  BOOST_TEST(parseDuration("1193047h").error == "'1193047h' is too large");
  BOOST_TEST(parseDuration("5124095576030431h").error == "'5124095576030431h' is too large");
}

BOOST_AUTO_TEST_CASE(testSizesArePowersOf1024) {
  using popgate::config::parseSize;
  BOOST_TEST(*parseSize("35MB").value == 35ull * 1024 * 1024);
  BOOST_TEST(*parseSize("512KB").value == 512ull * 1024);
  BOOST_TEST(*parseSize("1GB").value == 1024ull * 1024 * 1024);
  BOOST_TEST(*parseSize("1048576").value == 1048576ull);
  BOOST_TEST(*parseSize("100B").value == 100ull);
  BOOST_TEST(*parseSize("1kb").value == 1024ull);
  BOOST_TEST(*parseSize("2MiB").value == 2ull * 1024 * 1024);
  BOOST_TEST(*parseSize("3G").value == 3ull * 1024 * 1024 * 1024);
  BOOST_TEST(*parseSize("0").value == 0ull);
}

BOOST_AUTO_TEST_CASE(testSizeRejectsBadText) {
  using popgate::config::parseSize;
  BOOST_TEST(parseSize("-1MB").error == "must not be negative");
  BOOST_TEST(parseSize("1.5MB").error == "fractions are not allowed in '1.5MB'; write e.g. 1536KB");
  BOOST_TEST(parseSize("1TB").error ==
             "unknown unit 'TB' in '1TB'; units are B, KB, MB and GB (powers of 1024)");
  BOOST_TEST(parseSize("35 MB").error == "write the unit without a space, e.g. 35MB");
  BOOST_TEST(parseSize("MB").error == "expected a size such as 512KB, 35MB or 1GB, found 'MB'");
  BOOST_TEST(parseSize("").error == "expected a size such as 512KB, 35MB or 1GB");
  BOOST_TEST(parseSize("18446744073709551616").error == "'18446744073709551616' is too large");
  BOOST_TEST(parseSize("17179869184GB").error == "'17179869184GB' is too large");
  BOOST_TEST(*parseSize("18446744073709551615").value == 18446744073709551615ull);
}

BOOST_AUTO_TEST_CASE(testFormatReadsBack) {
  using popgate::config::formatDuration;
  using popgate::config::formatSize;
  BOOST_TEST(formatDuration(90s) == "1m30s");
  BOOST_TEST(formatDuration(5400s) == "1h30m");
  BOOST_TEST(formatDuration(3600s) == "1h");
  BOOST_TEST(formatDuration(0s) == "0s");
  BOOST_TEST(formatDuration(3601s) == "1h1s");
  BOOST_TEST(formatSize(36700160) == "35MB");
  BOOST_TEST(formatSize(1572864) == "1536KB");
  BOOST_TEST(formatSize(1500) == "1500B");
  BOOST_TEST(formatSize(0) == "0B");
  BOOST_TEST(formatSize(1024ull * 1024 * 1024 * 2) == "2GB");
  for (const std::int64_t s : {1, 59, 61, 3599, 86400, 90061}) {
    const std::chrono::seconds d{s};
    BOOST_TEST(*popgate::config::parseDuration(formatDuration(d)).value == d);
  }
  for (const std::uint64_t b : {1ull, 1023ull, 1024ull, 1536ull, 1048577ull, 5368709120ull}) {
    BOOST_TEST(*popgate::config::parseSize(formatSize(b)).value == b);
  }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(valid_configs)

BOOST_AUTO_TEST_CASE(testBuiltInDefaults) {
  const GatewayConfig cfg = load(minimal());
  BOOST_TEST(cfg.state_dir == fs::path("/var/lib/popgate"));
  BOOST_TEST(cfg.source == fs::path("gw.yaml"));
  BOOST_TEST(static_cast<int>(cfg.log_level) == static_cast<int>(popgate::config::LogLevel::Info));
  BOOST_TEST(static_cast<int>(cfg.log_format) ==
             static_cast<int>(popgate::config::LogFormat::Text));
  BOOST_TEST(cfg.max_parallel_polls == 4u);
  BOOST_TEST(!cfg.admin.has_value());
  BOOST_TEST(cfg.targets.front().server.host == "imap.example.com");
  BOOST_TEST(cfg.targets.front().server.port == 993);
  BOOST_TEST(static_cast<int>(cfg.targets.front().server.tls) ==
             static_cast<int>(popgate::TlsMode::Implicit));
  BOOST_TEST(cfg.targets.front().server.timeout == 60s);
  BOOST_TEST(cfg.targets.front().connections == 4u);
  BOOST_TEST(cfg.targets.front().server.password.reveal() == "target-pw");
  BOOST_TEST(cfg.targets.front().server.password_source == "password (inline in config)");
  BOOST_REQUIRE(cfg.accounts.size() == 1u);
  const auto& work = cfg.accounts[0];
  BOOST_TEST(work.name == "work");
  BOOST_TEST(work.server.port == 995);
  BOOST_TEST(work.folder == "INBOX");
  BOOST_TEST(work.poll_interval == 300s);
  BOOST_TEST(work.keep);
  BOOST_TEST(work.delete_after_days == 0u);
  BOOST_TEST(work.max_message_size == 35ull * 1024 * 1024);
  BOOST_TEST(work.flags.empty());
  BOOST_TEST(work.server.timeout == 60s);
  BOOST_TEST(!work.server.ca_file.has_value());
  BOOST_TEST(cfg.findAccount("work") == &cfg.accounts[0]);
  BOOST_TEST(cfg.findAccount("home") == nullptr);
}

BOOST_AUTO_TEST_CASE(testEveryKey) {
  const TempDir dir("popgate-config-test");
  dir.write("ca.pem", "-----BEGIN CERTIFICATE-----\n");
  dir.write("secrets/imap", "imap-secret\n");
  dir.write("secrets/admin", "admin-token\n");
  const std::string yaml = R"(state_dir: /srv/popgate
log_level: debug
log_format: json
max_parallel_polls: 8
admin:
  listen: 0.0.0.0:9090
  token_file: secrets/admin
target:
  host: imap.gmail.com
  port: 1993
  tls: starttls
  ca_file: ca.pem
  username: me@gmail.com
  password_file: secrets/imap
  auth: plain
  connections: 2
  timeout: 2m
accounts:
  - name: work.mail_1-x
    host: 192.0.2.7
    port: 1995
    tls: none
    ca_file: ca.pem
    username: me
    password_env: WORK_POP_PASSWORD
    auth: apop
    folder: Archive/Work
    poll_interval: 1h30m
    keep: true
    delete_after_days: 14
    max_message_size: 512KB
    flags: ['\Seen', '\flagged', $Forwarded]
    timeout: 45s
)";
  const GatewayConfig cfg = load(yaml, dir.path(), envOf({{"WORK_POP_PASSWORD", "pop-secret"}}));
  BOOST_TEST(cfg.state_dir == fs::path("/srv/popgate"));
  BOOST_TEST(static_cast<int>(cfg.log_level) == static_cast<int>(popgate::config::LogLevel::Debug));
  BOOST_TEST(static_cast<int>(cfg.log_format) ==
             static_cast<int>(popgate::config::LogFormat::Json));
  BOOST_TEST(cfg.max_parallel_polls == 8u);
  BOOST_REQUIRE(cfg.admin.has_value());
  BOOST_TEST(cfg.admin->host == "0.0.0.0");
  BOOST_TEST(cfg.admin->port == 9090);
  BOOST_TEST(*cfg.admin->token_file == dir.path() / "secrets/admin");
  BOOST_TEST(cfg.admin->token.reveal() == "admin-token");

  const auto& target = cfg.targets.front();
  BOOST_TEST(target.server.host == "imap.gmail.com");
  BOOST_TEST(target.server.port == 1993);
  BOOST_TEST(static_cast<int>(target.server.tls) == static_cast<int>(popgate::TlsMode::StartTls));
  BOOST_TEST(*target.server.ca_file == dir.path() / "ca.pem");
  BOOST_TEST(target.server.username == "me@gmail.com");
  BOOST_TEST(target.server.password.reveal() == "imap-secret");
  BOOST_TEST(target.server.password_source ==
             "password_file " + (dir.path() / "secrets/imap").string());
  BOOST_TEST(static_cast<int>(target.auth) == static_cast<int>(popgate::config::ImapAuth::Plain));
  BOOST_TEST(target.connections == 2u);
  BOOST_TEST(target.server.timeout == 120s);

  BOOST_REQUIRE(cfg.accounts.size() == 1u);
  const auto& acc = cfg.accounts[0];
  BOOST_TEST(acc.name == "work.mail_1-x");
  BOOST_TEST(acc.server.host == "192.0.2.7");
  BOOST_TEST(acc.server.port == 1995);
  BOOST_TEST(static_cast<int>(acc.server.tls) == static_cast<int>(popgate::TlsMode::None));
  BOOST_TEST(*acc.server.ca_file == dir.path() / "ca.pem");
  BOOST_TEST(acc.server.username == "me");
  BOOST_TEST(acc.server.password.reveal() == "pop-secret");
  BOOST_TEST(acc.server.password_source == "password_env WORK_POP_PASSWORD");
  BOOST_TEST(static_cast<int>(acc.auth) == static_cast<int>(popgate::config::PopAuth::Apop));
  BOOST_TEST(acc.folder == "Archive/Work");
  BOOST_TEST(acc.poll_interval == 5400s);
  BOOST_TEST(acc.keep);
  BOOST_TEST(acc.delete_after_days == 14u);
  BOOST_TEST(acc.max_message_size == 512ull * 1024);
  const std::vector<std::string> flags{"\\Seen", "\\Flagged", "$Forwarded"};
  BOOST_TEST(acc.flags == flags, boost::test_tools::per_element());
  BOOST_TEST(acc.server.timeout == 45s);
}

BOOST_AUTO_TEST_CASE(testDefaultsAppliedAndOverridden) {
  const std::string yaml = R"(state_dir: /var/lib/popgate
target: {host: imap.example.com, username: u, password: p}
defaults:
  poll_interval: 2m
  username: shared-user
  password_env: SHARED_PW
  folder: Mail
  keep: false
  flags: ['\Seen']
accounts:
  - name: a
    host: pop.a.example
  - name: b
    host: pop.b.example
    username: b-user
    password: b-pw
    poll_interval: 10m
    keep: true
    delete_after_days: 3
    flags: []
)";
  const GatewayConfig cfg = load(yaml, "/etc/popgate", envOf({{"SHARED_PW", "shared-pw"}}));
  BOOST_REQUIRE(cfg.accounts.size() == 2u);
  const auto& a = cfg.accounts[0];
  BOOST_TEST(a.poll_interval == 120s);
  BOOST_TEST(a.server.username == "shared-user");
  BOOST_TEST(a.server.password.reveal() == "shared-pw");
  BOOST_TEST(a.server.password_source == "password_env SHARED_PW");
  BOOST_TEST(a.folder == "Mail");
  BOOST_TEST(!a.keep);
  BOOST_TEST(a.flags.size() == 1u);
  const auto& b = cfg.accounts[1];
  BOOST_TEST(b.poll_interval == 600s);
  BOOST_TEST(b.server.username == "b-user");
  // An account that names its own password ignores every password key of defaults.
  BOOST_TEST(b.server.password.reveal() == "b-pw");
  BOOST_TEST(b.server.password_source == "password (inline in config)");
  BOOST_TEST(b.folder == "Mail");
  BOOST_TEST(b.keep);
  BOOST_TEST(b.delete_after_days == 3u);
  BOOST_TEST(b.flags.empty());
}

BOOST_AUTO_TEST_CASE(testPortDefaultsFollowTls) {
  const std::string yaml = R"(state_dir: /var/lib/popgate
target: {host: imap.example.com, tls: starttls, username: u, password: p}
defaults: {username: u, password: p}
accounts:
  - {name: implicit, host: h}
  - {name: starttls, host: h, tls: starttls}
  - {name: plain, host: h, tls: none}
  - {name: explicit, host: h, tls: none, port: 2110}
)";
  const GatewayConfig cfg = load(yaml);
  BOOST_TEST(cfg.targets.front().server.port == 143);
  BOOST_TEST(cfg.accounts.at(0).server.port == 995);
  BOOST_TEST(cfg.accounts.at(1).server.port == 110);
  BOOST_TEST(cfg.accounts.at(2).server.port == 110);
  BOOST_TEST(cfg.accounts.at(3).server.port == 2110);
  const GatewayConfig plain = load(
      "state_dir: /s\ntarget: {host: h, tls: none, username: u, password: p}\n"
      "accounts: [{name: a, host: h, username: u, password: p}]\n");
  BOOST_TEST(plain.targets.front().server.port == 143);
  BOOST_TEST(load(minimal()).targets.front().server.port == 993);
}

BOOST_AUTO_TEST_CASE(testSecretFileTrailingNewlineTrimmed) {
  const TempDir dir("popgate-config-test");
  dir.write("lf", "from-file\n");
  dir.write("crlf", "from-file-2\r\n");
  dir.write("none", "from-file-3");
  const std::string yaml = R"(state_dir: /var/lib/popgate
target: {host: h, username: u, password_file: lf}
defaults: {host: h, username: u}
accounts:
  - {name: a, password_file: crlf}
  - {name: b, password_file: none}
)";
  const GatewayConfig cfg = load(yaml, dir.path());
  BOOST_TEST(cfg.targets.front().server.password.reveal() == "from-file");
  BOOST_TEST(cfg.accounts.at(0).server.password.reveal() == "from-file-2");
  BOOST_TEST(cfg.accounts.at(1).server.password.reveal() == "from-file-3");
  BOOST_TEST(cfg.accounts.at(0).server.password_source ==
             "password_file " + (dir.path() / "crlf").string());
}

BOOST_AUTO_TEST_CASE(testRelativePathsResolveAgainstConfigDirectory) {
  const TempDir dir("popgate-config-test");
  dir.write("etc/secrets/pop", "pop-pw\n");
  dir.write("etc/ca.pem", "pem\n");
  dir.write("etc/token", "tok\n");
  const fs::path file = dir.write("etc/gw.yaml", R"(state_dir: ../var/state
admin: {token_file: ./token}
target: {host: h, username: u, password: p, ca_file: ca.pem}
accounts:
  - {name: a, host: h, username: u, password_file: secrets/pop}
)");
  const GatewayConfig cfg = popgate::config::loadConfig(file, noEnv());
  BOOST_TEST(cfg.source == file);
  BOOST_TEST(cfg.state_dir == dir.path() / "var/state");
  BOOST_TEST(*cfg.admin->token_file == dir.path() / "etc/token");
  BOOST_TEST(*cfg.targets.front().server.ca_file == dir.path() / "etc/ca.pem");
  BOOST_TEST(cfg.accounts.at(0).server.password.reveal() == "pop-pw");
  BOOST_TEST(cfg.accounts.at(0).server.password_source ==
             "password_file " + (dir.path() / "etc/secrets/pop").string());
  BOOST_TEST(cfg.admin->host == "127.0.0.1");
  BOOST_TEST(cfg.admin->port == 8025);
}

BOOST_AUTO_TEST_CASE(testAdminListenForms) {
  const auto listen = [](const std::string& value) {
    return *load(minimal() + "admin:\n  listen: " + value + "\n").admin;
  };
  BOOST_TEST(listen("127.0.0.1:8025").host == "127.0.0.1");
  BOOST_TEST(listen("'[::1]:9000'").host == "::1");
  BOOST_TEST(listen("'[::1]:9000'").port == 9000);
  BOOST_TEST(listen("localhost:8080").host == "localhost");
  BOOST_TEST(listen("localhost:8080").port == 8080);
  BOOST_TEST(listen("0.0.0.0:1").port == 1);
  BOOST_TEST(listen("'[::]:65535'").port == 65535);
  BOOST_TEST(load(minimal() + "admin: {}\n").admin->port == 8025);
}

BOOST_AUTO_TEST_CASE(testHostForms) {
  const auto host = [](const std::string& value) {
    const std::string yaml = "state_dir: /s\ntarget: {host: " + value +
                             ", username: u, password: p}\n" +
                             "accounts: [{name: a, host: h, username: u, password: p}]\n";
    return load(yaml).targets.front().server.host;
  };
  BOOST_TEST(host("imap.example.com") == "imap.example.com");
  BOOST_TEST(host("imap.example.com.") == "imap.example.com.");
  BOOST_TEST(host("10.0.0.1") == "10.0.0.1");
  BOOST_TEST(host("'2001:db8::1'") == "2001:db8::1");
  BOOST_TEST(host("'[2001:db8::1]'") == "2001:db8::1");
  BOOST_TEST(host("dovecot_test") == "dovecot_test");
}

BOOST_AUTO_TEST_CASE(testBooleansAndQuotedNumbers) {
  BOOST_TEST(!load(withAccountKey("keep: False")).accounts[0].keep);
  BOOST_TEST(load(withAccountKey("keep: TRUE")).accounts[0].keep);
  BOOST_TEST(load(withAccountKey("port: '2995'")).accounts[0].server.port == 2995);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(errors)

BOOST_AUTO_TEST_CASE(testUnknownKeySuggestion) {
  BOOST_TEST(loadError(withAccountKey("polll_interval: 5m")) ==
             "gw.yaml:11: accounts[0].polll_interval: unknown key (did you mean poll_interval?)");
  BOOST_TEST(loadError(withAccountKey("Folder: Work")) ==
             "gw.yaml:11: accounts[0].Folder: unknown key (did you mean folder?)");
  BOOST_TEST(loadError(withAccountKey("pasword_file: /x")) ==
             "gw.yaml:11: accounts[0].pasword_file: unknown key (did you mean password_file?)");
  BOOST_TEST(loadError(withAccountKey("delete_after_dyas: 3")) ==
             "gw.yaml:11: accounts[0].delete_after_dyas: unknown key "
             "(did you mean delete_after_days?)");
  BOOST_TEST(loadError(withAccountKey("colour: red")) ==
             "gw.yaml:11: accounts[0].colour: unknown key");
  BOOST_TEST(loadError(minimal() + "colour: red\n") == "gw.yaml:11: colour: unknown key");
  BOOST_TEST(loadError(minimal() + "admin:\n  colour: red\n") ==
             "gw.yaml:12: admin.colour: unknown key (expected listen, token_file or allowed_hosts)");
  BOOST_TEST(loadError(minimal() + "admin:\n  listn: 127.0.0.1:1\n") ==
             "gw.yaml:12: admin.listn: unknown key (did you mean listen?)");
  BOOST_TEST(loadError(minimal() + "<<: {}\n") ==
             "gw.yaml:11: <<: merge keys (<<) are not supported; put shared account settings "
             "under defaults");
}

BOOST_AUTO_TEST_CASE(testUnknownKeyBeatsMissingSection) {
  BOOST_TEST(loadError("state_dir: /s\naccounts:\n  - name: a\n    polll_interval: 5m\n") ==
             "gw.yaml:4: accounts[0].polll_interval: unknown key (did you mean poll_interval?)");
}

BOOST_AUTO_TEST_CASE(testMissingRequiredKeys) {
  const std::string yaml = minimal() +
                           "  - name: home\n"    // 11
                           "    username: me\n"  // 12
                           "    password: x\n";  // 13
  BOOST_TEST(loadError(yaml) == "gw.yaml:11: accounts[1]: missing required key 'host'");
  BOOST_TEST(loadError(minimal() + "  - host: h\n") ==
             "gw.yaml:11: accounts[1]: missing required key 'name'");
  BOOST_TEST(loadError(minimal() + "  - name: x\n    host: h\n    password: p\n") ==
             "gw.yaml:11: accounts[1]: missing required key 'username'");
  BOOST_TEST(loadError(minimal() + "  - name: x\n    host: h\n    username: u\n") ==
             "gw.yaml:11: accounts[1]: missing required key 'password' "
             "(or password_file, or password_env)");
  BOOST_TEST(loadError(minimal().substr(minimal().find('\n') + 1)) ==
             "gw.yaml:1: missing required key 'state_dir'");
  BOOST_TEST(loadError("state_dir: /s\ntarget:\n  username: u\n  password: p\n") ==
             "gw.yaml:2: target: missing required key 'host'");
  BOOST_TEST(loadError("state_dir: /s\ntarget:\naccounts: []\n") ==
             "gw.yaml:2: target: missing required key 'host'");
  BOOST_TEST(loadError("state_dir: /s\ntarget: {host: h, username: u, password: p}\n") ==
             "gw.yaml:1: missing required key 'accounts'");
}

BOOST_AUTO_TEST_CASE(testWrongTypes) {
  BOOST_TEST(loadError(withAccountKey("keep: maybe")) ==
             "gw.yaml:11: accounts[0].keep: expected true or false");
  BOOST_TEST(loadError(withAccountKey("keep: yes")) ==
             "gw.yaml:11: accounts[0].keep: expected true or false");
  BOOST_TEST(loadError(withAccountKey("folder: [a, b]")) ==
             "gw.yaml:11: accounts[0].folder: expected a single value, found a list");
  BOOST_TEST(loadError(withAccountKey("folder: {a: b}")) ==
             "gw.yaml:11: accounts[0].folder: expected a single value, found a mapping");
  BOOST_TEST(loadError(withAccountKey("folder:")) ==
             "gw.yaml:11: accounts[0].folder: has no value");
  BOOST_TEST(loadError(withAccountKey("flags: '\\Seen'")) ==
             "gw.yaml:11: accounts[0].flags: expected a list of flags, e.g. ['\\Seen']");
  BOOST_TEST(loadError(minimal() + "admin: 127.0.0.1:8025\n") ==
             "gw.yaml:11: admin: expected a mapping of keys (key: value lines), "
             "found a single value");
  BOOST_TEST(loadError(minimal() + "  - work\n") ==
             "gw.yaml:11: accounts[1]: expected a mapping of keys (key: value lines), "
             "found a single value");
  BOOST_TEST(loadError(minimal() + "? [a]\n: b\n") ==
             "gw.yaml:11: keys must be plain names, found a list");
}

BOOST_AUTO_TEST_CASE(testBadEnums) {
  BOOST_TEST(loadError(withAccountKey("tls: ssl")) ==
             "gw.yaml:11: accounts[0].tls: expected implicit, starttls or none");
  BOOST_TEST(loadError(withAccountKey("auth: login")) ==
             "gw.yaml:11: accounts[0].auth: expected auto, user, apop, plain, xoauth2 or oauthbearer");
  BOOST_TEST(loadError(minimal() + "log_level: verbose\n") ==
             "gw.yaml:11: log_level: expected error, warning, info or debug");
  BOOST_TEST(loadError(minimal() + "log_format: xml\n") ==
             "gw.yaml:11: log_format: expected text or json");
  BOOST_TEST(loadError("state_dir: /s\ntarget:\n  auth: apop\n") ==
             "gw.yaml:2: target: missing required key 'host'");
  BOOST_TEST(loadError(minimal().substr(0, minimal().find("accounts")) + "  auth: apop\n") ==
             "gw.yaml:6: target.auth: expected auto, login, plain, xoauth2 or oauthbearer");
}

BOOST_AUTO_TEST_CASE(testNumbersAndRanges) {
  BOOST_TEST(
      loadError(withAccountKey("port: 70000")) ==
      "gw.yaml:11: accounts[0].port: expected a whole number from 1 to 65535, found '70000'");
  BOOST_TEST(loadError(withAccountKey("port: 0")) ==
             "gw.yaml:11: accounts[0].port: expected a whole number from 1 to 65535, found '0'");
  BOOST_TEST(loadError(withAccountKey("port: -1")) ==
             "gw.yaml:11: accounts[0].port: expected a whole number from 1 to 65535, found '-1'");
  BOOST_TEST(loadError(withAccountKey("delete_after_days: 1.5")) ==
             "gw.yaml:11: accounts[0].delete_after_days: expected a whole number from 0 to 36500, "
             "found '1.5'");
  BOOST_TEST(loadError(minimal() + "max_parallel_polls: 0\n") ==
             "gw.yaml:11: max_parallel_polls: expected a whole number from 1 to 64, found '0'");
  BOOST_TEST(loadError(minimal() + "max_parallel_polls: 65\n") ==
             "gw.yaml:11: max_parallel_polls: expected a whole number from 1 to 64, found '65'");
  BOOST_TEST(loadError(minimal() + "max_parallel_polls: 99999999999999999999999\n") ==
             "gw.yaml:11: max_parallel_polls: expected a whole number from 1 to 64, "
             "found '99999999999999999999999'");
  BOOST_TEST(loadError("state_dir: /s\ntarget: {host: h, username: u, password: p, "
                       "connections: 33}\naccounts: []\n") ==
             "gw.yaml:2: target.connections: expected a whole number from 1 to 32, found '33'");
}

BOOST_AUTO_TEST_CASE(testDurationsAndSizesInConfig) {
  BOOST_TEST(loadError(withAccountKey("poll_interval: 0s")) ==
             "gw.yaml:11: accounts[0].poll_interval: 0s is too short; the minimum is 1s");
  BOOST_TEST(loadError(withAccountKey("poll_interval: 300")) ==
             "gw.yaml:11: accounts[0].poll_interval: a unit is required: write 300s, 300m or 300h");
  BOOST_TEST(loadError(withAccountKey("poll_interval: 169h")) ==
             "gw.yaml:11: accounts[0].poll_interval: 169h is too long; the maximum is 168h");
  BOOST_TEST(loadError(withAccountKey("timeout: 0s")) ==
             "gw.yaml:11: accounts[0].timeout: 0s is too short; the minimum is 1s");
  BOOST_TEST(loadError(withAccountKey("timeout: 2d")) ==
             "gw.yaml:11: accounts[0].timeout: unknown unit 'd' in '2d'; units are h, m and s");
  BOOST_TEST(loadError(withAccountKey("max_message_size: 512B")) ==
             "gw.yaml:11: accounts[0].max_message_size: 512B is too small; the minimum is 1KB");
  BOOST_TEST(loadError(withAccountKey("max_message_size: 1PB")) ==
             "gw.yaml:11: accounts[0].max_message_size: unknown unit 'PB' in '1PB'; units are B, "
             "KB, MB and GB (powers of 1024)");
  BOOST_TEST(loadError(withAccountKey("max_message_size: 99999999999GB")) ==
             "gw.yaml:11: accounts[0].max_message_size: '99999999999GB' is too large");
}

BOOST_AUTO_TEST_CASE(testYamlSyntaxError) {
  BOOST_TEST(loadError("state_dir: /s\ntarget:\n  host: [a\n  port: 2\n") ==
             "gw.yaml:4: YAML syntax error: end of sequence flow not found");
  BOOST_TEST(loadError("state_dir: /s\nfolder: \"\\S\"\n") ==
             "gw.yaml:2: YAML syntax error: unknown escape character: S");
  BOOST_TEST(loadError(minimal() + "admin:\n  listen: [::1]:8025\n") ==
             "gw.yaml:12: YAML syntax error: end of map not found");
  BOOST_TEST(loadError("state_dir: /s\n\ttarget: x\n") ==
             "gw.yaml:2: YAML syntax error: illegal tab when looking for indentation");
}

BOOST_AUTO_TEST_CASE(testMissingOrUnreadableFile) {
  const TempDir dir("popgate-config-test");
  const fs::path missing = dir.path() / "gw.yaml";
  try {
    popgate::config::loadConfig(missing, noEnv());
    BOOST_FAIL("no error");
  } catch (const popgate::Error& e) {
    BOOST_TEST(std::string(e.what()) ==
               missing.string() + ": cannot read the file: No such file or directory");
  }
  try {
    popgate::config::loadConfig(dir.path(), noEnv());
    BOOST_FAIL("no error");
  } catch (const popgate::Error& e) {
    BOOST_TEST(std::string(e.what()) ==
               dir.path().string() + ": cannot read the file: Is a directory");
  }
}

BOOST_AUTO_TEST_CASE(testEmptyOrMisshapenFile) {
  const std::string empty =
      "gw.yaml: the file holds no settings; expected state_dir, target and accounts";
  BOOST_TEST(loadError("") == empty);
  BOOST_TEST(loadError("# only a comment\n\n") == empty);
  BOOST_TEST(loadError("~\n") == empty);
  BOOST_TEST(loadError("- state_dir: /s\n") ==
             "gw.yaml:1: expected a mapping (key: value lines) with state_dir, target and "
             "accounts, found a list");
  BOOST_TEST(loadError("hello\n") ==
             "gw.yaml:1: expected a mapping (key: value lines) with state_dir, target and "
             "accounts, found a single value");
  BOOST_TEST(loadError(minimal() + "---\nstate_dir: /t\n") ==
             "gw.yaml:11: a second YAML document ('---') begins here; popgate reads exactly one");
}

BOOST_AUTO_TEST_CASE(testDuplicateKey) {
  const std::string yaml = minimal() + "    host: pop2.example.com\n";
  BOOST_TEST(loadError(yaml) == "gw.yaml:11: accounts[0].host: duplicate key (first at line 8)");
  BOOST_TEST(loadError(minimal() + "state_dir: /other\n") ==
             "gw.yaml:11: state_dir: duplicate key (first at line 1)");
}

BOOST_AUTO_TEST_CASE(testAccountListProblems) {
  BOOST_TEST(loadError(minimal().substr(0, minimal().find("  - name")) + "accounts: []\n") ==
             "gw.yaml:7: accounts: duplicate key (first at line 6)");
  const std::string head = minimal().substr(0, minimal().find("accounts:"));
  BOOST_TEST(loadError(head + "accounts: []\n") ==
             "gw.yaml:6: accounts: must list at least one account");
  BOOST_TEST(loadError(head + "accounts:\n") ==
             "gw.yaml:6: accounts: must list at least one account");
  BOOST_TEST(loadError(head + "accounts:\n  work:\n    host: h\n") ==
             "gw.yaml:6: accounts: expected a list of accounts, each item starting with "
             "'- name:'; found a mapping");
  BOOST_TEST(loadError(minimal() + "  - {name: work, host: h, username: u, password: p}\n") ==
             "gw.yaml:11: accounts[1].name: 'work' is already the name of accounts[0] (line 7)");
  BOOST_TEST(
      loadError(head + "accounts:\n  - {name: my work, host: h, username: u, password: p}\n") ==
      "gw.yaml:7: accounts[0].name: 'my work' is not a valid account name (letters, "
      "digits, '_', '.' and '-' only)");
  BOOST_TEST(loadError(head + "accounts:\n  - {name: '..', host: h, username: u, password: p}\n") ==
             "gw.yaml:7: accounts[0].name: '..' cannot be an account name");
}

BOOST_AUTO_TEST_CASE(testKeepFalseWithDeleteAfterDays) {
  BOOST_TEST(loadError(minimal() + "    keep: false\n    delete_after_days: 7\n") ==
             "gw.yaml:12: accounts[0].delete_after_days: conflicts with keep: false (line 11), "
             "which deletes messages right after upload; set keep: true or remove this key");
  // keep: false from defaults still conflicts with the account's own delete_after_days.
  const std::string head = minimal().substr(0, minimal().find("accounts:"));
  BOOST_TEST(loadError(head + "defaults: {keep: false}\naccounts:\n  - {name: a, host: h, "
                              "username: u, password: p, delete_after_days: 1}\n") ==
             "gw.yaml:8: accounts[0].delete_after_days: conflicts with keep: false (line 6), "
             "which deletes messages right after upload; set keep: true or remove this key");
  BOOST_TEST(load(minimal() + "    keep: false\n    delete_after_days: 0\n").accounts[0].keep ==
             false);
}

BOOST_AUTO_TEST_CASE(testFlags) {
  BOOST_TEST(loadError(withAccountKey("flags: ['\\Recent']")) ==
             "gw.yaml:11: accounts[0].flags[0]: \\Recent is set by the server and cannot be given "
             "to APPEND");
  BOOST_TEST(loadError(withAccountKey("flags: ['\\Seen', '\\Important']")) ==
             "gw.yaml:11: accounts[0].flags[1]: unknown system flag '\\Important'; expected "
             "\\Seen, \\Answered, \\Flagged, \\Draft or \\Deleted, or a keyword without '\\'");
  BOOST_TEST(loadError(minimal() + "    flags:\n      - \\Seen\n      - not a flag\n") ==
             "gw.yaml:13: accounts[0].flags[1]: 'not a flag' is not a valid IMAP keyword (no "
             "spaces, control or non-ASCII characters, nor any of ( ) { % * \" \\ ])");
  BOOST_TEST(loadError(withAccountKey("flags: ['']")) ==
             "gw.yaml:11: accounts[0].flags[0]: must not be empty");
  const auto flags =
      load(withAccountKey("flags: [\\seen, \\DRAFT, $Label1, \\Seen]")).accounts[0].flags;
  const std::vector<std::string> expected{"\\Seen", "\\Draft", "$Label1"};
  BOOST_TEST(flags == expected, boost::test_tools::per_element());
}

// Moving off another fetcher: backlog (all | none | since DATE) and dedupe (none | message-id),
// with a real calendar date, from defaults too, and each mistake named by file, line and key.
BOOST_AUTO_TEST_CASE(testBacklogAndDedupe) {
  using popgate::config::Backlog;
  using popgate::config::Dedupe;
  const auto plain = load(minimal()).accounts[0];
  BOOST_TEST((plain.backlog == Backlog::All));
  BOOST_TEST((plain.dedupe == Dedupe::None));

  const auto none = load(minimal() + "    backlog: none\n    dedupe: message-id\n").accounts[0];
  BOOST_TEST((none.backlog == Backlog::None));
  BOOST_TEST((none.dedupe == Dedupe::MessageId));

  const auto since = load(withAccountKey("backlog: since 2026-01-15")).accounts[0];
  BOOST_TEST((since.backlog == Backlog::Since));
  BOOST_TEST(since.backlog_since == 1768435200);  // 2026-01-15T00:00:00Z
  BOOST_TEST(popgate::config::backlogText(since) == "since 2026-01-15");
  BOOST_TEST(load(withAccountKey("backlog: since 2024-02-29")).accounts[0].backlog_since ==
             1709164800);  // a leap day
  BOOST_TEST(load(withAccountKey("backlog: 'since   1970-01-01'")).accounts[0].backlog_since == 0);

  const std::string head = minimal().substr(0, minimal().find("accounts:"));
  const auto from_defaults =
      load(head + "defaults: {backlog: none, dedupe: message-id}\naccounts:\n"
                  "  - {name: a, host: h, username: u, password: p}\n"
                  "  - {name: b, host: h, username: u, password: p, backlog: all}\n");
  BOOST_TEST((from_defaults.accounts[0].backlog == Backlog::None));
  BOOST_TEST((from_defaults.accounts[0].dedupe == Dedupe::MessageId));
  BOOST_TEST((from_defaults.accounts[1].backlog == Backlog::All));

  BOOST_TEST(loadError(withAccountKey("backlog: some")) ==
             "gw.yaml:11: accounts[0].backlog: expected all, none or since YYYY-MM-DD (e.g. since "
             "2026-01-15), found 'some'");
  BOOST_TEST(loadError(withAccountKey("backlog: since")) ==
             "gw.yaml:11: accounts[0].backlog: expected all, none or since YYYY-MM-DD (e.g. since "
             "2026-01-15), found 'since'");
  BOOST_TEST(loadError(withAccountKey("backlog: since 15.01.2026")) ==
             "gw.yaml:11: accounts[0].backlog: expected a date as YYYY-MM-DD after since (e.g. "
             "since 2026-01-15), found '15.01.2026'");
  BOOST_TEST(loadError(withAccountKey("backlog: since 2026-02-30")) ==
             "gw.yaml:11: accounts[0].backlog: '2026-02-30' is not a calendar date from "
             "1970-01-01 on");
  BOOST_TEST(loadError(withAccountKey("backlog: since 2025-02-29")) ==
             "gw.yaml:11: accounts[0].backlog: '2025-02-29' is not a calendar date from "
             "1970-01-01 on");
  BOOST_TEST(loadError(withAccountKey("backlog: since 2026-13-01")) ==
             "gw.yaml:11: accounts[0].backlog: '2026-13-01' is not a calendar date from "
             "1970-01-01 on");
  BOOST_TEST(loadError(withAccountKey("backlog: since 1969-12-31")) ==
             "gw.yaml:11: accounts[0].backlog: '1969-12-31' is not a calendar date from "
             "1970-01-01 on");
  BOOST_TEST(loadError(withAccountKey("backlog: [none]")) ==
             "gw.yaml:11: accounts[0].backlog: expected a single value, found a list");
  BOOST_TEST(loadError(withAccountKey("dedupe: message_id")) ==
             "gw.yaml:11: accounts[0].dedupe: expected none or message-id");
  BOOST_TEST(loadError(withAccountKey("dedup: message-id")) ==
             "gw.yaml:11: accounts[0].dedup: unknown key (did you mean dedupe?)");

  const std::string summary = popgate::config::describe(
      load(minimal() + "    backlog: since 2026-01-15\n    dedupe: message-id\n"));
  BOOST_TEST(summary.find(", backlog since 2026-01-15, dedupe message-id, secret from") !=
             std::string::npos, summary);
  BOOST_TEST(popgate::config::describe(load(minimal())).find("backlog") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(testFolderAndHostValues) {
  BOOST_TEST(loadError(withAccountKey("folder: ''")) ==
             "gw.yaml:11: accounts[0].folder: must not be empty (the default is INBOX)");
  BOOST_TEST(loadError(withAccountKey("folder: \"Work\\r\\nX\"")) ==
             "gw.yaml:11: accounts[0].folder: must not contain a line break or NUL byte");
  BOOST_TEST(load(withAccountKey("folder: Clients/Ünïcode")).accounts[0].folder ==
             "Clients/Ünïcode");
  BOOST_TEST(loadError(withAccountKey("host: pop.example.com:995")) ==
             "gw.yaml:11: accounts[0].host: duplicate key (first at line 8)");
  const std::string head = minimal().substr(0, minimal().find("accounts:")) + "accounts:\n";
  BOOST_TEST(
      loadError(head + "  - {name: a, host: 'pop.example.com:995', username: u, password: p}\n") ==
      "gw.yaml:7: accounts[0].host: 'pop.example.com:995': write the port under its own "
      "key (port:), not in the host");
  BOOST_TEST(loadError(head + "  - {name: a, host: 300.1.1.1, username: u, password: p}\n") ==
             "gw.yaml:7: accounts[0].host: '300.1.1.1' is not a valid IPv4 address");
  BOOST_TEST(loadError(head + "  - {name: a, host: 'bad host', username: u, password: p}\n") ==
             "gw.yaml:7: accounts[0].host: expected a host name or IP address, found 'bad host'");
  BOOST_TEST(loadError(head + "  - {name: a, host: h, username: '', password: p}\n") ==
             "gw.yaml:7: accounts[0].username: must not be empty");
}

BOOST_AUTO_TEST_CASE(testAdminListenErrors) {
  const auto listenError = [](const std::string& value) {
    return loadError(minimal() + "admin:\n  listen: " + value + "\n");
  };
  BOOST_TEST(listenError("8025") ==
             "gw.yaml:12: admin.listen: expected host:port, e.g. 127.0.0.1:8025 (the port is "
             "required)");
  BOOST_TEST(listenError("'::1:8025'") ==
             "gw.yaml:12: admin.listen: write an IPv6 address in brackets and quotes, e.g. "
             "'[::1]:8025'");
  BOOST_TEST(listenError("127.0.0.1:0") ==
             "gw.yaml:12: admin.listen: expected a port from 1 to 65535, found '0'");
  BOOST_TEST(listenError("localhost:99999") ==
             "gw.yaml:12: admin.listen: expected a port from 1 to 65535, found '99999'");
  BOOST_TEST(listenError(":8025") ==
             "gw.yaml:12: admin.listen: the host is missing; write 0.0.0.0:8025 to listen on "
             "every IPv4 address");
  BOOST_TEST(listenError("'[::1]'") ==
             "gw.yaml:12: admin.listen: expected [IPv6]:port, e.g. '[::1]:8025', found '[::1]'");
  BOOST_TEST(listenError("'[nonsense]:80'") ==
             "gw.yaml:12: admin.listen: '[nonsense]' is not a valid [IPv6] address");
  BOOST_TEST(listenError("[a]") ==
             "gw.yaml:12: admin.listen: expected host:port; in YAML an IPv6 address needs "
             "quotes: listen: '[::1]:8025'");
}

BOOST_AUTO_TEST_CASE(testAdminToken) {
  const TempDir dir("popgate-config-test");
  dir.write("empty", "\n");
  dir.write("spaced", "two words\n");
  BOOST_TEST(loadError(minimal() + "admin:\n  token_file: empty\n", dir.path()) ==
             "gw.yaml:12: admin.token_file: " + (dir.path() / "empty").string() + " is empty");
  BOOST_TEST(loadError(minimal() + "admin:\n  token_file: spaced\n", dir.path()) ==
             "gw.yaml:12: admin.token_file: " + (dir.path() / "spaced").string() +
                 " holds spaces or control characters; a bearer token cannot");
  BOOST_TEST(loadError(minimal() + "admin:\n  token_file: missing\n", dir.path()) ==
             "gw.yaml:12: admin.token_file: cannot read " + (dir.path() / "missing").string() +
                 ": No such file or directory");
}

BOOST_AUTO_TEST_CASE(testExactlyOnePassword) {
  BOOST_TEST(loadError(withAccountKey("password_env: WORK_PW")) ==
             "gw.yaml:11: accounts[0].password_env: conflicts with password (line 10); use "
             "exactly one of password, password_file, password_env");
  BOOST_TEST(loadError("state_dir: /s\ntarget:\n  host: h\n  username: u\n  password_file: /a\n"
                       "  password_env: B\n") ==
             "gw.yaml:6: target.password_env: conflicts with password_file (line 5); use exactly "
             "one of password, password_file, password_env");
  BOOST_TEST(loadError(minimal() + "defaults: {password: a, password_env: B}\n") ==
             "gw.yaml:11: defaults.password_env: conflicts with password (line 11); use exactly "
             "one of password, password_file, password_env");
}

BOOST_AUTO_TEST_CASE(testMissingSecrets) {
  const TempDir dir("popgate-config-test");
  dir.write("empty", "");
  dir.write("newline-only", "\r\n");
  dir.write("two-lines", "first\nsecond\n");
  fs::create_directory(dir.path() / "a-dir");
  const std::string head = minimal().substr(0, minimal().find("    password: pop-pw"));
  const auto fileError = [&dir, &head](const std::string& name) {
    return loadError(head + "    password_file: " + name + "\n", dir.path());
  };
  const std::string prefix = "gw.yaml:10: accounts[0].password_file: ";
  BOOST_TEST(fileError("nope") == prefix + "cannot read " + (dir.path() / "nope").string() +
                                      ": No such file or directory");
  BOOST_TEST(fileError("empty") == prefix + (dir.path() / "empty").string() + " is empty");
  BOOST_TEST(fileError("newline-only") ==
             prefix + (dir.path() / "newline-only").string() + " is empty");
  BOOST_TEST(fileError("two-lines") ==
             prefix + (dir.path() / "two-lines").string() +
                 " holds more than one line (or a NUL byte); it must hold only the secret");
  BOOST_TEST(fileError("a-dir") ==
             prefix + "cannot read " + (dir.path() / "a-dir").string() + ": Is a directory");
  BOOST_TEST(fileError("'~/pw'") == prefix + "'~' is not expanded here; write the full path");

  const std::string env_yaml = head + "    password_env: WORK_POP_PASSWORD\n";
  BOOST_TEST(loadError(env_yaml) ==
             "gw.yaml:10: accounts[0].password_env: environment variable WORK_POP_PASSWORD is "
             "not set");
  BOOST_TEST(loadError(env_yaml, "/etc", envOf({{"WORK_POP_PASSWORD", ""}})) ==
             "gw.yaml:10: accounts[0].password_env: environment variable WORK_POP_PASSWORD is "
             "empty");
  BOOST_TEST(loadError(head + "    password_env: 1BAD-NAME\n") ==
             "gw.yaml:10: accounts[0].password_env: '1BAD-NAME' is not an environment variable "
             "name ([A-Za-z_][A-Za-z0-9_]*)");
  BOOST_TEST(load(env_yaml, "/etc", envOf({{"WORK_POP_PASSWORD", "x"}}))
                 .accounts[0]
                 .server.password.reveal() == "x");
}

BOOST_AUTO_TEST_CASE(testCaFileAndStateDir) {
  const TempDir dir("popgate-config-test");
  dir.write("a-file", "x");
  BOOST_TEST(loadError(withAccountKey("ca_file: missing.pem"), dir.path()) ==
             "gw.yaml:11: accounts[0].ca_file: cannot read " +
                 (dir.path() / "missing.pem").string() + ": No such file or directory");
  BOOST_TEST(loadError("state_dir: a-file\n" + minimal().substr(minimal().find('\n') + 1),
                       dir.path()) == "gw.yaml:1: state_dir: " + (dir.path() / "a-file").string() +
                                          " exists and is not a directory");
  BOOST_TEST(loadError("state_dir: ''\n" + minimal().substr(minimal().find('\n') + 1)) ==
             "gw.yaml:1: state_dir: must not be empty");
}

BOOST_AUTO_TEST_CASE(testDefaultsAreCheckedToo) {
  const std::string head = minimal().substr(0, minimal().find("accounts:"));
  BOOST_TEST(
      loadError(head + "defaults:\n  name: x\n" + minimal().substr(minimal().find("accounts:"))) ==
      "gw.yaml:7: defaults.name: cannot have a default; give each account its own name");
  // A bad default is an error even when every account overrides it.
  BOOST_TEST(loadError(head + "defaults:\n  poll_interval: 0s\n" +
                       minimal().substr(minimal().find("accounts:")) + "    poll_interval: 5m\n") ==
             "gw.yaml:7: defaults.poll_interval: 0s is too short; the minimum is 1s");
  BOOST_TEST(loadError(head + "defaults:\n  connections: 3\n") ==
             "gw.yaml:7: defaults.connections: unknown key");
  BOOST_TEST(loadError(head + "defaults: [poll_interval]\n") ==
             "gw.yaml:6: defaults: expected a mapping of keys (key: value lines), found a list");
}

BOOST_AUTO_TEST_CASE(testProcessEnvReadsTheEnvironment) {
  const std::string name = "POPGATE_CONFIG_TEST_" + std::to_string(getpid());
  BOOST_REQUIRE(setenv(name.c_str(), "from-process-env", 1) == 0);
  const EnvLookup env = popgate::config::processEnv();
  BOOST_TEST(env(name).value_or("") == "from-process-env");
  BOOST_REQUIRE(unsetenv(name.c_str()) == 0);
  BOOST_TEST(!env(name).has_value());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(targets_and_database)

// The issue's family: two named targets, a default one, two accounts.
const std::string& family() {
  static const std::string text =
      "state_dir: /var/lib/popgate\n"                                                  // 1
      "targets:\n"                                                                     // 2
      "  anna: {host: imap.gmail.com, username: anna@gmail.com, password: a-pw}\n"     // 3
      "  ben:  {host: imap.fastmail.com, username: ben@fastmail.com, password: b-pw,\n"  // 4
      "         connections: 2}\n"                                                     // 5
      "defaults:\n"                                                                    // 6
      "  target: anna\n"                                                               // 7
      "accounts:\n"                                                                    // 8
      "  - {name: anna-work, host: pop.work.example, username: anna, password: x}\n"   // 9
      "  - {name: ben-isp, target: ben, host: pop.isp.example, username: ben, password: y}\n";  // 10
  return text;
}

BOOST_AUTO_TEST_CASE(testFamilyWithTargetPerAccount) {
  const GatewayConfig cfg = load(family());
  BOOST_TEST(cfg.named_targets);
  BOOST_REQUIRE(cfg.targets.size() == 2u);
  BOOST_TEST(cfg.targets[0].name == "anna");
  BOOST_TEST(cfg.targets[0].server.host == "imap.gmail.com");
  BOOST_TEST(cfg.targets[0].server.port == 993);
  BOOST_TEST(cfg.targets[1].name == "ben");
  BOOST_TEST(cfg.targets[1].connections == 2u);
  BOOST_TEST(cfg.targets[1].server.password.reveal() == "b-pw");
  BOOST_TEST(cfg.accounts[0].target == "anna");  // from defaults.target
  BOOST_TEST(cfg.accounts[1].target == "ben");
  BOOST_TEST(cfg.targetOf(cfg.accounts[1]).server.host == "imap.fastmail.com");
  BOOST_TEST(cfg.findTarget("carl") == nullptr);
}

BOOST_AUTO_TEST_CASE(testSingleTargetKeepsItsMeaning) {
  const GatewayConfig cfg = load(minimal());
  BOOST_TEST(!cfg.named_targets);
  BOOST_REQUIRE(cfg.targets.size() == 1u);
  BOOST_TEST(cfg.targets[0].name == popgate::config::kSingleTargetName);
  BOOST_TEST(cfg.accounts[0].target == popgate::config::kSingleTargetName);
}

BOOST_AUTO_TEST_CASE(testAccountWithoutTargetNamesFileAndLine) {
  std::string yaml = family();
  yaml.replace(yaml.find("  target: anna\n"), 15, "  keep: true\n");
  BOOST_TEST(loadError(yaml) ==
             "gw.yaml:9: accounts[0]: names no target; add target: NAME (one of anna, ben), or a "
             "default one as defaults.target");
}

BOOST_AUTO_TEST_CASE(testUnknownTargetWithSuggestion) {
  std::string yaml = family();
  yaml.replace(yaml.find("target: ben,"), 12, "target: bem,");
  BOOST_TEST(loadError(yaml) ==
             "gw.yaml:10: accounts[1].target: unknown target 'bem' (did you mean ben?)");
  yaml = family();
  yaml.replace(yaml.find("target: ben,"), 12, "target: carla,");
  BOOST_TEST(loadError(yaml) ==
             "gw.yaml:10: accounts[1].target: unknown target 'carla' (targets: anna, ben)");
  yaml = family();
  yaml.replace(yaml.find("  target: anna\n"), 15, "  target: anne\n");
  BOOST_TEST(loadError(yaml) ==
             "gw.yaml:7: defaults.target: unknown target 'anne' (did you mean anna?)");
}

BOOST_AUTO_TEST_CASE(testTargetAndTargetsConflict) {
  const std::string yaml = minimal() + "targets:\n  a: {host: h, username: u, password: p}\n";
  BOOST_TEST(loadError(yaml) ==
             "gw.yaml:11: targets: conflicts with target (line 2); write target: for one central "
             "mailbox or targets: for several, not both");
  BOOST_TEST(loadError(withAccountKey("target: anna")) ==
             "gw.yaml:11: accounts[0].target: names a target, but this file has one unnamed "
             "target:; name them under targets: to give accounts different ones");
}

BOOST_AUTO_TEST_CASE(testTargetsChecked) {
  std::string yaml = family();
  yaml.replace(yaml.find("  ben:  {host: imap.fastmail.com,"), 33, "  ben:  {hots: imap.fastmail.com,");
  BOOST_TEST(loadError(yaml) == "gw.yaml:4: targets.ben.hots: unknown key (did you mean host?)");
  BOOST_TEST(loadError("state_dir: /x\ntargets: {}\naccounts:\n  - {name: a, host: h, username: u, "
                       "password: p}\n") == "gw.yaml:2: targets: must name at least one target");
  BOOST_TEST(loadError("state_dir: /x\naccounts:\n  - {name: a, host: h, username: u, password: p}\n") ==
             "gw.yaml:1: missing required key 'target' (or targets)");
}

BOOST_AUTO_TEST_CASE(testDatabaseSectionIsTheSharedLedger) {
  const GatewayConfig cfg = load(minimal() +
                                 "database:\n"
                                 "  url: postgresql://popgate@127.0.0.1:6432/ledger\n"
                                 "  password: db-pw-4711\n"
                                 "  lease_ttl: 5s\n");
  BOOST_REQUIRE(cfg.database.has_value());
  BOOST_TEST(cfg.database->url == "postgresql://popgate@127.0.0.1:6432/ledger");
  BOOST_TEST(cfg.database->host == "127.0.0.1");
  BOOST_TEST(cfg.database->port == 6432);
  BOOST_TEST(cfg.database->user == "popgate");
  BOOST_TEST(cfg.database->dbname == "ledger");
  BOOST_TEST(cfg.database->password.reveal() == "db-pw-4711");
  BOOST_TEST(cfg.database->password_source == "password (inline in config)");
  BOOST_TEST(cfg.database->lease_ttl.count() == 5);
  // `popgate check` names the database and where its password comes from, never the password.
  const std::string summary = popgate::config::describe(cfg);
  BOOST_TEST(summary.find("  ledger     PostgreSQL postgresql://popgate@127.0.0.1:6432/ledger, "
                          "lease_ttl 5s, secret from password (inline in config) (shared by "
                          "replicas)\n") != std::string::npos, summary);
  BOOST_TEST(summary.find("db-pw-4711") == std::string::npos);
  BOOST_TEST(popgate::config::describe(load(minimal())).find("ledger") == std::string::npos);
  // Defaults: lease_ttl 30 s; no password (trust or peer authentication); no section: SQLite.
  const GatewayConfig plain = load(minimal() + "database:\n  url: postgresql://pg@db/ledger\n");
  BOOST_TEST(plain.database->lease_ttl.count() == 30);
  BOOST_TEST(plain.database->password.empty());
  BOOST_TEST(!load(minimal()).database.has_value());
  BOOST_TEST(loadError(minimal() + "database:\n  url: postgresql://pg@db/ledger\n  leas_ttl: 5s\n") ==
             "gw.yaml:13: database.leas_ttl: unknown key (did you mean lease_ttl?)");
}

BOOST_AUTO_TEST_CASE(testDatabaseUrlParts) {
  const auto url = popgate::config::parseDatabaseUrl("postgresql://popgate@127.0.0.1:6432/popgate");
  BOOST_REQUIRE(url.value.has_value());
  BOOST_TEST(url.value->host == "127.0.0.1");
  BOOST_TEST(url.value->port == 6432);
  BOOST_TEST(url.value->user == "popgate");
  BOOST_TEST(url.value->dbname == "popgate");
  BOOST_TEST(url.value->sslmode.empty());
  const auto v6 = popgate::config::parseDatabaseUrl("postgres://pg@[::1]/ledger?sslmode=verify-full");
  BOOST_REQUIRE(v6.value.has_value());
  BOOST_TEST(v6.value->host == "::1");
  BOOST_TEST(v6.value->port == 5432);
  BOOST_TEST(v6.value->sslmode == "verify-full");
  BOOST_TEST(popgate::config::parseDatabaseUrl("postgresql://pg@db/ledger?sslmode=maybe").error ==
             "sslmode must be disable, allow, prefer, require, verify-ca or verify-full, found "
             "'maybe'");
  BOOST_TEST(!popgate::config::parseDatabaseUrl("postgresql://pg@db/led%20ger").value.has_value());
  BOOST_TEST(!popgate::config::parseDatabaseUrl("postgresql://pg@db").value.has_value());
}

BOOST_AUTO_TEST_CASE(testDatabaseErrors) {
  BOOST_TEST(loadError(minimal() + "database:\n  url: postgresql://popgate:secret@db/popgate\n") ==
             "gw.yaml:12: database.url: the URL holds a password; put it in password_file or "
             "password_env instead");
  BOOST_TEST(loadError(minimal() + "database:\n  url: mysql://popgate@db/popgate\n") ==
             "gw.yaml:12: database.url: expected a URL like "
             "postgresql://popgate@db.example.org:5432/popgate, found 'mysql://popgate@db/popgate'");
  BOOST_TEST(loadError(minimal() + "database:\n  url: postgresql://db/popgate\n") ==
             "gw.yaml:12: database.url: the URL names no user: write USER@ before the host, e.g. "
             "postgresql://popgate@db.example.org:5432/popgate");
  BOOST_TEST(loadError(minimal() + "database:\n  url: postgresql://u@db/p\n  lease_ttl: 2s\n")
                 .starts_with("gw.yaml:13: database.lease_ttl: "));
  BOOST_TEST(loadError(minimal() + "database:\n  lease_ttl: 30s\n") ==
             "gw.yaml:11: database: missing required key 'url' (e.g. "
             "postgresql://popgate@db.example.org/popgate)");
  BOOST_TEST(loadError(minimal() + "database:\n  url: postgresql://u@db/p\n  password: a\n"
                                   "  password_env: B\n")
                 .find("conflicts with password") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(secrets_stay_secret)

const std::string& secret() {
  static const std::string text = "Hunter2-TopSecret";
  return text;
}

BOOST_AUTO_TEST_CASE(testSecretNeverInErrors) {
  const TempDir dir("popgate-config-test");
  dir.write("two-lines", secret() + "\n" + secret() + "\n");
  dir.write("token", secret() + " " + secret() + "\n");
  const std::string head = minimal().substr(0, minimal().find("    password: pop-pw"));
  const std::vector<std::string> broken{
      head + "    password: " + secret() + "\n    keep: maybe\n",
      head + "    password: \"" + secret() + "\\n" + secret() + "\"\n",
      head + "    password: " + secret() + "\n    password_env: X\n",
      head + "    password_file: two-lines\n",
      head + "    password_env: POP_PW\n",
      minimal() + "admin: {token_file: token}\n",
      head + "    password: [" + secret() + "]\n",
  };
  const EnvLookup env = envOf({{"POP_PW", secret() + "\r\n"}});
  for (const auto& yaml : broken) {
    const std::string text = loadError(yaml, dir.path(), env);
    BOOST_TEST(text.find("Hunter2") == std::string::npos, text);
  }
}

BOOST_AUTO_TEST_CASE(testSecretNeverInSummary) {
  const TempDir dir("popgate-config-test");
  dir.write("pw", secret() + "-file\n");
  dir.write("token", secret() + "-token\n");
  const std::string yaml =
      "state_dir: /var/lib/popgate\n"
      "admin: {listen: '[::]:8025', token_file: token}\n"
      "target: {host: imap.example.com, username: me, password_file: pw}\n"
      "accounts:\n"
      "  - {name: a, host: h, username: u, password: " +
      secret() +
      "-inline}\n"
      "  - {name: b, host: h, username: u, password_env: PW, tls: none}\n";
  const GatewayConfig cfg = load(yaml, dir.path(), envOf({{"PW", secret() + "-env"}}));
  const std::string summary = popgate::config::describe(cfg);
  BOOST_TEST(summary.find("Hunter2") == std::string::npos, summary);
  BOOST_TEST(cfg.accounts[1].server.password.reveal() == secret() + "-env");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(summary)

BOOST_AUTO_TEST_CASE(testDescribeListsEverything) {
  const TempDir dir("popgate-config-test");
  fs::permissions(dir.write("token", "t0k3n-of-twenty-bytes\n"), fs::perms::owner_read);
  const std::string yaml = R"(state_dir: /var/lib/popgate
admin: {listen: 127.0.0.1:8025, token_file: token}
target: {host: imap.gmail.com, username: me@gmail.com, password_env: GMAIL_PW}
accounts:
  - name: work
    host: pop.work.example
    username: me
    password_env: WORK_POP_PASSWORD
    folder: Work
    keep: true
    delete_after_days: 30
  - name: home
    host: pop.home.example
    tls: starttls
    username: me
    password: inline
    keep: false
    poll_interval: 1h30m
    flags: ['\Seen']
)";
  const GatewayConfig cfg =
      load(yaml, dir.path(), envOf({{"GMAIL_PW", "g"}, {"WORK_POP_PASSWORD", "w"}}));
  const std::string expected =
      "popgate configuration gw.yaml\n"
      "  state_dir  /var/lib/popgate\n"
      "  logging    info, text; up to 4 accounts polled at once\n"
      "  admin      127.0.0.1:8025, token required except for /healthz (token_file " +
      (dir.path() / "token").string() +
      ")\n"
      "  target     me@gmail.com@imap.gmail.com:993, tls implicit, auth auto, 4 connections, "
      "timeout 1m, secret from password_env GMAIL_PW\n"
      "  folders    INBOX, Work\n"
      "  accounts (2)\n"
      "    work: me@pop.work.example:995, tls implicit, auth auto → Work, every 5m, keep on POP, "
      "delete 30 days after upload, max 35MB, timeout 1m, secret from password_env "
      "WORK_POP_PASSWORD\n"
      "    home: me@pop.home.example:110, tls starttls, auth auto → INBOX, every 1h30m, delete "
      "from POP after upload, max 35MB, timeout 1m, flags \\Seen, secret from password (inline "
      "in config)\n";
  BOOST_TEST(popgate::config::describe(cfg) == expected);
  BOOST_TEST(popgate::config::warnings(cfg).empty());
}

BOOST_AUTO_TEST_CASE(testPlaintextAndOpenAdminAreWarned) {
  const std::string yaml =
      "state_dir: /s\n"
      "admin: {listen: 0.0.0.0:8025}\n"
      "target: {host: imap.lan, tls: none, username: u, password: p}\n"
      "accounts:\n"
      "  - {name: old, host: pop.lan, tls: none, username: me, password: p}\n";
  const GatewayConfig cfg = load(yaml);
  const std::vector<std::string> expected{
      "admin: 0.0.0.0:8025 is reachable off this host and has no token_file; anyone who can "
      "connect can read /status and start polls",
      "target: tls: none sends the password for u@imap.lan:143 in plaintext",
      "account old: tls: none sends the password for me@pop.lan:110 in plaintext"};
  BOOST_TEST(popgate::config::warnings(cfg) == expected, boost::test_tools::per_element());
  const std::string summary = popgate::config::describe(cfg);
  BOOST_TEST(summary.find("warning: account old: tls: none sends the password") !=
             std::string::npos);
  BOOST_TEST(summary.find("  admin      0.0.0.0:8025, no token required\n") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(testDescribeWithoutAdmin) {
  const std::string summary = popgate::config::describe(load(minimal()));
  BOOST_TEST(summary.find("  admin      disabled\n") != std::string::npos);
  BOOST_TEST(summary.find("pop-pw") == std::string::npos);
  BOOST_TEST(summary.find("target-pw") == std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()

// fetchmail refuses an rc file others can read (CVE-2005-2335 era); popgate does the same for
// every file a secret comes from, and for a config that holds an inline password.
BOOST_AUTO_TEST_SUITE(secret_files)

std::string withPasswordFile() {
  return "state_dir: /var/lib/popgate\n"
         "target: {host: imap.example.com, username: me, password_file: pw}\n"  // 2
         "accounts: [{name: work, host: h, username: u, password_env: PW}]\n";
}

std::string refusal(const GatewayConfig& cfg) {
  try {
    popgate::config::requirePrivateSecrets(cfg);
  } catch (const popgate::Error& e) {
    BOOST_TEST(static_cast<int>(e.kind()) == static_cast<int>(popgate::ErrorKind::Config));
    return e.what();
  }
  return {};
}

BOOST_AUTO_TEST_CASE(testWorldReadablePasswordFileIsWarnedAndRefused) {
  const TempDir dir("popgate-config-test");
  const fs::path pw = dir.write("pw", "the-password\n");
  fs::permissions(pw, fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read |
                          fs::perms::others_read);
  const GatewayConfig cfg = load(withPasswordFile(), dir.path(), envOf({{"PW", "pop"}}));
  const std::string problem = "target.password_file: " + pw.string() +
                              " is readable by other users (mode 0644)";
  const auto warnings = popgate::config::warnings(cfg);
  BOOST_REQUIRE(warnings.size() == 1u);
  BOOST_TEST(warnings[0] == problem + "; chmod 600 it (run and once refuse it unless "
                                      "allow_readable_secrets: true)");
  BOOST_TEST(refusal(cfg) == "gw.yaml:2: " + problem +
                                 ": chmod 600 it, or set allow_readable_secrets: true");
}

BOOST_AUTO_TEST_CASE(testGroupReadableIsEnoughToRefuse) {
  const TempDir dir("popgate-config-test");
  fs::permissions(dir.write("pw", "the-password\n"), fs::perms::owner_read | fs::perms::group_read);
  const GatewayConfig cfg = load(withPasswordFile(), dir.path(), envOf({{"PW", "pop"}}));
  BOOST_TEST(refusal(cfg).find("(mode 0440)") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(testPrivatePasswordFileIsAccepted) {
  const TempDir dir("popgate-config-test");
  fs::permissions(dir.write("pw", "the-password\n"), fs::perms::owner_read | fs::perms::owner_write);
  const GatewayConfig cfg = load(withPasswordFile(), dir.path(), envOf({{"PW", "pop"}}));
  BOOST_TEST(refusal(cfg).empty());
  BOOST_TEST(popgate::config::warnings(cfg).empty());
  BOOST_REQUIRE(cfg.secret_files.size() == 1u);
  BOOST_TEST(cfg.secret_files[0].mode == 0600u);
}

BOOST_AUTO_TEST_CASE(testAllowReadableSecretsAcceptsButStillWarns) {
  const TempDir dir("popgate-config-test");
  fs::permissions(dir.write("pw", "the-password\n"), fs::perms::owner_read | fs::perms::others_read);
  const GatewayConfig cfg = load("allow_readable_secrets: true\n" + withPasswordFile(), dir.path(),
                                 envOf({{"PW", "pop"}}));
  BOOST_TEST(cfg.allow_readable_secrets);
  BOOST_TEST(refusal(cfg).empty());
  const auto warnings = popgate::config::warnings(cfg);
  BOOST_REQUIRE(warnings.size() == 1u);
  BOOST_TEST(warnings[0].ends_with("chmod 600 it (allowed by allow_readable_secrets: true)"));
  BOOST_TEST(loadError("allow_readable_secrets: yes\n" + withPasswordFile(), dir.path(),
                       envOf({{"PW", "pop"}})) ==
             "gw.yaml:1: allow_readable_secrets: expected true or false");
}

BOOST_AUTO_TEST_CASE(testReadableTokenFileAndReadableConfigWithInlinePassword) {
  const TempDir dir("popgate-config-test");
  fs::permissions(dir.write("token", "0123456789abcdef0123\n"),
                  fs::perms::owner_read | fs::perms::others_read);
  const fs::path config = dir.write("gw.yaml", minimal() + "admin: {token_file: token}\n");
  fs::permissions(config, fs::perms::owner_read | fs::perms::owner_write | fs::perms::others_read);
  const GatewayConfig cfg = popgate::config::loadConfig(config, noEnv());
  std::vector<std::string> keys;
  for (const auto& secret : cfg.secret_files) {
    if (secret.readableByOthers()) keys.push_back(secret.key + " " + secret.file.string());
  }
  const std::vector<std::string> expected{"admin.token_file " + (dir.path() / "token").string(),
                                          "target.password " + config.string(),
                                          "accounts[0].password " + config.string()};
  BOOST_TEST(keys == expected, boost::test_tools::per_element());
  BOOST_TEST(refusal(cfg) == config.string() + ":11: admin.token_file: " +
                                 (dir.path() / "token").string() +
                                 " is readable by other users (mode 0404): chmod 600 it, or set "
                                 "allow_readable_secrets: true");
  fs::permissions(dir.path() / "token", fs::perms::owner_read);
  BOOST_TEST(refusal(popgate::config::loadConfig(config, noEnv())) ==
             config.string() + ":5: target.password: " + config.string() +
                 " is readable by other users (mode 0604): chmod 600 it, or set "
                 "allow_readable_secrets: true");
  // The same file without an inline password is no secret.
  const fs::path plain = dir.write("env.yaml", withPasswordFile());
  fs::permissions(dir.write("pw", "x-password\n"), fs::perms::owner_read);
  fs::permissions(plain, fs::perms::owner_read | fs::perms::others_read);
  BOOST_TEST(refusal(popgate::config::loadConfig(plain, envOf({{"PW", "pop"}}))).empty());
}

BOOST_AUTO_TEST_CASE(testShortTokenAndMissingTokenAreWarned) {
  const TempDir dir("popgate-config-test");
  fs::permissions(dir.write("token", "short-token\n"), fs::perms::owner_read);
  const auto short_token = popgate::config::warnings(
      load(minimal() + "admin: {listen: 127.0.0.1:8025, token_file: token}\n", dir.path()));
  BOOST_REQUIRE(short_token.size() == 1u);
  BOOST_TEST(short_token[0] == "admin.token_file: the token has only 11 bytes; use at least 16 "
                               "random ones (openssl rand -hex 32)");
  const auto loopback = popgate::config::warnings(load(minimal() + "admin: {listen: 127.0.0.1:8025}\n"));
  BOOST_REQUIRE(loopback.size() == 1u);
  BOOST_TEST(loopback[0] == "admin: 127.0.0.1:8025 has no token_file; every local user and process "
                            "can read /status and /metrics (set admin.token_file)");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(hardening_keys)

BOOST_AUTO_TEST_CASE(testStallTimeoutAndAllowedHosts) {
  const GatewayConfig defaults = load(minimal());
  BOOST_TEST(defaults.stall_timeout.count() == 60);
  BOOST_TEST(!defaults.allow_readable_secrets);
  const GatewayConfig cfg = load(minimal() +
                                 "stall_timeout: 2m\n"
                                 "admin:\n"
                                 "  listen: 0.0.0.0:8025\n"
                                 "  allowed_hosts: [popgate, Popgate.Example.COM, '[::1]']\n");
  BOOST_TEST(cfg.stall_timeout.count() == 120);
  const std::vector<std::string> hosts{"popgate", "Popgate.Example.COM", "::1"};
  BOOST_TEST(cfg.admin->allowed_hosts == hosts, boost::test_tools::per_element());
  BOOST_TEST(popgate::config::describe(cfg).find(
                 "  admin      0.0.0.0:8025 (also as popgate, Popgate.Example.COM, ::1), no token "
                 "required\n") != std::string::npos);
  BOOST_TEST(loadError(minimal() + "stall_timeout: 5s\n").starts_with("gw.yaml:11: stall_timeout: "));
  BOOST_TEST(loadError(minimal() + "admin:\n  allowed_hosts: popgate\n") ==
             "gw.yaml:12: admin.allowed_hosts: expected a list of host names, e.g. [popgate, "
             "popgate.example]");
  BOOST_TEST(loadError(minimal() + "admin:\n  allowed_hosts: ['evil host']\n")
                 .starts_with("gw.yaml:12: admin.allowed_hosts[0]: expected a host name"));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(notify_section)

BOOST_AUTO_TEST_CASE(testNotifyKeys) {
  BOOST_TEST(!load(minimal()).notify.has_value());
  const GatewayConfig cfg = load(minimal() +
                                 "notify:\n"
                                 "  after: 1h30m\n"
                                 "  mailbox: popgate/Notices\n"
                                 "  webhook: https://ntfy.example/popgate?x=1\n");
  BOOST_REQUIRE(cfg.notify.has_value());
  BOOST_TEST(cfg.notify->after.count() == 5400);
  BOOST_TEST(*cfg.notify->mailbox == "popgate/Notices");
  const popgate::config::WebhookUrl& url = *cfg.notify->webhook;
  BOOST_TEST(url.https);
  BOOST_TEST(url.host == "ntfy.example");
  BOOST_TEST(url.port == 443);
  BOOST_TEST(url.target == "/popgate?x=1");
  BOOST_TEST(describe(cfg).find("  notify     after 1h30m; append to popgate/Notices; POST to "
                                "https://ntfy.example/...\n") != std::string::npos);
  BOOST_TEST(describe(cfg).find("popgate?x=1") == std::string::npos);  // a topic can be a secret
  const GatewayConfig quick = load(minimal() + "notify: {after: 2s, webhook: 'http://[::1]:8080'}\n");
  BOOST_TEST(quick.notify->after.count() == 2);
  BOOST_TEST(!quick.notify->mailbox.has_value());
  BOOST_TEST(!quick.notify->webhook->https);
  BOOST_TEST(quick.notify->webhook->host == "::1");
  BOOST_TEST(quick.notify->webhook->port == 8080);
  BOOST_TEST(quick.notify->webhook->target == "/");
  BOOST_TEST(load(minimal() + "notify: {mailbox: INBOX}\n").notify->after.count() == 3600);
}

BOOST_AUTO_TEST_CASE(testNotifyErrors) {
  BOOST_TEST(loadError(minimal() + "notify:\n  after: 1h\n") ==
             "gw.yaml:11: notify: names neither mailbox nor webhook: notices would go nowhere; "
             "set one of them or remove the section");
  BOOST_TEST(loadError(minimal() + "notify:\n  mailbox: INBOX\n  after: 0s\n")
                 .starts_with("gw.yaml:13: notify.after: "));
  BOOST_TEST(loadError(minimal() + "notify:\n  mailbox: ''\n").starts_with("gw.yaml:12: notify.mailbox: "));
  BOOST_TEST(loadError(minimal() + "notify:\n  webhook: http://ntfy.example/popgate\n") ==
             "gw.yaml:12: notify.webhook: plain http:// is allowed to a loopback host only; use "
             "https:// for ntfy.example");
  BOOST_TEST(loadError(minimal() + "notify:\n  webhook: ftp://ntfy.example/\n")
                 .starts_with("gw.yaml:12: notify.webhook: expected an https:// URL"));
  BOOST_TEST(loadError(minimal() + "notify:\n  webhook: https://me:secret@ntfy.example/\n")
                 .starts_with("gw.yaml:12: notify.webhook: "));
  BOOST_TEST(loadError(minimal() + "notify:\n  webhook: https://me:secret@ntfy.example/\n")
                 .find("secret") == std::string::npos);
  BOOST_TEST(loadError(minimal() + "notify:\n  webhook: 'https://ntfy.example/a b'\n")
                 .starts_with("gw.yaml:12: notify.webhook: "));
  BOOST_TEST(loadError(minimal() + "notify:\n  webhook: https://:443/\n")
                 .starts_with("gw.yaml:12: notify.webhook: "));
  BOOST_TEST(loadError(minimal() + "notify:\n  mailbox: INBOX\n  webhok: x\n") ==
             "gw.yaml:13: notify.webhok: unknown key (did you mean webhook?)");
}

BOOST_AUTO_TEST_SUITE_END()
