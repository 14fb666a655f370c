// `popgate run`, the real daemon, against a real Dovecot: scheduled delivery without a trigger,
// poll-now, /status and /metrics with a bearer token, a failing account shown as failing and
// backing off, SIGHUP reloads (a bad file keeps the old config), SIGTERM during a transfer exits 0
// promptly and loses nothing, an admin port in use exits 2, and no password ever shows.
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <csignal>

#include <Poco/DateTime.h>
#include <Poco/DateTimeFormat.h>
#include <Poco/DateTimeParser.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Net/ServerSocket.h>

#include "tests/support/GatewaySetup.h"
#include "tests/support/Messages.h"
#include "tests/support/PromText.h"

using namespace std::chrono_literals;
using namespace popgate::test;
using Poco::JSON::Object;

namespace {

const std::string kToken = "t0ken-for-tests-0123456789";

struct Daemon {
  DovecotSandbox& dovecot;
  TempDir dir;
  std::uint16_t port = freeLocalPort();
  std::filesystem::path config;
  std::unique_ptr<Process> process;

  Daemon(DovecotSandbox& d, const std::vector<AccountSetup>& accounts) : dovecot(d) {
    dir.write("secrets/admin-token", kToken + "\n");
    config = writeGatewayConfig(dir, dovecot, "me", accounts, adminYaml());
  }
  std::string adminYaml() const {
    return "admin:\n  listen: 127.0.0.1:" + std::to_string(port) + "\n  token_file: " +
           (dir.path() / "secrets/admin-token").string() + "\n";
  }
  void start() {
    process = std::make_unique<Process>(
        std::vector<std::string>{popgateBinary().string(), "run", "--config", config.string()});
    BOOST_REQUIRE_MESSAGE(waitFor([&] { return httpRequest("GET", port, "/healthz").status == 200; }, 30s),
                          "daemon did not come up: " << process->output() << process->errorOutput());
  }
  Object::Ptr status() {
    const HttpResponse r = httpRequest("GET", port, "/status", kToken);
    BOOST_REQUIRE(r.status == 200);
    return Poco::JSON::Parser().parse(r.body).extract<Object::Ptr>();
  }
  Object::Ptr account(const std::string& name) {
    auto accounts = status()->getArray("accounts");
    for (std::size_t i = 0; i < accounts->size(); ++i) {
      auto a = accounts->getObject(static_cast<unsigned>(i));
      if (a->getValue<std::string>("name") == name) return a;
    }
    BOOST_FAIL("no account " << name << " in /status");
    return nullptr;
  }
  std::string log() const { return process->output() + process->errorOutput(); }
  // SIGTERM; returns the exit code (it must end within 10 s).
  int stop() {
    process->kill(SIGTERM);
    const auto status = process->wait(10s);
    BOOST_REQUIRE_MESSAGE(status.has_value(), "popgate run did not stop within 10 s after SIGTERM");
    return status->shellCode();
  }
};

std::string interval(const std::string& d) { return "    poll_interval: " + d + "\n"; }

// Seconds since the epoch of a /status time ("2026-01-02T03:04:05Z").
std::int64_t unixSeconds(const std::string& rfc3339) {
  int tzd = 0;
  const Poco::DateTime t = Poco::DateTimeParser::parse(Poco::DateTimeFormat::ISO8601_FORMAT, rfc3339, tzd);
  return static_cast<std::int64_t>(t.timestamp().epochTime()) - tzd;
}

// Messages in `folder`, or 0 while popgate has not created it yet.
}  // namespace

