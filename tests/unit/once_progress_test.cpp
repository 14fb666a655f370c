// OnceProgress, the text of `popgate once`'s progress display: fed a sequence of pass events with
// made-up times, it must draw the live per-account lines on a terminal (counts, bytes, rate, ETA,
// fitted to the width and the height), print plain lines without escape codes elsewhere (a start,
// the totals, at most one line per 10 s, a summary), and say something sensible when totals are
// zero or not known yet.
#include <boost/test/unit_test.hpp>

#include <string>
#include <vector>

#include "gateway/service/OnceProgress.h"

using namespace popgate::gateway;
using namespace std::chrono_literals;

namespace {

const ProgressClock::time_point t0{};

PassProgress delivering(std::uint64_t done, std::uint64_t total, std::uint64_t done_bytes,
                        std::uint64_t total_bytes, std::uint64_t listed = 0) {
  PassProgress p;
  p.phase = PassProgress::Phase::Delivering;
  p.totals_known = true;
  p.listed = listed == 0 ? total : listed;
  p.total = total;
  p.total_bytes = total_bytes;
  p.done = done;
  p.done_bytes = done_bytes;
  p.delivered = done;
  return p;
}

PassProgress listedOnly(std::uint64_t listed) {
  PassProgress p;
  p.phase = PassProgress::Phase::Checking;
  p.listed = listed;
  return p;
}

bool hasControlBytes(const std::string& s) {
  for (const char c : s) {
    if (c == '\x1b' || c == '\r') return true;
  }
  return false;
}

std::string joined(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& l : lines) out += l + "\n";
  return out;
}

constexpr std::uint64_t kMiB = 1024 * 1024;

}  // namespace

BOOST_AUTO_TEST_CASE(testNumbersBytesAndDurationsReadLikeTheExample) {
  BOOST_TEST(groupedNumber(0) == "0");
  BOOST_TEST(groupedNumber(999) == "999");
  BOOST_TEST(groupedNumber(1204) == "1,204");
  BOOST_TEST(groupedNumber(1234567) == "1,234,567");
  BOOST_TEST(binaryBytes(0) == "0 B");
  BOOST_TEST(binaryBytes(1023) == "1023 B");
  BOOST_TEST(binaryBytes(1536) == "1.5 KiB");
  BOOST_TEST(binaryBytes(41 * kMiB + kMiB / 5) == "41.2 MiB");
  BOOST_TEST(binaryBytes(3ull * 1024 * kMiB) == "3.0 GiB");
  BOOST_TEST(shortDuration(0s) == "0s");
  BOOST_TEST(shortDuration(59s) == "59s");
  BOOST_TEST(shortDuration(252s) == "4m12s");
  BOOST_TEST(shortDuration(3600s + 180s + 59s) == "1h03m");
  BOOST_TEST(shortDuration(2 * 86400s + 4 * 3600s + 5s) == "2d04h");
  BOOST_TEST(shortDuration(-5s) == "0s");
}

BOOST_AUTO_TEST_CASE(testALineOnATerminalShowsCountsBytesRateAndEta) {
  OnceProgress progress({"anna-work", "isp"}, OnceProgress::Mode::Terminal);
  progress.started(0, t0);
  progress.progressed(0, listedOnly(1204), t0 + 1s);
  progress.progressed(0, delivering(0, 1204, 0, 200 * kMiB), t0 + 2s);
  // 10 s of delivery moved 31 MiB: 3.1 MiB/s, and 169 MiB left take 54.5 s more.
  progress.progressed(0, delivering(312, 1204, 31 * kMiB, 200 * kMiB), t0 + 5s);
  const auto f = progress.frame(t0 + 12s, 200, 40);
  BOOST_TEST(f.above.empty());
  BOOST_REQUIRE(f.live.size() == 2u);  // anna-work, and one line for the account that waits
  BOOST_TEST(f.live[0] == "anna-work  312/1,204 msgs  31.0 MiB  3.1 MiB/s  ETA 55s");
  BOOST_TEST(f.live[1] == "(1 account waiting)");
}

