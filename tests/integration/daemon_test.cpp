// `popgate run`, the real daemon, against a real Dovecot: scheduled delivery without a trigger,
// poll-now, /status and /metrics with a bearer token, a failing account shown as failing and
// backing off, SIGHUP reloads (a bad file keeps the old config), SIGTERM during a transfer exits 0
// promptly and loses nothing, an admin port in use exits 2, and no password ever shows. The
// attacks of issue "safe on a shared host": slow clients against the admin port, poll-now storms,
// foreign Host headers; the systemd notify protocol; private files and no core dumps.
#include <boost/test/unit_test.hpp>

#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <algorithm>
#include <csignal>
#include <cstring>
#include <sstream>
#include <thread>

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/Net/StreamSocket.h>

#include "tests/support/GatewaySetup.h"
#include "tests/support/Messages.h"
#include "tests/support/PromText.h"
#include "tests/support/SlowClients.h"

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
    std::filesystem::permissions(dir.write("secrets/admin-token", kToken + "\n"),
                                 std::filesystem::perms::owner_read);
    config = writeGatewayConfig(dir, dovecot, "me", accounts, adminYaml());
  }
  std::string adminYaml() const {
    return "admin:\n  listen: 127.0.0.1:" + std::to_string(port) + "\n  token_file: " +
           (dir.path() / "secrets/admin-token").string() + "\n";
  }
  void start(const ProcessOptions& options = {}) {
    process = std::make_unique<Process>(
        std::vector<std::string>{popgateBinary().string(), "run", "--config", config.string()},
        options);
    BOOST_REQUIRE_MESSAGE(waitFor([&] { return httpRequest("GET", port, "/healthz").status == 200; }, 15s),
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
  BOOST_TEST(waitFor([&] { return countOrZero(dovecot, "me", "Work") == n && countOrZero(dovecot, "me", "ISP") == n; }, 20s));

  // Poll-now: a message arriving at an account polled hourly is fetched on request.
  BOOST_TEST(waitFor([&] {
    return d.account("slow")->getObject("totals")->getValue<int>("polls") >= 1;
  }, 10s));
  dovecot.seed("slow", samples[0].bytes);
  const HttpResponse poll = httpRequest("POST", d.port, "/accounts/slow/poll", kToken);
  BOOST_TEST(poll.status == 202);
  BOOST_TEST(waitFor([&] { return countOrZero(dovecot, "me", "Slow") == 1u; }, 10s));
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
                     10s));
  auto locked = d.account("locked");
  BOOST_TEST(locked->getValue<std::string>("state") == "failing");
  BOOST_TEST(locked->getValue<std::string>("last_error_kind") == "auth");
  BOOST_TEST(locked->getValue<std::string>("last_error").find("Authentication failed") !=
             std::string::npos);

  // Backoff: over the next 6 s the healthy accounts keep polling every ~2 s, the locked one not.
  const int locked_before = d.account("locked")->getObject("totals")->getValue<int>("polls");
  const int work_before = d.account("work")->getObject("totals")->getValue<int>("polls");
  std::this_thread::sleep_for(6s);
  const int locked_after = d.account("locked")->getObject("totals")->getValue<int>("polls");
  const int work_after = d.account("work")->getObject("totals")->getValue<int>("polls");
  BOOST_TEST(work_after - work_before >= 2);
  BOOST_TEST(locked_after - locked_before <= 1);

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
  BOOST_REQUIRE(waitFor([&] { return countOrZero(dovecot, "me", "Work") > 0; }, 20s));
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
  BOOST_REQUIRE(waitFor([&] { return countOrZero(dovecot, "me", "Work") == 1u; }, 15s));

  const std::string good = d.dir.read("popgate.yaml");
  d.dir.write("popgate.yaml", good + "    bogus_key: 1\n");
  d.process->kill(SIGHUP);
  BOOST_TEST(waitFor([&] { return d.log().find("reload failed") != std::string::npos; }, 5s));
  BOOST_TEST(d.log().find("bogus_key") != std::string::npos);
  BOOST_TEST(d.process->running());
  BOOST_TEST(httpRequest("GET", d.port, "/healthz").status == 200);

  // A good file with one more account: picked up without a restart.
  writeGatewayConfig(d.dir, dovecot, "me",
                     {AccountSetup{"work", "Work", "implicit", true, {}, interval("2s")},
                      AccountSetup{"isp", "ISP", "starttls", true, {}, interval("2s")}},
                     d.adminYaml());
  d.process->kill(SIGHUP);
  BOOST_TEST(waitFor([&] { return countOrZero(dovecot, "me", "ISP") == 1u; }, 15s));
  BOOST_TEST(d.stop() == 0);
}

