// How replicas share accounts (gateway/service/LeaseKeeper): the share arithmetic (even, the same
// on every replica, rebalanced when one joins or leaves), and the keeper's rounds against a
// lease board kept in memory on a manual clock: renewal, takeover after lease_ttl when a replica
// dies, a graceful handover when one joins, holds that lapse by the local clock when the database
// is out of reach, and a running pass that keeps its account until it ends. The real board
// (PostgreSQL, with fencing) is tested in tests/integration/ledger_suite_test.cpp.
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <map>
#include <set>

#include "connectors/common/Error.h"
#include "gateway/service/LeaseKeeper.h"

using namespace popgate;
using namespace popgate::gateway;
using std::chrono::seconds;
using TimePoint = std::chrono::steady_clock::time_point;

namespace {

// A LeaseBoard in memory on a manual clock, with the semantics of the database's (LeaseBoard.h).
class MemoryBoard final : public LeaseBoard {
 public:
  explicit MemoryBoard(const TimePoint& now) : now_(now) {}
  std::vector<std::string> heartbeat(const std::string& replica, seconds ttl) override {
    if (down) throw Error(ErrorKind::Internal, "database down");
    beats_[replica] = now_;
    std::vector<std::string> live;
    for (const auto& [id, at] : beats_) {
      if (at + ttl > now_) live.push_back(id);
    }
    return live;
  }
  std::optional<LeaseHold> acquire(const std::string& account, const std::string& holder,
                                   seconds ttl) override {
    if (down) throw Error(ErrorKind::Internal, "database down");
    auto it = leases_.find(account);
    if (it == leases_.end()) {
      leases_[account] = Row{holder, 1, now_ + ttl};
      return LeaseHold{holder, 1};
    }
    Row& row = it->second;
    const bool live = row.expires > now_;
    if (live && row.holder != holder) return std::nullopt;
    if (!(live && row.holder == holder)) ++row.epoch;
    row.holder = holder;
    row.expires = now_ + ttl;
    return LeaseHold{holder, row.epoch};
  }
  void release(const std::string& account, const LeaseHold& hold) override {
    auto it = leases_.find(account);
    if (it != leases_.end() && it->second.holder == hold.holder && it->second.epoch == hold.epoch) {
      it->second.expires = now_;
    }
  }
  void leave(const std::string& replica) override { beats_.erase(replica); }
  std::vector<LeaseRow> leases() override { return {}; }

  // Who holds `account` now (empty when nobody).
  std::string holder(const std::string& account) const {
    auto it = leases_.find(account);
    return it != leases_.end() && it->second.expires > now_ ? it->second.holder : "";
  }
  bool down = false;

 private:
  struct Row {
    std::string holder;
    std::int64_t epoch;
    TimePoint expires;
  };
  const TimePoint& now_;
  std::map<std::string, TimePoint> beats_;
  std::map<std::string, Row> leases_;
};

std::vector<std::string> accounts(std::size_t n) {
  std::vector<std::string> out;
  for (std::size_t i = 0; i < n; ++i) out.push_back("acct" + std::to_string(i));
  return out;
}

const auto kNothingRuns = [](const std::string&) { return false; };

}  // namespace

BOOST_AUTO_TEST_CASE(testSharesAreEvenDisjointAndTheSameOnEveryReplica) {
  const auto all = accounts(30);
  const std::vector<std::string> live{"r-b", "r-a", "r-c"};  // order as found: irrelevant
  std::set<std::string> seen;
  for (const std::string& r : live) {
    const auto mine = shareOf(r, live, all);
    BOOST_TEST(mine.size() == 10u);
    for (const auto& a : mine) BOOST_TEST(seen.insert(a).second, a << " in two shares");
    std::vector<std::string> shuffled = all;
    std::reverse(shuffled.begin(), shuffled.end());
    BOOST_TEST(shareOf(r, {"r-c", "r-a", "r-b"}, shuffled) == mine);  // same inputs, same share
  }
  BOOST_TEST(seen.size() == 30u);
  // 31 accounts over 3: 11, 10, 10. A replica not (yet) among the live ones holds nothing.
  std::size_t total = 0, largest = 0;
  for (const std::string& r : live) {
    const auto n = shareOf(r, live, accounts(31)).size();
    total += n;
    largest = std::max(largest, n);
  }
  BOOST_TEST(total == 31u);
  BOOST_TEST(largest == 11u);
  BOOST_TEST(shareOf("r-d", live, all).empty());
  BOOST_TEST(shareOf("r-a", {"r-a"}, all).size() == 30u);  // alone: everything
}

