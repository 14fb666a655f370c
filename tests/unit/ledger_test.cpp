// The SQLite ledger: durable state transitions, pruning, counts and the quarantine view, and
// reopening a file written before.
#include <boost/test/unit_test.hpp>

#include <Poco/Data/Session.h>

#include "connectors/common/Error.h"
#include "gateway/delivery/Ledger.h"
#include "tests/support/TempDir.h"

using namespace popgate;
using namespace popgate::gateway;

namespace {

LedgerEntry entry(const std::string& key, LedgerState state) {
  LedgerEntry e;
  e.key = key;
  e.state = state;
  e.size = 1234;
  e.sha256 = std::string(64, 'a');
  e.message_id = "<x@y>";
  e.folder = "Work";
  return e;
}

}  // namespace

BOOST_AUTO_TEST_CASE(testCommitLoadRoundTrip) {
  test::TempDir dir;
  Ledger ledger(dir.path() / "l.sqlite");
  LedgerEntry up = entry("u1", LedgerState::Uploaded);
  up.uidvalidity = 38505;
  up.uid = 3955;
  up.uploaded_at = 1750000000;
  ledger.commit("work", {{entry("f1", LedgerState::InFlight), false}, {up, false}});
  const auto rows = ledger.load("work");
  BOOST_REQUIRE(rows.size() == 2u);
  const LedgerEntry& got = rows.at("u1");
  BOOST_TEST((got.state == LedgerState::Uploaded));
  BOOST_TEST(got.uidvalidity == 38505u);
  BOOST_TEST(got.uid == 3955u);
  BOOST_TEST(got.uploaded_at == 1750000000);
  BOOST_TEST(got.sha256 == std::string(64, 'a'));
  BOOST_TEST(got.folder == "Work");
  BOOST_TEST(ledger.load("other").empty());  // accounts are separate
}

BOOST_AUTO_TEST_CASE(testStateSurvivesReopening) {
  test::TempDir dir;
  {
    Ledger ledger(dir.path() / "l.sqlite");
    ledger.commit("work", {{entry("a", LedgerState::InFlight), false}});
    ledger.commit("work", {{entry("a", LedgerState::Uploaded), false}});
  }
  Ledger again(dir.path() / "l.sqlite");
  BOOST_TEST((again.load("work").at("a").state == LedgerState::Uploaded));
}

BOOST_AUTO_TEST_CASE(testForgetAndPrune) {
  test::TempDir dir;
  Ledger ledger(dir.path() / "l.sqlite");
  ledger.commit("work", {{entry("a", LedgerState::Uploaded), false},
                         {entry("b", LedgerState::Deleted), false},
                         {entry("dup sha256:ff", LedgerState::Uploaded), false},
                         {entry("c", LedgerState::InFlight), false}});
  ledger.commit("work", {{entry("c", LedgerState::InFlight), true}});
  BOOST_TEST(ledger.load("work").count("c") == 0u);
  // "b" was deleted by popgate and left the server: forgotten at once. The content-keyed row
  // of "dup" stays while "dup" is listed.
  BOOST_TEST(ledger.prune("work", {"a", "dup"}, 1000, 100) == 1u);
  const auto rows = ledger.load("work");
  BOOST_TEST(rows.count("a") == 1u);
  BOOST_TEST(rows.count("b") == 0u);
  BOOST_TEST(rows.count("dup sha256:ff") == 1u);
}

