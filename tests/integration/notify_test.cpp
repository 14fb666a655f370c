// Notices where the user looks, end to end: the real daemon, a real Dovecot and a webhook
// receiver on loopback. An account with a wrong password produces exactly one notice in the
// target's INBOX once it has failed for notify.after; fixing the password and SIGHUP produce
// exactly one "back to normal" notice; the webhook gets both.
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <csignal>

#include "tests/support/GatewaySetup.h"
#include "tests/support/Messages.h"
#include "tests/support/WebhookReceiver.h"

using namespace std::chrono_literals;
using namespace popgate::test;

namespace {

// How many of `messages` hold `needle`.
std::size_t holding(const std::vector<std::string>& messages, const std::string& needle) {
  return static_cast<std::size_t>(std::count_if(
      messages.begin(), messages.end(),
      [&](const std::string& m) { return m.find(needle) != std::string::npos; }));
}

const std::string kFailing = "Subject: popgate: account work is failing: the login is refused";
const std::string kBack = "Subject: popgate: account work is back to normal";

}  // namespace

BOOST_AUTO_TEST_CASE(testWrongPasswordGetsOneNoticeAndTheFixOneRecoveryNotice) {
  DovecotSandbox dovecot({"work", "me"});
  dovecot.seed("work", sampleMessages()[0].bytes);
  WebhookReceiver hook;
  TempDir dir;
  const std::string notify = "notify:\n  after: 2s\n  mailbox: INBOX\n  webhook: http://127.0.0.1:" +
                             std::to_string(hook.port()) + "/popgate\n";
  const auto account = [](const std::string& password) {
    return AccountSetup{"work", "Work", "implicit", true, password, "    poll_interval: 1s\n"};
  };
  const auto config = writeGatewayConfig(dir, dovecot, "me", {account("wrong-password")}, notify);
  Process daemon({popgateBinary().string(), "run", "--config", config.string()});
  const auto log = [&] { return daemon.output() + daemon.errorOutput(); };

  // Failing for 2 s: one notice, in the target's INBOX and at the webhook.
  BOOST_REQUIRE_MESSAGE(waitFor([&] { return holding(dovecot.messages("me"), kFailing) == 1u; }, 60s),
                        log());
  BOOST_REQUIRE(waitFor([&] { return hook.requests().size() == 1u; }, 30s));
  const std::string notice = dovecot.messages("me").front();
  BOOST_TEST(notice.find("From: popgate <popgate@localhost>\r\n") != std::string::npos);
  BOOST_TEST(notice.find("What to do: Check the account's username and password") !=
             std::string::npos);
  BOOST_TEST(notice.find("wrong-password") == std::string::npos);  // no secret in a notice
  BOOST_TEST(hook.requests()[0].headers.at("Title") ==
             "popgate: account work is failing: the login is refused");
  BOOST_TEST(hook.requests()[0].target == "/popgate");

  // The fix: the right password, a reload, the next poll delivers and says so once.
  writeGatewayConfig(dir, dovecot, "me", {account("")}, notify);
  daemon.kill(SIGHUP);
  BOOST_REQUIRE_MESSAGE(waitFor([&] { return holding(dovecot.messages("me"), kBack) == 1u; }, 60s),
                        log());
  BOOST_TEST(countOrZero(dovecot, "me", "Work") == 1u);
  BOOST_REQUIRE(waitFor([&] { return hook.requests().size() == 2u; }, 30s));
  BOOST_TEST(hook.requests()[1].headers.at("Title") == "popgate: account work is back to normal");
  const auto inbox = dovecot.messages("me");
  BOOST_TEST(holding(inbox, kFailing) == 1u);
  BOOST_TEST(holding(inbox, kBack) == 1u);
  BOOST_TEST(inbox.size() == 2u);

  daemon.kill(SIGTERM);
  const auto status = daemon.wait(10s);
  BOOST_REQUIRE(status.has_value());
  BOOST_TEST(status->shellCode() == 0);
  BOOST_TEST(hook.requests().size() == 2u);
}
