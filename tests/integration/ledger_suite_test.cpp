// The shared ledger suite: every behaviour of the Ledger contract (gateway/delivery/Ledger.h),
// run against both implementations — SqliteLedger on a file and PostgresLedger on a real
// PostgreSQL 15 (tests/support/PostgresSandbox, one server for the whole suite, a fresh database
// per case). Then what only the PostgreSQL one has: its schema version, its password kept out of
// errors, replicas opening it at once, a lost connection opened again, and leases with fencing.
#include <boost/test/data/monomorphic.hpp>
#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>

#include <Poco/Data/Session.h>

#include <atomic>
#include <memory>
#include <thread>

#include "config/DatabaseUrl.h"
#include "connectors/common/Error.h"
#include "gateway/delivery/HeldLedger.h"
#include "gateway/delivery/PostgresLedger.h"
#include "gateway/delivery/SqliteLedger.h"
#include "tests/support/PostgresSandbox.h"
#include "tests/support/LedgerEntries.h"
#include "tests/support/TempDir.h"

using namespace popgate;
using namespace popgate::gateway;
namespace data = boost::unit_test::data;

namespace {

// One PostgreSQL for the whole suite (started at the first case that needs it: 1–5 s).
test::PostgresSandbox& postgres() {
  static test::PostgresSandbox sandbox;
  return sandbox;
}

config::DatabaseConfig databaseOf(const std::string& url, const std::string& password) {
  auto parsed = config::parseDatabaseUrl(url);
  if (!parsed.value) throw std::runtime_error("bad sandbox URL " + url + ": " + parsed.error);
  config::DatabaseConfig db;
  db.url = url;
  db.host = parsed.value->host;
  db.port = parsed.value->port;
  db.user = parsed.value->user;
  db.dbname = parsed.value->dbname;
  db.password = Secret(std::string(password));
  db.password_source = "test";
  return db;
}

// Where one case's ledger lives: it can be opened (again, or twice at once), and damaged by SQL
// of the case's own.
class Store {
 public:
  virtual ~Store() = default;
  virtual std::unique_ptr<Ledger> open() = 0;
  virtual void sql(const std::string& statement) = 0;
};

class SqliteStore final : public Store {
 public:
  std::unique_ptr<Ledger> open() override { return std::make_unique<SqliteLedger>(file()); }
  void sql(const std::string& statement) override {
    Poco::Data::Session session("SQLite", file().string());
    session << statement, Poco::Data::Keywords::now;
  }

 private:
  std::filesystem::path file() const { return dir_.path() / "ledger.sqlite"; }
  test::TempDir dir_;
};

class PostgresStore final : public Store {
 public:
  PostgresStore() {
    static std::atomic<int> cases{0};
    name_ = "suite_" + std::to_string(++cases);
    url_ = postgres().createDatabase(name_);
  }
  std::unique_ptr<Ledger> open() override {
    return std::make_unique<PostgresLedger>(databaseOf(url_, postgres().password()));
  }
  void sql(const std::string& statement) override { postgres().query(statement, name_); }

 private:
  std::string name_;
  std::string url_;
};

std::unique_ptr<Store> storeFor(const std::string& backend) {
  if (backend == "sqlite") return std::make_unique<SqliteStore>();
  return std::make_unique<PostgresStore>();
}

const auto kBackends = data::make(std::vector<std::string>{"sqlite", "postgresql"});

}  // namespace

BOOST_DATA_TEST_CASE(testCommitLoadRoundTrip, kBackends, backend) {
  auto store = storeFor(backend);
  auto ledger = store->open();
  LedgerEntry up = test::ledgerEntry("u1", LedgerState::Uploaded);
  up.uidvalidity = 38505;
  up.uid = 3955;
  up.uploaded_at = 1750000000;
  ledger->commit("work", {{test::ledgerEntry("f1", LedgerState::InFlight), false}, {up, false}});
  const auto rows = ledger->load("work");
  BOOST_REQUIRE(rows.size() == 2u);
  const LedgerEntry& got = rows.at("u1");
  BOOST_TEST((got.state == LedgerState::Uploaded));
  BOOST_TEST(got.uidvalidity == 38505u);
  BOOST_TEST(got.uid == 3955u);
  BOOST_TEST(got.uploaded_at == 1750000000);
  BOOST_TEST(got.sha256 == std::string(64, 'a'));
  BOOST_TEST(got.folder == "Work");
  BOOST_TEST(ledger->load("other").empty());  // accounts are separate
}

