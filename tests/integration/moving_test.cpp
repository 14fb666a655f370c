// Moving off another fetcher (docs/moving-from-gmail-fetcher.md), the real binary against a real
// Dovecot: copies that the old fetcher left in the target (a Received: line more) are found by
// dedupe: message-id and recorded, not uploaded again; backlog: none and backlog: since DATE leave
// the old mail on the POP server even with keep: false and deliver only the rest; `once --dry-run`
// prints per-account counts and changes nothing (no APPEND, CREATE, DELE, no ledger row).
#include <boost/test/unit_test.hpp>

#include <stdexcept>

#include "gateway/delivery/SqliteLedger.h"
#include "tests/support/GatewaySetup.h"
#include "tests/support/Messages.h"

using namespace popgate::test;

namespace {

const std::string kOld = "Mon, 5 Jan 2026 09:00:00 +0000";
const std::string kNew = "Tue, 20 Jan 2026 09:00:00 +0100";

// An account of the sandbox on the STLS port with these extra YAML lines.
AccountSetup account(const std::string& name, const std::string& folder, bool keep,
                     const std::string& extra) {
  AccountSetup a{name, folder, "starttls", keep};
  a.extra = extra;
  return a;
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

std::vector<std::string> joined(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

}  // namespace

// A user who fetched with Gmail's fetcher ("leave a copy on the server") switches: the target
// folder already holds copies of four messages with the fetcher's Received: line on top. With
// dedupe: message-id they are recorded as already in the target and not uploaded again (and,
// keep: false, deleted from POP); a message that is new, one without Message-ID (nothing to look
// for) and a look-alike (same Message-ID, another From) are uploaded.
BOOST_AUTO_TEST_CASE(testCopiesLeftByGmailsFetcherAreNotUploadedAgain) {
  DovecotSandbox dovecot({"isp", "me"});
  std::vector<std::string> copied;
  for (int i = 1; i <= 4; ++i) copied.push_back(noteMessage(i, i % 2 == 0 ? kOld : kNew));
  const std::string fresh = noteMessage(5, kNew);
  const std::string anonymous = noteMessage(6, kNew, "alice@example.org", "");
  const std::string look_alike = noteMessage(7, kNew);
  std::vector<std::string> in_target;
  for (const std::string& m : copied) in_target.push_back(fetcherCopy(m));
  in_target.push_back(fetcherCopy(anonymous));
  in_target.push_back(fetcherCopy(noteMessage(7, kNew, "mallory@example.org")));
  dovecot.seedMany("me", in_target, "ISP");
  dovecot.seedMany("isp", joined(copied, {fresh, anonymous, look_alike}));

  TempDir dir;
  const auto config =
      writeGatewayConfig(dir, dovecot, "me", {account("isp", "ISP", false, "    dedupe: message-id\n")});
  const CommandResult first = runPopgate({"once", "--config", config.string()});
  BOOST_TEST_INFO("stdout: " << first.out << "\nstderr: " << first.err);
  BOOST_TEST(first.exit_code == 0);
  BOOST_TEST(contains(first.out, "isp: 3 uploaded"));
  BOOST_TEST(contains(first.out, "4 already in target"));
  BOOST_TEST(sorted(dovecot.messages("me", "ISP")) ==
             sorted(joined(in_target, {fresh, anonymous, look_alike})));
  BOOST_TEST(dovecot.popBoxSize("isp") == 0u);  // keep: false: the copies found count as delivered

  // Mail that arrives later is looked for too; the next pass adds only it.
  const std::string later = noteMessage(8, kNew);
  dovecot.seedMany("isp", {later});
  const CommandResult second = runPopgate({"once", "--config", config.string()});
  BOOST_TEST_INFO("stdout: " << second.out << "\nstderr: " << second.err);
  BOOST_TEST(second.exit_code == 0);
  BOOST_TEST(contains(second.out, "isp: 1 uploaded"));
  BOOST_TEST(dovecot.count("me", "ISP") == in_target.size() + 4);
  BOOST_TEST(dovecot.popBoxSize("isp") == 0u);
}

// backlog: none with keep: false. The first pass imports nothing and deletes nothing: the mail
// already on the server stays there for good. Messages that arrive afterwards are delivered and
// deleted; the old ones are never touched, pass after pass.
BOOST_AUTO_TEST_CASE(testBacklogNoneLeavesOldMailOnPopAndDeliversOnlyNewMail) {
  DovecotSandbox dovecot({"isp", "me"});
  std::vector<std::string> old, fresh;
  for (std::size_t i = 0; i < 4; ++i) old.push_back(bulkMessage(i));
  for (std::size_t i = 4; i < 6; ++i) fresh.push_back(bulkMessage(i));
  dovecot.seedMany("isp", old);
  TempDir dir;
  const auto config =
      writeGatewayConfig(dir, dovecot, "me", {account("isp", "ISP", false, "    backlog: none\n")});

  const CommandResult first = runPopgate({"once", "--config", config.string()});
  BOOST_TEST_INFO("stdout: " << first.out << "\nstderr: " << first.err);
  BOOST_TEST(first.exit_code == 0);
  BOOST_TEST(contains(first.out, "isp: 0 uploaded"));
  BOOST_TEST(contains(first.out, "4 backlog left on the server"));
  BOOST_TEST(countOrZero(dovecot, "me", "ISP") == 0u);
  BOOST_TEST(sorted(dovecot.messages("isp")) == sorted(old));

  dovecot.seedMany("isp", fresh);
  for (int pass = 0; pass < 2; ++pass) {
    const CommandResult r = runPopgate({"once", "--config", config.string()});
    BOOST_TEST_INFO("pass " << pass + 2 << " stdout: " << r.out << "\nstderr: " << r.err);
    BOOST_TEST(r.exit_code == 0);
    BOOST_TEST(contains(r.out, "isp: " + std::to_string(pass == 0 ? 2 : 0) + " uploaded"));
    BOOST_TEST(sorted(dovecot.messages("me", "ISP")) == sorted(fresh));
    BOOST_TEST(sorted(dovecot.messages("isp")) == sorted(old));
  }
}

// backlog: since 2026-01-15 with keep: false. The first pass reads every Date: with TOP: mail
// dated before that day stays on the server; mail from that day on, and mail without a Date,
// is delivered and deleted.
BOOST_AUTO_TEST_CASE(testBacklogSinceLeavesOlderMailOnPopAndDeliversTheRest) {
  DovecotSandbox dovecot({"isp", "me"});
  const std::vector<std::string> old{noteMessage(1, kOld),
                                     noteMessage(2, "Wed, 14 Jan 2026 23:59:59 +0000")};
  const std::vector<std::string> recent{noteMessage(3, kNew),
                                        noteMessage(4, "Thu, 15 Jan 2026 00:00:00 +0000"),
                                        noteMessage(5, "")};
  dovecot.seedMany("isp", joined(old, recent));
  TempDir dir;
  const auto config = writeGatewayConfig(
      dir, dovecot, "me", {account("isp", "ISP", false, "    backlog: since 2026-01-15\n")});

  const CommandResult r = runPopgate({"once", "--config", config.string()});
  BOOST_TEST_INFO("stdout: " << r.out << "\nstderr: " << r.err);
  BOOST_TEST(r.exit_code == 0);
  BOOST_TEST(contains(r.out, "isp: 3 uploaded"));
  BOOST_TEST(contains(r.out, "2 backlog left on the server"));
  BOOST_TEST(sorted(dovecot.messages("me", "ISP")) == sorted(recent));
  BOOST_TEST(sorted(dovecot.messages("isp")) == sorted(old));
}

// `once --dry-run` over three accounts (a plain one into a folder that does not exist yet, one
// with dedupe and copies in the target, one with backlog: none), all keep: false: it prints each
// account's counts and what it would do, and sends no APPEND, CREATE or DELE and writes no ledger
// row (not even the first pass). --account limits it to one account. The real pass afterwards
// does everything the dry run announced.
BOOST_AUTO_TEST_CASE(testDryRunPrintsCountsAndChangesNothing) {
  DovecotSandbox dovecot({"work", "isp", "old", "me"});
  std::vector<std::string> work, isp, old;
  for (std::size_t i = 0; i < 3; ++i) work.push_back(bulkMessage(i));
  for (int i = 1; i <= 4; ++i) isp.push_back(noteMessage(i, kNew));
  for (std::size_t i = 10; i < 12; ++i) old.push_back(bulkMessage(i));
  const std::vector<std::string> in_target{fetcherCopy(isp[0]), fetcherCopy(isp[1])};
  dovecot.seedMany("work", work);
  dovecot.seedMany("isp", isp);
  dovecot.seedMany("old", old);
  dovecot.seedMany("me", in_target, "ISP");
  TempDir dir;
  const auto config = writeGatewayConfig(dir, dovecot, "me",
                                         {account("work", "Work", false, ""),
                                          account("isp", "ISP", false, "    dedupe: message-id\n"),
                                          account("old", "Old", false, "    backlog: none\n")});

  const CommandResult dry = runPopgate({"once", "--config", config.string(), "--dry-run"});
  BOOST_TEST_INFO("stdout: " << dry.out << "\nstderr: " << dry.err);
  BOOST_TEST_MESSAGE("once --dry-run printed:\n" << dry.out);
  BOOST_TEST(dry.exit_code == 0);
  BOOST_TEST(contains(dry.out, "dry run: nothing is uploaded, deleted or recorded"));
  BOOST_TEST(contains(dry.out, "work (dry run): would upload 3 ("));
  BOOST_TEST(contains(dry.out, "isp (dry run): would upload 2 ("));
  BOOST_TEST(contains(dry.out, "2 already in target"));
  BOOST_TEST(contains(dry.out, "old (dry run): would upload 0 ("));
  BOOST_TEST(contains(dry.out, "2 backlog"));
  BOOST_TEST(contains(dry.out, "would delete 3"));  // work: after upload
  BOOST_TEST(contains(dry.out, "would delete 4"));  // isp: the two uploads and the two copies
  BOOST_TEST(contains(dry.out, "would delete 0"));  // old: the backlog stays
  BOOST_TEST(contains(dry.out, "  upload  "));
  BOOST_TEST(contains(dry.out, "  skip    "));
  BOOST_TEST(contains(dry.out, "  delete  "));
  BOOST_TEST(contains(dry.out, "once uploaded"));

  // Nothing changed: no folder created, nothing appended or deleted, no ledger row.
  BOOST_CHECK_THROW(dovecot.count("me", "Work"), std::runtime_error);
  BOOST_CHECK_THROW(dovecot.count("me", "Old"), std::runtime_error);
  BOOST_TEST(sorted(dovecot.messages("me", "ISP")) == sorted(in_target));
  BOOST_TEST(sorted(dovecot.messages("work")) == sorted(work));
  BOOST_TEST(sorted(dovecot.messages("isp")) == sorted(isp));
  BOOST_TEST(sorted(dovecot.messages("old")) == sorted(old));
  {
    popgate::gateway::SqliteLedger ledger(dir.path() / "state" / "ledger.sqlite");
    for (const std::string name : {"work", "isp", "old"}) {
      BOOST_TEST_CONTEXT(name) {
        BOOST_TEST(ledger.load(name).empty());
        BOOST_TEST(!ledger.firstPassDone(name).has_value());
      }
    }
  }

  const CommandResult one =
      runPopgate({"once", "--config", config.string(), "--dry-run", "--account", "isp"});
  BOOST_TEST_INFO("stdout: " << one.out << "\nstderr: " << one.err);
  BOOST_TEST(one.exit_code == 0);
  BOOST_TEST(contains(one.out, "isp (dry run): would upload 2 ("));
  BOOST_TEST(!contains(one.out, "work"));
  BOOST_TEST(dovecot.count("me", "ISP") == in_target.size());

  const CommandResult real = runPopgate({"once", "--config", config.string()});
  BOOST_TEST_INFO("stdout: " << real.out << "\nstderr: " << real.err);
  BOOST_TEST(real.exit_code == 0);
  BOOST_TEST(contains(real.out, "work: 3 uploaded"));
  BOOST_TEST(contains(real.out, "isp: 2 uploaded"));
  BOOST_TEST(contains(real.out, "old: 0 uploaded"));
  BOOST_TEST(sorted(dovecot.messages("me", "Work")) == sorted(work));
  BOOST_TEST(dovecot.count("me", "ISP") == 4u);
  BOOST_TEST(dovecot.popBoxSize("work") == 0u);
  BOOST_TEST(dovecot.popBoxSize("isp") == 0u);
  BOOST_TEST(sorted(dovecot.messages("old")) == sorted(old));
}
