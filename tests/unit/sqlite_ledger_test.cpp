// What only the SQLite ledger has: its file (not a database, a damaged schema version) and the
// migration in place of files older popgates wrote. Its behaviour as a Ledger is proven by the
// shared suite (tests/integration/ledger_suite_test.cpp), against PostgreSQL too.
#include <boost/test/unit_test.hpp>

#include <Poco/Data/Session.h>

#include "connectors/common/Error.h"
#include "gateway/delivery/SqliteLedger.h"
#include "tests/support/LedgerEntries.h"
#include "tests/support/TempDir.h"

using namespace popgate;
using namespace popgate::gateway;

BOOST_AUTO_TEST_CASE(testNotALedgerFileIsAnInternalError) {
  test::TempDir dir;
  dir.write("junk.sqlite", std::string(4096, 'x'));
  try {
    SqliteLedger ledger(dir.path() / "junk.sqlite");
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
  { SqliteLedger first(file); }
  for (const std::string& version : {std::string("garbage"), std::string("99999999999999999999"),
                                     std::string("2x"), std::string(""), std::string("7")}) {
    BOOST_TEST_CONTEXT("schema \"" << version << "\"") {
      Poco::Data::Session session("SQLite", file.string());
      session << "UPDATE meta SET value = '" + version + "' WHERE key = 'schema'", Poco::Data::Keywords::now;
      session.close();
      try {
        SqliteLedger ledger(file);
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
    SqliteLedger first(file);
    first.commit("work", {{test::ledgerEntry("u1", LedgerState::Uploaded), false}});
  }
  {
    Poco::Data::Session session("SQLite", file.string());
    session << "DROP TABLE notice_episodes", Poco::Data::Keywords::now;
    session << "DROP TABLE notice_once", Poco::Data::Keywords::now;
    session << "DROP TABLE notice_queue", Poco::Data::Keywords::now;
    session << "UPDATE meta SET value = '2' WHERE key = 'schema'", Poco::Data::Keywords::now;
  }
  SqliteLedger ledger(file);
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
    SqliteLedger ledger(file);
    BOOST_TEST(schema() == "3");
    const auto rows = ledger.load("work");
    BOOST_REQUIRE(rows.size() == 1u);
    BOOST_TEST((rows.at("u1").state == LedgerState::Uploaded));
    BOOST_TEST(rows.at("u1").uploaded_at == 1750000000);
    BOOST_TEST(ledger.firstPassDone("work").has_value());   // it ran before the upgrade
    BOOST_TEST(!ledger.firstPassDone("isp").has_value());  // never ran: its first pass is ahead
    ledger.addUpload("target", 1750000000, 10);             // the uploads table is there too
  }
  SqliteLedger again(file);
  BOOST_TEST(schema() == "3");
  BOOST_TEST(again.load("work").size() == 1u);
  BOOST_TEST(again.firstPassDone("work").has_value());
  BOOST_TEST(again.uploadsSince("target", 1750000000 - 3600).size() == 1u);
}


// The reads of every pass (load, firstPassDone) keep their statements prepared from pass to pass:
// each read still sees every write before it, and none leaves a read open behind it (a second
// connection can checkpoint the whole write-ahead log, as SQLite does when the log grows).
BOOST_AUTO_TEST_CASE(testKeptReadsSeeEveryWriteAndLeaveNoReadOpen) {
  test::TempDir dir;
  const auto file = dir.path() / "ledger.sqlite";
  SqliteLedger ledger(file);
  BOOST_TEST(ledger.load("work").empty());
  BOOST_TEST(!ledger.firstPassDone("work").has_value());
  for (int pass = 1; pass <= 3; ++pass) {
    const std::string key = "u" + std::to_string(pass);
    ledger.completeFirstPass("work", {{test::edgeLedgerEntry(key), false}}, 1750000000 + pass);
    const auto rows = ledger.load("work");
    BOOST_REQUIRE(rows.size() == static_cast<std::size_t>(pass));
    BOOST_TEST((rows.at(key) == test::edgeLedgerEntry(key)));
    BOOST_TEST(ledger.firstPassDone("work").value() == 1750000000 + pass);
    BOOST_TEST(ledger.load("isp").empty());
    BOOST_TEST(!ledger.firstPassDone("isp").has_value());
  }
  Poco::Data::Session other("SQLite", file.string());
  int busy = -1, log_frames = -1, checkpointed = -1;
  using namespace Poco::Data::Keywords;
  other << "PRAGMA wal_checkpoint(TRUNCATE)", into(busy), into(log_frames), into(checkpointed), now;
  BOOST_TEST(busy == 0);
}