BOOST_AUTO_TEST_CASE(testAdminPortInUseExitsTwoNamingTheAddress) {
  DovecotSandbox dovecot({"work", "me"});
  Daemon d(dovecot, {AccountSetup{"work", "Work"}});
  Poco::Net::ServerSocket taken(Poco::Net::SocketAddress("127.0.0.1", d.port));
  const CommandResult r = runPopgate({"run", "--config", d.config.string()}, 20s);
  BOOST_TEST(r.exit_code == 2);
  BOOST_TEST(r.err.find("127.0.0.1:" + std::to_string(d.port)) != std::string::npos,
             "stderr: " << r.err);
}

BOOST_AUTO_TEST_CASE(testHealthCommandAnswersForTheRunningDaemon) {
  DovecotSandbox dovecot({"work", "me"});
  Daemon d(dovecot, {AccountSetup{"work", "Work"}});
  BOOST_TEST(runPopgate({"health", "--config", d.config.string()}, 20s).exit_code == 1);
  d.start();
  BOOST_TEST(runPopgate({"health", "--config", d.config.string()}, 20s).exit_code == 0);
  BOOST_TEST(d.stop() == 0);
}

namespace {

// GET `path` on 127.0.0.1:port with a Host header of our choice; the status code, 0 if none.
int statusWithHost(std::uint16_t port, const std::string& path, const std::string& host) {
  try {
    Poco::Net::StreamSocket socket(Poco::Net::SocketAddress("127.0.0.1", port));
    socket.setReceiveTimeout(Poco::Timespan(5, 0));
    const std::string request =
        "GET " + path + " HTTP/1.1\r\nHost: " + host + "\r\nConnection: close\r\n\r\n";
    socket.sendBytes(request.data(), static_cast<int>(request.size()));
    char buffer[64] = {};
    const int n = socket.receiveBytes(buffer, sizeof buffer - 1);
    const std::string line(buffer, static_cast<std::size_t>(std::max(n, 0)));
    return line.size() >= 12 ? std::stoi(line.substr(9, 3)) : 0;
  } catch (const Poco::Exception&) {
    return 0;
  }
}

mode_t modeOf(const std::filesystem::path& path) {
  struct stat st{};
  if (::stat(path.c_str(), &st) != 0) return 07777;
  return st.st_mode & 07777;
}

}  // namespace

BOOST_AUTO_TEST_CASE(testSlowClientsPollStormsAndForeignHostsAgainstTheRealDaemon) {
  DovecotSandbox dovecot({"work", "locked", "me"});
  Daemon d(dovecot, {AccountSetup{"work", "Work", "implicit", true, {}, interval("1h")},
                     AccountSetup{"locked", "Locked", "implicit", true, "wrong-password",
                                  interval("1h")}});
  d.start();

  // 16 connections dripping a request head one byte a second: /healthz and an authorised
  // /status still answer, each within a second, over several rounds.
  {
    SlowClients drip(d.port, 16, "GET /status HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ", 1000ms);
    BOOST_REQUIRE(drip.waitUntilDripping(2, 15s));
    std::chrono::milliseconds slowest{0};
    for (int i = 0; i < 8; ++i) {
      const TimedReply health = timedRequest(d.port, "GET", "/healthz");
      const TimedReply status = timedRequest(d.port, "GET", "/status", kToken);
      BOOST_TEST_CONTEXT("round " << i) {
        BOOST_TEST(health.status == 200);
        BOOST_TEST(status.status == 200);
        BOOST_TEST(health.elapsed.count() < 1000);
        BOOST_TEST(status.elapsed.count() < 1000);
      }
      slowest = std::max({slowest, health.elapsed, status.elapsed});
      std::this_thread::sleep_for(700ms);  // the attack's pace, not a synchronisation
    }
    BOOST_TEST_MESSAGE("real daemon, 16 drippers: slowest answer " << slowest.count() << " ms");
  }

  // Poll-now: one a minute per account; never for an account failing on its login.
  BOOST_TEST(waitFor([&] { return d.account("work")->getObject("totals")->getValue<int>("polls") >= 1; }, 20s));
  BOOST_TEST(httpRequest("POST", d.port, "/accounts/work/poll", kToken).status == 202);
  for (int i = 0; i < 4; ++i) {
    const HttpResponse again = httpRequest("POST", d.port, "/accounts/work/poll", kToken);
    BOOST_TEST(again.status == 429);
    BOOST_TEST(again.headers.count("Retry-After") == 1u);
  }
  BOOST_TEST(waitFor([&] { return d.account("locked")->getValue<std::string>("state") == "failing"; }, 20s));
  const int locked_polls = d.account("locked")->getObject("totals")->getValue<int>("polls");
  for (int i = 0; i < 5; ++i) {
    BOOST_TEST(httpRequest("POST", d.port, "/accounts/locked/poll", kToken).status == 429);
  }
  std::this_thread::sleep_for(2s);  // room for a login that must not happen
  BOOST_TEST(d.account("locked")->getObject("totals")->getValue<int>("polls") == locked_polls);

  // DNS rebinding: a page on another name that resolves to 127.0.0.1 gets nothing.
  BOOST_TEST(statusWithHost(d.port, "/healthz", "evil.example:" + std::to_string(d.port)) == 421);
  BOOST_TEST(statusWithHost(d.port, "/healthz", "localhost:" + std::to_string(d.port)) == 200);
  BOOST_TEST(d.stop() == 0);
}

