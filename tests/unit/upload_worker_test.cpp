// UploadWorker on its own, with an Uploader that records what it is asked: batches in retrieval
// order, the next batch begun before the previous one ends (two in flight, never three), stop
// honoured between batches with the batch in flight ended, and failures of end() handled.
#include <boost/test/unit_test.hpp>

#include <functional>
#include <mutex>

#include "gateway/delivery/UploadWorker.h"
#include "tests/support/TempDir.h"

using namespace popgate;
using namespace popgate::gateway;

namespace {

class NullSink final : public MailSink {
 public:
  std::vector<imap::AppendOutcome> append(const std::string&,
                                          const std::vector<imap::AppendItem>&) override {
    return {};
  }
  imap::Lookup lookup(const std::string&, const imap::MessageFingerprint&) override {
    return imap::Lookup::absent();
  }
};

struct Numbered final : StartedBatch {
  int batch = 0;
};

class Recorder final : public Uploader {
 public:
  std::unique_ptr<StartedBatch> begin(std::vector<RetrievedMessage> batch, MailSink&) override {
    auto started = std::make_unique<Numbered>();
    std::lock_guard lock(mutex_);
    started->batch = ++begun_;
    std::string uidls;
    for (const auto& m : batch) uidls += m.info.uidl;
    events.push_back("begin " + std::to_string(started->batch) + " " + uidls);
    in_flight_ = begun_ - ended_;
    most_in_flight = std::max(most_in_flight, in_flight_);
    if (on_begin) on_begin(started->batch);
    return started;
  }
  void end(StartedBatch& started, MailSink&) override {
    const int batch = static_cast<Numbered&>(started).batch;
    std::lock_guard lock(mutex_);
    ++ended_;
    events.push_back("end " + std::to_string(batch));
    if (batch == fail_end) throw Error(ErrorKind::OverQuota, "batch " + std::to_string(batch) + " refused");
  }

  std::vector<std::string> events;
  int most_in_flight = 0;
  int fail_end = 0;                    // end() of this batch throws
  std::function<void(int)> on_begin;   // called with the batch number, under the lock

 private:
  std::mutex mutex_;
  int begun_ = 0, ended_ = 0, in_flight_ = 0;
};

// A closed queue holding messages "a", "b", ... (one spool each).
struct Filled {
  test::TempDir dir;
  MessageQueue queue;
  explicit Filled(std::size_t count) : queue(100, 1 << 30, 1, count) {
    for (std::size_t i = 0; i < count; ++i) {
      RetrievedMessage m;
      m.info.number = static_cast<std::uint32_t>(i + 1);
      m.info.uidl = std::string(1, static_cast<char>('a' + i));
      m.spool = std::make_unique<Spool>(dir.path(), 1024);
      m.spool->write("x");
      m.spool->finish();
      m.outcome = pop3::RetrieveOutcome::Complete;
      queue.push(std::move(m));
    }
    queue.close();
  }
};

}  // namespace

BOOST_AUTO_TEST_CASE(testBeginsTheNextBatchBeforeEndingThePrevious) {
  Filled f(5);
  NullSink sink;
  Recorder uploader;
  UploadWorker(f.queue, sink, uploader, 2, {}).run();
  const std::vector<std::string> expected{"begin 1 ab", "begin 2 cd", "end 1", "begin 3 e",
                                          "end 2", "end 3"};
  BOOST_TEST(uploader.events == expected, boost::test_tools::per_element());
  BOOST_TEST(uploader.most_in_flight == 2);
}

// Asked to stop after its second batch began: it ends both, begins nothing more, and what is
// left stays in the queue for the next pass.
BOOST_AUTO_TEST_CASE(testStopEndsWhatIsInFlightAndTakesNoMore) {
  Filled f(6);
  NullSink sink;
  Recorder uploader;
  bool stop = false;
  uploader.on_begin = [&](int batch) { stop = batch >= 2; };
  UploadWorker(f.queue, sink, uploader, 1, [&] { return stop; }).run();
  const std::vector<std::string> expected{"begin 1 a", "begin 2 b", "end 1", "end 2"};
  BOOST_TEST(uploader.events == expected, boost::test_tools::per_element());
  BOOST_TEST(f.queue.size() == 4u);  // c to f wait for the next pass
}

// end() of the previous batch fails (a refusal the pass cannot go on from): the batch begun
// meanwhile is still ended (its answers are good), then the first error goes up.
BOOST_AUTO_TEST_CASE(testFailedEndStillEndsTheBatchBegunMeanwhile) {
  Filled f(4);
  NullSink sink;
  Recorder uploader;
  uploader.fail_end = 1;
  BOOST_CHECK_EXCEPTION(UploadWorker(f.queue, sink, uploader, 1, {}).run(), Error,
                        [](const Error& e) { return e.kind() == ErrorKind::OverQuota; });
  const std::vector<std::string> expected{"begin 1 a", "begin 2 b", "end 1", "end 2"};
  BOOST_TEST(uploader.events == expected, boost::test_tools::per_element());
}

// With answers outstanding the worker takes only what is there: an empty, still open queue ends
// the batch in flight instead of waiting for more (the answers would wait with it). Here the
// queue closes only after batch 1 has ended, so a worker that waited would never finish.
BOOST_AUTO_TEST_CASE(testDoesNotHoldAnswersWhileWaitingForMessages) {
  test::TempDir dir;
  MessageQueue queue(100, 1 << 30, 1, 3);
  RetrievedMessage m;
  m.info.uidl = "a";
  m.spool = std::make_unique<Spool>(dir.path(), 1024);
  m.spool->finish();
  m.outcome = pop3::RetrieveOutcome::Complete;
  queue.push(std::move(m));

  struct CloseAfterEnd final : Uploader {
    Recorder recorder;
    MessageQueue& queue;
    explicit CloseAfterEnd(MessageQueue& q) : queue(q) {}
    std::unique_ptr<StartedBatch> begin(std::vector<RetrievedMessage> b, MailSink& s) override {
      return recorder.begin(std::move(b), s);
    }
    void end(StartedBatch& started, MailSink& s) override {
      recorder.end(started, s);
      queue.close();  // the second message never comes
    }
  } uploader(queue);
  NullSink sink;
  UploadWorker(queue, sink, uploader, 1, {}).run();
  const std::vector<std::string> expected{"begin 1 a", "end 1"};
  BOOST_TEST(uploader.recorder.events == expected, boost::test_tools::per_element());
}
