// Moving off another fetcher, PollJob against an in-memory maildrop and target: backlog none/since
// (what the first pass lists stays on the server, recorded in one transaction with the first
// pass), dedupe by Message-ID with Date and From as proof (copies with a Received: line more are
// found, look-alikes are not), keep: false deleting "already in target" but never the backlog,
// a crash after every step, and a dry run that changes nothing.
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <sstream>

#include "tests/support/Messages.h"
#include "tests/support/PollFixture.h"

using namespace popgate;
using namespace popgate::gateway;
using popgate::test::crash;
using popgate::test::fetcherCopy;
using popgate::test::PollFixture;

namespace {

constexpr std::int64_t kJan15 = 1768435200;  // 2026-01-15T00:00:00Z

std::string mail(int n, const std::string& date, const std::string& from = "alice@example.org",
                 const std::string& id = "default") {
  return popgate::test::noteMessage(n, date, from, id);
}

const std::string kOld = "Mon, 5 Jan 2026 09:00:00 +0000";
const std::string kNew = "Tue, 20 Jan 2026 09:00:00 +0100";

bool onPop(const PollFixture& f, const std::string& bytes) {
  return std::any_of(f.drop.messages.begin(), f.drop.messages.end(),
                     [&](const auto& m) { return m.bytes == bytes; });
}

// Every ledger row of the account, written out (to compare before and after).
std::string ledgerText(Ledger& ledger, const std::string& account) {
  std::ostringstream out;
  for (const auto& [key, e] : ledger.load(account)) {
    out << key << " " << static_cast<int>(e.state) << " " << e.size << " " << e.sha256 << " "
        << e.folder << " " << e.uid << " " << e.uploaded_at << " " << e.retry_at << " "
        << e.attempts << " " << e.missing_since << "\n";
  }
  out << "first pass " << ledger.firstPassDone(account).value_or(-1) << "\n";
  return out.str();
}

std::size_t rowsIn(Ledger& ledger, LedgerState state) {
  std::size_t n = 0;
  for (const auto& [key, e] : ledger.load("work")) n += e.state == state ? 1 : 0;
  return n;
}

}  // namespace

// backlog: none. The first pass leaves everything it lists where it is (not a byte retrieved,
// nothing deleted with keep: false); messages that arrive later are delivered and deleted.
BOOST_AUTO_TEST_CASE(testBacklogNoneKeepsWhatTheFirstPassFindsAndDeliversWhatComesLater) {
  PollFixture f;
  f.account.backlog = config::Backlog::None;
  f.account.keep = false;
  std::vector<std::string> old;
  for (int i = 1; i <= 3; ++i) old.push_back(mail(i, kOld));
  for (const auto& m : old) f.drop.add(m);

  const PollResult first = f.run();
  BOOST_TEST(first.ok());
  BOOST_TEST(first.backlog == 3u);
  BOOST_TEST(first.uploaded + first.deleted == 0u);
  BOOST_TEST(f.drop.retrieved.empty());
  BOOST_TEST(f.drop.topped.empty());  // no header is needed to keep everything
  BOOST_TEST(f.target.all().empty());
  BOOST_TEST(rowsIn(*f.ledger, LedgerState::Existing) == 3u);
  BOOST_TEST(f.ledger->firstPassDone("work").has_value());

  const std::string later1 = mail(4, kOld), later2 = mail(5, kNew);  // the Date does not matter
  f.drop.add(later1);
  f.drop.add(later2);
  const PollResult second = f.run();
  BOOST_TEST(second.ok());
  BOOST_TEST(second.uploaded == 2u);
  BOOST_TEST(second.backlog == 3u);
  BOOST_TEST(second.deleted == 2u);
  BOOST_TEST(f.copies(later1) == 1u);
  BOOST_TEST(f.copies(later2) == 1u);
  for (const auto& m : old) {
    BOOST_TEST(onPop(f, m));
    BOOST_TEST(f.copies(m) == 0u);
  }
  BOOST_TEST(f.drop.messages.size() == 3u);
  BOOST_TEST(summarize(second).find("3 backlog left on the server") != std::string::npos,
             summarize(second));

  const PollResult idle = f.run();
  BOOST_TEST(idle.uploaded + idle.deleted == 0u);
  BOOST_TEST(idle.backlog == 3u);
}

