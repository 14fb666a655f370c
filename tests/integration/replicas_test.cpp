// Three `popgate run` replicas sharing one PostgreSQL ledger (lease_ttl 5 s) deliver thirty
// accounts (POP3S, keep: false) from a real Dovecot: the accounts are spread over the three, every
// message arrives exactly once; kill -9 one replica with more mail arriving, and the other two take
// its accounts over: again nothing lost, nothing duplicated, every POP box empty, and Dovecot's own
// log shows no account in two POP sessions at once; SIGSTOP another past its lease and SIGCONT it:
// nothing lost or duplicated either. And a replica paused in the middle of an APPEND's literal, its
// account taken over and the message delivered by another, cannot finish that APPEND when it
// wakes: its lease has lapsed by its own clock, so it sends no more bytes (no duplicate). And a
// replica killed with a whole APPEND still on its way through a slow network: the replica that
// takes the account over waits out the grace before it looks, finds the copy and appends none.
#include <boost/test/unit_test.hpp>

#include <csignal>
#include <set>
#include <sstream>

#include "tests/support/FaultProxy.h"
#include "tests/support/HeldAppend.h"
#include "tests/support/GatewaySetup.h"
#include "tests/support/Messages.h"
#include "tests/support/PopSessions.h"
#include "tests/support/PostgresSandbox.h"
#include "tests/support/PromText.h"
#include "tests/support/RunningDaemon.h"

using namespace std::chrono_literals;
using namespace popgate::test;

namespace {

constexpr std::size_t kAccounts = 30;

std::string user(std::size_t i) { return "acct" + std::to_string(i); }
std::string folder(std::size_t i) { return "From" + std::to_string(i); }

// Where a replica's target is: the sandbox's IMAP at `port` (0: the sandbox's own port), with
// `connections` and `timeout` (which is also the takeover grace), in plain IMAP when `plain`.
struct ReplicaTarget {
  std::size_t connections = 1;
  std::uint16_t port = 0;
  std::string timeout = "20s";
  bool plain = false;
};

// A replica of `accounts` on the ledger at `url` (lease_ttl 5 s), started.
std::unique_ptr<RunningDaemon> startReplica(DovecotSandbox& dovecot, PostgresSandbox& pg,
                                            const std::string& url,
                                            const std::vector<AccountSetup>& accounts,
                                            const ReplicaTarget& target) {
  auto d = std::make_unique<RunningDaemon>(dovecot, accounts);
  const auto secret = d->dir.writePrivate("secrets/pg", pg.password() + "\n");
  d->config = writeGatewayConfig(d->dir, dovecot, "me", accounts,
                                 d->adminYaml() + "database:\n  url: " + url +
                                     "\n  password_file: " + secret.string() +
                                     "\n  lease_ttl: 5s\n",
                                 target.connections, target.port, target.timeout);
  if (target.plain) {
    std::string yaml = readFile(d->config);
    const std::string starttls = "  tls: starttls\n";
    BOOST_REQUIRE(yaml.find(starttls) != std::string::npos);
    yaml.replace(yaml.find(starttls), starttls.size(), "  tls: none\n");
    d->config = d->dir.write("popgate.yaml", yaml);
  }
  d->start();
  return d;
}

// The one account `isp` (plain POP3, polled every second, keep: false) of the APPEND cases.
std::unique_ptr<RunningDaemon> startIspReplica(DovecotSandbox& dovecot, PostgresSandbox& pg,
                                               const std::string& url,
                                               const ReplicaTarget& target) {
  return startReplica(dovecot, pg, url,
                      {AccountSetup{"isp", "ISP", "none", false, {}, interval("1s")}}, target);
}

}  // namespace

