// Moving a single process's SQLite ledger into the PostgreSQL its replicas will share, with the
// real popgate against a real Dovecot and a real PostgreSQL 15: `popgate ledger export` from the
// SQLite config, `popgate ledger import` into the database config, and the next pass from the
// database knows everything the SQLite one delivered (nothing appended twice, counted in the
// target's own store). An import that would mix with what the database has is refused, and so
// is a move while a popgate still holds the SQLite ledger's state_dir.
#include <boost/test/unit_test.hpp>

#include "gateway/service/StateLock.h"
#include "tests/support/GatewaySetup.h"
#include "tests/support/Messages.h"
#include "tests/support/PostgresSandbox.h"

using namespace popgate::test;

namespace {

// The rows of the database as one text (account, key, state, uid), to see that nothing changed.
std::string rowsOf(PostgresSandbox& pg, const std::string& database) {
  return pg.query(
      "SELECT coalesce(string_agg(account || '/' || key || '/' || state || '/' || uid,"
      " ',' ORDER BY account, key), '') FROM messages",
      database);
}

}  // namespace

BOOST_AUTO_TEST_CASE(testASqliteLedgerMovedIntoPostgresDeliversNothingTwice) {
  PostgresSandbox pg;
  const std::string url = pg.createDatabase("moved");
  DovecotSandbox dovecot({"work", "me"});
  for (const auto& s : sampleMessages()) dovecot.seed("work", s.bytes);
  const std::size_t n = sampleMessages().size();
  const std::vector<AccountSetup> accounts{AccountSetup{"work", "Work", "implicit", true}};

  // The single process: SQLite in its state_dir; the messages stay on the server (keep: true).
  TempDir single_dir;
  const auto single = writeGatewayConfig(single_dir, dovecot, "me", accounts);
  const CommandResult once = runPopgate({"once", "--config", single.string()});
  BOOST_TEST_INFO("stdout: " << once.out << "\nstderr: " << once.err);
  BOOST_REQUIRE(once.exit_code == 0);
  BOOST_REQUIRE(dovecot.count("me", "Work") == n);

  const auto document = single_dir.path() / "ledger.json";
  {
    // While a popgate holds the state_dir, the ledger may still change: no export.
    const popgate::gateway::StateLock running(single_dir.path() / "state");
    const CommandResult held =
        runPopgate({"ledger", "export", "--config", single.string(), "--out", document.string()});
    BOOST_TEST_INFO("stderr: " << held.err);
    BOOST_TEST(held.exit_code == 2);
    BOOST_TEST(held.err.find("stop it first") != std::string::npos);
    BOOST_TEST(!std::filesystem::exists(document));
  }
  const CommandResult exported =
      runPopgate({"ledger", "export", "--config", single.string(), "--out", document.string()});
  BOOST_TEST_INFO("stderr: " << exported.err);
  BOOST_REQUIRE(exported.exit_code == 0);
  BOOST_TEST(exported.err.find("1 accounts, " + std::to_string(n) + " rows") != std::string::npos);

  // The replicas' config: the database, a state_dir of its own.
  TempDir shared_dir;
  const auto shared = writeGatewayConfig(shared_dir, dovecot, "me", accounts,
                                         databaseSection(shared_dir, url, pg.password()));
  const CommandResult imported =
      runPopgate({"ledger", "import", "--config", shared.string(), "--in", document.string()});
  BOOST_TEST_INFO("stderr: " << imported.err);
  BOOST_REQUIRE(imported.exit_code == 0);
  BOOST_TEST(pg.query("SELECT count(*) FROM messages WHERE account = 'work' AND state = 2",
                      "moved") == std::to_string(n));

  // A second import would mix with what the database has: refused, nothing changed.
  const std::string before = rowsOf(pg, "moved");
  const CommandResult again =
      runPopgate({"ledger", "import", "--config", shared.string(), "--in", document.string()});
  BOOST_TEST_INFO("stderr: " << again.err);
  BOOST_TEST(again.exit_code == 2);
  BOOST_TEST(again.err.find("already has rows of work") != std::string::npos);
  BOOST_TEST(rowsOf(pg, "moved") == before);

  // The next pass from the database: every message known as delivered; nothing appended again.
  const CommandResult next = runPopgate({"once", "--config", shared.string()});
  BOOST_TEST_INFO("stdout: " << next.out << "\nstderr: " << next.err);
  BOOST_TEST(next.exit_code == 0);
  BOOST_TEST(next.out.find("work: 0 uploaded, " + std::to_string(n) + " already delivered") !=
             std::string::npos);
  BOOST_TEST(dovecot.count("me", "Work") == n);
  BOOST_TEST(dovecot.popBoxSize("work") == n);  // keep: true
}
