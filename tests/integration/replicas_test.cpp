// Three `popgate run` replicas sharing one PostgreSQL ledger (lease_ttl 5 s) deliver six accounts
// (keep: false) from a real Dovecot: the accounts are spread over the three, every message arrives
// exactly once; kill -9 one replica with more mail arriving, and the other two take its accounts
// over: again nothing lost, nothing duplicated, every POP box empty; SIGSTOP another past its
// lease and SIGCONT it: the same.
#include <boost/test/unit_test.hpp>

#include <csignal>
#include <set>

#include "tests/support/GatewaySetup.h"
#include "tests/support/Messages.h"
#include "tests/support/PostgresSandbox.h"
#include "tests/support/PromText.h"
#include "tests/support/RunningDaemon.h"

using namespace std::chrono_literals;
using namespace popgate::test;

namespace {

constexpr std::size_t kAccounts = 6;

std::string user(std::size_t i) { return "acct" + std::to_string(i); }
std::string folder(std::size_t i) { return "From" + std::to_string(i); }

}  // namespace

BOOST_AUTO_TEST_CASE(testThreeReplicasShareTheAccountsAndTakeOverFromAKilledOne) {
  PostgresSandbox pg;
  const std::string url = pg.createDatabase("replicas");
  std::vector<std::string> users{"me"};
  for (std::size_t i = 0; i < kAccounts; ++i) users.push_back(user(i));
  DovecotSandbox dovecot(users);
  std::vector<AccountSetup> accounts;
  for (std::size_t i = 0; i < kAccounts; ++i) {
    accounts.push_back(AccountSetup{user(i), folder(i), "none", false, {}, interval("1s")});
  }
  std::vector<std::vector<std::string>> sent(kAccounts);
  auto deliverMore = [&](std::size_t round, std::size_t per_account) {
    for (std::size_t i = 0; i < kAccounts; ++i) {
      std::vector<std::string> batch;
      for (std::size_t n = 0; n < per_account; ++n) {
        batch.push_back(bulkMessage(1000 * round + 100 * i + n, 600));
        sent[i].push_back(popDelivered(batch.back()));
      }
      dovecot.seedMany(user(i), batch);
    }
  };
  // Every box empty and every folder exactly what was sent to its account.
  auto allDelivered = [&] {
    for (std::size_t i = 0; i < kAccounts; ++i) {
      if (dovecot.popBoxSize(user(i)) != 0) return false;
      if (countOrZero(dovecot, "me", folder(i)) < sent[i].size()) return false;
    }
    return true;
  };
  auto checkExact = [&] {
    for (std::size_t i = 0; i < kAccounts; ++i) {
      const Tally t = tally(sent[i], dovecot.messages("me", folder(i)));
      BOOST_TEST(t.exact(), user(i) << ": " << t);
      BOOST_TEST(dovecot.popBoxSize(user(i)) == 0u);
    }
  };
  auto liveHolders = [&] {
    return pg.query("SELECT count(DISTINCT holder) FROM leases WHERE expires_at > clock_timestamp()",
                    "replicas");
  };

  auto liveLeases = [&] {
    return pg.query("SELECT count(*) FROM leases WHERE expires_at > clock_timestamp()", "replicas");
  };

  deliverMore(1, 5);
  std::vector<std::unique_ptr<RunningDaemon>> replicas;
  for (int r = 0; r < 3; ++r) {
    auto d = std::make_unique<RunningDaemon>(dovecot, accounts);
    const auto secret = d->dir.writePrivate("secrets/pg", pg.password() + "\n");
    d->config = writeGatewayConfig(d->dir, dovecot, "me", accounts,
                                   d->adminYaml() + "database:\n  url: " + url +
                                       "\n  password_file: " + secret.string() +
                                       "\n  lease_ttl: 5s\n");
    d->start();
    replicas.push_back(std::move(d));
  }
  BOOST_TEST_REQUIRE(waitFor(allDelivered, 60s), "first round not delivered");
  checkExact();
  // Spread: within a few renewal rounds every replica holds a share (2 accounts each).
  // (A replica gives an account up only after the newcomer has shown up, so the two are waited
  // for together.)
  auto largestShare = [&] {
    return pg.query("SELECT max(n) FROM (SELECT count(*) AS n FROM leases"
                    " WHERE expires_at > clock_timestamp() GROUP BY holder) AS shares",
                    "replicas");
  };
  BOOST_TEST(waitFor([&] { return liveHolders() == "3" && largestShare() == "2"; }, 30s),
             "holders: " << liveHolders() << ", largest share: " << largestShare());

  // /status of any replica shows the whole cluster: the three replicas, every account's lease.
  auto cluster = replicas[2]->status()->getObject("cluster");
  BOOST_REQUIRE(cluster);
  BOOST_TEST(cluster->getArray("leases")->size() == kAccounts);
  BOOST_TEST(cluster->getArray("replicas")->size() == 3u);
  std::set<std::string> holders;
  for (std::size_t i = 0; i < kAccounts; ++i) {
    holders.insert(cluster->getArray("leases")->getObject(static_cast<unsigned>(i))
                       ->getValue<std::string>("holder"));
  }
  BOOST_TEST(holders.count(cluster->getValue<std::string>("replica")) == 1u);

  // /metrics of that replica: three live replicas, its own share held (two accounts, labelled
  // with its id), every account's lease expiry; promtool accepts the exposition.
  const std::string replica_id = cluster->getValue<std::string>("replica");
  const HttpResponse metrics = httpRequest("GET", replicas[2]->port, "/metrics", kAdminToken);
  BOOST_REQUIRE(metrics.status == 200);
  const auto families = parseExposition(metrics.body);
  BOOST_TEST(value(families, "popgate_cluster_replicas", "popgate_cluster_replicas", {}) == 3);
  double held = 0;
  for (const Sample& sample : family(families, "popgate_lease_held").samples) {
    BOOST_TEST(sample.labels.at("replica") == replica_id);
    held += sample.value;
  }
  BOOST_TEST(held == 2);
  const Family& expiry = family(families, "popgate_lease_expiry_timestamp_seconds");
  BOOST_TEST(expiry.samples.size() == kAccounts);
  for (const Sample& sample : expiry.samples) {
    BOOST_TEST(sample.value > 0, sample.labels.at("account"));
  }
  const auto exposition = replicas[2]->dir.write("metrics.txt", metrics.body);
  const CommandResult lint =
      runCommand({"sh", "-c", "promtool check metrics < '" + exposition.string() + "'"}, 30s);
  BOOST_TEST(lint.exit_code == 0, "promtool check metrics: " << lint.out << lint.err);

  // kill -9 one replica with fresh mail arriving: the two others take its accounts over after
  // the lease (5 s) and deliver everything, once.
  replicas[0]->process->kill(SIGKILL);
  replicas[0]->process->wait(10s);
  deliverMore(2, 4);
  BOOST_TEST_REQUIRE(waitFor(allDelivered, 90s), "second round not delivered after the kill");
  checkExact();
  BOOST_TEST(waitFor([&] { return liveHolders() == "2"; }, 30s), "holders: " << liveHolders());
  BOOST_TEST(waitFor([&] { return liveLeases() == std::to_string(kAccounts); }, 30s),
             "live leases: " << liveLeases());

  // SIGSTOP another one past its lease (a VM stall, a GC pause): the last replica takes every
  // account over; SIGCONT: the paused one finds its holds lapsed by its own clock and its late
  // writes fenced, so it deletes nothing on its own and duplicates nothing; then the two share
  // again.
  replicas[1]->process->kill(SIGSTOP);
  deliverMore(3, 3);
  BOOST_TEST_REQUIRE(waitFor(allDelivered, 90s), "third round not delivered while one was paused");
  checkExact();
  BOOST_TEST(waitFor([&] { return liveHolders() == "1"; }, 30s), "holders: " << liveHolders());
  replicas[1]->process->kill(SIGCONT);
  deliverMore(4, 3);
  BOOST_TEST_REQUIRE(waitFor(allDelivered, 90s), "fourth round not delivered after SIGCONT");
  checkExact();
  BOOST_TEST(waitFor([&] { return liveHolders() == "2"; }, 30s), "holders: " << liveHolders());

  for (std::size_t r = 1; r < replicas.size(); ++r) {
    BOOST_TEST(replicas[r]->stop() == 0, replicas[r]->log());
  }
  // A clean stop gives the leases up at once.
  BOOST_TEST(liveLeases() == "0");
}