BOOST_AUTO_TEST_CASE(testThreeReplicasShareTheAccountsAndTakeOverFromAKilledOne) {
  PostgresSandbox pg;
  const std::string url = pg.createDatabase("replicas");
  std::vector<std::string> users{"me"};
  for (std::size_t i = 0; i < kAccounts; ++i) users.push_back(user(i));
  DovecotSandbox dovecot(users);
  dovecot.pollersTakeMail(true);  // more mail arrives while the replicas poll every second
  std::vector<AccountSetup> accounts;
  for (std::size_t i = 0; i < kAccounts; ++i) {
    accounts.push_back(AccountSetup{user(i), folder(i), "implicit", false, {}, interval("1s")});
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
    // A takeover from a lapsed lease waits the targets' timeout: 8 s here.
    replicas.push_back(startReplica(dovecot, pg, url, accounts, ReplicaTarget{4, 0, "8s", false}));
  }
  BOOST_TEST_REQUIRE(waitFor(allDelivered, 60s), "first round not delivered");
  checkExact();
  // Spread: within a few renewal rounds every replica holds a share (10 accounts each).
  // (A replica gives an account up only after the newcomer has shown up, so the two are waited
  // for together.)
  auto largestShare = [&] {
    return pg.query("SELECT max(n) FROM (SELECT count(*) AS n FROM leases"
                    " WHERE expires_at > clock_timestamp() GROUP BY holder) AS shares",
                    "replicas");
  };
  BOOST_TEST(waitFor([&] { return liveHolders() == "3" && largestShare() == "10"; }, 30s),
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

  // /metrics of that replica: three live replicas, its own share held (ten accounts, labelled
  // with its id), every account's lease expiry; promtool accepts the exposition. (Its view is
  // its last renewal round's: waited for.)
  const std::string replica_id = cluster->getValue<std::string>("replica");
  HttpResponse metrics;
  auto heldHere = [&](const HttpResponse& r) {
    double n = 0;
    for (const Sample& sample : family(parseExposition(r.body), "popgate_lease_held").samples) {
      n += sample.value;
    }
    return n;
  };
  BOOST_TEST(waitFor([&] {
    metrics = httpRequest("GET", replicas[2]->port, "/metrics", kAdminToken);
    return metrics.status == 200 && heldHere(metrics) == static_cast<double>(kAccounts / 3);
  }, 15s), metrics.body);
  const auto families = parseExposition(metrics.body);
  BOOST_TEST(value(families, "popgate_cluster_replicas", "popgate_cluster_replicas", {}) == 3);
  double held = 0;
  for (const Sample& sample : family(families, "popgate_lease_held").samples) {
    BOOST_TEST(sample.labels.at("replica") == replica_id);
    held += sample.value;
  }
  BOOST_TEST(held == static_cast<double>(kAccounts / 3));
  const Family& expiry = family(families, "popgate_lease_expiry_timestamp_seconds");
  BOOST_TEST(expiry.samples.size() == kAccounts);
  for (const Sample& sample : expiry.samples) {
    BOOST_TEST(sample.value > 0, sample.labels.at("account"));
  }
  // The alert rules' cluster metrics are among them (the single-process status test skips those).
  const std::string rules = readFile(sourceDir() / "deploy/prometheus/popgate.rules.yml");
  for (const char* name : {"popgate_lease_expiry_timestamp_seconds"}) {
    BOOST_TEST(rules.find(name) != std::string::npos, name);
    BOOST_TEST(families.count(name) == 1u, name);
  }
  const auto exposition = replicas[2]->dir.write("metrics.txt", metrics.body);
  const CommandResult lint =
      runCommand({"sh", "-c", "promtool check metrics < '" + exposition.string() + "'"}, 30s);
  BOOST_TEST(lint.exit_code == 0, "promtool check metrics: " << lint.out << lint.err);


  // kill -9 one replica with fresh mail arriving (its accounts are polled every second, so
  // passes are under way): the two others take its accounts over after the lease (5 s) and
  // deliver everything, once.
  deliverMore(2, 4);
  const auto killed_at = std::chrono::steady_clock::now();
  replicas[0]->process->kill(SIGKILL);
  replicas[0]->process->wait(10s);
  BOOST_TEST(waitFor([&] { return liveHolders() == "2" && liveLeases() == std::to_string(kAccounts); },
                     30s),
             "holders: " << liveHolders() << ", live leases: " << liveLeases());
  const double takeover =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - killed_at).count();
  BOOST_TEST_REQUIRE(waitFor(allDelivered, 90s), "second round not delivered after the kill");
  const double delivered =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - killed_at).count();
  checkExact();
  BOOST_TEST_MESSAGE("kill -9 of one of 3 replicas: its accounts held again after "
                     << takeover << " s (lease_ttl 5 s, renewal interval 1.7 s), their mail "
                     << "delivered after " << delivered << " s (first pass 8 s after the expiry)");
  // The server's word: no account was ever in two POP sessions at once, through the spread and
  // the takeover (the SIGSTOP below leaves a paused session open on purpose).
  const PopSessions sessions = popSessions(dovecot.log());
  for (std::size_t i = 0; i < kAccounts; ++i) {
    BOOST_TEST(sessions.logins.count(user(i)) == 1u, user(i) << " never logged in per the log");
    if (sessions.logins.count(user(i)) == 0) continue;
    BOOST_TEST(sessions.most_at_once.at(user(i)) == 1u, user(i) << " had sessions at once");
  }
  std::size_t logins = 0;
  for (const auto& [name, n] : sessions.logins) logins += n;
  BOOST_TEST_MESSAGE("Dovecot logged " << logins << " POP3 sessions, never two for one account");

  // SIGSTOP another one past its lease (a VM stall, a GC pause): the last replica takes every
  // account over; SIGCONT: the paused one finds its holds lapsed by its own clock and its late
  // writes fenced, so it deletes nothing on its own and duplicates nothing; then the two share
  // again.
  replicas[1]->process->kill(SIGSTOP);
  const auto paused_at = std::chrono::steady_clock::now();
  deliverMore(3, 3);
  BOOST_TEST(waitFor([&] { return liveHolders() == "1" && liveLeases() == std::to_string(kAccounts); },
                     30s),
             "holders: " << liveHolders() << ", live leases: " << liveLeases());
  BOOST_TEST_MESSAGE("SIGSTOP of one of 2 replicas: its accounts held by the other after "
                     << std::chrono::duration<double>(std::chrono::steady_clock::now() - paused_at).count()
                     << " s");
  BOOST_TEST_REQUIRE(waitFor(allDelivered, 90s), "third round not delivered while one was paused");
  checkExact();
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