BOOST_AUTO_TEST_CASE(testPhasesBeforeDeliveryAndZeroTotalsSaySoWithoutRateOrEta) {
  OnceProgress progress({"work"}, OnceProgress::Mode::Terminal);
  BOOST_TEST(!progress.urgent());
  progress.started(0, t0);
  BOOST_TEST(progress.urgent());
  BOOST_TEST(progress.frame(t0, 80, 24).live == std::vector<std::string>{"work  connecting"});
  BOOST_TEST(!progress.urgent());
  progress.progressed(0, listedOnly(1204), t0 + 1s);
  BOOST_TEST(progress.urgent());  // a new phase is shown at once
  BOOST_TEST(progress.frame(t0 + 1s, 80, 24).live ==
             std::vector<std::string>{"work  1,204 listed, checking"});
  progress.progressed(0, delivering(0, 0, 0, 0, 1204), t0 + 2s);
  BOOST_TEST(progress.frame(t0 + 9s, 80, 24).live ==
             std::vector<std::string>{"work  nothing new (1,204 listed)"});
  // Totals known, nothing done yet, and under a second in: no rate, no ETA.
  progress.progressed(0, delivering(0, 5, 0, 5000), t0 + 3s);
  BOOST_TEST(progress.frame(t0 + 3s, 80, 24).live ==
             std::vector<std::string>{"work  0/5 msgs  0 B"});
  // Sizes the listing did not give (0): the ETA follows the messages.
  progress.progressed(0, delivering(2, 6, 0, 0), t0 + 4s);
  BOOST_TEST(progress.frame(t0 + 7s, 80, 24).live ==
             std::vector<std::string>{"work  2/6 msgs  0 B  ETA 10s"});
  progress.progressed(0, delivering(1, 4, 1000, 0), t0 + 5s);
  BOOST_TEST(progress.frame(t0 + 7s, 80, 24).live ==
             std::vector<std::string>{"work  1/4 msgs  1000 B  200 B/s  ETA 15s"});
}

BOOST_AUTO_TEST_CASE(testLinesFitTheWidthAndTheBlockFitsTheScreen) {
  OnceProgress progress({"a", "b", "c", "d", "e"}, OnceProgress::Mode::Terminal);
  for (std::size_t i = 0; i < 4; ++i) progress.started(i, t0);
  progress.progressed(0, delivering(312, 1204, 31 * kMiB, 200 * kMiB), t0 + 1s);
  auto f = progress.frame(t0 + 11s, 12, 40);
  BOOST_REQUIRE(f.live.size() == 5u);
  BOOST_TEST(f.live[0] == "a  312/1,204");
  for (const auto& line : f.live) BOOST_TEST(line.size() <= 12u);
  // Four running and one waiting on a screen of 4 rows: 3 lines, the last says what is hidden.
  f = progress.frame(t0 + 11s, 80, 4);
  BOOST_REQUIRE(f.live.size() == 3u);
  BOOST_TEST(f.live[0].starts_with("a  312/1,204 msgs"));
  BOOST_TEST(f.live[1] == "b  connecting");
  BOOST_TEST(f.live[2] == "(2 more running, 1 account waiting)");
  // A name of several bytes per character is cut by characters, not in the middle of one.
  BOOST_TEST(fitWidth("Jürgen  312", 3) == "Jür");
  BOOST_TEST(fitWidth("ab", 5) == "ab");
}

BOOST_AUTO_TEST_CASE(testAFinishedAccountLeavesTheBlockAsASummaryWithItsError) {
  OnceProgress progress({"work", "isp"}, OnceProgress::Mode::Terminal);
  progress.started(0, t0);
  progress.started(1, t0);
  PollResult ok;
  ok.account = "work";
  ok.uploaded = 1200;
  ok.recovered = 4;
  ok.skipped = 2;
  ok.backlog = 1;
  ok.rejected = 1;
  ok.bytes = 41 * kMiB + kMiB / 5;
  ok.duration = 391000ms;
  progress.finished(0, ok, t0 + 391s);
  PollResult bad;
  bad.account = "isp";
  bad.uploaded = 3;
  bad.error = popgate::Error(popgate::ErrorKind::Auth, "login refused", "[AUTH] bad\x1b[2Jpassword")
                  .withAccount("isp");
  auto f = progress.frame(t0 + 391s, 80, 24);
  BOOST_TEST(f.above == std::vector<std::string>{
                           "work  done: 1,204 delivered, 3 skipped, 1 quarantined, 41.2 MiB in 6m31s"});
  BOOST_TEST(f.live == std::vector<std::string>{"isp   connecting"});
  progress.finished(1, bad, t0 + 392s);
  f = progress.frame(t0 + 392s, 20, 24);
  BOOST_REQUIRE(f.above.size() == 1u);
  // Never cut (it is written once and may wrap), the server's escape byte made harmless.
  BOOST_TEST(f.above[0].starts_with("isp   failed: 3 delivered, 0 skipped, 0 quarantined: "));
  BOOST_TEST(f.above[0].find("login refused") != std::string::npos);
  BOOST_TEST(f.above[0].find("\\x1b[2J") != std::string::npos);
  BOOST_TEST(!hasControlBytes(f.above[0]));
  BOOST_TEST(f.live.empty());
  BOOST_TEST(progress.frame(t0 + 393s, 80, 24).above.empty());  // shown once
}

