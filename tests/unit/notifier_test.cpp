// The notice rules on a manual clock and a real ledger: one failure notice per episode once it
// lasts notify.after, one "back to normal" notice, a throttled pass is no failure, a quarantined
// message gets one notice, delivery legs are retried on their own, and a restart (a new Notifier
// on the same ledger) neither repeats a notice nor forgets an episode.
#include <boost/test/unit_test.hpp>

#include <condition_variable>
#include <mutex>
#include <vector>

#include "connectors/common/Error.h"
#include "gateway/delivery/SqliteLedger.h"
#include "gateway/service/NoticeText.h"
#include "gateway/service/Notifier.h"
#include "tests/support/TempDir.h"

using namespace popgate;
using namespace popgate::gateway;

namespace {

// What the notifier sent, and whether each leg works.
struct Outbox {
  std::vector<std::string> appended;  // whole messages
  std::vector<std::string> posted;    // titles
  bool mailbox_works = true;
  bool webhook_works = true;

  NoticeSender sender() {
    NoticeSender s;
    s.append = [this](const std::string&, const std::string& mailbox, const std::string& message) {
      if (!mailbox_works) throw Error(ErrorKind::Transient, "the target is down");
      BOOST_TEST(mailbox == "INBOX");
      appended.push_back(message);
    };
    s.post = [this](const config::WebhookUrl&, const std::string& title, const std::string&) {
      if (!webhook_works) throw Error(ErrorKind::Transient, "webhook answered 502");
      posted.push_back(title);
    };
    return s;
  }
};

config::NotifyConfig settings(bool webhook = false) {
  config::NotifyConfig n;
  n.after = std::chrono::seconds(3600);
  n.mailbox = "INBOX";
  if (webhook) {
    n.webhook = config::WebhookUrl{false, "127.0.0.1", 8080, "/popgate", "http://127.0.0.1:8080/popgate"};
  }
  return n;
}

PollResult failed(ErrorKind kind = ErrorKind::Auth) {
  PollResult r;
  r.account = "work";
  r.error = Error(kind, "the POP server refused the login", "-ERR [AUTH] Invalid credentials")
                .withAccount("work");
  return r;
}

PollResult good() {
  PollResult r;
  r.account = "work";
  return r;
}

struct Rig {
  test::TempDir dir;
  std::int64_t now = 1'760'000'000;
  Outbox out;
  std::unique_ptr<Ledger> ledger = std::make_unique<SqliteLedger>(dir.path() / "ledger.sqlite");
  std::unique_ptr<Notifier> notifier;

  explicit Rig(bool webhook = false) { restart(webhook); }
  void restart(bool webhook = false) {
    notifier.reset();
    notifier = std::make_unique<Notifier>(*ledger, out.sender(), [this] { return now; });
    notifier->configure(settings(webhook), "me@example.org");
  }
  // A pass ends `seconds` after the last one, then a delivery round.
  void pass(const PollResult& r, std::int64_t seconds = 600) {
    now += seconds;
    notifier->passFinished(r);
    notifier->queueDue();
    notifier->deliverDue();
  }
};

}  // namespace

BOOST_AUTO_TEST_CASE(testOneFailureNoticePerEpisodeOnlyAfterTheDelay) {
  Rig rig;
  for (int i = 0; i < 6; ++i) rig.pass(failed());  // 0 .. 50 min after the first failure
  BOOST_TEST(rig.out.appended.empty());
  rig.pass(failed());  // 60 min: the notice
  BOOST_REQUIRE(rig.out.appended.size() == 1u);
  const std::string& m = rig.out.appended.front();
  BOOST_TEST(m.find("Subject: popgate: account work is failing: the login is refused\r\n") !=
             std::string::npos);
  BOOST_TEST(m.find("-ERR [AUTH] Invalid credentials") != std::string::npos);
  BOOST_TEST(m.find("Failed polls: 7") != std::string::npos);
  BOOST_TEST(m.find("password_file") != std::string::npos);
  BOOST_TEST(m.find("From: popgate <popgate@localhost>\r\n") == 0u);
  BOOST_TEST(m.find("To: <me@example.org>\r\n") != std::string::npos);
  BOOST_TEST(m.find("Content-Type: text/plain; charset=utf-8\r\n") != std::string::npos);
  for (int i = 0; i < 10; ++i) rig.pass(failed());
  BOOST_TEST(rig.out.appended.size() == 1u);  // not one per poll
}