// backlog: since 2026-01-15. The Date of each message, read with TOP in one round before any
// retrieval, decides; a message without a Date, or with one that does not parse, is new.
BOOST_AUTO_TEST_CASE(testBacklogSinceSortsByTheDateReadWithTop) {
  PollFixture f;
  f.account.backlog = config::Backlog::Since;
  f.account.backlog_since = kJan15;
  f.account.keep = false;
  const std::string before = f.drop.add(mail(1, kOld));
  const std::string just_before = f.drop.add(mail(2, "Thu, 15 Jan 2026 00:30:00 +0100"));  // 23:30Z
  const std::string after = f.drop.add(mail(3, kNew));
  const std::string on_the_day = f.drop.add(mail(4, "Thu, 15 Jan 2026 00:00:00 +0000"));
  const std::string undated = f.drop.add(mail(5, ""));
  const std::string garbled = f.drop.add(mail(6, "the fifth of January"));

  const PollResult r = f.run();
  BOOST_TEST(r.ok());
  BOOST_TEST(r.backlog == 2u);
  BOOST_TEST(r.uploaded == 4u);
  BOOST_TEST(r.deleted == 4u);
  BOOST_TEST(f.drop.header_rounds == 1);
  BOOST_TEST(f.drop.topped.size() == 6u);
  const std::vector<std::string> left{before, just_before};
  std::vector<std::string> on_pop;
  for (const auto& m : f.drop.messages) on_pop.push_back(m.uidl);
  BOOST_TEST(on_pop == left, boost::test_tools::per_element());
  for (const auto& uidl : left) {
    BOOST_TEST(std::count(f.drop.retrieved.begin(), f.drop.retrieved.end(), uidl) == 0);
  }
  for (const auto& uidl : {after, on_the_day, undated, garbled}) {
    BOOST_TEST(std::count(f.drop.retrieved.begin(), f.drop.retrieved.end(), uidl) == 1);
  }
  BOOST_TEST(rowsIn(*f.ledger, LedgerState::Existing) == 2u);
}

// A POP server without TOP: backlog: since cannot read a Date before retrieval; it says so and
// the messages count as new (delivered), never silently as backlog.
BOOST_AUTO_TEST_CASE(testBacklogSinceOnAServerWithoutTopSaysSoAndDeliversAll) {
  PollFixture f;
  f.account.backlog = config::Backlog::Since;
  f.account.backlog_since = kJan15;
  f.drop.no_top = true;
  f.drop.add(mail(1, kOld));
  f.drop.add(mail(2, kNew));
  const PollResult r = f.run();
  BOOST_TEST(r.ok());
  BOOST_TEST(r.uploaded == 2u);
  BOOST_TEST(r.backlog == 0u);
  const auto lines = r.problems.lines();
  BOOST_TEST(std::any_of(lines.begin(), lines.end(),
                         [](const std::string& l) { return l.find("does not offer TOP") != std::string::npos; }));
}

// The backlog is the first pass's alone: an account that ran before (with backlog: all, or with
// an empty maildrop) takes no backlog when the setting changes later.
BOOST_AUTO_TEST_CASE(testBacklogIsTakenOnlyOnTheFirstPass) {
  PollFixture f;
  BOOST_TEST(f.run().ok());  // an empty maildrop: still the first pass
  BOOST_TEST(f.ledger->firstPassDone("work").has_value());
  f.account.backlog = config::Backlog::None;
  const std::string m = mail(1, kOld);
  f.drop.add(m);
  const PollResult r = f.run();
  BOOST_TEST(r.uploaded == 1u);
  BOOST_TEST(r.backlog == 0u);
  BOOST_TEST(f.copies(m) == 1u);
}

