// A target per account, the real binary against a real Dovecot: a family where anna and ben each
// have their own central mailbox (two IMAP users of one Dovecot). Each account's mail lands in its
// own target's mailbox and nowhere else; one target's spent daily budget holds up only the
// accounts that deliver to it, and is remembered per target across runs; /status and /metrics of
// `popgate run` carry the target of every account and the state of every target.
#include <boost/test/unit_test.hpp>

#include <csignal>

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include "tests/support/GatewaySetup.h"
#include "tests/support/Messages.h"
#include "tests/support/PromText.h"

using namespace std::chrono_literals;
using namespace popgate::test;
using Poco::JSON::Object;

namespace {

std::vector<std::string> expectedFromPop() {
  std::vector<std::string> out;
  for (const auto& s : sampleMessages()) out.push_back(popDelivered(s.bytes));
  return sorted(out);
}

// anna-work delivers to anna through defaults.target, ben-isp names ben.
std::vector<AccountSetup> familyAccounts(const std::string& extra = {}) {
  AccountSetup anna_work{"anna-work", "INBOX", "implicit", true, {}, extra};
  AccountSetup ben_isp{"ben-isp", "INBOX", "starttls", true, {}, extra};
  ben_isp.target = "ben";
  return {anna_work, ben_isp};
}

const std::string kDefaultTarget = "defaults:\n  target: anna\n";

Object::Ptr named(const Poco::JSON::Array::Ptr& list, const std::string& name) {
  for (std::size_t i = 0; i < list->size(); ++i) {
    Object::Ptr item = list->getObject(static_cast<unsigned>(i));
    if (item->getValue<std::string>("name") == name) return item;
  }
  BOOST_FAIL("nothing called " << name << " in /status");
  return nullptr;
}

}  // namespace

BOOST_AUTO_TEST_CASE(testFamilyEachAccountDeliveredIntoItsOwnMailbox) {
  DovecotSandbox dovecot({"anna-work", "ben-isp", "anna", "ben"});
  for (const auto& s : sampleMessages()) {
    dovecot.seed("anna-work", s.bytes);
    dovecot.seed("ben-isp", s.bytes);
  }
  dovecot.seed("ben-isp", bulkMessage(1, 300));  // so that the two mailboxes must differ
  TempDir dir;
  const auto config = writeTargetsConfig(dir, dovecot, {{"anna", "anna"}, {"ben", "ben", 2}},
                                         familyAccounts(), kDefaultTarget);

  const CommandResult check = runPopgate({"check", "--config", config.string()});
  BOOST_TEST_INFO("check: " << check.out << check.err);
  BOOST_TEST(check.exit_code == 0);

  const CommandResult first = runPopgate({"once", "--config", config.string()});
  BOOST_TEST_INFO("stdout: " << first.out << "\nstderr: " << first.err);
  BOOST_TEST(first.exit_code == 0);
  const std::size_t n = sampleMessages().size();
  BOOST_TEST(sorted(dovecot.messages("anna", "INBOX")) == expectedFromPop());
  std::vector<std::string> ben_expected = expectedFromPop();
  ben_expected.push_back(popDelivered(bulkMessage(1, 300)));
  BOOST_TEST(sorted(dovecot.messages("ben", "INBOX")) == sorted(ben_expected));

  // A second pass finds everything delivered, in each target's ledger history alike.
  const CommandResult second = runPopgate({"once", "--config", config.string()});
  BOOST_TEST(second.exit_code == 0);
  BOOST_TEST(second.out.find("anna-work: 0 uploaded, " + std::to_string(n) + " already delivered") !=
             std::string::npos);
  BOOST_TEST(dovecot.count("anna", "INBOX") == n);
  BOOST_TEST(dovecot.count("ben", "INBOX") == n + 1);
}

BOOST_AUTO_TEST_CASE(testSpentBudgetOfOneTargetHoldsUpOnlyItsAccounts) {
  DovecotSandbox dovecot({"anna-work", "ben-isp", "anna", "ben"});
  TempDir dir;
  // ben's target takes 1 KB a day. A first run spends it with one message of 2 KB (a message
  // larger than the whole budget goes when nothing else was uploaded in the window).
  const auto config = writeTargetsConfig(
      dir, dovecot, {{"anna", "anna", 4}, {"ben", "ben", 1, "    daily_upload_limit: 1KB\n"}},
      familyAccounts(), kDefaultTarget);
  dovecot.seed("ben-isp", bulkMessage(0, 2000));
  const CommandResult first = runPopgate({"once", "--config", config.string()});
  BOOST_TEST_INFO("stdout: " << first.out << "\nstderr: " << first.err);
  BOOST_TEST(first.exit_code == 0);
  BOOST_REQUIRE(countOrZero(dovecot, "ben", "INBOX") == 1u);

  // The next run restores ben's budget from the ledger, under ben's name: nothing more goes to
  // ben (its messages stay on POP), while anna's target, not held up by it, takes everything.
  constexpr std::size_t kMessages = 8;
  std::vector<std::string> originals;
  for (std::size_t i = 1; i <= kMessages; ++i) originals.push_back(bulkMessage(i, 2000));
  dovecot.seedMany("anna-work", originals);
  dovecot.seedMany("ben-isp", originals);
  const CommandResult second = runPopgate({"once", "--config", config.string()});
  BOOST_TEST_INFO("stdout: " << second.out << "\nstderr: " << second.err);
  BOOST_TEST(dovecot.count("anna", "INBOX") == kMessages);
  BOOST_TEST(countOrZero(dovecot, "ben", "INBOX") == 1u);
  BOOST_TEST(dovecot.popBoxSize("ben-isp") == kMessages + 1);  // keep: true, and nothing lost
  BOOST_TEST(second.out.find("anna-work: " + std::to_string(kMessages) + " uploaded") !=
             std::string::npos);
}