BOOST_AUTO_TEST_CASE(testAQuarantineNoticeIsForgottenWithTheLastRowOfItsMessage) {
  test::TempDir dir;
  Ledger ledger(dir.path() / "l.sqlite");
  QueuedNotice notice;
  notice.account = "work";
  notice.subject = "quarantined";
  const std::string once = quarantineNoticeKey("u7");
  ledger.commit("work", {{entry("u7", LedgerState::Rejected), false},
                         {entry("u8", LedgerState::Rejected), false}});
  BOOST_TEST(ledger.queueNoticeOnce(notice, once));
  BOOST_TEST(!ledger.queueNoticeOnce(notice, once));
  // The UIDL starts repeating: its row is renamed (content-keyed), the message is still there.
  ledger.commit("work", {{entry("u7", LedgerState::Rejected), true},
                         {entry("u7 sha256:ab", LedgerState::Rejected), false}});
  BOOST_TEST(!ledger.queueNoticeOnce(notice, once));
  // Another account's message, or another message, going changes nothing for it.
  ledger.commit("work", {{entry("u8", LedgerState::Rejected), true}});
  ledger.commit("home", {{entry("u7", LedgerState::Rejected), false}});
  ledger.commit("home", {{entry("u7", LedgerState::Rejected), true}});
  BOOST_TEST(!ledger.queueNoticeOnce(notice, once));
  // The last row of u7 goes (it left the server): a u7 refused later is noticed again.
  BOOST_TEST(ledger.prune("work", {}, 1'000'000, 0) == 0u);  // missing from now on
  BOOST_TEST(ledger.prune("work", {}, 1'000'100, 10) == 1u);
  BOOST_TEST(ledger.load("work").empty());
  BOOST_TEST(ledger.queueNoticeOnce(notice, once));
  BOOST_TEST(ledger.notices().size() == 2u);
}

BOOST_AUTO_TEST_CASE(testServerHidingMessagesForAWhileDoesNotEraseTheirHistory) {
  // An uploaded message missing from one listing (a server glitch, an empty UIDL answer) is
  // remembered through the grace period, so it is not uploaded again when it comes back.
  test::TempDir dir;
  Ledger ledger(dir.path() / "l.sqlite");
  ledger.commit("work", {{entry("a", LedgerState::Uploaded), false}});
  BOOST_TEST(ledger.prune("work", {}, 1000, 100) == 0u);
  BOOST_TEST(ledger.load("work").at("a").missing_since == 1000);
  BOOST_TEST(ledger.prune("work", {}, 1050, 100) == 0u);
  BOOST_TEST(ledger.prune("work", {"a"}, 1060, 100) == 0u);  // back: no longer missing
  BOOST_TEST(ledger.load("work").at("a").missing_since == 0);
  BOOST_TEST(ledger.prune("work", {}, 2000, 100) == 0u);
  BOOST_TEST(ledger.prune("work", {}, 2101, 100) == 1u);  // gone for longer than the grace
  BOOST_TEST(ledger.load("work").empty());
}

BOOST_AUTO_TEST_CASE(testQuarantineIsTheRejectedRowsSoonestRetryFirst) {
  test::TempDir dir;
  Ledger ledger(dir.path() / "l.sqlite");
  LedgerEntry r1 = entry("r1", LedgerState::Rejected);
  r1.retry_at = 200;
  r1.reason = "A1 NO [LIMIT] too big";
  LedgerEntry r2 = entry("r2", LedgerState::Rejected);
  r2.retry_at = 100;
  ledger.commit("work", {{r1, false}, {r2, false}, {entry("u", LedgerState::Uploaded), false}});
  BOOST_TEST(ledger.load("work").size() == 3u);
  const auto q = ledger.quarantine("work");
  BOOST_REQUIRE(q.size() == 2u);
  BOOST_TEST(q[0].key == "r2");  // soonest retry first
  BOOST_TEST(q[1].reason == "A1 NO [LIMIT] too big");
}

BOOST_AUTO_TEST_CASE(testNotALedgerFileIsAnInternalError) {
  test::TempDir dir;
  dir.write("junk.sqlite", std::string(4096, 'x'));
  try {
    Ledger ledger(dir.path() / "junk.sqlite");
    BOOST_FAIL("opened a file that is not a database");
  } catch (const Error& e) {
    BOOST_TEST((e.kind() == ErrorKind::Internal));
    BOOST_TEST(std::string(e.what()).find("junk.sqlite") != std::string::npos);
  }
}

