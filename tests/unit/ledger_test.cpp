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

BOOST_AUTO_TEST_CASE(testUidlOfKey) {
  BOOST_TEST(uidlOfKey("abc") == "abc");
  BOOST_TEST(uidlOfKey("abc sha256:00ff") == "abc");
}