BOOST_AUTO_TEST_CASE(testAnEpisodeStartsWhenItsFirstFailedPassStarted) {
  Rig rig;
  PollResult slow = failed();
  slow.duration = std::chrono::minutes(10);  // a server that takes its time to refuse
  rig.pass(slow);
  BOOST_TEST(rig.ledger->episodes().at("work").since == rig.now - 600);
  rig.pass(failed(), 3000);  // 50 min after the first pass ended, 60 min after it began
  BOOST_REQUIRE(rig.out.appended.size() == 1u);
  BOOST_TEST(rig.out.appended.front().find("Failed polls: 2") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(testDueEpisodeIsNoticedWithoutWaitingForTheNextPass) {
  Rig rig;
  rig.pass(failed());
  rig.now += 3600;  // the account's next pass is hours away (backoff)
  rig.notifier->queueDue();
  rig.notifier->deliverDue();
  BOOST_TEST(rig.out.appended.size() == 1u);
}

BOOST_AUTO_TEST_CASE(testRecoveryNoticeOnlyAfterAFailureNotice) {
  Rig rig;
  rig.pass(failed());
  rig.pass(good());  // a short failure: no notice at all, not even "back to normal"
  BOOST_TEST(rig.out.appended.empty());
  rig.pass(failed());
  rig.pass(failed(), 3600);
  rig.pass(good());
  rig.pass(good());
  BOOST_REQUIRE(rig.out.appended.size() == 2u);
  BOOST_TEST(rig.out.appended[1].find("Subject: popgate: account work is back to normal") !=
             std::string::npos);
  rig.pass(failed());  // a new episode starts from scratch
  BOOST_TEST(rig.out.appended.size() == 2u);
}

BOOST_AUTO_TEST_CASE(testThrottledTargetIsNotAFailure) {
  Rig rig;
  for (int i = 0; i < 20; ++i) rig.pass(failed(ErrorKind::Throttled));
  BOOST_TEST(rig.out.appended.empty());
  BOOST_TEST(rig.ledger->episodes().empty());
  // Nor does it end an episode: the account is still failing when the pause ends.
  rig.pass(failed());
  rig.pass(failed(ErrorKind::Throttled), 3600);
  rig.pass(failed());
  BOOST_TEST(rig.out.appended.size() == 1u);
}

BOOST_AUTO_TEST_CASE(testRestartNeitherRepeatsANoticeNorForgetsAnEpisode) {
  Rig rig;
  rig.pass(failed());
  rig.restart();  // the episode survives: its start is not reset
  rig.pass(failed(), 3600);
  BOOST_TEST(rig.out.appended.size() == 1u);
  rig.restart();
  rig.pass(failed());
  rig.pass(failed());
  BOOST_TEST(rig.out.appended.size() == 1u);  // the notice is not sent again
  rig.restart();
  rig.pass(good());  // and recovery after a restart is still noticed
  BOOST_TEST(rig.out.appended.size() == 2u);
}

BOOST_AUTO_TEST_CASE(testQuarantinedMessageGetsOneNoticeNamingIt) {
  Rig rig;
  PollResult r = good();
  r.newly_rejected.push_back(RejectedMessage{"uidl-7", 40'000'000, "NO [LIMIT] Message too large",
                                             "Ann <ann@example.org>", "Holiday photos"});
  rig.pass(r);
  rig.restart();
  rig.pass(r);  // reported again (say, after a crash): still one notice
  BOOST_REQUIRE(rig.out.appended.size() == 1u);
  const std::string& m = rig.out.appended.front();
  BOOST_TEST(m.find("From: Ann <ann@example.org>\r\n") != std::string::npos);
  BOOST_TEST(m.find("Subject: Holiday photos\r\n") != std::string::npos);
  BOOST_TEST(m.find("NO [LIMIT] Message too large") != std::string::npos);
  BOOST_TEST(m.find("uidl-7") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(testFailedLegIsRetriedWithBackoffAndTheOtherLegStillGoes) {
  Rig rig(true);
  rig.out.mailbox_works = false;  // the target itself is down
  rig.pass(failed());
  rig.pass(failed(), 3600);
  BOOST_TEST(rig.out.posted.size() == 1u);  // the webhook got it at once
  BOOST_TEST(rig.out.appended.empty());
  rig.out.mailbox_works = true;
  rig.now += Notifier::retryDelay(1) - 1;
  rig.notifier->deliverDue();
  BOOST_TEST(rig.out.appended.empty());  // not before its retry
  rig.now += 1;
  rig.notifier->deliverDue();
  BOOST_TEST(rig.out.appended.size() == 1u);
  BOOST_TEST(rig.out.posted.size() == 1u);  // the webhook leg is not repeated
  rig.notifier->deliverDue();
  BOOST_TEST(rig.ledger->notices().empty());
  BOOST_TEST(Notifier::retryDelay(1) == 30);
  BOOST_TEST(Notifier::retryDelay(3) == 120);
  BOOST_TEST(Notifier::retryDelay(40) == 3600);
}

BOOST_AUTO_TEST_CASE(testWithoutNotifySettingsNothingIsQueuedButEpisodesAreKept) {
  Rig rig;
  rig.notifier->configure(std::nullopt, "me@example.org");
  rig.pass(failed());
  rig.pass(failed(), 7200);
  BOOST_TEST(rig.out.appended.empty());
  BOOST_TEST(rig.ledger->episodes().at("work").failures == 2u);
  rig.notifier->configure(settings(), "me@example.org");  // a reload turns notices on
  rig.notifier->queueDue();
  rig.notifier->deliverDue();
  BOOST_TEST(rig.out.appended.size() == 1u);
}

BOOST_AUTO_TEST_CASE(testRemovedAccountIsForgotten) {
  Rig rig;
  rig.pass(failed());
  rig.notifier->keepAccounts({"home"});  // a reload without "work"
  rig.now += 7200;
  rig.notifier->queueDue();
  rig.notifier->deliverDue();
  BOOST_TEST(rig.out.appended.empty());
  BOOST_TEST(rig.ledger->episodes().empty());
}

BOOST_AUTO_TEST_CASE(testNoticeDateIsRfc5322) {
  BOOST_TEST(rfc5322Date(0) == "Thu, 01 Jan 1970 00:00:00 +0000");
  BOOST_TEST(rfc5322Date(1796430481) == "Sat, 05 Dec 2026 00:28:01 +0000");
}

BOOST_AUTO_TEST_CASE(testStopCutsAWebhookPostShortAndTheNoticeStaysQueued) {
  test::TempDir dir;
  SqliteLedger ledger(dir.path() / "ledger.sqlite");
  std::int64_t now = 1'760'000'000;
  std::mutex mutex;
  std::condition_variable changed;
  bool posting = false, interrupted = false;
  NoticeSender sender;
  // A webhook that never answers: the POST returns only when interrupted (or, should stop()
  // never interrupt it, after a minute, which fails the test instead of hanging it).
  sender.post = [&](const config::WebhookUrl&, const std::string&, const std::string&) {
    std::unique_lock lock(mutex);
    posting = true;
    changed.notify_all();
    BOOST_TEST(changed.wait_for(lock, std::chrono::seconds(60), [&] { return interrupted; }));
    throw Error(ErrorKind::Transient, "webhook: cut short, popgate is stopping");
  };
  sender.interrupt = [&] {
    std::lock_guard lock(mutex);
    interrupted = true;
    changed.notify_all();
  };
  Notifier notifier(ledger, sender, [&] { return now; });
  config::NotifyConfig webhook_only = settings(true);
  webhook_only.mailbox.reset();
  notifier.configure(webhook_only, "me@example.org");
  notifier.passFinished(failed());
  now += 3600;
  notifier.passFinished(failed());  // queues the failure notice
  notifier.start();
  {
    std::unique_lock lock(mutex);
    BOOST_REQUIRE(changed.wait_for(lock, std::chrono::seconds(60), [&] { return posting; }));
  }
  notifier.stop();
  BOOST_TEST(interrupted);
  const auto queued = ledger.notices();
  BOOST_REQUIRE(queued.size() == 1u);
  BOOST_TEST(queued.front().to_webhook);  // delivered at the next start
}