// A damaged schema version (or a file of another program that happens to have our table) is an
// Error with the file's name, never an exception that escapes the ledger's error handling.
BOOST_AUTO_TEST_CASE(testUnreadableSchemaVersionIsAnInternalError) {
  test::TempDir dir;
  const auto file = dir.path() / "ledger.sqlite";
  { Ledger first(file); }
  for (const std::string& version : {std::string("garbage"), std::string("99999999999999999999"),
                                     std::string("2x"), std::string(""), std::string("7")}) {
    BOOST_TEST_CONTEXT("schema \"" << version << "\"") {
      Poco::Data::Session session("SQLite", file.string());
      session << "UPDATE meta SET value = '" + version + "' WHERE key = 'schema'", Poco::Data::Keywords::now;
      session.close();
      try {
        Ledger ledger(file);
        BOOST_FAIL("opened a ledger with schema \"" << version << "\"");
      } catch (const Error& e) {
        BOOST_TEST((e.kind() == ErrorKind::Internal));
        BOOST_TEST(std::string(e.what()).find("ledger.sqlite") != std::string::npos, e.what());
      }
    }
  }
}

// A ledger written before the notice tables (schema 2) opens, keeps its rows and gains them.
BOOST_AUTO_TEST_CASE(testSchemaTwoLedgerGainsTheNoticeTables) {
  test::TempDir dir;
  const auto file = dir.path() / "ledger.sqlite";
  {
    Ledger first(file);
    first.commit("work", {{entry("u1", LedgerState::Uploaded), false}});
  }
  {
    Poco::Data::Session session("SQLite", file.string());
    session << "DROP TABLE notice_episodes", Poco::Data::Keywords::now;
    session << "DROP TABLE notice_once", Poco::Data::Keywords::now;
    session << "DROP TABLE notice_queue", Poco::Data::Keywords::now;
    session << "UPDATE meta SET value = '2' WHERE key = 'schema'", Poco::Data::Keywords::now;
  }
  Ledger ledger(file);
  BOOST_TEST(ledger.load("work").size() == 1u);
  ledger.saveEpisode("work", NoticeEpisode{100, 3, true, 1, "refused"});
  BOOST_TEST(ledger.episodes().at("work").failures == 3u);
  QueuedNotice notice;
  notice.account = "work";
  notice.subject = "s";
  notice.to_webhook = true;
  BOOST_TEST(ledger.queueNoticeOnce(notice, "quarantine u2"));
  BOOST_TEST(!ledger.queueNoticeOnce(notice, "quarantine u2"));
  BOOST_REQUIRE(ledger.notices().size() == 1u);
  notice = ledger.notices().front();
  notice.to_webhook = false;
  ledger.updateNotice(notice);
  BOOST_TEST(ledger.notices().empty());
  std::string version;
  Poco::Data::Session session("SQLite", file.string());
  session << "SELECT value FROM meta WHERE key = 'schema'", Poco::Data::Keywords::into(version),
      Poco::Data::Keywords::now;
  BOOST_TEST(version == "3");
}

// The backlog of a first pass and the record that the first pass is done go in one
// transaction: when the second part fails (here its table is gone), the first is not kept either,
// so a crash can never leave a half-recorded backlog that the next pass takes as complete.
BOOST_AUTO_TEST_CASE(testFirstPassIsRecordedWithItsBacklogOrNotAtAll) {
  test::TempDir dir;
  const auto file = dir.path() / "ledger.sqlite";
  Ledger ledger(file);
  BOOST_TEST(!ledger.firstPassDone("isp").has_value());
  ledger.completeFirstPass("isp", {{entry("old1", LedgerState::Existing), false},
                                   {entry("old2", LedgerState::Existing), false}},
                           1768435200);
  BOOST_TEST(ledger.firstPassDone("isp").value_or(0) == 1768435200);
  BOOST_TEST(ledger.load("isp").size() == 2u);
  BOOST_TEST(!ledger.firstPassDone("work").has_value());  // per account

  {
    Poco::Data::Session other("SQLite", file.string());
    other << "DROP TABLE accounts", Poco::Data::Keywords::now;
  }
  BOOST_CHECK_THROW(ledger.completeFirstPass("work", {{entry("w1", LedgerState::Existing), false}},
                                             1768435200),
                    Error);
  BOOST_TEST(ledger.load("work").empty());
}