BOOST_AUTO_TEST_CASE(testScheduledDeliveryStatusMetricsPollNowAndBackoff) {
  DovecotSandbox dovecot({"work", "isp", "slow", "locked", "me"});
  const auto samples = sampleMessages();
  for (const auto& s : samples) {
    dovecot.seed("work", s.bytes);
    dovecot.seed("isp", s.bytes);
  }
  Daemon d(dovecot, {AccountSetup{"work", "Work", "implicit", true, {}, interval("2s")},
                     AccountSetup{"isp", "ISP", "starttls", true, {}, interval("2s")},
                     AccountSetup{"slow", "Slow", "implicit", true, {}, interval("1h")},
                     AccountSetup{"locked", "Locked", "implicit", true, "wrong-password",
                                  interval("2s")}});
  d.start();
  const std::size_t n = samples.size();

  // Delivered by the schedule alone.
  BOOST_TEST(waitFor([&] { return countOrZero(dovecot, "me", "Work") == n && countOrZero(dovecot, "me", "ISP") == n; }, 60s));

  // Poll-now: a message arriving at an account polled hourly is fetched on request.
  BOOST_TEST(waitFor([&] {
    return d.account("slow")->getObject("totals")->getValue<int>("polls") >= 1;
  }, 30s));
  dovecot.seed("slow", samples[0].bytes);
  const HttpResponse poll = httpRequest("POST", d.port, "/accounts/slow/poll", kToken);
  BOOST_TEST(poll.status == 202);
  BOOST_TEST(waitFor([&] { return countOrZero(dovecot, "me", "Slow") == 1u; }, 30s));
  const HttpResponse unknown = httpRequest("POST", d.port, "/accounts/nope/poll", kToken);
  BOOST_TEST(unknown.status == 404);
  BOOST_TEST(unknown.body.find("\"error\"") != std::string::npos);

  // The token is required everywhere but /healthz.
  BOOST_TEST(httpRequest("GET", d.port, "/healthz").status == 200);
  BOOST_TEST(httpRequest("GET", d.port, "/status").status == 401);
  BOOST_TEST(httpRequest("GET", d.port, "/metrics", "wrong").status == 401);
  BOOST_TEST(httpRequest("POST", d.port, "/accounts/slow/poll").status == 401);

  // /status: counters, and the locked account failing with the server's words.
  auto work = d.account("work");
  BOOST_TEST(work->getObject("totals")->getValue<int>("uploaded") == static_cast<int>(n));
  BOOST_TEST(work->getValue<std::string>("state") != "failing");
  // Its first poll may still be waiting out Dovecot's delay after a failed login (2 s).
  BOOST_TEST(waitFor([&] { return d.account("locked")->getValue<std::string>("state") == "failing"; },
                     30s));
  auto locked = d.account("locked");
  BOOST_TEST(locked->getValue<std::string>("state") == "failing");
  BOOST_TEST(locked->getValue<std::string>("last_error_kind") == "auth");
  BOOST_TEST(locked->getValue<std::string>("last_error").find("Authentication failed") !=
             std::string::npos);

  // Backoff, read off /status instead of timed: the locked account waits 16 s (30 s for a first
  // failure, capped at 8 intervals of 2 s) while the healthy accounts go on polling every ~2 s;
  // until its next poll is due it is not polled again.
  Object::Ptr locked_failing;
  BOOST_REQUIRE(waitFor([&] {
    locked_failing = d.account("locked");
    return locked_failing->getValue<std::string>("state") == "failing";
  }, 30s));
  const int locked_before = locked_failing->getObject("totals")->getValue<int>("polls");
  const std::int64_t locked_end = unixSeconds(locked_failing->getValue<std::string>("last_poll_end"));
  const std::int64_t locked_next = unixSeconds(locked_failing->getValue<std::string>("next_poll"));
  BOOST_TEST(locked_next - locked_end >= 15);  // 16 s, less the rounding of both to whole seconds
  const int work_before = d.account("work")->getObject("totals")->getValue<int>("polls");
  BOOST_TEST(waitFor([&] {
    return d.account("work")->getObject("totals")->getValue<int>("polls") >= work_before + 2;
  }, 60s));
  const Object::Ptr now_status = d.status();
  const std::int64_t now = unixSeconds(now_status->getValue<std::string>("now"));
  const int locked_after = d.account("locked")->getObject("totals")->getValue<int>("polls");
  // None before its next poll; after that at most one per 16 s (on a machine slow enough for it).
  const std::int64_t allowed = now < locked_next ? 0 : 1 + (now - locked_next) / 15;
  BOOST_TEST(locked_after - locked_before <= allowed);

  // /metrics parses as Prometheus text and agrees with /status.
  const HttpResponse metrics = httpRequest("GET", d.port, "/metrics", kToken);
  BOOST_REQUIRE(metrics.status == 200);
  const auto families = parseExposition(metrics.body);
  BOOST_TEST(value(families, "popgate_messages_uploaded_total", "popgate_messages_uploaded_total",
                   {{"account", "work"}}) == static_cast<double>(n));
  BOOST_TEST(value(families, "popgate_account_state", "popgate_account_state",
                   {{"account", "locked"}, {"state", "failing"}}) == 1.0);
  BOOST_TEST(families.count("popgate_poll_duration_seconds") == 1u);

  // No password, token or secret anywhere.
  const std::string everything =
      d.log() + metrics.body + httpRequest("GET", d.port, "/status", kToken).body;
  for (const std::string secret : {"pw-work", "pw-isp", "pw-me", "wrong-password", kToken.c_str()}) {
    BOOST_TEST(everything.find(secret) == std::string::npos, "leaked: " << secret);
  }
  BOOST_TEST(d.stop() == 0);
}