BOOST_AUTO_TEST_CASE(testSystemdNotifyReadyWatchdogStopping) {
  DovecotSandbox dovecot({"work", "me"});
  Daemon d(dovecot, {AccountSetup{"work", "Work", "implicit", true, {}, interval("1h")}});
  // The test plays systemd: a datagram socket of its own as NOTIFY_SOCKET.
  const std::string path = (d.dir.path() / "notify").string();
  const int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  BOOST_REQUIRE(fd >= 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
  BOOST_REQUIRE(::bind(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0);
  auto receive = [&](std::chrono::milliseconds timeout) -> std::string {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(timeout.count())) != 1) return {};
    char buffer[1024];
    const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
    return n > 0 ? std::string(buffer, static_cast<std::size_t>(n)) : std::string();
  };
  ProcessOptions options;
  options.env = {{"NOTIFY_SOCKET", path}, {"WATCHDOG_USEC", "1000000"}};
  d.start(options);
  BOOST_TEST(receive(15s).starts_with("READY=1\nSTATUS=polling 1 account(s)"));
  int watchdogs = 0;
  for (int i = 0; i < 3; ++i) watchdogs += receive(5s) == "WATCHDOG=1" ? 1 : 0;
  BOOST_TEST(watchdogs == 3);  // every half second while the scheduler beats
  d.process->kill(SIGHUP);
  std::string reload;
  for (int i = 0; i < 6 && reload != "READY=1"; ++i) reload = receive(5s);  // after RELOADING=1
  BOOST_TEST(reload == "READY=1");
  d.process->kill(SIGTERM);
  std::string last;
  for (int i = 0; i < 6 && last != "STOPPING=1"; ++i) last = receive(5s);
  BOOST_TEST(last == "STOPPING=1");
  const auto status = d.process->wait(10s);
  BOOST_TEST((status && status->success()));
  ::close(fd);
}

BOOST_AUTO_TEST_CASE(testStateIsPrivateAndNoCoreDumps) {
  DovecotSandbox dovecot({"work", "me"});
  dovecot.seed("work", sampleMessages()[0].bytes);
  Daemon d(dovecot, {AccountSetup{"work", "Work", "implicit", true, {}, interval("1h")}});
  d.start();
  BOOST_REQUIRE(waitFor([&] { return countOrZero(dovecot, "me", "Work") == 1u; }, 20s));
  const std::filesystem::path state = d.dir.path() / "state";
  BOOST_TEST(modeOf(state) == 0700u);
  for (const auto& entry : std::filesystem::directory_iterator(state)) {
    BOOST_TEST_CONTEXT(entry.path().filename().string()) {
      BOOST_TEST((modeOf(entry.path()) & 077u) == 0u);  // ledger, its WAL, the lock, the spool
    }
  }
  const std::string limits = readFile("/proc/" + std::to_string(d.process->pid()) + "/limits");
  const auto core = limits.find("Max core file size");
  BOOST_REQUIRE(core != std::string::npos);
  std::istringstream line(limits.substr(core + 18, limits.find('\n', core) - core - 18));
  std::string soft, hard;
  line >> soft >> hard;
  BOOST_TEST(soft == "0");
  BOOST_TEST(hard == "0");
  BOOST_TEST(d.stop() == 0);
}