// A ledger written by popgate before the first-pass record existed (schema 1, and before the
// uploads table too) is brought up to date in place when it is opened: its rows stay, accounts
// that have rows count as having had their first pass, the version goes up, and opening it again
// changes nothing.
BOOST_AUTO_TEST_CASE(testVersionOneLedgerIsMigratedInPlace) {
  test::TempDir dir;
  const auto file = dir.path() / "ledger.sqlite";
  {
    Poco::Data::Session v1("SQLite", file.string());
    using Poco::Data::Keywords::now;
    v1 << "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)", now;
    v1 << "INSERT INTO meta (key, value) VALUES ('schema', '1')", now;
    v1 << "CREATE TABLE messages ("
          " account TEXT NOT NULL, key TEXT NOT NULL, state INTEGER NOT NULL,"
          " size INTEGER NOT NULL DEFAULT 0, sha256 TEXT NOT NULL DEFAULT '',"
          " message_id TEXT NOT NULL DEFAULT '', folder TEXT NOT NULL DEFAULT '',"
          " uidvalidity INTEGER NOT NULL DEFAULT 0, uid INTEGER NOT NULL DEFAULT 0,"
          " uploaded_at INTEGER NOT NULL DEFAULT 0, reason TEXT NOT NULL DEFAULT '',"
          " retry_at INTEGER NOT NULL DEFAULT 0, attempts INTEGER NOT NULL DEFAULT 0,"
          " missing_since INTEGER NOT NULL DEFAULT 0,"
          " updated_at INTEGER NOT NULL DEFAULT (strftime('%s','now')),"
          " PRIMARY KEY (account, key)) WITHOUT ROWID",
        now;
    v1 << "INSERT INTO messages (account, key, state, size, folder, uploaded_at)"
          " VALUES ('work', 'u1', 2, 1234, 'Work', 1750000000)",
        now;
  }
  auto schema = [&] {
    Poco::Data::Session session("SQLite", file.string());
    std::string version;
    session << "SELECT value FROM meta WHERE key = 'schema'", Poco::Data::Keywords::into(version),
        Poco::Data::Keywords::now;
    return version;
  };
  {
    Ledger ledger(file);
    BOOST_TEST(schema() == "3");
    const auto rows = ledger.load("work");
    BOOST_REQUIRE(rows.size() == 1u);
    BOOST_TEST((rows.at("u1").state == LedgerState::Uploaded));
    BOOST_TEST(rows.at("u1").uploaded_at == 1750000000);
    BOOST_TEST(ledger.firstPassDone("work").has_value());   // it ran before the upgrade
    BOOST_TEST(!ledger.firstPassDone("isp").has_value());  // never ran: its first pass is ahead
    ledger.addUpload("target", 1750000000, 10);             // the uploads table is there too
  }
  Ledger again(file);
  BOOST_TEST(schema() == "3");
  BOOST_TEST(again.load("work").size() == 1u);
  BOOST_TEST(again.firstPassDone("work").has_value());
  BOOST_TEST(again.uploadsSince("target", 1750000000 - 3600).size() == 1u);
}

BOOST_AUTO_TEST_CASE(testUidlOfKey) {
  BOOST_TEST(uidlOfKey("abc") == "abc");
  BOOST_TEST(uidlOfKey("abc sha256:00ff") == "abc");
}
