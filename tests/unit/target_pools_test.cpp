// TargetPools: one pool of upload sessions per target, kept while its settings stay the same,
// replaced when they change, dropped when the target leaves the configuration; the status of
// every configured target in configuration order, each with the backlog of its own accounts. No
// session is opened (pools open lazily).
#include <boost/test/unit_test.hpp>

#include "gateway/service/TargetPools.h"

using popgate::config::GatewayConfig;
using popgate::config::ImapTarget;
using popgate::gateway::TargetPools;

namespace {

ImapTarget target(const std::string& name, const std::string& host, std::uint32_t connections) {
  ImapTarget t;
  t.name = name;
  t.server.host = host;
  t.server.port = 993;
  t.server.username = name + "@" + host;
  t.connections = connections;
  return t;
}

GatewayConfig family() {
  GatewayConfig cfg;
  cfg.named_targets = true;
  cfg.targets = {target("anna", "imap.gmail.com", 2), target("ben", "imap.fastmail.com", 4)};
  return cfg;
}

}  // namespace

BOOST_AUTO_TEST_CASE(testEachTargetItsOwnPoolKeptWhileUnchanged) {
  TargetPools pools(nullptr);
  const GatewayConfig cfg = family();
  const auto anna = pools.poolFor(cfg.targets[0]);
  const auto ben = pools.poolFor(cfg.targets[1]);
  BOOST_TEST(anna != ben);
  BOOST_TEST(&anna->gate() != &ben->gate());  // limits and pauses are per target
  BOOST_TEST(pools.poolFor(cfg.targets[0]) == anna);
  BOOST_TEST(pools.poolFor(*cfg.findTarget("ben")) == ben);
}

BOOST_AUTO_TEST_CASE(testChangedTargetGetsANewPoolOthersKeepTheirs) {
  TargetPools pools(nullptr);
  GatewayConfig cfg = family();
  const auto anna = pools.poolFor(cfg.targets[0]);
  const auto ben = pools.poolFor(cfg.targets[1]);
  cfg.targets[1].connections = 1;
  const auto ben_again = pools.poolFor(cfg.targets[1]);
  BOOST_TEST(ben_again != ben);
  BOOST_TEST(ben_again->capacity() == 1u);
  BOOST_TEST(pools.poolFor(cfg.targets[0]) == anna);
  cfg.targets[0].server.password = popgate::Secret("new");
  BOOST_TEST(pools.poolFor(cfg.targets[0]) != anna);
}

BOOST_AUTO_TEST_CASE(testStatusListsConfiguredTargetsAndRetainDropsRemovedOnes) {
  TargetPools pools(nullptr);
  GatewayConfig cfg = family();
  cfg.targets[1].daily_upload_limit = 1024;
  const auto ben = pools.poolFor(cfg.targets[1]);
  ben->gate().uploaded(700);

  auto status = pools.status(cfg);
  BOOST_REQUIRE(status.size() == 2u);
  BOOST_TEST(status[0].name == "anna");
  BOOST_TEST(status[0].host == "imap.gmail.com:993");
  BOOST_TEST(status[0].connections == 2u);
  BOOST_TEST(status[0].capacity == 2u);  // no pool yet: as configured
  BOOST_TEST(status[0].used == 0u);
  BOOST_TEST(status[1].name == "ben");
  BOOST_TEST(status[1].daily_limit == 1024u);
  BOOST_TEST(status[1].used == 700u);

  // ben leaves the configuration: its pool (and what it counted) goes; a new ben starts afresh.
  GatewayConfig without_ben = cfg;
  without_ben.targets.pop_back();
  pools.retain(without_ben);
  BOOST_TEST(pools.status(without_ben).size() == 1u);
  BOOST_TEST(pools.poolFor(cfg.targets[1]) != ben);
  BOOST_TEST(pools.status(cfg)[1].used == 0u);
}

BOOST_AUTO_TEST_CASE(testEachTargetsBacklogIsItsOwnAccounts) {
  // anna's account waits on a spent budget; ben's target has nothing to catch up on.
  popgate::gateway::StatusBoard board("test");
  popgate::gateway::AccountStatus anna_work, ben_isp;
  anna_work.name = "anna-work";
  anna_work.target = "anna";
  ben_isp.name = "ben-isp";
  ben_isp.target = "ben";
  board.setAccounts({anna_work, ben_isp});
  TargetPools pools(nullptr);
  GatewayConfig cfg = family();
  cfg.targets[0].daily_upload_limit = 1000;
  board.setTargetProbe([&] { return pools.status(cfg); });
  const auto now = std::chrono::system_clock::now();
  popgate::gateway::PollResult waiting;
  waiting.waiting_bytes = 5000;
  board.pollFinished("anna-work", waiting, now, popgate::gateway::AccountState::Backoff,
                     std::nullopt, {});
  board.pollFinished("ben-isp", popgate::gateway::PollResult{}, now,
                     popgate::gateway::AccountState::Idle, std::nullopt, {});

  const auto snapshot = board.snapshot();
  BOOST_REQUIRE(snapshot.targets.size() == 2u);
  BOOST_TEST(snapshot.targets[0].waiting_bytes == 5000u);
  BOOST_TEST(snapshot.targets[0].backlog_eta > 0);
  BOOST_TEST(snapshot.targets[1].waiting_bytes == 0u);
  BOOST_TEST(snapshot.targets[1].backlog_eta == 0);
}
