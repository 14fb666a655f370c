// The PostgreSQL sandbox the shared-ledger and replica tests stand on: it starts as an unprivileged
// user, takes password logins over TCP on loopback, and gives each test its own database.
#include <boost/test/unit_test.hpp>

#include "tests/support/PostgresSandbox.h"

using popgate::test::CommandResult;
using popgate::test::PostgresSandbox;
using popgate::test::runCommand;

BOOST_AUTO_TEST_CASE(testSandboxServesOwnDatabasesAndPasswordLoginOverLoopback) {
  PostgresSandbox pg;
  BOOST_TEST(pg.query("select current_user") == "popgate");
  BOOST_TEST(pg.query("show server_version_num").substr(0, 2) == "15");
  std::string url = pg.createDatabase("sandbox_check");
  BOOST_TEST(url == "postgresql://popgate@127.0.0.1:" + std::to_string(pg.port()) + "/sandbox_check");
  BOOST_TEST(pg.query("create table t(a int); insert into t values (7); select a from t",
                      "sandbox_check") == "7");
  // Over TCP the password is required: right one accepted, wrong one refused.
  const std::vector<std::string> psql{"psql", "-X", "-Atq", "-h", "127.0.0.1", "-p",
                                      std::to_string(pg.port()), "-U", "popgate", "-d",
                                      "sandbox_check", "-c", "select a + 1 from t"};
  CommandResult good = runCommand(psql, std::chrono::seconds(30), {{"PGPASSWORD", pg.password()}});
  BOOST_TEST(good.exit_code == 0, good.err);
  BOOST_TEST(good.out == "8\n");
  CommandResult bad = runCommand(psql, std::chrono::seconds(30), {{"PGPASSWORD", "wrong"}});
  BOOST_TEST(bad.exit_code != 0);
  BOOST_TEST(bad.err.find("password authentication failed") != std::string::npos, bad.err);
  // A second database made with the same name starts empty.
  pg.createDatabase("sandbox_check");
  BOOST_TEST(pg.query("select count(*) from pg_tables where tablename = 't'", "sandbox_check") == "0");
}