BOOST_AUTO_TEST_CASE(testReplicaLeavingHasItsAccountsSpreadOverTheOthers) {
  const auto all = accounts(30);
  const auto after_a = shareOf("r-a", {"r-a", "r-b"}, all);
  const auto after_b = shareOf("r-b", {"r-a", "r-b"}, all);
  BOOST_TEST(after_a.size() == 15u);
  BOOST_TEST(after_b.size() == 15u);
  std::set<std::string> now_held(after_a.begin(), after_a.end());
  now_held.insert(after_b.begin(), after_b.end());
  BOOST_TEST(now_held.size() == 30u);  // nothing orphaned
}

// Two replicas on a manual clock: each takes its share, renews it every third of the ttl, and
// when one dies (no more rounds) the other takes its accounts over once their leases expire.
BOOST_AUTO_TEST_CASE(testDeadReplicaAccountsAreTakenOverAfterTheLease) {
  TimePoint now{};
  MemoryBoard board(now);
  const seconds ttl(30);
  LeaseKeeper a(board, "r-a", ttl, [&] { return now; });
  LeaseKeeper b(board, "r-b", ttl, [&] { return now; });
  const auto all = accounts(10);
  BOOST_TEST(a.interval().count() == 10000);
  a.tick(all, kNothingRuns);  // alone at first: takes everything
  BOOST_TEST(a.held().size() == 10u);
  b.tick(all, kNothingRuns);  // joins: its share is still a's
  BOOST_TEST(b.held().empty());
  now += seconds(10);
  a.tick(all, kNothingRuns);  // sees b: gives b's share up at once
  BOOST_TEST(a.held().size() == 5u);
  b.tick(all, kNothingRuns);  // and b takes it without waiting for an expiry
  BOOST_TEST(b.held().size() == 5u);
  for (const auto& account : all) {
    BOOST_TEST((a.holdOf(account).has_value() != b.holdOf(account).has_value()), account);
  }

  // b dies (no more rounds). a keeps renewing; b's holds lapse by b's own clock first...
  for (int round = 0; round < 3; ++round) {
    now += seconds(10);
    a.tick(all, kNothingRuns);
  }
  BOOST_TEST(b.held().empty());  // 30 s without a renewal: b itself would start no pass
  // ... and once b's heartbeat and leases are older than the ttl, a holds everything.
  now += seconds(10);
  a.tick(all, kNothingRuns);
  BOOST_TEST(a.held().size() == 10u);
  for (const auto& account : all) BOOST_TEST(board.holder(account) == "r-a");
  b.leave();  // (its destructor would do it too)
}

// A replica that cannot reach the database stops starting passes before its leases expire, so
// the replica that takes them over never overlaps with it.
BOOST_AUTO_TEST_CASE(testHoldsLapseBeforeTheLeaseWhenTheDatabaseIsOutOfReach) {
  TimePoint now{};
  MemoryBoard board(now);
  LeaseKeeper a(board, "r-a", seconds(30), [&] { return now; });
  a.tick({"work"}, kNothingRuns);
  const auto hold = a.holdOf("work");
  BOOST_REQUIRE(hold.has_value());
  board.down = true;
  now += seconds(10);
  BOOST_CHECK_THROW(a.tick({"work"}, kNothingRuns), Error);
  BOOST_TEST(a.holdOf("work").has_value());  // 10 s old: still good
  now += seconds(10);
  BOOST_TEST(!a.holdOf("work").has_value());  // 20 s = 2/3 of the ttl: no new pass starts
  BOOST_TEST(board.holder("work") == "r-a");   // though the lease itself still runs
  board.down = false;
  a.tick({"work"}, kNothingRuns);  // back in time: renewed, same epoch
  BOOST_TEST(a.holdOf("work")->epoch == hold->epoch);
}