BOOST_AUTO_TEST_CASE(testDaemonStatusAndMetricsCarryTheTarget) {
  DovecotSandbox dovecot({"anna-work", "ben-isp", "anna", "ben"});
  for (const auto& s : sampleMessages()) {
    dovecot.seed("anna-work", s.bytes);
    dovecot.seed("ben-isp", s.bytes);
  }
  dovecot.seed("ben-isp", bulkMessage(1, 300));
  TempDir dir;
  const std::uint16_t port = freeLocalPort();
  const auto config = writeTargetsConfig(
      dir, dovecot, {{"anna", "anna"}, {"ben", "ben", 2, "    daily_upload_limit: 10MB\n"}},
      familyAccounts("    poll_interval: 1h\n"),
      kDefaultTarget + "admin:\n  listen: 127.0.0.1:" + std::to_string(port) + "\n");
  Process daemon({popgateBinary().string(), "run", "--config", config.string()});
  const std::size_t n = sampleMessages().size();
  BOOST_REQUIRE_MESSAGE(waitFor([&] {
    return countOrZero(dovecot, "anna", "INBOX") == n && countOrZero(dovecot, "ben", "INBOX") == n + 1;
  }, 30s), "not delivered: " << daemon.output() << daemon.errorOutput());
  // The counters are set once the pass has ended; wait for both.
  Object::Ptr status;
  BOOST_REQUIRE(waitFor([&] {
    const HttpResponse r = httpRequest("GET", port, "/status");
    if (r.status != 200) return false;
    status = Poco::JSON::Parser().parse(r.body).extract<Object::Ptr>();
    auto accounts = status->getArray("accounts");
    auto uploaded = [&](const std::string& name) {
      return named(accounts, name)->getObject("totals")->getValue<std::size_t>("uploaded");
    };
    return uploaded("anna-work") == n && uploaded("ben-isp") == n + 1;
  }, 15s));

  auto accounts = status->getArray("accounts");
  BOOST_TEST(named(accounts, "anna-work")->getValue<std::string>("target") == "anna");
  BOOST_TEST(named(accounts, "ben-isp")->getValue<std::string>("target") == "ben");
  auto targets = status->getArray("targets");
  BOOST_REQUIRE(targets->size() == 2u);
  Object::Ptr anna = named(targets, "anna");
  Object::Ptr ben = named(targets, "ben");
  BOOST_TEST(anna->getValue<std::string>("host") == "localhost:" + std::to_string(dovecot.imapPort()));
  BOOST_TEST(anna->getValue<int>("connections") == 4);
  BOOST_TEST(ben->getValue<int>("connections") == 2);
  BOOST_TEST(anna->getObject("upload_budget")->isNull("daily_limit"));
  BOOST_TEST(ben->getObject("upload_budget")->getValue<std::uint64_t>("daily_limit") ==
             10u * 1024 * 1024);
  BOOST_TEST(anna->isNull("paused_until"));

  const HttpResponse metrics = httpRequest("GET", port, "/metrics");
  BOOST_REQUIRE(metrics.status == 200);
  const auto families = parseExposition(metrics.body);
  // Each target counted the bytes of its own account alone.
  const double ben_bytes = value(families, "popgate_bytes_uploaded_total",
                                 "popgate_bytes_uploaded_total",
                                 {{"account", "ben-isp"}, {"target", "ben"}});
  const double anna_bytes = value(families, "popgate_bytes_uploaded_total",
                                  "popgate_bytes_uploaded_total",
                                  {{"account", "anna-work"}, {"target", "anna"}});
  BOOST_TEST(ben_bytes > anna_bytes);  // ben-isp has one message more
  auto used = [](const Object::Ptr& t) {
    return static_cast<double>(t->getObject("upload_budget")->getValue<std::uint64_t>("used"));
  };
  BOOST_TEST(used(ben) == ben_bytes);
  BOOST_TEST(used(anna) == anna_bytes);
  BOOST_TEST(value(families, "popgate_messages_uploaded_total", "popgate_messages_uploaded_total",
                   {{"account", "ben-isp"}, {"target", "ben"}}) == static_cast<double>(n + 1));
  BOOST_TEST(value(families, "popgate_messages_uploaded_total", "popgate_messages_uploaded_total",
                   {{"account", "anna-work"}, {"target", "anna"}}) == static_cast<double>(n));
  BOOST_TEST(value(families, "popgate_target_connections", "popgate_target_connections",
                   {{"target", "ben"}}) == 2.0);
  BOOST_TEST(value(families, "popgate_target_uploaded_24h_bytes", "popgate_target_uploaded_24h_bytes",
                   {{"target", "ben"}}) == ben_bytes);
  BOOST_TEST(value(families, "popgate_target_paused_until_timestamp_seconds",
                   "popgate_target_paused_until_timestamp_seconds", {{"target", "anna"}}) == 0.0);
  BOOST_TEST(value(families, "popgate_target_upload_budget_bytes",
                   "popgate_target_upload_budget_bytes", {{"target", "ben"}}) == 10.0 * 1024 * 1024);

  daemon.kill(SIGTERM);
  const auto exit = daemon.wait(10s);
  BOOST_REQUIRE(exit.has_value());
  BOOST_TEST(exit->shellCode() == 0);
}
