// MessageQueue on its own: order, back-pressure in messages and in the bytes actually spooled
// (not what LIST claimed), fair batches, close and abandon. Threads meet on the queue only; no
// test waits on time.
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <atomic>
#include <thread>

#include "gateway/delivery/MessageQueue.h"
#include "tests/support/TempDir.h"

using namespace popgate;
using namespace popgate::gateway;

namespace {

// A retrieved message of `bytes` bytes whose LIST entry claimed `listed`.
RetrievedMessage retrieved(const test::TempDir& dir, std::uint32_t number, std::size_t bytes,
                           std::uint64_t listed = 0) {
  RetrievedMessage m;
  m.info.number = number;
  m.info.uidl = "u" + std::to_string(number);
  m.info.size = listed;
  m.spool = std::make_unique<Spool>(dir.path(), 1 << 20);
  m.spool->write(std::string(bytes, 'x'));
  m.spool->finish();
  m.outcome = pop3::RetrieveOutcome::Complete;
  return m;
}

std::vector<std::uint32_t> numbers(const std::vector<RetrievedMessage>& batch) {
  std::vector<std::uint32_t> out;
  for (const auto& m : batch) out.push_back(m.info.number);
  return out;
}

}  // namespace

BOOST_AUTO_TEST_CASE(testBatchesKeepRetrievalOrder) {
  test::TempDir dir;
  MessageQueue queue(100, 1 << 30, 1, 5);
  for (std::uint32_t n = 1; n <= 5; ++n) BOOST_TEST(queue.push(retrieved(dir, n, 10)));
  queue.close();
  BOOST_TEST((numbers(queue.popBatch(3)) == std::vector<std::uint32_t>{1, 2, 3}));
  BOOST_TEST((numbers(queue.popBatch(3)) == std::vector<std::uint32_t>{4, 5}));
  BOOST_TEST(queue.popBatch(3).empty());  // closed and drained
}

// Each of two consumers waits for its share of what is still to come (at most a window).
BOOST_AUTO_TEST_CASE(testFairShareOfWhatIsToCome) {
  test::TempDir dir;
  MessageQueue queue(100, 1 << 30, 2, 10);
  for (std::uint32_t n = 1; n <= 10; ++n) queue.push(retrieved(dir, n, 10));
  BOOST_TEST(queue.popBatch(50).size() == 5u);   // 10 to come, 2 consumers
  BOOST_TEST(queue.popBatch(50).size() == 3u);   // 5 to come: ceil(5 / 2)
  BOOST_TEST(queue.popBatch(2).size() == 1u);    // 2 to come: one each
  BOOST_TEST(queue.popBatch(50, false).size() == 1u);
}

// The producer never gets more than the capacity in messages ahead of the consumer.
BOOST_AUTO_TEST_CASE(testBackPressureInMessages) {
  test::TempDir dir;
  constexpr std::size_t kCapacity = 3;
  MessageQueue queue(kCapacity, 1 << 30, 1, 200);
  std::size_t most = 0;
  std::thread producer([&] {
    for (std::uint32_t n = 1; n <= 200; ++n) {
      queue.push(retrieved(dir, n, 10));
      most = std::max(most, queue.size());
    }
    queue.close();
  });
  std::vector<std::uint32_t> got;
  for (auto batch = queue.popBatch(1); !batch.empty(); batch = queue.popBatch(1)) {
    for (auto n : numbers(batch)) got.push_back(n);
  }
  producer.join();
  BOOST_TEST(got.size() == 200u);
  BOOST_TEST(std::is_sorted(got.begin(), got.end()));
  BOOST_TEST(most <= kCapacity);
}

// A server that lists every message with size 0 cannot make popgate spool without bound: the
// limit counts the bytes that arrived. With LIST sizes the queue took every 1 MB message here.
BOOST_AUTO_TEST_CASE(testBackPressureCountsSpooledBytesNotListedSizes) {
  test::TempDir dir;
  constexpr std::uint64_t kMegabyte = 1 << 20;
  MessageQueue queue(1000, 3 * kMegabyte, 1, 40);
  std::uint64_t most = 0;
  std::thread producer([&] {
    for (std::uint32_t n = 1; n <= 40; ++n) {
      queue.push(retrieved(dir, n, kMegabyte, /*listed=*/0));
      most = std::max(most, queue.bytes());
    }
    queue.close();
  });
  std::size_t got = 0;
  for (auto batch = queue.popBatch(1); !batch.empty(); batch = queue.popBatch(1)) got += batch.size();
  producer.join();
  BOOST_TEST(got == 40u);
  BOOST_TEST(most <= 3 * kMegabyte);
}

// One message is always let in, however large: a message larger than the byte capacity must not
// block retrieval for ever.
BOOST_AUTO_TEST_CASE(testOneMessageLargerThanTheCapacityStillPasses) {
  test::TempDir dir;
  MessageQueue queue(10, 100, 1, 1);
  BOOST_TEST(queue.push(retrieved(dir, 1, 1000)));
  BOOST_TEST(queue.bytes() == 1000u);
  BOOST_TEST(queue.popBatch(5).size() == 1u);
  BOOST_TEST(queue.bytes() == 0u);
}

// The consumers gave up: a producer waiting for room is let go (push answers false), what was
// queued is dropped, and consumers get nothing more.
BOOST_AUTO_TEST_CASE(testAbandonReleasesAWaitingProducer) {
  test::TempDir dir;
  MessageQueue queue(1, 1 << 30, 1, 3);
  BOOST_TEST(queue.push(retrieved(dir, 1, 10)));
  std::atomic<int> refused{0};
  std::thread producer([&] {
    for (std::uint32_t n = 2; n <= 3; ++n) {
      if (!queue.push(retrieved(dir, n, 10))) ++refused;
    }
  });
  queue.abandon();
  producer.join();
  BOOST_TEST(refused.load() == 2);
  BOOST_TEST(queue.size() == 0u);
  BOOST_TEST(queue.popBatch(5).empty());
  BOOST_TEST(std::filesystem::is_empty(dir.path()));  // dropped spools took their files along
}

// A consumer waiting for its share is released by close() with whatever is left.
BOOST_AUTO_TEST_CASE(testCloseReleasesAWaitingConsumer) {
  test::TempDir dir;
  MessageQueue queue(100, 1 << 30, 1, 10);
  queue.push(retrieved(dir, 1, 10));
  std::vector<RetrievedMessage> batch;
  std::thread consumer([&] { batch = queue.popBatch(10); });  // wants 10, only 1 will come
  queue.close();
  consumer.join();
  BOOST_TEST(batch.size() == 1u);
}
