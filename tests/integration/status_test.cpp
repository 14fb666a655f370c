// Seeing the daemon without curl and jq, against a real Dovecot with one good account and one
// whose password is wrong: `popgate status` prints both as a table (exit 1 while one fails, 0 once
// it is gone, 2 without a daemon or with the wrong token), `--json` gives the /status document, and
// the status page GET / works in a real headless Chromium (tests/browser/status_page_check.py):
// states, the server's words, Poll now (seen in /status afterwards), no console errors, and
// screenshots in <build>/test-output/. The Grafana dashboard and the alert rules name only metrics
// a live daemon exports.
#include <boost/test/unit_test.hpp>

#include <csignal>
#include <cstdlib>
#include <set>
#include <string>
#include <vector>

#include <Poco/JSON/Parser.h>

#include "tests/support/Messages.h"
#include "tests/support/PromText.h"
#include "tests/support/RunningDaemon.h"

using namespace std::chrono_literals;
using namespace popgate::test;

namespace {

int polls(RunningDaemon& d, const std::string& account) {
  return d.account(account)->getObject("totals")->getValue<int>("polls");
}

// A Dovecot and a daemon with "work" (good, one message, hourly) and "locked" (wrong password),
// both polled once at the start; ready when /status shows work polled and locked failing (Dovecot
// delays a failed login by 2 s).
struct GoodAndFailing {
  DovecotSandbox dovecot{{"work", "locked", "me"}};
  RunningDaemon d{dovecot, {AccountSetup{"work", "Work", "implicit", true, {}, interval("1h")},
                            AccountSetup{"locked", "Locked", "implicit", true, "wrong-password",
                                         interval("1h")}}};
  GoodAndFailing() {
    dovecot.seed("work", sampleMessages()[0].bytes);
    d.start();
    BOOST_REQUIRE(waitFor([&] { return polls(d, "work") >= 1; }, 20s));
    BOOST_REQUIRE(waitFor(
        [&] { return d.account("locked")->getValue<std::string>("state") == "failing"; }, 20s));
  }
};

std::filesystem::path testOutputDir() {
  const char* build = std::getenv("POPGATE_BUILD_DIR");
  return std::filesystem::path(build != nullptr ? build : ".") / "test-output";
}

}  // namespace

BOOST_FIXTURE_TEST_CASE(testStatusCommandShowsAGoodAndAFailingAccount, GoodAndFailing) {

  const CommandResult table = runPopgate({"status", "--config", d.config.string()}, 30s);
  BOOST_TEST_INFO(table.out << table.err);
  BOOST_TEST(table.exit_code == 1);  // an account is failing
  BOOST_TEST(table.out.starts_with("ACCOUNT"));
  BOOST_TEST(table.out.find("LAST ERROR") != std::string::npos);
  const auto work_row = table.out.substr(table.out.find("\nwork "));
  BOOST_TEST(work_row.substr(0, work_row.find('\n', 1)).find("idle") != std::string::npos);
  const auto locked_row = table.out.substr(table.out.find("\nlocked "));
  BOOST_TEST(locked_row.find("failing") != std::string::npos);
  BOOST_TEST(locked_row.find("never") != std::string::npos);  // no success yet
  BOOST_TEST(locked_row.find("auth: ") != std::string::npos);
  BOOST_TEST(locked_row.find("Authentication failed") != std::string::npos);

  const CommandResult json = runPopgate({"status", "--config", d.config.string(), "--json"}, 30s);
  BOOST_TEST(json.exit_code == 1);
  const auto root = Poco::JSON::Parser().parse(json.out).extract<Poco::JSON::Object::Ptr>();
  BOOST_TEST(root->getArray("accounts")->size() == 2u);
  BOOST_TEST(root->getArray("targets")->getObject(0)->getValue<std::string>("host") ==
             "localhost:" + std::to_string(dovecot.imapPort()));
  BOOST_TEST(root->getArray("accounts")->getObject(1)->getValue<std::string>("state") == "failing");

  // The wrong token: the daemon refuses, the command says so and exits 2.
  d.dir.write("other/token", "not-the-token-0123456789\n");
  std::filesystem::permissions(d.dir.path() / "other/token", std::filesystem::perms::owner_read);
  std::string other = d.dir.read("popgate.yaml");
  const std::string token_file = (d.dir.path() / "secrets/admin-token").string();
  other.replace(other.find(token_file), token_file.size(), (d.dir.path() / "other/token").string());
  const auto other_config = d.dir.write("other.yaml", other);
  const CommandResult refused = runPopgate({"status", "--config", other_config.string()}, 30s);
  BOOST_TEST(refused.exit_code == 2);
  BOOST_TEST(refused.err.find("401") != std::string::npos, refused.err);

  // Without the failing account (SIGHUP reload) all is well: exit 0.
  std::string good_only = d.dir.read("popgate.yaml");
  const auto locked_at = good_only.find("  - name: locked");
  BOOST_REQUIRE(locked_at != std::string::npos);
  const auto locked_end = good_only.find("\n  - ", locked_at + 1);
  good_only.erase(locked_at, locked_end == std::string::npos ? std::string::npos
                                                              : locked_end + 1 - locked_at);
  d.dir.write("popgate.yaml", good_only);
  d.process->kill(SIGHUP);
  BOOST_REQUIRE(waitFor([&] { return d.status()->getArray("accounts")->size() == 1u; }, 20s));
  const CommandResult fine = runPopgate({"status", "--config", d.config.string()}, 30s);
  BOOST_TEST_INFO(fine.out << fine.err);
  BOOST_TEST(fine.exit_code == 0);
  BOOST_TEST(fine.out.find("locked") == std::string::npos);

  // No daemon: the command cannot ask and exits 2.
  BOOST_TEST(d.stop() == 0);
  const CommandResult gone = runPopgate({"status", "--config", d.config.string()}, 30s);
  BOOST_TEST(gone.exit_code == 2);
  BOOST_TEST(gone.err.find("connection refused") != std::string::npos, gone.err);
  for (const CommandResult* r : {&table, &json, &refused, &fine, &gone}) {
    BOOST_TEST(r->out.find("wrong-password") == std::string::npos);
    BOOST_TEST(r->err.find(kAdminToken) == std::string::npos);
  }
}