// An account that is no longer this replica's share stays held (and renewed) while its pass
// runs, and is given up at the first round after the pass ended.
BOOST_AUTO_TEST_CASE(testRunningPassKeepsItsAccountUntilItEnds) {
  TimePoint now{};
  MemoryBoard board(now);
  const seconds ttl(30);
  LeaseKeeper a(board, "r-a", ttl, [&] { return now; });
  LeaseKeeper b(board, "r-b", ttl, [&] { return now; });
  const auto all = accounts(4);
  a.tick(all, kNothingRuns);
  b.tick(all, kNothingRuns);
  const auto b_share = shareOf("r-b", {"r-a", "r-b"}, all);
  BOOST_REQUIRE(!b_share.empty());
  const std::string busy = b_share.front();
  bool running = true;
  const auto is_running = [&](const std::string& account) { return running && account == busy; };
  for (int round = 0; round < 6; ++round) {  // a minute of rounds: the pass runs on
    now += seconds(10);
    a.tick(all, is_running);
    b.tick(all, kNothingRuns);
    BOOST_TEST(board.holder(busy) == "r-a");
    BOOST_TEST(!b.holdOf(busy).has_value());
  }
  running = false;
  now += seconds(10);
  a.tick(all, is_running);
  BOOST_TEST(!a.holdOf(busy).has_value());
  b.tick(all, kNothingRuns);
  BOOST_TEST(b.holdOf(busy).has_value());
}

// The write guard of a pass: good while the hold is fresh by the local clock and of the same
// epoch; Error(Fenced) once it has lapsed (a replica paused past 2/3 of the ttl sends nothing
// more, a third of the ttl before another replica can take the account), or once the account
// changed hands and came back (a new epoch is not the pass's).
BOOST_AUTO_TEST_CASE(testWriteGuardFencesOnceTheHoldLapsesOrChangesHands) {
  TimePoint now{};
  MemoryBoard board(now);
  const seconds ttl(30);
  LeaseKeeper a(board, "r-a", ttl, [&] { return now; });
  a.tick({"work"}, kNothingRuns);
  const auto hold = a.holdOf("work");
  BOOST_REQUIRE(hold.has_value());
  const auto guard = a.writeGuard("work", *hold);
  BOOST_CHECK_NO_THROW(guard());
  now += seconds(19);
  BOOST_CHECK_NO_THROW(guard());
  now += seconds(1);  // 20 s after the renewal: 2/3 of the ttl
  try {
    guard();
    BOOST_FAIL("a lapsed hold let a write through");
  } catch (const Error& e) {
    BOOST_TEST((e.kind() == ErrorKind::Fenced));
    BOOST_TEST(std::string(e.what()).find("no longer holds its lease") != std::string::npos);
  }
  BOOST_TEST(board.holder("work") == "r-a");  // the lease itself still runs 10 s more
  // Lost and taken again: a new epoch, and the old pass's guard stays shut.
  now += seconds(20);
  LeaseKeeper b(board, "r-b", ttl, [&] { return now; });
  b.tick({"work"}, kNothingRuns);
  now += seconds(31);
  a.tick({"work"}, kNothingRuns);
  BOOST_REQUIRE(a.holdOf("work").has_value());
  BOOST_TEST(a.holdOf("work")->epoch > hold->epoch);
  BOOST_CHECK_THROW(guard(), Error);
  BOOST_CHECK_NO_THROW(a.writeGuard("work", *a.holdOf("work"))());
}

// `popgate once` beside replicas: it takes the free accounts only (no heartbeat, no share) and
// keeps renewing them while its passes run, so a pass longer than the ttl keeps its account.
BOOST_AUTO_TEST_CASE(testKeepOnlyTakesTheFreeAccountsAndRenewsThem) {
  TimePoint now{};
  MemoryBoard board(now);
  const seconds ttl(30);
  LeaseKeeper replica(board, "r-a", ttl, [&] { return now; });
  replica.tick({"busy"}, kNothingRuns);
  LeaseKeeper once(board, "once", ttl, [&] { return now; });
  once.keepOnly({"free", "busy"});  // its renewal thread waits a third of the ttl (10 s) first
  const auto hold = once.holdOf("free");
  BOOST_REQUIRE(hold.has_value());
  BOOST_TEST(!once.holdOf("busy").has_value());  // a replica holds it: not polled
  BOOST_TEST(board.holder("busy") == "r-a");
  for (int round = 0; round < 9; ++round) {  // 90 s of renewal rounds: three ttls
    now += seconds(10);
    once.renewHeld();
    BOOST_TEST(board.holder("free") == "once");
    BOOST_CHECK_NO_THROW(once.checkHeld("free", *hold));  // the same epoch all along
  }
  BOOST_TEST(!once.holdOf("busy").has_value());
  once.leave();
  BOOST_TEST(board.holder("free").empty());  // given up at the end
}