// Hash-based servers repeat UIDLs. The backlog is taken by UIDL and still holds every message of
// a repeated one; a UIDL that repeats with one message before the day and one after is new
// (both delivered, told apart by content), never half backlog.
BOOST_AUTO_TEST_CASE(testRepeatedUidlsInTheBacklog) {
  PollFixture f;
  f.account.backlog = config::Backlog::Since;
  f.account.backlog_since = kJan15;
  f.drop.add(mail(1, kOld), "twin");
  f.drop.add(mail(2, kOld), "twin");
  f.drop.add(mail(3, kOld), "mixed");
  f.drop.add(mail(4, kNew), "mixed");
  const PollResult r = f.run();
  BOOST_TEST(r.ok());
  BOOST_TEST(r.backlog == 2u);
  BOOST_TEST(r.uploaded == 2u);
  BOOST_TEST(f.copies(mail(3, kOld)) == 1u);
  BOOST_TEST(f.copies(mail(4, kNew)) == 1u);
  const std::string later = mail(5, kNew);
  f.drop.add(later, "twin");  // the server repeats the UIDL once more
  f.drop.add(mail(6, kNew), "fresh");
  const PollResult again = f.run();
  BOOST_TEST(again.ok());
  BOOST_TEST(again.backlog == 3u);  // every "twin" stays
  BOOST_TEST(again.uploaded == 1u);
  BOOST_TEST(again.skipped == 2u);
  BOOST_TEST(f.copies(later) == 0u);
  BOOST_TEST(f.copies(mail(6, kNew)) == 1u);
}

// dedupe: message-id. Copies that Gmail's fetcher left (a Received: line more) are found by
// Message-ID and proven by Date and From: never retrieved, never appended, counted apart from
// uploads, and deleted with keep: false. A look-alike with the same Message-ID but another Date
// or From is no proof: that message is uploaded. A message without a Message-ID is uploaded.
BOOST_AUTO_TEST_CASE(testDedupeFindsFetcherCopiesAndNotLookAlikes) {
  PollFixture f;
  f.account.dedupe = config::Dedupe::MessageId;
  f.account.keep = false;
  const std::string copied1 = mail(1, kNew), copied2 = mail(2, kOld);
  const std::string other_date = mail(3, kNew), other_from = mail(4, kNew);
  const std::string fresh = mail(5, kNew), anonymous = mail(6, kNew, "alice@example.org", "");
  auto& work = f.target.folders["Work"];
  work.push_back(fetcherCopy(copied1));
  work.push_back(fetcherCopy(copied2));
  work.push_back(fetcherCopy(mail(3, "Wed, 21 Jan 2026 09:00:00 +0100")));
  work.push_back(fetcherCopy(mail(4, kNew, "mallory@example.org")));
  std::vector<std::string> uidls;
  for (const auto& m : {copied1, copied2, other_date, other_from, fresh, anonymous}) {
    uidls.push_back(f.drop.add(m));
  }

  const PollResult r = f.run();
  BOOST_TEST(r.ok());
  BOOST_TEST(r.in_target == 2u);
  BOOST_TEST(r.uploaded == 4u);
  BOOST_TEST(r.deleted == 6u);
  BOOST_TEST(r.looked_up == 5u);  // all but the one without a Message-ID
  BOOST_TEST(f.target.copy_searches == 1);
  BOOST_TEST(f.drop.header_rounds == 1);
  BOOST_TEST(std::count(f.drop.retrieved.begin(), f.drop.retrieved.end(), uidls[0]) == 0);
  BOOST_TEST(std::count(f.drop.retrieved.begin(), f.drop.retrieved.end(), uidls[1]) == 0);
  BOOST_TEST(f.copies(copied1) == 0u);
  BOOST_TEST(f.copies(copied2) == 0u);
  BOOST_TEST(f.copies(fetcherCopy(copied1)) == 1u);
  for (const auto& m : {other_date, other_from, fresh, anonymous}) BOOST_TEST(f.copies(m) == 1u);
  BOOST_TEST(f.drop.messages.empty());
  BOOST_TEST(rowsIn(*f.ledger, LedgerState::Deleted) == 6u);
  const auto lines = r.problems.lines();
  BOOST_TEST(std::count_if(lines.begin(), lines.end(), [](const std::string& l) {
               return l.find("whose Date or From differ") != std::string::npos;
             }) == 2);
  BOOST_TEST(summarize(r).find("4 uploaded") != std::string::npos, summarize(r));
  BOOST_TEST(summarize(r).find("2 already in target (5 Message-IDs looked up in") !=
             std::string::npos, summarize(r));

  const PollResult idle = f.run();
  BOOST_TEST(idle.uploaded + idle.in_target + idle.deleted == 0u);
  BOOST_TEST(f.target.copy_searches == 1);  // nothing new: no search
}

