// The real popgate with `database:` against a real Dovecot and a real PostgreSQL 15: the ledger is
// in the database, so a second popgate with its own state_dir knows what the first delivered
// (nothing uploaded twice), a database it cannot log into is named without the password, and
// `once` polls only accounts whose lease it gets.
#include <boost/test/unit_test.hpp>

#include "tests/support/GatewaySetup.h"
#include "tests/support/Messages.h"
#include "tests/support/PostgresSandbox.h"

using namespace popgate::test;

BOOST_AUTO_TEST_CASE(testTwoProcessesWithTheirOwnStateDirShareOneLedger) {
  PostgresSandbox pg;
  const std::string url = pg.createDatabase("shared");
  DovecotSandbox dovecot({"work", "me"});
  for (const auto& s : sampleMessages()) dovecot.seed("work", s.bytes);
  const std::size_t n = sampleMessages().size();

  TempDir first_dir, second_dir;  // two replicas: a state_dir each, one database
  const auto first = writeGatewayConfig(first_dir, dovecot, "me",
                                        {AccountSetup{"work", "Work", "implicit"}},
                                        databaseSection(first_dir, url, pg.password()));
  const auto second = writeGatewayConfig(second_dir, dovecot, "me",
                                         {AccountSetup{"work", "Work", "implicit"}},
                                         databaseSection(first_dir, url, pg.password()));
  const CommandResult one = runPopgate({"once", "--config", first.string()});
  BOOST_TEST_INFO("stdout: " << one.out << "\nstderr: " << one.err);
  BOOST_TEST(one.exit_code == 0);
  BOOST_TEST(one.out.find("work: " + std::to_string(n) + " uploaded") != std::string::npos);
  BOOST_TEST(pg.query("SELECT count(*) FROM messages WHERE account = 'work' AND state = 2",
                      "shared") == std::to_string(n));
  BOOST_TEST(!std::filesystem::exists(first_dir.path() / "state" / "ledger.sqlite"));

  const CommandResult two = runPopgate({"once", "--config", second.string()});
  BOOST_TEST_INFO("stdout: " << two.out << "\nstderr: " << two.err);
  BOOST_TEST(two.exit_code == 0);
  BOOST_TEST(two.out.find("work: 0 uploaded, " + std::to_string(n) + " already delivered") !=
             std::string::npos);
  BOOST_TEST(dovecot.count("me", "Work") == n);
}

BOOST_AUTO_TEST_CASE(testWrongDatabasePasswordFailsNamingTheDatabaseNotThePassword) {
  PostgresSandbox pg;
  const std::string url = pg.createDatabase("refused");
  DovecotSandbox dovecot({"work", "me"});
  TempDir dir;
  const auto config = writeGatewayConfig(dir, dovecot, "me", {AccountSetup{"work", "Work", "implicit"}},
                                         databaseSection(dir, url, "Not-The-Pg-Password-93"));
  const CommandResult r = runPopgate({"once", "--config", config.string()});
  BOOST_TEST_INFO("stdout: " << r.out << "\nstderr: " << r.err);
  BOOST_TEST(r.exit_code != 0);
  BOOST_TEST(r.err.find(url) != std::string::npos);
  BOOST_TEST(r.err.find("password authentication failed") != std::string::npos);
  BOOST_TEST(r.err.find("Not-The-Pg-Password-93") == std::string::npos);
  BOOST_TEST(r.out.find("Not-The-Pg-Password-93") == std::string::npos);
}

// `popgate once` on a shared ledger polls an account only under its lease: while a replica holds
// it, the account is left alone (reported, not polled); once free, it is polled and the lease is
// given up again at the end.
BOOST_AUTO_TEST_CASE(testOnceLeavesAnAccountAReplicaHoldsAlone) {
  PostgresSandbox pg;
  const std::string url = pg.createDatabase("once_leases");
  DovecotSandbox dovecot({"work", "me"});
  for (const auto& s : sampleMessages()) dovecot.seed("work", s.bytes);
  const std::size_t n = sampleMessages().size();
  TempDir dir;
  const auto config = writeGatewayConfig(dir, dovecot, "me",
                                         {AccountSetup{"work", "Work", "implicit", false}},
                                         databaseSection(dir, url, pg.password()));
  const CommandResult bootstrap = runPopgate({"once", "--config", config.string(), "--dry-run"});
  BOOST_REQUIRE_MESSAGE(bootstrap.exit_code == 0, bootstrap.err);  // creates the tables
  pg.query("INSERT INTO leases (account, holder, epoch, expires_at)"
           " VALUES ('work', 'replica-x', 7, clock_timestamp() + interval '1 hour')"
           " ON CONFLICT (account) DO UPDATE SET holder = excluded.holder,"
           " epoch = excluded.epoch, expires_at = excluded.expires_at",
           "once_leases");
  const CommandResult held = runPopgate({"once", "--config", config.string()});
  BOOST_TEST_INFO("stdout: " << held.out << "\nstderr: " << held.err);
  BOOST_TEST(held.exit_code != 0);
  BOOST_TEST(held.err.find("another replica holds it") != std::string::npos);
  BOOST_TEST(dovecot.popBoxSize("work") == n);  // untouched
  BOOST_TEST(countOrZero(dovecot, "me", "Work") == 0u);

  pg.query("DELETE FROM leases", "once_leases");
  const CommandResult free = runPopgate({"once", "--config", config.string()});
  BOOST_TEST_INFO("stdout: " << free.out << "\nstderr: " << free.err);
  BOOST_TEST(free.exit_code == 0);
  BOOST_TEST(dovecot.popBoxSize("work") == 0u);
  BOOST_TEST(dovecot.count("me", "Work") == n);
  BOOST_TEST(pg.query("SELECT count(*) FROM leases WHERE expires_at > clock_timestamp()",
                      "once_leases") == "0");  // given up at the end
}
