// What an idle pass (nothing new on the server) asks of the ledger: a provider polls thousands of
// such accounts a minute, so each read counts. The rows are read once; pruning still happens when
// a message left the server; the quarantine the pass reports is the ledger's own.
#include <boost/test/unit_test.hpp>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "gateway/delivery/PollJob.h"
#include "gateway/delivery/SqliteLedger.h"
#include "tests/support/PollFixture.h"

using namespace popgate;
using namespace popgate::gateway;
using popgate::test::message;

namespace {

// A SQLite ledger that counts how often the rows of an account are read.
class CountingLedger final : public Ledger {
 public:
  explicit CountingLedger(const std::filesystem::path& file) : base_(file) {}
  int loads = 0;

  std::map<std::string, LedgerEntry> load(const std::string& account) override {
    ++loads;
    return base_.load(account);
  }
  void write(const std::string& account, const std::vector<LedgerChange>& changes,
             std::optional<std::int64_t> first_pass_at, const LeaseHold* hold) override {
    base_.write(account, changes, first_pass_at, hold);
  }
  std::optional<std::int64_t> firstPassDone(const std::string& account) override {
    return base_.firstPassDone(account);
  }
  void addUpload(const std::string& target, std::int64_t at, std::uint64_t bytes) override {
    base_.addUpload(target, at, bytes);
  }
  std::map<std::int64_t, std::uint64_t> uploadsSince(const std::string& target,
                                                     std::int64_t since) override {
    return base_.uploadsSince(target, since);
  }
  std::map<std::string, NoticeEpisode> episodes() override { return base_.episodes(); }
  void saveEpisode(const std::string& account, const std::optional<NoticeEpisode>& episode,
                   const std::optional<QueuedNotice>& notice) override {
    base_.saveEpisode(account, episode, notice);
  }
  bool queueNoticeOnce(const QueuedNotice& notice, const std::string& once_key) override {
    return base_.queueNoticeOnce(notice, once_key);
  }
  std::vector<QueuedNotice> notices() override { return base_.notices(); }
  void updateNotice(const QueuedNotice& notice) override { base_.updateNotice(notice); }
  LedgerImage image() override { return base_.image(); }
  void restore(const LedgerImage& image, bool replace) override { base_.restore(image, replace); }
  std::string where() const override { return base_.where(); }

 private:
  SqliteLedger base_;
};

struct IdleFixture : popgate::test::PollFixture {
  IdleFixture() {
    auto counting = std::make_unique<CountingLedger>(dir.path() / "counted.sqlite");
    counted = counting.get();
    ledger = std::move(counting);
  }
  CountingLedger* counted = nullptr;
};

}  // namespace

BOOST_AUTO_TEST_CASE(testIdlePassReadsTheLedgerOnce) {
  IdleFixture f;
  for (int i = 1; i <= 3; ++i) f.drop.add(message(i));
  BOOST_TEST(f.run().uploaded == 3u);
  f.counted->loads = 0;
  const PollResult idle = f.run();
  BOOST_TEST(idle.ok());
  BOOST_TEST(idle.skipped == 3u);
  BOOST_TEST(f.counted->loads == 1);
}

BOOST_AUTO_TEST_CASE(testMessageGoneFromTheServerIsForgottenAfterTheGraceAsBefore) {
  IdleFixture f;
  for (int i = 1; i <= 3; ++i) f.drop.add(message(i));
  BOOST_TEST(f.run().uploaded == 3u);
  const std::string gone = f.drop.messages[1].uidl;
  f.drop.messages.erase(f.drop.messages.begin() + 1);  // deleted by another client (keep: true)
  BOOST_TEST(f.run().ok());
  auto rows = f.ledger->load("work");
  BOOST_REQUIRE(rows.count(gone) == 1u);
  BOOST_TEST(rows[gone].missing_since == f.clock);
  f.clock += 8 * 24 * 3600;  // past forget_after (7 days)
  f.counted->loads = 0;
  BOOST_TEST(f.run().ok());
  BOOST_TEST(f.counted->loads > 1);  // a pass that prunes reads the rows again after it
  rows = f.ledger->load("work");
  BOOST_TEST(rows.count(gone) == 0u);
  BOOST_TEST(rows.size() == 2u);
  // Nothing is delivered twice on the way.
  for (int i = 1; i <= 3; ++i) BOOST_TEST(f.copies(message(i)) == 1u);
}

BOOST_AUTO_TEST_CASE(testQuarantineAfterThePassIsTheLedgers) {
  IdleFixture f;
  for (int i = 1; i <= 3; ++i) f.drop.add(message(i));
  f.target.judge = [](const std::string& bytes) -> std::optional<std::pair<ErrorKind, std::string>> {
    if (bytes.find("test 2") != std::string::npos) {
      return std::make_pair(ErrorKind::MessageRejected, "A3 NO message refused");
    }
    return std::nullopt;
  };
  for (int pass = 0; pass < 2; ++pass) {  // the pass that quarantines, then an idle one
    auto job = f.job();
    BOOST_TEST(job->run().ok());
    const auto known = job->quarantine();
    BOOST_REQUIRE(known.has_value());
    const std::vector<LedgerEntry> read = f.ledger->quarantine("work");
    BOOST_REQUIRE(known->size() == 1u);
    BOOST_REQUIRE(read.size() == 1u);
    BOOST_TEST(known->front().key == read.front().key);
    BOOST_TEST(known->front().reason == read.front().reason);
    BOOST_TEST(known->front().attempts == read.front().attempts);
    BOOST_TEST(known->front().retry_at == read.front().retry_at);
  }
  // A failed pass does not claim to know: the caller reads the ledger.
  f.target.fail_connection = true;
  f.drop.add(message(4));
  auto job = f.job();
  BOOST_TEST(!job->run().ok());
  BOOST_TEST(!job->quarantine().has_value());
}