// With keep: true a copy found in the target is remembered like an upload: skipped on later
// passes (not searched again) and deleted by delete_after_days once its time has come.
BOOST_AUTO_TEST_CASE(testInTargetCountsAsDeliveredLater) {
  PollFixture f;
  f.account.dedupe = config::Dedupe::MessageId;
  f.account.delete_after_days = 2;
  const std::string copied = mail(1, kNew);
  f.target.folders["Work"].push_back(fetcherCopy(copied));
  f.drop.add(copied);
  BOOST_TEST(f.run().in_target == 1u);
  f.clock += 86400;
  const PollResult next = f.run();
  BOOST_TEST(next.skipped == 1u);
  BOOST_TEST(next.deleted == 0u);
  BOOST_TEST(f.target.searched_ids.size() == 1u);
  f.clock += 2 * 86400;
  BOOST_TEST(f.run().deleted == 1u);
  BOOST_TEST(f.drop.messages.empty());
  BOOST_TEST(f.copies(copied) == 0u);
}

// On Gmail a fetched message may carry any label (INBOX, often): the search goes on in All Mail
// for the IDs the account's folder does not hold. Elsewhere only the folder counts.
BOOST_AUTO_TEST_CASE(testDedupeOnGmailLooksInAllMail) {
  for (const bool gmail : {true, false}) {
    BOOST_TEST_CONTEXT("all_mail " << gmail) {
      PollFixture f;
      f.account.dedupe = config::Dedupe::MessageId;
      f.target.all_mail = gmail;
      const std::string m = mail(1, kNew);
      f.target.folders["INBOX"].push_back(fetcherCopy(m));
      f.drop.add(m);
      const PollResult r = f.run();
      BOOST_TEST(r.ok());
      BOOST_TEST(r.in_target == (gmail ? 1u : 0u));
      BOOST_TEST(r.uploaded == (gmail ? 0u : 1u));
    }
  }
}

// A target that refuses the search: uploading anyway could duplicate a whole mailbox, so the new
// messages wait on the POP server (pass failed, nothing appended or deleted) until it answers.
BOOST_AUTO_TEST_CASE(testRefusedSearchLeavesNewMessagesOnTheServer) {
  PollFixture f;
  f.account.dedupe = config::Dedupe::MessageId;
  f.account.keep = false;
  f.drop.add(mail(1, kNew));
  f.target.refuse_search = true;
  const PollResult r = f.run();
  BOOST_REQUIRE(!r.ok());
  BOOST_TEST(std::string(r.error->what()).find("dedupe: none") != std::string::npos, r.error->what());
  BOOST_TEST(f.target.appends == 0);
  BOOST_TEST(f.drop.messages.size() == 1u);
  f.target.refuse_search = false;
  BOOST_TEST(f.run().uploaded == 1u);
  BOOST_TEST(f.drop.messages.empty());
}