// Every field keeps its value to the edge of its range, and text with quotes, backslashes and
// non-ASCII survives (a server's refusal text is stored as the server wrote it).
BOOST_DATA_TEST_CASE(testEveryFieldKeepsItsValue, kBackends, backend) {
  auto store = storeFor(backend);
  auto ledger = store->open();
  const LedgerEntry e = test::edgeLedgerEntry("1f2e' OR '1'='1 sha256:" + std::string(64, 'f'));
  ledger->commit("wörk", {{e, false}});
  const LedgerEntry got = ledger->load("wörk").at(e.key);
  BOOST_TEST((got.state == LedgerState::Rejected));
  BOOST_TEST(got.size == 4'000'000'000ull);
  BOOST_TEST(got.uidvalidity == 4294967295u);
  BOOST_TEST(got.uid == 4294967294u);
  BOOST_TEST(got.uploaded_at == 4102444800);
  BOOST_TEST(got.reason == e.reason);
  BOOST_TEST(got.retry_at == 1768435200);
  BOOST_TEST(got.attempts == 7u);
  BOOST_TEST(got.missing_since == 1768400000);
  BOOST_TEST(got.message_id == e.message_id);
  BOOST_TEST(got.folder == e.folder);
}

// Within one commit the last change of a key wins (a message recorded InFlight, then Uploaded,
// in one window).
BOOST_DATA_TEST_CASE(testLastChangeOfAKeyInOneCommitWins, kBackends, backend) {
  auto store = storeFor(backend);
  auto ledger = store->open();
  ledger->commit("work", {{test::ledgerEntry("a", LedgerState::InFlight), false},
                          {test::ledgerEntry("a", LedgerState::Uploaded), false},
                          {test::ledgerEntry("b", LedgerState::InFlight), false},
                          {test::ledgerEntry("b", LedgerState::InFlight), true}});
  const auto rows = ledger->load("work");
  BOOST_REQUIRE(rows.size() == 1u);
  BOOST_TEST((rows.at("a").state == LedgerState::Uploaded));
  ledger->commit("work", {});  // nothing to do is no error
  BOOST_TEST(ledger->load("work").size() == 1u);
}

BOOST_DATA_TEST_CASE(testStateSurvivesReopening, kBackends, backend) {
  auto store = storeFor(backend);
  {
    auto ledger = store->open();
    ledger->commit("work", {{test::ledgerEntry("a", LedgerState::InFlight), false}});
    ledger->commit("work", {{test::ledgerEntry("a", LedgerState::Uploaded), false}});
  }
  auto again = store->open();
  BOOST_TEST((again->load("work").at("a").state == LedgerState::Uploaded));
}

// Two ledgers open on one store at once (two processes, or replicas on one database): what one
// commits the other reads.
BOOST_DATA_TEST_CASE(testACommitIsSeenByAnotherConnection, kBackends, backend) {
  auto store = storeFor(backend);
  auto one = store->open();
  auto two = store->open();
  one->commit("work", {{test::ledgerEntry("a", LedgerState::Uploaded), false}});
  BOOST_TEST((two->load("work").at("a").state == LedgerState::Uploaded));
  two->commit("work", {{test::ledgerEntry("a", LedgerState::Deleted), false}});
  BOOST_TEST((one->load("work").at("a").state == LedgerState::Deleted));
}

BOOST_DATA_TEST_CASE(testForgetAndPrune, kBackends, backend) {
  auto store = storeFor(backend);
  auto ledger = store->open();
  ledger->commit("work", {{test::ledgerEntry("a", LedgerState::Uploaded), false},
                          {test::ledgerEntry("b", LedgerState::Deleted), false},
                          {test::ledgerEntry("dup sha256:ff", LedgerState::Uploaded), false},
                          {test::ledgerEntry("c", LedgerState::InFlight), false}});
  ledger->commit("work", {{test::ledgerEntry("c", LedgerState::InFlight), true}});
  BOOST_TEST(ledger->load("work").count("c") == 0u);
  // "b" was deleted by popgate and left the server: forgotten at once. The content-keyed row
  // of "dup" stays while "dup" is listed.
  BOOST_TEST(ledger->prune("work", {"a", "dup"}, 1000, 100) == 1u);
  const auto rows = ledger->load("work");
  BOOST_TEST(rows.count("a") == 1u);
  BOOST_TEST(rows.count("b") == 0u);
  BOOST_TEST(rows.count("dup sha256:ff") == 1u);
}

BOOST_DATA_TEST_CASE(testServerHidingMessagesForAWhileDoesNotEraseTheirHistory, kBackends,
                     backend) {
  // An uploaded message missing from one listing (a server glitch, an empty UIDL answer) is
  // remembered through the grace period, so it is not uploaded again when it comes back.
  auto store = storeFor(backend);
  auto ledger = store->open();
  ledger->commit("work", {{test::ledgerEntry("a", LedgerState::Uploaded), false}});
  BOOST_TEST(ledger->prune("work", {}, 1000, 100) == 0u);
  BOOST_TEST(ledger->load("work").at("a").missing_since == 1000);
  BOOST_TEST(ledger->prune("work", {}, 1050, 100) == 0u);
  BOOST_TEST(ledger->prune("work", {"a"}, 1060, 100) == 0u);  // back: no longer missing
  BOOST_TEST(ledger->load("work").at("a").missing_since == 0);
  BOOST_TEST(ledger->prune("work", {}, 2000, 100) == 0u);
  BOOST_TEST(ledger->prune("work", {}, 2101, 100) == 1u);  // gone for longer than the grace
  BOOST_TEST(ledger->load("work").empty());
}

BOOST_DATA_TEST_CASE(testAQuarantineNoticeIsForgottenWithTheLastRowOfItsMessage, kBackends,
                     backend) {
  auto store = storeFor(backend);
  auto ledger = store->open();
  QueuedNotice notice;
  notice.account = "work";
  notice.subject = "quarantined";
  const std::string once = quarantineNoticeKey("u7");
  ledger->commit("work", {{test::ledgerEntry("u7", LedgerState::Rejected), false},
                          {test::ledgerEntry("u8", LedgerState::Rejected), false}});
  BOOST_TEST(ledger->queueNoticeOnce(notice, once));
  BOOST_TEST(!ledger->queueNoticeOnce(notice, once));
  // The UIDL starts repeating: its row is renamed (content-keyed), the message is still there.
  ledger->commit("work", {{test::ledgerEntry("u7", LedgerState::Rejected), true},
                          {test::ledgerEntry("u7 sha256:ab", LedgerState::Rejected), false}});
  BOOST_TEST(!ledger->queueNoticeOnce(notice, once));
  // Another account's message, or another message, going changes nothing for it.
  ledger->commit("work", {{test::ledgerEntry("u8", LedgerState::Rejected), true}});
  ledger->commit("home", {{test::ledgerEntry("u7", LedgerState::Rejected), false}});
  ledger->commit("home", {{test::ledgerEntry("u7", LedgerState::Rejected), true}});
  BOOST_TEST(!ledger->queueNoticeOnce(notice, once));
  // The last row of u7 goes (it left the server): a u7 refused later is noticed again.
  BOOST_TEST(ledger->prune("work", {}, 1'000'000, 0) == 0u);  // missing from now on
  BOOST_TEST(ledger->prune("work", {}, 1'000'100, 10) == 1u);
  BOOST_TEST(ledger->load("work").empty());
  BOOST_TEST(ledger->queueNoticeOnce(notice, once));
  BOOST_TEST(ledger->notices().size() == 2u);
}

BOOST_DATA_TEST_CASE(testQuarantineIsTheRejectedRowsSoonestRetryFirst, kBackends, backend) {
  auto store = storeFor(backend);
  auto ledger = store->open();
  LedgerEntry r1 = test::ledgerEntry("r1", LedgerState::Rejected);
  r1.retry_at = 200;
  r1.reason = "A1 NO [LIMIT] too big";
  LedgerEntry r2 = test::ledgerEntry("r2", LedgerState::Rejected);
  r2.retry_at = 100;
  ledger->commit("work", {{r1, false}, {r2, false}, {test::ledgerEntry("u", LedgerState::Uploaded), false}});
  BOOST_TEST(ledger->load("work").size() == 3u);
  const auto q = ledger->quarantine("work");
  BOOST_REQUIRE(q.size() == 2u);
  BOOST_TEST(q[0].key == "r2");  // soonest retry first
  BOOST_TEST(q[1].reason == "A1 NO [LIMIT] too big");
}

// The backlog of a first pass and the record that the first pass is done go in one
// transaction: when the second part fails (here its table is gone), the first is not kept either,
// so a crash can never leave a half-recorded backlog that the next pass takes as complete.
BOOST_DATA_TEST_CASE(testFirstPassIsRecordedWithItsBacklogOrNotAtAll, kBackends, backend) {
  auto store = storeFor(backend);
  auto ledger = store->open();
  BOOST_TEST(!ledger->firstPassDone("isp").has_value());
  ledger->completeFirstPass("isp", {{test::ledgerEntry("old1", LedgerState::Existing), false},
                                    {test::ledgerEntry("old2", LedgerState::Existing), false}},
                            1768435200);
  BOOST_TEST(ledger->firstPassDone("isp").value_or(0) == 1768435200);
  BOOST_TEST(ledger->load("isp").size() == 2u);
  BOOST_TEST(!ledger->firstPassDone("work").has_value());  // per account

  store->sql("DROP TABLE accounts");
  try {
    ledger->completeFirstPass("work", {{test::ledgerEntry("w1", LedgerState::Existing), false}}, 1768435200);
    BOOST_FAIL("recorded a first pass without its table");
  } catch (const Error& e) {
    BOOST_TEST((e.kind() == ErrorKind::Internal));
    BOOST_TEST(std::string(e.what()).find(ledger->where()) != std::string::npos, e.what());
  }
  BOOST_TEST(ledger->load("work").empty());
}

// The upload volume per target and hour adds up, is kept per target, and hours older than two
// days go.
BOOST_DATA_TEST_CASE(testUploadVolumeAddsUpPerTargetAndHour, kBackends, backend) {
  auto store = storeFor(backend);
  auto ledger = store->open();
  const std::int64_t hour = 1768435200;  // on the hour
  ledger->addUpload("anna", hour + 10, 100);
  ledger->addUpload("anna", hour + 3599, 50);
  ledger->addUpload("anna", hour + 3600, 7);
  ledger->addUpload("ben", hour, 1);
  auto anna = ledger->uploadsSince("anna", hour);
  BOOST_REQUIRE(anna.size() == 2u);
  BOOST_TEST(anna.at(hour / 3600) == 150u);
  BOOST_TEST(anna.at(hour / 3600 + 1) == 7u);
  BOOST_TEST(ledger->uploadsSince("anna", hour + 3600).size() == 1u);
  BOOST_TEST(ledger->uploadsSince("ben", hour).at(hour / 3600) == 1u);
  ledger->addUpload("anna", hour + 50 * 3600, 1);  // two days on: the old hours go
  anna = ledger->uploadsSince("anna", 0);
  BOOST_TEST(anna.size() == 1u);
  BOOST_TEST(anna.count(hour / 3600 + 50) == 1u);
}

// Failure episodes, once-only notices and the notice queue.
BOOST_DATA_TEST_CASE(testNoticeEpisodesAndQueue, kBackends, backend) {
  auto store = storeFor(backend);
  auto ledger = store->open();
  BOOST_TEST(ledger->episodes().empty());
  QueuedNotice first;
  first.account = "work";
  first.subject = "popgate: work fails";
  first.body = "since 10:00\r\nRefused: -ERR [AUTH] nope\r\n";
  first.created = 1768435200;
  first.to_mailbox = true;
  first.to_webhook = true;
  ledger->saveEpisode("work", NoticeEpisode{100, 3, true, 1, "refused 'x'"}, first);
  const auto episodes = ledger->episodes();
  BOOST_REQUIRE(episodes.count("work") == 1u);
  BOOST_TEST(episodes.at("work").since == 100);
  BOOST_TEST(episodes.at("work").failures == 3u);
  BOOST_TEST(episodes.at("work").noticed);
  BOOST_TEST(episodes.at("work").kind == 1);
  BOOST_TEST(episodes.at("work").error == "refused 'x'");
  ledger->saveEpisode("work", NoticeEpisode{100, 4, true, 2, "again"});  // replaced
  BOOST_TEST(ledger->episodes().at("work").failures == 4u);

  QueuedNotice second;
  second.account = "work";
  second.subject = "quarantined";
  second.to_webhook = true;
  BOOST_TEST(ledger->queueNoticeOnce(second, "quarantine u2"));
  BOOST_TEST(!ledger->queueNoticeOnce(second, "quarantine u2"));  // once, ever
  BOOST_TEST(ledger->queueNoticeOnce(second, "quarantine u3"));
  auto queued = ledger->notices();
  BOOST_REQUIRE(queued.size() == 3u);
  BOOST_TEST(queued[0].subject == "popgate: work fails");  // oldest first
  BOOST_TEST(queued[0].body == first.body);
  BOOST_TEST(queued[0].created == 1768435200);
  BOOST_TEST(queued[0].to_mailbox);
  BOOST_TEST(queued[0].id < queued[1].id);

  QueuedNotice round = queued[0];
  round.to_mailbox = false;  // appended; the webhook still to go
  round.attempts = 2;
  round.next_try = 1768435300;
  ledger->updateNotice(round);
  queued = ledger->notices();
  BOOST_REQUIRE(queued.size() == 3u);
  BOOST_TEST(!queued[0].to_mailbox);
  BOOST_TEST(queued[0].attempts == 2u);
  BOOST_TEST(queued[0].next_try == 1768435300);
  round.to_webhook = false;  // nothing left: the row goes
  ledger->updateNotice(round);
  BOOST_TEST(ledger->notices().size() == 2u);

  ledger->saveEpisode("work", std::nullopt);  // the episode ends
  BOOST_TEST(ledger->episodes().empty());
}

// A pass that finds a big backlog, or forgets many rows at once, writes them all: more rows than
// one statement carries (PostgresLedger batches 500 a statement).
BOOST_DATA_TEST_CASE(testACommitOfManyRowsWritesThemAll, kBackends, backend) {
  auto store = storeFor(backend);
  auto ledger = store->open();
  std::vector<LedgerChange> changes;
  for (int i = 0; i < 1201; ++i) {
    changes.push_back({test::ledgerEntry("m" + std::to_string(i), LedgerState::Existing), false});
  }
  ledger->completeFirstPass("isp", changes, 1768435200);
  BOOST_TEST(ledger->load("isp").size() == 1201u);
  for (LedgerChange& c : changes) c.forget = true;
  changes.pop_back();  // one stays
  ledger->commit("isp", changes);
  const auto left = ledger->load("isp");
  BOOST_REQUIRE(left.size() == 1u);
  BOOST_TEST(left.begin()->first == "m1200");
}

namespace {

// A ledger with something in every table, for two accounts and two targets.
void fillEveryTable(Ledger& ledger) {
  LedgerEntry rejected = test::ledgerEntry("r1 sha256:" + std::string(64, 'b'), LedgerState::Rejected);
  rejected.reason = "NO [LIMIT] 'zu groß' \\ \"x\"";
  rejected.retry_at = 1768435300;
  rejected.attempts = 2;
  ledger.completeFirstPass("work", {{test::ledgerEntry("old", LedgerState::Existing), false}},
                           1768435200);
  ledger.commit("work", {{test::ledgerEntry("u1", LedgerState::Uploaded), false}, {rejected, false}});
  ledger.commit("home", {{test::ledgerEntry("h1", LedgerState::InFlight), false}});
  QueuedNotice notice;
  notice.account = "work";
  notice.subject = "popgate: a message of work is in quarantine";
  notice.body = "r1\r\n";
  notice.created = 1768435250;
  notice.to_webhook = true;
  ledger.queueNoticeOnce(notice, quarantineNoticeKey("r1"));
  notice.account = "home";
  notice.subject = "popgate: home fails";
  ledger.saveEpisode("home", NoticeEpisode{1768435000, 3, true, 1, "-ERR [AUTH] nope"}, notice);
  ledger.addUpload("anna", 1768435200, 4096);
  ledger.addUpload("ben", 1768435200 + 3600, 1);
}

// The image with the store's notice ids set to 0 (ids are each store's own).
LedgerImage withoutIds(LedgerImage image) {
  for (auto& [name, account] : image.accounts) {
    for (QueuedNotice& n : account.notices) n.id = 0;
  }
  return image;
}

}  // namespace

// Moving a ledger: everything of one ledger, written into an empty one of the other kind
// (SQLite into PostgreSQL, and back), reads back the same.
BOOST_DATA_TEST_CASE(testAWholeLedgerMovesIntoAnotherKind, kBackends, backend) {
  auto from_store = storeFor(backend);
  auto to_store = storeFor(backend == "sqlite" ? "postgresql" : "sqlite");
  auto from = from_store->open();
  fillEveryTable(*from);
  const LedgerImage image = from->image();
  BOOST_TEST(image.accounts.size() == 2u);
  BOOST_TEST(image.accounts.at("work").rows.size() == 3u);
  BOOST_TEST(image.accounts.at("work").notice_keys.count("quarantine r1") == 1u);
  BOOST_TEST(image.accounts.at("home").notices.size() == 1u);
  BOOST_TEST(image.accounts.at("home").episode.has_value());
  BOOST_TEST(!image.accounts.at("home").first_pass_at.has_value());
  BOOST_TEST(image.uploads.at("anna").at(1768435200 / 3600) == 4096u);

  auto to = to_store->open();
  to->restore(image, false);
  BOOST_TEST((withoutIds(to->image()) == withoutIds(image)));
  BOOST_TEST((to->firstPassDone("work") == std::optional<std::int64_t>(1768435200)));
  // The quarantine notice key moved with it: the message is not noticed twice.
  QueuedNotice again;
  again.account = "work";
  BOOST_TEST(!to->queueNoticeOnce(again, quarantineNoticeKey("r1")));
}

// An import never mixes with what the destination already knows of an account: refused (and
// nothing written, not even the other accounts) unless asked to replace.
BOOST_DATA_TEST_CASE(testRestoreRefusesAnAccountTheLedgerHasUnlessReplacing, kBackends, backend) {
  auto source_store = storeFor(backend);
  auto source = source_store->open();
  fillEveryTable(*source);
  const LedgerImage image = source->image();
  auto store = storeFor(backend);
  auto ledger = store->open();
  ledger->commit("work", {{test::ledgerEntry("mine", LedgerState::Deleted), false}});
  try {
    ledger->restore(image, false);
    BOOST_FAIL("an import mixed with an account's rows");
  } catch (const Error& e) {
    BOOST_TEST((e.kind() == ErrorKind::Config), e.what());
    BOOST_TEST(std::string(e.what()).find("work") != std::string::npos, e.what());
  }
  BOOST_TEST(ledger->load("work").size() == 1u);
  BOOST_TEST(ledger->load("home").empty());
  BOOST_TEST(ledger->notices().empty());
  ledger->restore(image, true);
  BOOST_TEST((withoutIds(ledger->image()) == withoutIds(image)));
  BOOST_TEST(ledger->load("work").count("mine") == 0u);
}

BOOST_AUTO_TEST_CASE(testUidlOfKey) {
  BOOST_TEST(uidlOfKey("abc") == "abc");
  BOOST_TEST(uidlOfKey("abc sha256:00ff") == "abc");
}

// --- PostgreSQL only ---

// popgate creates its tables and records the schema version; a database written by a newer
// popgate is refused with the URL in the text.
BOOST_AUTO_TEST_CASE(testPostgresSchemaIsVersionedAndANewerOneRefused) {
  const std::string name = "suite_version";
  const std::string url = postgres().createDatabase(name);
  { PostgresLedger ledger(databaseOf(url, postgres().password())); }
  BOOST_TEST(postgres().query("SELECT version FROM schema_version", name) ==
             std::to_string(PostgresLedger::kSchemaVersion));
  { PostgresLedger again(databaseOf(url, postgres().password())); }  // opening again: no change
  BOOST_TEST(postgres().query("SELECT count(*) FROM schema_version", name) == "1");
  postgres().query("UPDATE schema_version SET version = 99", name);
  try {
    PostgresLedger newer(databaseOf(url, postgres().password()));
    BOOST_FAIL("opened a ledger of a newer popgate");
  } catch (const Error& e) {
    BOOST_TEST((e.kind() == ErrorKind::Internal));
    BOOST_TEST(std::string(e.what()).find(url) != std::string::npos, e.what());
    BOOST_TEST(std::string(e.what()).find("newer popgate") != std::string::npos, e.what());
  }
}

// A wrong password is an Error naming the database and PostgreSQL's reason, never the password
// that was tried.
BOOST_AUTO_TEST_CASE(testPostgresLoginFailureNamesTheDatabaseNotThePassword) {
  const std::string url = postgres().url();
  const std::string tried = "Wr0ng-Passw0rd-7731";
  try {
    PostgresLedger ledger(databaseOf(url, tried));
    BOOST_FAIL("logged in with a wrong password");
  } catch (const Error& e) {
    const std::string text = e.what();
    BOOST_TEST((e.kind() == ErrorKind::Internal));
    BOOST_TEST(text.find(url) != std::string::npos, text);
    BOOST_TEST(text.find("password authentication failed") != std::string::npos, text);
    BOOST_TEST(text.find(tried) == std::string::npos, text);
  }
}

// Replicas started together open one fresh database at once: the schema is made once (an
// advisory lock serialises them) and every one of them works.
BOOST_AUTO_TEST_CASE(testPostgresReplicasOpeningAtOnceMigrateOnce) {
  const std::string name = "suite_together";
  const std::string url = postgres().createDatabase(name);
  constexpr int kReplicas = 4;
  std::atomic<int> opened{0};
  std::vector<std::string> errors(kReplicas);
  std::vector<std::thread> threads;
  for (int i = 0; i < kReplicas; ++i) {
    threads.emplace_back([&, i] {
      try {
        PostgresLedger ledger(databaseOf(url, postgres().password()));
        ledger.commit("r" + std::to_string(i), {{test::ledgerEntry("a", LedgerState::Uploaded), false}});
        ++opened;
      } catch (const std::exception& e) {
        errors[static_cast<std::size_t>(i)] = e.what();
      }
    });
  }
  for (auto& t : threads) t.join();
  for (const auto& e : errors) BOOST_TEST(e.empty(), e);
  BOOST_TEST(opened.load() == kReplicas);
  BOOST_TEST(postgres().query("SELECT count(*) FROM schema_version", name) == "1");
  BOOST_TEST(postgres().query("SELECT count(*) FROM messages", name) == std::to_string(kReplicas));
}

// A connection the server ends (a restart, a failover, an idle timeout) is opened again: the call
// that finds it gone fails as a ledger error, the next one works.
BOOST_AUTO_TEST_CASE(testPostgresConnectionLostIsOpenedAgain) {
  PostgresStore store;
  auto ledger = store.open();
  ledger->commit("work", {{test::ledgerEntry("a", LedgerState::Uploaded), false}});
  postgres().query(
      "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
      " WHERE application_name = 'popgate'");
  bool recovered = false;
  for (int attempt = 0; attempt < 3 && !recovered; ++attempt) {
    try {
      recovered = ledger->load("work").size() == 1u;
    } catch (const Error& e) {
      BOOST_TEST((e.kind() == ErrorKind::Internal));
    }
  }
  BOOST_TEST(recovered);
  ledger->commit("work", {{test::ledgerEntry("b", LedgerState::Uploaded), false}});
  BOOST_TEST(ledger->load("work").size() == 2u);
}

// --- Leases and fencing (PostgreSQL) ---

namespace {

// The takeover grace where a case is not about it.
constexpr std::chrono::milliseconds kGrace{20000};

// Makes `account`'s lease look expired, as if its holder had been paused past lease_ttl.
void expireLease(const std::string& database, const std::string& account) {
  postgres().query("UPDATE leases SET expires_at = clock_timestamp() - interval '1 second'"
                   " WHERE account = '" + account + "'",
                   database);
}

}  // namespace

// A lease goes to one replica at a time: renewing keeps the epoch, another replica is refused
// until it expires or is given up, and each change of hands raises the epoch. A lease taken from
// one that lapsed settles `grace` after the old expiry (renewals keep that time); one given up
// after clean passes settles at once, one given up after a failed pass like a lapse.
BOOST_AUTO_TEST_CASE(testPostgresLeaseHasOneHolderAndTheEpochRisesWithEachChangeOfHands) {
  const std::string name = "lease_hands";
  const std::string url = postgres().createDatabase(name);
  PostgresLedger a(databaseOf(url, postgres().password()));
  PostgresLedger b(databaseOf(url, postgres().password()));
  const auto ttl = std::chrono::seconds(30);
  const auto grace = std::chrono::milliseconds(20000);
  const auto first = a.acquire("work", "replica-a", ttl, grace);
  BOOST_REQUIRE(first.has_value());
  BOOST_TEST(first->hold.epoch == 1);
  BOOST_TEST(first->settle.count() == 0);  // never held before: nothing can be in flight
  BOOST_TEST(a.acquire("work", "replica-a", ttl, grace)->hold.epoch == 1);  // renewed: same epoch
  BOOST_TEST(!b.acquire("work", "replica-b", ttl, grace).has_value());  // held by a
  expireLease(name, "work");  // lapsed a second ago
  const auto taken = b.acquire("work", "replica-b", ttl, grace);
  BOOST_REQUIRE(taken.has_value());
  BOOST_TEST(taken->hold.epoch == 2);
  BOOST_TEST(taken->settle.count() > 17000);  // about 19 s: the grace after the old expiry
  BOOST_TEST(taken->settle.count() <= 19000);
  const auto renewed = b.acquire("work", "replica-b", ttl, grace);
  BOOST_TEST(renewed->hold.epoch == 2);
  BOOST_TEST(renewed->settle.count() > 0);  // what is left of it
  BOOST_TEST(renewed->settle.count() <= taken->settle.count());
  BOOST_TEST(!a.acquire("work", "replica-a", ttl, grace).has_value());  // a came back too late
  b.release("work", taken->hold, true);  // given up before it settled (a rebalance)...
  const auto again = a.acquire("work", "replica-a", ttl, grace);  // ... taken at once...
  BOOST_TEST(again->hold.epoch == 3);
  BOOST_TEST(again->settle.count() > 17000);  // ... but not polled before it has settled
  BOOST_TEST(again->settle.count() <= taken->settle.count());
  // Another account, settled: given up after clean passes, the next holder starts at once;
  // given up after a failed pass, it waits the grace.
  const auto home = a.acquire("home", "replica-a", ttl, grace);
  a.release("home", home->hold, true);
  const auto moved = b.acquire("home", "replica-b", ttl, grace);
  BOOST_TEST(moved->hold.epoch == 2);
  BOOST_TEST(moved->settle.count() == 0);
  b.release("home", moved->hold, false);
  const auto after_failure = a.acquire("home", "replica-a", ttl, grace);
  BOOST_TEST(after_failure->hold.epoch == 3);
  BOOST_TEST(after_failure->settle.count() > 19000);
  a.release("home", after_failure->hold, true);
  const auto rows = b.leases();
  BOOST_REQUIRE(rows.size() == 2u);
  BOOST_TEST(rows[1].account == "work");
  BOOST_TEST(rows[1].holder == "replica-a");
  BOOST_TEST(rows[1].epoch == 3);
  // Heartbeats: both alive, sorted; one that leaves is gone at once.
  a.heartbeat("replica-a", ttl);
  BOOST_TEST((b.heartbeat("replica-b", ttl) == std::vector<std::string>{"replica-a", "replica-b"}));
  a.leave("replica-a");
  BOOST_TEST((b.heartbeat("replica-b", ttl) == std::vector<std::string>{"replica-b"}));
}

// The paused replica: it held the account, was stopped past its lease, another replica took the
// account over; when it wakes up, its late commit is refused in the commit's own transaction
// (nothing of it is written) and so is its check before DELE. The new holder's writes go through.
BOOST_AUTO_TEST_CASE(testPostgresStaleHolderCommitIsRefusedByFencing) {
  const std::string name = "lease_fence";
  const std::string url = postgres().createDatabase(name);
  PostgresLedger stale(databaseOf(url, postgres().password()));
  PostgresLedger fresh(databaseOf(url, postgres().password()));
  const auto ttl = std::chrono::seconds(30);
  const LeaseHold old_hold = stale.acquire("work", "replica-a", ttl, kGrace)->hold;
  stale.commitHeld("work", {{test::ledgerEntry("m1", LedgerState::InFlight), false}}, std::nullopt, old_hold);
  BOOST_TEST(stale.load("work").size() == 1u);  // while held, writes go through

  expireLease(name, "work");  // replica-a paused past lease_ttl ...
  const LeaseHold new_hold = fresh.acquire("work", "replica-b", ttl, kGrace)->hold;  // b takes it
  try {
    stale.commitHeld("work", {{test::ledgerEntry("m1", LedgerState::Uploaded), false}}, std::nullopt, old_hold);
    BOOST_FAIL("a stale holder recorded an upload");
  } catch (const Error& e) {
    BOOST_TEST((e.kind() == ErrorKind::Fenced), e.what());
    BOOST_TEST(std::string(e.what()).find("work") != std::string::npos, e.what());
  }
  BOOST_CHECK_THROW(stale.checkHold("work", old_hold), Error);
  BOOST_CHECK_THROW(stale.commitHeld("work", {}, 1768435200, old_hold), Error);
  BOOST_TEST((fresh.load("work").at("m1").state == LedgerState::InFlight));  // nothing written
  BOOST_TEST(!fresh.firstPassDone("work").has_value());

  fresh.checkHold("work", new_hold);
  fresh.commitHeld("work", {{test::ledgerEntry("m1", LedgerState::Uploaded), false}}, std::nullopt, new_hold);
  BOOST_TEST((stale.load("work").at("m1").state == LedgerState::Uploaded));

  // An expired lease fences its own holder too, even before anyone takes it.
  expireLease(name, "work");
  BOOST_CHECK_THROW(fresh.commitHeld("work", {{test::ledgerEntry("m2", LedgerState::InFlight), false}},
                                     std::nullopt, new_hold),
                    Error);
  BOOST_TEST(fresh.load("work").count("m2") == 0u);
}

// A pass's view of the ledger (HeldLedger) fences its writes, asks before DELE, and passes reads
// and notices through.
BOOST_AUTO_TEST_CASE(testPostgresPassViewWritesUnderItsLease) {
  const std::string name = "lease_view";
  const std::string url = postgres().createDatabase(name);
  PostgresLedger ledger(databaseOf(url, postgres().password()));
  const LeaseHold hold = ledger.acquire("work", "replica-a", std::chrono::seconds(30), kGrace)->hold;
  HeldLedger view(ledger, "work", hold);
  view.completeFirstPass("work", {{test::ledgerEntry("old", LedgerState::Existing), false}}, 1768435200);
  view.commit("work", {{test::ledgerEntry("m1", LedgerState::Uploaded), false}});
  view.confirmHold("work");
  BOOST_TEST(view.load("work").size() == 2u);
  BOOST_TEST(view.prune("work", {"m1"}, 1000, 100) == 0u);
  BOOST_CHECK_THROW(view.commit("isp", {{test::ledgerEntry("x", LedgerState::Uploaded), false}}), Error);
  expireLease(name, "work");
  try {
    view.confirmHold("work");
    BOOST_FAIL("confirmed a lost lease");
  } catch (const Error& e) {
    BOOST_TEST((e.kind() == ErrorKind::Fenced));
  }
  BOOST_CHECK_THROW(view.commit("work", {{test::ledgerEntry("m1", LedgerState::Deleted), false}}), Error);
  BOOST_TEST((ledger.load("work").at("m1").state == LedgerState::Uploaded));
}

// SQLite has no leases: a pass's view writes as the plain ledger does.
// An import while a replica holds a lease of an imported account is refused: the replica would
// write beside it.
BOOST_AUTO_TEST_CASE(testPostgresRestoreIsRefusedWhileAReplicaHoldsAnAccount) {
  const std::string name = "restore_leased";
  const std::string url = postgres().createDatabase(name);
  PostgresLedger ledger(databaseOf(url, postgres().password()));
  ledger.acquire("work", "replica-a", std::chrono::seconds(30), kGrace);
  LedgerImage image;
  image.accounts["work"].rows["m1"] = test::ledgerEntry("m1", LedgerState::Uploaded);
  try {
    ledger.restore(image, true);
    BOOST_FAIL("an import went in beside a running replica");
  } catch (const Error& e) {
    BOOST_TEST((e.kind() == ErrorKind::Config), e.what());
    BOOST_TEST(std::string(e.what()).find("replica-a") != std::string::npos, e.what());
  }
  BOOST_TEST(ledger.load("work").empty());
  expireLease(name, "work");  // the replica stopped: its lease ran out
  ledger.restore(image, false);
  BOOST_TEST(ledger.load("work").size() == 1u);
}

BOOST_AUTO_TEST_CASE(testSqlitePassViewJustWrites) {
  SqliteStore store;
  auto ledger = store.open();
  HeldLedger view(*ledger, "work", LeaseHold{"any", 1});
  view.commit("work", {{test::ledgerEntry("m1", LedgerState::Uploaded), false}});
  view.confirmHold("work");
  BOOST_TEST(ledger->load("work").size() == 1u);
}
