// How replicas share accounts (gateway/service/LeaseKeeper): the share arithmetic (even, the same
// on every replica, rebalanced when one joins or leaves), and the keeper's rounds against a
// lease board kept in memory on a manual clock: renewal, takeover after lease_ttl when a replica
// dies, a graceful handover when one joins, holds that lapse by the local clock when the database
// is out of reach, a running pass that keeps its account until it ends, and the grace a takeover
// from a lapsed lease waits before its first pass. The real board
// (PostgreSQL, with fencing) is tested in tests/integration/ledger_suite_test.cpp.
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <map>
#include <set>

#include "connectors/common/Error.h"
#include "gateway/service/LeaseKeeper.h"

using namespace popgate;
using namespace popgate::gateway;
using std::chrono::milliseconds;
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
  std::optional<LeaseGrant> acquire(const std::string& account, const std::string& holder,
                                    seconds ttl, milliseconds grace) override {
    if (down) throw Error(ErrorKind::Internal, "database down");
    auto it = leases_.find(account);
    if (it == leases_.end()) {
      leases_[account] = Row{holder, 1, now_ + ttl, false, now_};
      return LeaseGrant{LeaseHold{holder, 1}, milliseconds(0)};
    }
    Row& row = it->second;
    const bool live = row.expires > now_;
    if (live && row.holder != holder) return std::nullopt;
    if (!(live && row.holder == holder)) {
      ++row.epoch;
      row.settles = row.released ? std::max(now_, row.settles) : std::max(now_, row.expires + grace);
    }
    row.released = false;
    row.holder = holder;
    row.expires = now_ + ttl;
    return LeaseGrant{LeaseHold{holder, row.epoch},
                      std::chrono::duration_cast<milliseconds>(std::max(row.settles - now_,
                                                                        TimePoint::duration(0)))};
  }
  void release(const std::string& account, const LeaseHold& hold, bool settled) override {
    auto it = leases_.find(account);
    if (it != leases_.end() && it->second.holder == hold.holder && it->second.epoch == hold.epoch) {
      it->second.expires = now_;
      it->second.released = settled;
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
    bool released;
    TimePoint settles;
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
// The cases below that are not about the takeover grace.
constexpr milliseconds kNoGrace{0};

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
  LeaseKeeper a(board, "r-a", ttl, kNoGrace, [&] { return now; });
  LeaseKeeper b(board, "r-b", ttl, kNoGrace, [&] { return now; });
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
  LeaseKeeper a(board, "r-a", seconds(30), kNoGrace, [&] { return now; });
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
  LeaseKeeper a(board, "r-a", ttl, kNoGrace, [&] { return now; });
  LeaseKeeper b(board, "r-b", ttl, kNoGrace, [&] { return now; });
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
  LeaseKeeper a(board, "r-a", ttl, kNoGrace, [&] { return now; });
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
  LeaseKeeper b(board, "r-b", ttl, kNoGrace, [&] { return now; });
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
  LeaseKeeper replica(board, "r-a", ttl, kNoGrace, [&] { return now; });
  replica.tick({"busy"}, kNothingRuns);
  LeaseKeeper once(board, "once", ttl, kNoGrace, [&] { return now; });
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

// The grace after a lapse: the bytes of an APPEND the last holder had sent may still be on their
// way to the target, so an account taken from a lapsed lease is not polled (holdOf() answers
// nothing, its write guard stays shut) until `grace` after the old expiry, though it is held and
// renewed meanwhile. One given up after clean passes moves at once; one given up after a pass
// that failed (something may still be in flight) settles like a lapse.
BOOST_AUTO_TEST_CASE(testAnAccountTakenFromALapsedLeaseWaitsTheGraceBeforeItsFirstPass) {
  TimePoint now{};
  MemoryBoard board(now);
  const seconds ttl(30);
  const milliseconds grace(20000);
  LeaseKeeper a(board, "r-a", ttl, grace, [&] { return now; });
  LeaseKeeper b(board, "r-b", ttl, grace, [&] { return now; });
  a.tick({"work"}, kNothingRuns);  // a first holder of a new row: no wait
  BOOST_TEST(a.holdOf("work").has_value());
  BOOST_TEST(!a.settlesAt("work").has_value());

  // a dies mid-pass. Its lease expires 30 s after its last renewal; b takes it then...
  now += seconds(31);
  b.tick({"work"}, kNothingRuns);
  BOOST_TEST(board.holder("work") == "r-b");
  BOOST_TEST(b.held().count("work") == 1u);  // held (and renewed from now on)...
  BOOST_TEST(!b.holdOf("work").has_value());  // ... but no pass yet
  const auto settles = b.settlesAt("work");
  BOOST_REQUIRE(settles.has_value());
  BOOST_TEST(std::chrono::duration_cast<milliseconds>(*settles - now).count() == 19000);
  now += seconds(10);
  b.tick({"work"}, kNothingRuns);  // a renewal keeps the settle time
  BOOST_TEST(!b.holdOf("work").has_value());
  BOOST_TEST((b.settlesAt("work") == settles));
  // Given up before it settled (a rebalance): the next holder waits what is left of it.
  {
    LeaseKeeper other(board, "r-x", ttl, grace, [&] { return now; });
    b.leave();
    other.tick({"work"}, kNothingRuns);
    BOOST_TEST(!other.holdOf("work").has_value());
    BOOST_TEST((other.settlesAt("work") == settles));
    other.leave();
  }
  LeaseKeeper b2(board, "r-b", ttl, grace, [&] { return now; });
  b2.tick({"work"}, kNothingRuns);
  BOOST_TEST(!b2.holdOf("work").has_value());
  now += seconds(9);  // the old expiry + grace
  BOOST_TEST(b2.holdOf("work").has_value());
  BOOST_TEST(!b2.settlesAt("work").has_value());
  BOOST_CHECK_NO_THROW(b2.checkHeld("work", *b2.holdOf("work")));

  // Given up after a clean pass: the next holder starts at once.
  b2.passEnded("work", true);
  b2.leave();
  LeaseKeeper c(board, "r-c", ttl, grace, [&] { return now; });
  c.tick({"work"}, kNothingRuns);
  BOOST_TEST(c.holdOf("work").has_value());

  // Given up after a pass that failed: the next holder waits the grace from the release.
  c.passEnded("work", false);
  c.leave();
  LeaseKeeper d(board, "r-d", ttl, grace, [&] { return now; });
  d.tick({"work"}, kNothingRuns);
  BOOST_TEST(!d.holdOf("work").has_value());
  now += seconds(10);
  d.tick({"work"}, kNothingRuns);
  BOOST_TEST(!d.holdOf("work").has_value());
  now += seconds(10);
  BOOST_TEST(d.holdOf("work").has_value());

  // A replica leaving while a pass may still send (an unclean stop) gives nothing up: the lease
  // lapses, and its taker waits the grace after that.
  d.leave(false);
  BOOST_TEST(board.holder("work") == "r-d");
  now += seconds(21);  // d renewed it 10 s ago: its lease has just expired
  LeaseKeeper e(board, "r-e", ttl, grace, [&] { return now; });
  e.tick({"work"}, kNothingRuns);
  BOOST_TEST(!e.holdOf("work").has_value());
  now += seconds(10);
  e.tick({"work"}, kNothingRuns);
  now += seconds(9);
  BOOST_TEST(e.holdOf("work").has_value());
}