BOOST_AUTO_TEST_CASE(testSigtermDuringATransferExitsZeroAndLosesNothing) {
  DovecotSandbox dovecot({"work", "me"});
  std::vector<std::string> originals;
  for (std::size_t i = 0; i < 600; ++i) originals.push_back(bulkMessage(i, 20000));
  dovecot.seedMany("work", originals);
  Daemon d(dovecot, {AccountSetup{"work", "Work", "implicit", false, {}, interval("1h")}});
  d.start();
  BOOST_REQUIRE(waitFor([&] { return countOrZero(dovecot, "me", "Work") > 0; }, 60s));
  BOOST_TEST(d.stop() == 0);
  const std::size_t delivered_before = countOrZero(dovecot, "me", "Work");
  BOOST_TEST_MESSAGE("SIGTERM after " << delivered_before << " of 600 messages");

  const CommandResult once = runPopgate({"once", "--config", d.config.string()});
  BOOST_TEST_INFO(once.out << once.err);
  BOOST_TEST(once.exit_code == 0);
  std::vector<std::string> got = dovecot.messages("me", "Work");
  std::sort(got.begin(), got.end());
  std::sort(originals.begin(), originals.end());
  BOOST_TEST(got == originals);  // nothing lost, nothing twice
  BOOST_TEST(dovecot.popBoxSize("work") == 0u);
}

BOOST_AUTO_TEST_CASE(testSighupReloadsAndKeepsTheOldConfigWhenTheNewOneIsBad) {
  DovecotSandbox dovecot({"work", "isp", "me"});
  dovecot.seed("work", sampleMessages()[0].bytes);
  dovecot.seed("isp", sampleMessages()[1].bytes);
  Daemon d(dovecot, {AccountSetup{"work", "Work", "implicit", true, {}, interval("2s")}});
  d.start();
  BOOST_REQUIRE(waitFor([&] { return countOrZero(dovecot, "me", "Work") == 1u; }, 60s));

  const std::string good = d.dir.read("popgate.yaml");
  d.dir.write("popgate.yaml", good + "    bogus_key: 1\n");
  d.process->kill(SIGHUP);
  BOOST_TEST(waitFor([&] { return d.log().find("reload failed") != std::string::npos; }, 30s));
  BOOST_TEST(d.log().find("bogus_key") != std::string::npos);
  BOOST_TEST(d.process->running());
  BOOST_TEST(httpRequest("GET", d.port, "/healthz").status == 200);

  // A good file with one more account: picked up without a restart.
  writeGatewayConfig(d.dir, dovecot, "me",
                     {AccountSetup{"work", "Work", "implicit", true, {}, interval("2s")},
                      AccountSetup{"isp", "ISP", "starttls", true, {}, interval("2s")}},
                     d.adminYaml());
  d.process->kill(SIGHUP);
  BOOST_TEST(waitFor([&] { return countOrZero(dovecot, "me", "ISP") == 1u; }, 60s));
  BOOST_TEST(d.stop() == 0);
}

BOOST_AUTO_TEST_CASE(testAdminPortInUseExitsTwoNamingTheAddress) {
  DovecotSandbox dovecot({"work", "me"});
  Daemon d(dovecot, {AccountSetup{"work", "Work"}});
  Poco::Net::ServerSocket taken(Poco::Net::SocketAddress("127.0.0.1", d.port));
  const CommandResult r = runPopgate({"run", "--config", d.config.string()}, 60s);
  BOOST_TEST(r.exit_code == 2);
  BOOST_TEST(r.err.find("127.0.0.1:" + std::to_string(d.port)) != std::string::npos,
             "stderr: " << r.err);
}

BOOST_AUTO_TEST_CASE(testHealthCommandAnswersForTheRunningDaemon) {
  DovecotSandbox dovecot({"work", "me"});
  Daemon d(dovecot, {AccountSetup{"work", "Work"}});
  BOOST_TEST(runPopgate({"health", "--config", d.config.string()}, 60s).exit_code == 1);
  d.start();
  BOOST_TEST(runPopgate({"health", "--config", d.config.string()}, 60s).exit_code == 0);
  BOOST_TEST(d.stop() == 0);
}