// The gap fencing alone leaves: a paused replica's APPEND on its way. Replica A sends a ~22 MB
// message through a proxy that stalls its target session 1 MiB into what it sends (inside the
// literal), so A is blocked in the middle of the APPEND with most of the message still to write;
// A is then SIGSTOPped. Replica B takes the account over after the lease (5 s), finds the message
// not in the target (the literal is unfinished), appends it and deletes it from POP. Then the
// stall is released and A SIGCONTed: A's write guard finds its lease lapsed and sends nothing
// more, its session is cut mid-literal, and the target keeps exactly one copy.
BOOST_AUTO_TEST_CASE(testAReplicaPausedMidAppendCannotFinishItAfterATakeover) {
  PostgresSandbox pg;
  const std::string url = pg.createDatabase("paused");
  DovecotSandbox dovecot({"me", "isp"});
  std::string expected;
  {
    const std::string large = largeAttachmentMessage(16 * 1024 * 1024).bytes;
    BOOST_REQUIRE(large.size() > 20'000'000);
    dovecot.seed("isp", large);
    expected = popDelivered(large);
  }
  FaultProxy proxy(dovecot.imapPort(),
                   Fault{Fault::Action::Stall, Fault::Direction::ToServer, 1u << 20, 0});
  auto replica = [&](std::uint16_t target_port) {
    return startIspReplica(dovecot, pg, url, ReplicaTarget{1, target_port, "20s", false});
  };
  auto a = replica(proxy.port());
  BOOST_TEST_REQUIRE(waitFor([&] { return proxy.fired(); }, 60s), a->log());
  a->process->kill(SIGSTOP);
  auto b = replica(0);  // straight to the target
  BOOST_TEST_REQUIRE(waitFor([&] {
    return dovecot.popBoxSize("isp") == 0 && countOrZero(dovecot, "me", "ISP") == 1;
  }, 90s), b->log());
  proxy.release();
  a->process->kill(SIGCONT);
  BOOST_TEST(waitFor([&] { return a->log().find("no longer holds its lease") != std::string::npos; },
                     30s),
             a->log());
  // Everything A had handed to the network before the pause has reached the server by now.
  BOOST_TEST(proxy.waitIdle(30s));
  const Tally t = tally({expected}, dovecot.messages("me", "ISP"));
  BOOST_TEST(t.exact(), t);
  BOOST_TEST(b->stop() == 0, b->log());
  BOOST_TEST(a->stop() == 0, a->log());
}