BOOST_AUTO_TEST_CASE(testPlainLinesAtStartTotalsEveryTenSecondsAndEndWithoutEscapes) {
  OnceProgress progress({"work"}, OnceProgress::Mode::Plain);
  BOOST_TEST(progress.frame(t0, 80, 24).above.empty());  // nothing started: nothing said
  progress.started(0, t0);
  progress.progressed(0, listedOnly(1204), t0 + 1s);
  auto f = progress.frame(t0 + 1s, 80, 24);
  BOOST_TEST(f.above == std::vector<std::string>{"work: pass starts"});
  BOOST_TEST(f.live.empty());
  progress.progressed(0, delivering(0, 1204, 0, 200 * kMiB), t0 + 2s);
  f = progress.frame(t0 + 2s, 80, 24);
  BOOST_TEST(f.above ==
             std::vector<std::string>{"work: 1,204 messages to deliver (200.0 MiB) of 1,204 listed"});
  // Progress within 10 s of the last line: nothing; after 10 s: one line, never cut.
  progress.progressed(0, delivering(100, 1204, 10 * kMiB, 200 * kMiB), t0 + 5s);
  BOOST_TEST(progress.frame(t0 + 11s, 10, 24).above.empty());
  f = progress.frame(t0 + 12s, 10, 24);
  BOOST_TEST(f.above == std::vector<std::string>{"work: 100/1,204 msgs  10.0 MiB  1.0 MiB/s  ETA 3m10s"});
  // Ten more seconds with no message done: nothing to say.
  BOOST_TEST(progress.frame(t0 + 23s, 80, 24).above.empty());
  progress.progressed(0, delivering(1204, 1204, 200 * kMiB, 200 * kMiB), t0 + 30s);
  PollResult r;
  r.account = "work";
  r.uploaded = 1204;
  r.bytes = 200 * kMiB;
  r.duration = 31s;
  progress.finished(0, r, t0 + 31s);
  f = progress.frame(t0 + 31s, 80, 24);
  BOOST_TEST(f.above == std::vector<std::string>{
                           "work: done: 1,204 delivered, 0 skipped, 0 quarantined, 200.0 MiB in 31.0s"});
  BOOST_TEST(!hasControlBytes(joined(f.above)));
}

BOOST_AUTO_TEST_CASE(testAnAccountThatFailsBeforeListingGetsAStartAndASummaryOnly) {
  OnceProgress progress({"work"}, OnceProgress::Mode::Plain);
  progress.started(0, t0);
  PollResult r;
  r.account = "work";
  r.error = popgate::Error(popgate::ErrorKind::Transient, "connection refused").withAccount("work");
  progress.finished(0, r, t0 + 1s);
  const auto f = progress.frame(t0 + 1s, 80, 24);
  BOOST_REQUIRE(f.above.size() == 2u);
  BOOST_TEST(f.above[0] == "work: pass starts");
  BOOST_TEST(f.above[1].starts_with("work: failed: 0 delivered, 0 skipped, 0 quarantined: "));
  BOOST_TEST(f.above[1].find("connection refused") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(testTerminalUpdateClimbsOverTheOldBlockAndErasesWhatIsLeft) {
  OnceProgress::Frame first;
  first.live = {"a  connecting", "b  connecting"};
  BOOST_TEST(terminalUpdate(0, first) == "\ra  connecting\x1b[K\nb  connecting\x1b[K\n\x1b[J");
  OnceProgress::Frame next;
  next.above = {"a  done: 1 delivered"};
  next.live = {"b  1/2 msgs  10 B"};
  BOOST_TEST(terminalUpdate(2, next) ==
             "\r\x1b[2Aa  done: 1 delivered\x1b[K\nb  1/2 msgs  10 B\x1b[K\n\x1b[J");
}

BOOST_AUTO_TEST_CASE(testEventsForUnknownAccountsOrBeforeAStartAreIgnored) {
  OnceProgress progress({"work"}, OnceProgress::Mode::Terminal);
  progress.started(5, t0);
  progress.progressed(0, delivering(1, 2, 3, 4), t0);  // not started: ignored
  progress.finished(7, PollResult{}, t0);
  const auto f = progress.frame(t0, 80, 24);
  BOOST_TEST(f.above.empty());
  BOOST_TEST(f.live == std::vector<std::string>{"(1 account waiting)"});
}