// The move from a fetcher, crashed after every single step of its first pass (backlog: since,
// dedupe, keep: false) with a message arriving before the pass is resumed: the backlog is never
// imported or deleted, a copy in the target is never appended, every other message arrives once,
// and the ledger holds either the whole first pass or none of it, never a part.
BOOST_AUTO_TEST_CASE(testMovingOffAFetcherSurvivesACrashAfterEveryStep) {
  int total_steps = 0;
  for (int k = 1;; ++k) {
    PollFixture f;
    f.account.backlog = config::Backlog::Since;
    f.account.backlog_since = kJan15;
    f.account.dedupe = config::Dedupe::MessageId;
    f.account.keep = false;
    const std::vector<std::string> old{mail(1, kOld), mail(2, kOld)};
    const std::string copied = mail(3, kNew), look_alike = mail(4, kNew, "mallory@example.org");
    std::vector<std::string> fresh{mail(5, kNew), mail(6, "", "bob@example.org", ""), mail(7, kNew),
                                   look_alike};
    f.target.folders["Work"].push_back(fetcherCopy(copied));
    f.target.folders["Work"].push_back(fetcherCopy(mail(4, kNew)));
    for (const auto& m : old) f.drop.add(m);
    f.drop.add(copied);
    for (const auto& m : fresh) f.drop.add(m);

    const PollFixture::CrashRun crashed = f.runCrashingAt(k);
    if (!crashed.crashed) {  // the pass finished before step k: every step has been tried
      BOOST_TEST(crashed.result.ok());
      total_steps = crashed.steps;
      break;
    }
    BOOST_TEST_CONTEXT("crash at step " << k) {
      const bool first_pass_done = f.ledger->firstPassDone("work").has_value();
      BOOST_TEST(rowsIn(*f.ledger, LedgerState::Existing) == (first_pass_done ? 2u : 0u));
      if (!first_pass_done) BOOST_TEST(f.ledger->load("work").empty());
      const std::string late = mail(8, kNew);
      f.drop.add(late, "late");  // a UIDL of its own (the fake would reuse a deleted one's)
      fresh.push_back(late);

      const PollResult resumed = f.run();
      BOOST_TEST(resumed.ok());
      for (const auto& m : old) {
        BOOST_TEST(onPop(f, m));
        BOOST_TEST(f.copies(m) == 0u);
      }
      BOOST_TEST(f.copies(copied) == 0u);
      BOOST_TEST(f.copies(fetcherCopy(copied)) == 1u);
      BOOST_TEST(!onPop(f, copied));
      for (const auto& m : fresh) {
        BOOST_TEST(f.copies(m) == 1u);
        BOOST_TEST(!onPop(f, m));
      }
      BOOST_TEST(rowsIn(*f.ledger, LedgerState::Existing) == 2u);
      const int appends = f.target.appends;
      const PollResult idle = f.run();
      BOOST_TEST(idle.ok());
      BOOST_TEST(idle.uploaded + idle.in_target + idle.deleted == 0u);
      BOOST_TEST(idle.backlog == 2u);
      BOOST_TEST(f.target.appends == appends);
    }
  }
  BOOST_TEST_MESSAGE("moving off a fetcher, kill-at-every-step: " << total_steps
                                                                  << " steps, each survived");
  BOOST_TEST(total_steps >= 12);
}

// backlog: none with a crash after every step: a message that arrives before the resumed pass
// is backlog when the crash came before the first pass was recorded, delivered when after; the
// ledger is never half way.
BOOST_AUTO_TEST_CASE(testFirstPassIsAtomicUnderACrashAfterEveryStep) {
  int total_steps = 0;
  for (int k = 1;; ++k) {
    PollFixture f;
    f.account.backlog = config::Backlog::None;
    f.account.keep = false;
    const std::vector<std::string> old{mail(1, kOld), mail(2, kNew), mail(3, "")};
    for (const auto& m : old) f.drop.add(m);
    const PollFixture::CrashRun crashed = f.runCrashingAt(k);
    if (!crashed.crashed) {  // the pass finished before step k: every step has been tried
      BOOST_TEST(crashed.result.ok());
      total_steps = crashed.steps;
      break;
    }
    BOOST_TEST_CONTEXT("crash at step " << k) {
      const bool done = f.ledger->firstPassDone("work").has_value();
      BOOST_TEST(f.ledger->load("work").size() == (done ? 3u : 0u));
      const std::string late = mail(4, kNew);
      f.drop.add(late, "late");
      BOOST_TEST(f.run().ok());
      BOOST_TEST(f.copies(late) == (done ? 1u : 0u));
      BOOST_TEST(onPop(f, late) == !done);
      for (const auto& m : old) BOOST_TEST(onPop(f, m));
      BOOST_TEST(f.target.all().size() == (done ? 1u : 0u));
    }
  }
  BOOST_TEST(total_steps >= 3);
}