BOOST_FIXTURE_TEST_CASE(testStatusPageInHeadlessChromiumShowsStatesErrorsAndPollsNow,
                        GoodAndFailing) {
  const int before = polls(d, "work");

  const std::filesystem::path out = testOutputDir();
  std::filesystem::remove(out / "status-page.png");
  // Debian's Python: python3-selenium is installed for it (a python3 earlier in PATH may lack it).
  const CommandResult browser = runCommand(
      {"/usr/bin/python3", "-B", (sourceDir() / "tests/browser/status_page_check.py").string(), "--base",
       "http://127.0.0.1:" + std::to_string(d.port), "--token", kAdminToken, "--good", "work",
       "--failing", "locked", "--out", out.string()},
      180s);
  BOOST_TEST(!browser.timed_out);
  BOOST_TEST(browser.exit_code == 0, "status_page_check.py:\n" << browser.out << browser.err);
  BOOST_TEST(browser.out.find("POLLED work") != std::string::npos);
  // The page's Poll now reached the scheduler: one more poll of an hourly account.
  BOOST_TEST(waitFor([&] { return polls(d, "work") > before; }, 20s));
  BOOST_TEST((std::filesystem::exists(out / "status-page.png") &&
              std::filesystem::file_size(out / "status-page.png") > 1000u));
  BOOST_TEST_MESSAGE("screenshots: " << (out / "status-page.png") << ", "
                                     << (out / "status-page-phone-dark.png"));
  BOOST_TEST(d.stop() == 0);
}

BOOST_AUTO_TEST_CASE(testDashboardAndAlertRulesNameOnlyMetricsTheDaemonExports) {
  DovecotSandbox dovecot({"work", "me"});
  dovecot.seed("work", sampleMessages()[0].bytes);
  RunningDaemon d(dovecot, {AccountSetup{"work", "Work", "implicit", true, {}, interval("1h")}});
  d.start();
  BOOST_REQUIRE(waitFor([&] { return polls(d, "work") >= 1; }, 20s));
  const HttpResponse metrics = httpRequest("GET", d.port, "/metrics", kAdminToken);
  BOOST_REQUIRE(metrics.status == 200);
  std::set<std::string> exported;
  for (const auto& [name, family] : parseExposition(metrics.body)) {
    exported.insert(name);
    for (const Sample& sample : family.samples) exported.insert(sample.name);
  }
  BOOST_TEST(d.stop() == 0);

  // Every "popgate_[a-z0-9_]+" in `text` (no std::regex: GCC 12 warns inside it under ASan).
  const auto metricNames = [](const std::string& text) {
    std::vector<std::string> names;
    const auto word = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'; };
    for (std::size_t at = text.find("popgate_"); at != std::string::npos;
         at = text.find("popgate_", at + 1)) {
      std::size_t end = at + 8;
      while (end < text.size() && word(text[end])) ++end;
      if (end > at + 8) names.push_back(text.substr(at, end - at));
      at = end - 1;
    }
    return names;
  };
  for (const char* file : {"deploy/grafana/popgate-dashboard.json", "deploy/prometheus/popgate.rules.yml",
                           "deploy/prometheus/popgate.rules.test.yml"}) {
    const std::string text = popgate::test::readFile(sourceDir() / file);
    std::size_t named = 0;
    for (const std::string& name : metricNames(text)) {
      ++named;
      // Lease and cluster metrics exist only on replicas: integration.replicas_test checks those.
      if (name.rfind("popgate_lease_", 0) == 0 || name.rfind("popgate_cluster_", 0) == 0) continue;
      BOOST_TEST(exported.count(name) == 1u, file << " names " << name
                                                  << ", which /metrics does not export");
    }
    BOOST_TEST(named > 5u, file);
  }
}