// The window the write guard leaves: bytes already handed to the network. Replica A writes a whole
// APPEND (literal and final CRLF), but the network (a proxy holding that direction back) has not
// delivered it yet; A is killed. Replica B takes the account over once A's lease (5 s) lapses,
// and does not poll until the grace (the target's timeout, 6 s here) after that expiry. The
// network delivers A's APPEND within the grace; B's first pass then finds the message in the
// target (in flight in the ledger, looked up by Message-ID), appends nothing and deletes it from
// POP. Without the grace, B looked right after the takeover, found nothing, and appended a second
// copy when the held APPEND arrived.
BOOST_AUTO_TEST_CASE(testAnAppendStillInTheNetworkArrivesBeforeTheNewHolderLooks) {
  PostgresSandbox pg;
  const std::string url = pg.createDatabase("in_network");
  DovecotSandbox dovecot({"me", "isp"});
  // From 64 KiB into what A sends the target (inside the literal), the network holds on.
  HeldAppend held(dovecot, "isp", "me", "ISP");
  const std::string& expected = held.expected;
  FaultProxy& proxy = held.proxy;
  // The target in plain IMAP, so the proxy can tell when A has written the APPEND's last byte.
  auto replica = [&](std::uint16_t target_port) {
    return startIspReplica(dovecot, pg, url, ReplicaTarget{1, target_port, "6s", true});
  };
  auto epoch = [&] {
    return pg.query("SELECT epoch FROM leases WHERE account = 'isp'"
                    " AND expires_at > clock_timestamp()", "in_network");
  };
  auto a = replica(proxy.port());
  // A has written the whole APPEND: the held bytes end with the message's end and the CRLF.
  BOOST_TEST_REQUIRE(waitFor([&] { return held.holdsTheWholeAppend(); }, 60s),
                     "fired " << proxy.fired() << ", held " << proxy.heldBytes() << " bytes of "
                              << expected.size() << "\n" << a->log() << [&] {
                                std::ostringstream out;
                                a->account("isp")->stringify(out);
                                return out.str();
                              }());
  BOOST_TEST(countOrZero(dovecot, "me", "ISP") == 0u);  // nothing has reached the target yet
  a->process->kill(SIGKILL);
  a->process->wait(10s);
  auto b = replica(0);  // straight to the target
  BOOST_TEST_REQUIRE(waitFor([&] { return epoch() == "2"; }, 30s), b->log());
  const auto taken_at = std::chrono::steady_clock::now();
  BOOST_TEST(b->log().find("took it over from a lapsed lease") != std::string::npos, b->log());
  // The network heals within the grace: A's APPEND reaches Dovecot after its death.
  proxy.release();
  BOOST_TEST(proxy.waitIdle(30s));
  BOOST_TEST(countOrZero(dovecot, "me", "ISP") == 1u);
  BOOST_TEST_REQUIRE(waitFor([&] { return dovecot.popBoxSize("isp") == 0; }, 60s), b->log());
  BOOST_TEST_MESSAGE("the new holder's first pass ended "
                     << std::chrono::duration<double>(std::chrono::steady_clock::now() - taken_at).count()
                     << " s after its takeover (grace 6 s after the old expiry)");
  const Tally t = tally({expected}, dovecot.messages("me", "ISP"));
  BOOST_TEST(t.exact(), t);
  BOOST_TEST(b->stop() == 0, b->log());
}