// A dry run decides everything a first pass would (backlog by Date, copies in the target, sizes,
// the quarantine, what keep: false would delete) and changes nothing: no retrieval, APPEND or
// DELE, no ledger row written or pruned, the first pass still ahead. The real pass then does
// what it said.
BOOST_AUTO_TEST_CASE(testDryRunChangesNothingAndTellsWhatAPassWouldDo) {
  PollFixture f;
  f.account.dedupe = config::Dedupe::MessageId;
  f.account.keep = false;
  f.account.max_message_size = 2000;
  // An earlier life of the account: a delivered message, a quarantined one, and a row whose
  // message has left the server (a real pass would mark it missing).
  LedgerEntry delivered;
  delivered.key = "delivered";
  delivered.state = LedgerState::Uploaded;
  delivered.uploaded_at = f.clock - 3600;
  LedgerEntry refused = delivered;
  refused.key = "refused";
  refused.state = LedgerState::Rejected;
  refused.retry_at = f.clock + 3600;
  refused.reason = "A4 NO refused";
  LedgerEntry gone = delivered;
  gone.key = "gone";
  f.ledger->completeFirstPass("work", {{delivered, false}, {refused, false}, {gone, false}}, 1);
  f.drop.add(mail(1, kNew), "delivered");
  f.drop.add(mail(2, kNew), "refused");
  const std::string copied = mail(3, kNew);
  f.drop.add(copied, "copied");
  f.target.folders["Work"].push_back(fetcherCopy(copied));
  f.drop.add(mail(4, kNew), "new");
  f.drop.add(mail(5, kNew) + std::string(3000, 'z') + "\r\n", "huge");
  const std::string ledger_before = ledgerText(*f.ledger, "work");

  f.dry_run = true;
  const PollResult dry = f.run();
  BOOST_TEST(dry.ok());
  BOOST_TEST(dry.dry_run);
  BOOST_TEST(dry.uploaded == 1u);
  BOOST_TEST(dry.in_target == 1u);
  BOOST_TEST(dry.skipped == 1u);
  BOOST_TEST(dry.quarantined == 1u);
  BOOST_TEST(dry.too_large == 1u);
  BOOST_TEST(dry.deleted == 3u);  // delivered, copied, and new once uploaded
  BOOST_TEST(ledgerText(*f.ledger, "work") == ledger_before);
  BOOST_TEST(f.drop.retrieved.empty());
  BOOST_TEST(f.drop.messages.size() == 5u);
  BOOST_TEST(f.target.appends == 0);
  std::vector<std::string> plan;
  for (const PlannedAction& a : dry.plan) plan.push_back(a.action + " " + a.uidl);
  const std::vector<std::string> expected{"skip refused",     "skip huge",       "skip copied",
                                          "upload new",       "delete new",      "delete delivered",
                                          "delete copied"};
  BOOST_TEST(plan == expected, boost::test_tools::per_element());
  BOOST_TEST(summarize(dry).find("work (dry run): would upload 1 (") == 0u, summarize(dry));

  f.dry_run = false;
  const PollResult real = f.run();
  BOOST_TEST(real.ok());
  BOOST_TEST(real.uploaded == dry.uploaded);
  BOOST_TEST(real.in_target == dry.in_target);
  BOOST_TEST(real.too_large == dry.too_large);
  BOOST_TEST(real.quarantined == dry.quarantined);
  BOOST_TEST(real.deleted == dry.deleted);
  BOOST_TEST(ledgerText(*f.ledger, "work") != ledger_before);
}

// A dry run of an account's first pass with backlog: none: the backlog is counted, not recorded;
// the first pass is still ahead afterwards.
BOOST_AUTO_TEST_CASE(testDryRunOfAFirstPassRecordsNoBacklog) {
  PollFixture f;
  f.account.backlog = config::Backlog::None;
  for (int i = 1; i <= 3; ++i) f.drop.add(mail(i, kOld));
  f.dry_run = true;
  const PollResult dry = f.run();
  BOOST_TEST(dry.backlog == 3u);
  BOOST_TEST(dry.plan.size() == 3u);
  BOOST_TEST(!f.ledger->firstPassDone("work").has_value());
  BOOST_TEST(f.ledger->load("work").empty());
}

// The dry run's listing under the summary line: uploads, then skips with their reason, then
// deletions, each cut at the cap with how many more there are (a backlog of 30,000 must not
// flood the terminal).
BOOST_AUTO_TEST_CASE(testDryRunPlanLinesGroupByActionAndStopAtTheCap) {
  PollResult r;
  r.plan = {{"delete", "u1", ""},      {"upload", "u2", ""}, {"skip", "u3", "backlog"},
            {"upload", "u4", ""},      {"upload", "u5", ""}, {"skip", "u6", "bad\r\nline"}};
  const std::vector<std::string> expected{"  upload  u2", "  upload  u4",
                                          "  ... and 1 more to upload", "  skip    u3  backlog",
                                          "  skip    u6  bad\\r\\nline", "  delete  u1"};
  BOOST_TEST(planLines(r, 2) == expected, boost::test_tools::per_element());
}
