// DotUnstuffer: RFC 1939 §3 multi-line bodies. Every case is fed whole, one byte at a time and in
// seeded random splits, and all ways must agree on result, output, consumed bytes and error.
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cstddef>
#include <optional>
#include <ostream>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "connectors/codec/DotUnstuffer.h"
#include "tests/support/ChunkPlans.h"

namespace {

using popgate::codec::DotUnstuffer;
using popgate::codec::Parse;
using namespace std::literals;

struct Outcome {
  Parse result = Parse::NeedMore;
  std::string out;
  std::size_t consumed = 0;  // bytes of the input consumed (Done, NeedMore); 0 after Error
  std::size_t produced = 0;
  std::string error;
};

// Feeds `input` to a fresh unstuffer in chunks of the given lengths; stops at Done or Error.
Outcome feedPlan(std::string_view input, const std::vector<std::size_t>& plan,
                 std::size_t max_bytes) {
  DotUnstuffer unstuffer(max_bytes);
  Outcome outcome;
  std::size_t offset = 0;
  for (const std::size_t length : plan) {
    std::string_view chunk = input.substr(offset, length);
    outcome.result = unstuffer.feed(chunk, outcome.out);
    if (outcome.result == Parse::Error) {
      outcome.error = std::string(unstuffer.error());
      outcome.produced = unstuffer.produced();
      return outcome;
    }
    if (outcome.result == Parse::Done) {
      outcome.consumed = offset + length - chunk.size();
      outcome.produced = unstuffer.produced();
      return outcome;
    }
    BOOST_TEST(chunk.empty());  // NeedMore consumes everything offered
    offset += length;
  }
  outcome.consumed = offset;
  outcome.produced = unstuffer.produced();
  return outcome;
}

// Runs every plan and checks they agree with the whole-input run, which is returned.
Outcome unstuffAllWays(std::string_view input, std::size_t max_bytes = SIZE_MAX) {
  const auto plans = popgate::test::chunkPlans(input.size(), 7);
  Outcome whole = feedPlan(input, plans.front(), max_bytes);
  for (std::size_t i = 1; i < plans.size(); ++i) {
    const Outcome split = feedPlan(input, plans[i], max_bytes);
    BOOST_TEST_CONTEXT("plan " << i << " of " << plans.size()) {
      BOOST_TEST(split.result == whole.result);
      BOOST_TEST(split.out == whole.out);
      BOOST_TEST(split.consumed == whole.consumed);
      BOOST_TEST(split.produced == whole.produced);
      BOOST_TEST(split.error == whole.error);
    }
  }
  return whole;
}

// An independent reading of RFC 1939 §3, line by line: nullopt when there is no terminator.
std::optional<std::pair<std::string, std::size_t>> referenceUnstuff(std::string_view s) {
  std::string out;
  std::size_t i = 0;
  while (true) {
    if (i < s.size() && s[i] == '.') {
      if (s.substr(i, 3) == ".\r\n") return std::make_pair(out, i + 3);
      ++i;
    }
    const std::size_t eol = s.find("\r\n", i);
    if (eol == std::string_view::npos) return std::nullopt;
    out.append(s.substr(i, eol + 2 - i));
    i = eol + 2;
  }
}

}  // namespace

BOOST_AUTO_TEST_CASE(testEmptyMessageIsJustTheTerminator) {
  const Outcome outcome = unstuffAllWays(".\r\n");
  BOOST_TEST(outcome.result == Parse::Done);
  BOOST_TEST(outcome.out == "");
  BOOST_TEST(outcome.consumed == 3u);
  BOOST_TEST(outcome.produced == 0u);
}

BOOST_AUTO_TEST_CASE(testDoubledDotLineBecomesSingleDot) {
  const Outcome outcome = unstuffAllWays("a\r\n..\r\nb\r\n.\r\n");
  BOOST_TEST(outcome.result == Parse::Done);
  BOOST_TEST(outcome.out == "a\r\n.\r\nb\r\n");
  BOOST_TEST(outcome.consumed == 13u);
  BOOST_TEST(outcome.produced == 9u);
}

BOOST_AUTO_TEST_CASE(testStuffedDotBeforeTextIsDropped) {
  const Outcome outcome = unstuffAllWays("Hello\r\n.foo\r\n...\r\n.\r\n");
  BOOST_TEST(outcome.result == Parse::Done);
  BOOST_TEST(outcome.out == "Hello\r\nfoo\r\n..\r\n");
}

BOOST_AUTO_TEST_CASE(testDotLeadingLineAtBodyStart) {
  const Outcome stuffed_text = unstuffAllWays(".From the start\r\n.\r\n");
  BOOST_TEST(stuffed_text.result == Parse::Done);
  BOOST_TEST(stuffed_text.out == "From the start\r\n");
  BOOST_TEST(stuffed_text.consumed == 20u);

  const Outcome lone_dot = unstuffAllWays("..\r\n.\r\n");
  BOOST_TEST(lone_dot.result == Parse::Done);
  BOOST_TEST(lone_dot.out == ".\r\n");
}

BOOST_AUTO_TEST_CASE(testDotInsideLineIsKept) {
  const Outcome outcome = unstuffAllWays("a.b\r\n .\r\nend.\r\n.\r\n");
  BOOST_TEST(outcome.result == Parse::Done);
  BOOST_TEST(outcome.out == "a.b\r\n .\r\nend.\r\n");
}

BOOST_AUTO_TEST_CASE(testTerminatorSplitAtEveryPosition) {
  const std::string input = "Subject: x\r\n\r\n..dots\r\nend\r\n.\r\n+OK next\r\n";
  const std::string body = "Subject: x\r\n\r\n.dots\r\nend\r\n";
  const std::size_t end = input.find("+OK");
  for (std::size_t first = 0; first <= input.size(); ++first) {
    for (std::size_t second = first; second <= input.size(); ++second) {
      const std::vector<std::size_t> plan{first, second - first, input.size() - second};
      const Outcome outcome = feedPlan(input, plan, SIZE_MAX);
      BOOST_TEST_CONTEXT("cuts at " << first << " and " << second) {
        BOOST_TEST(outcome.result == Parse::Done);
        BOOST_TEST(outcome.out == body);
        BOOST_TEST(outcome.consumed == end);
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(testBareLfDotLfIsNotAnEnd) {
  // Poco's POP3ClientSession mistakes this for an end; a "\n.\n" body must keep waiting.
  const std::string input = "line one\n.\nline three\n";
  const Outcome outcome = unstuffAllWays(input);
  BOOST_TEST(outcome.result == Parse::NeedMore);
  BOOST_TEST(outcome.out == input);
  BOOST_TEST(outcome.consumed == input.size());

  // The connection then hits EOF: nothing more ever arrives, and it never becomes Done.
  DotUnstuffer unstuffer;
  std::string out;
  std::string_view in = input;
  BOOST_TEST(unstuffer.feed(in, out) == Parse::NeedMore);
  for (int i = 0; i < 3; ++i) {
    std::string_view nothing;
    BOOST_TEST(unstuffer.feed(nothing, out) == Parse::NeedMore);
  }
  BOOST_TEST(out == input);
}

BOOST_AUTO_TEST_CASE(testCrLfDotLfIsNotAnEnd) {
  // "." + LF at a line start is a stuffed line: the dot goes, the LF stays.
  const Outcome outcome = unstuffAllWays("a\r\n.\nb\r\n.\r\n");
  BOOST_TEST(outcome.result == Parse::Done);
  BOOST_TEST(outcome.out == "a\r\n\nb\r\n");
  BOOST_TEST(outcome.consumed == 11u);
}

BOOST_AUTO_TEST_CASE(testLoneCrPassesThrough) {
  const Outcome outcome = unstuffAllWays("a\rb\r\r\nc\r\n.\r\n");
  BOOST_TEST(outcome.result == Parse::Done);
  BOOST_TEST(outcome.out == "a\rb\r\r\nc\r\n");
}

BOOST_AUTO_TEST_CASE(testDotAfterLoneCrIsNotALineStart) {
  // Only CRLF starts a line: "a" CR "." CRLF is one line that keeps its dot.
  const Outcome outcome = unstuffAllWays("a\r.\r\n.\r\n");
  BOOST_TEST(outcome.result == Parse::Done);
  BOOST_TEST(outcome.out == "a\r.\r\n");
  BOOST_TEST(outcome.consumed == 8u);
}

BOOST_AUTO_TEST_CASE(testDotCrThenMoreBytesKeepsTheCr) {
  const Outcome text = unstuffAllWays("x\r\n.\rfoo\r\n.\r\n");
  BOOST_TEST(text.result == Parse::Done);
  BOOST_TEST(text.out == "x\r\n\rfoo\r\n");

  const Outcome double_cr = unstuffAllWays(".\r\r\n.\r\n");
  BOOST_TEST(double_cr.result == Parse::Done);
  BOOST_TEST(double_cr.out == "\r\r\n");
  BOOST_TEST(double_cr.consumed == 7u);

  // Ends with the undecided "." CR: the CR is held back, not lost, not emitted yet.
  DotUnstuffer unstuffer;
  std::string out;
  std::string_view first = "x\r\n.\r";
  BOOST_TEST(unstuffer.feed(first, out) == Parse::NeedMore);
  BOOST_TEST(out == "x\r\n");
  std::string_view second = "y\r\n.\r\n";
  BOOST_TEST(unstuffer.feed(second, out) == Parse::Done);
  BOOST_TEST(out == "x\r\n\ry\r\n");
  BOOST_TEST(unstuffer.produced() == 7u);
}

BOOST_AUTO_TEST_CASE(test8BitAndNulBytesPassThrough) {
  const std::string input = "Caf\xc3\xa9 \x80\xff\r\nNUL\0here\r\n.\0dot-nul\r\n\0\r\n.\r\n"s;
  const std::string body = "Caf\xc3\xa9 \x80\xff\r\nNUL\0here\r\n\0dot-nul\r\n\0\r\n"s;
  const Outcome outcome = unstuffAllWays(input);
  BOOST_TEST(outcome.result == Parse::Done);
  BOOST_TEST(outcome.out == body);
  BOOST_TEST(outcome.consumed == input.size());
}

BOOST_AUTO_TEST_CASE(testBodyOverMaxBytesIsError) {
  const Outcome over = unstuffAllWays("0123456789A\r\n.\r\n", 12);
  BOOST_TEST(over.result == Parse::Error);
  BOOST_TEST(over.error == "message body larger than 12 bytes");
  BOOST_TEST(over.out == "0123456789A\r");  // exactly the first max_bytes, whatever the split
  BOOST_TEST(over.produced == 12u);

  const Outcome at_limit = unstuffAllWays("0123456789A\r\n.\r\n", 13);
  BOOST_TEST(at_limit.result == Parse::Done);
  BOOST_TEST(at_limit.out == "0123456789A\r\n");
  BOOST_TEST(at_limit.produced == 13u);
}

BOOST_AUTO_TEST_CASE(testDroppedDotsAndTerminatorDoNotCountAgainstMaxBytes) {
  const Outcome outcome = unstuffAllWays("..\r\n.\r\n", 3);
  BOOST_TEST(outcome.result == Parse::Done);
  BOOST_TEST(outcome.out == ".\r\n");

  const Outcome held_cr = unstuffAllWays("ab\r\n.\rc\r\n.\r\n", 4);
  BOOST_TEST(held_cr.result == Parse::Error);
  BOOST_TEST(held_cr.out == "ab\r\n");
  BOOST_TEST(held_cr.produced == 4u);
}

BOOST_AUTO_TEST_CASE(testEndlessBodyStopsAtMaxBytes) {
  // A hostile server that never sends the terminator: the limit, not memory, ends it.
  const std::string endless(100000, 'x');
  DotUnstuffer unstuffer(1000);
  std::string out;
  Parse result = Parse::NeedMore;
  for (std::size_t fed = 0; fed < endless.size() && result == Parse::NeedMore; fed += 64) {
    std::string_view chunk = std::string_view(endless).substr(fed, 64);
    result = unstuffer.feed(chunk, out);
  }
  BOOST_TEST(result == Parse::Error);
  BOOST_TEST(out.size() == 1000u);
}

BOOST_AUTO_TEST_CASE(testBytesAfterTerminatorLeftUntouched) {
  const std::string input = "body\r\n.\r\n+OK 2 messages\r\n";
  DotUnstuffer unstuffer;
  std::string out;
  std::string_view in = input;
  BOOST_TEST(unstuffer.feed(in, out) == Parse::Done);
  BOOST_TEST(out == "body\r\n");
  BOOST_TEST(in == "+OK 2 messages\r\n");
  BOOST_TEST(static_cast<const void*>(in.data()) == static_cast<const void*>(input.data() + 9));

  const Outcome outcome = unstuffAllWays(input);
  BOOST_TEST(outcome.consumed == 9u);
}

BOOST_AUTO_TEST_CASE(testPipelinedRetrBodiesWithReset) {
  // Two RETR bodies back to back in one buffer, as a PIPELINING server sends them.
  const std::string input = "first\r\n.\r\n..second\r\n.\r\n";
  DotUnstuffer unstuffer;
  std::string_view in = input;
  std::string first;
  BOOST_TEST(unstuffer.feed(in, first) == Parse::Done);
  BOOST_TEST(first == "first\r\n");
  BOOST_TEST(unstuffer.produced() == 7u);
  unstuffer.reset();
  BOOST_TEST(unstuffer.produced() == 0u);
  std::string second;
  BOOST_TEST(unstuffer.feed(in, second) == Parse::Done);
  BOOST_TEST(second == ".second\r\n");
  BOOST_TEST(in.empty());
}

BOOST_AUTO_TEST_CASE(testFeedAfterDoneWithoutResetIsError) {
  DotUnstuffer unstuffer;
  std::string out;
  std::string_view in = ".\r\nmore\r\n.\r\n";
  BOOST_TEST(unstuffer.feed(in, out) == Parse::Done);
  BOOST_TEST(unstuffer.feed(in, out) == Parse::Error);
  BOOST_TEST(unstuffer.error() == "feed() after the end of the body without reset()");
  BOOST_TEST(out == "");
}

BOOST_AUTO_TEST_CASE(testErrorIsStickyUntilReset) {
  DotUnstuffer unstuffer(2);
  std::string out;
  std::string_view in = "abc\r\n.\r\n";
  BOOST_TEST(unstuffer.feed(in, out) == Parse::Error);
  std::string_view small = ".\r\n";
  BOOST_TEST(unstuffer.feed(small, out) == Parse::Error);
  unstuffer.reset();
  BOOST_TEST(unstuffer.error() == "");
  out.clear();
  BOOST_TEST(unstuffer.feed(small, out) == Parse::Done);
  BOOST_TEST(out == "");
}

BOOST_AUTO_TEST_CASE(testEmptyFeedNeedsMore) {
  DotUnstuffer unstuffer;
  std::string out;
  std::string_view in;
  BOOST_TEST(unstuffer.feed(in, out) == Parse::NeedMore);
  BOOST_TEST(out == "");
  BOOST_TEST(unstuffer.produced() == 0u);
}

BOOST_AUTO_TEST_CASE(testAgreesWithLineByLineReadingOnRandomBodies) {
  // Differential check against the line-by-line reference on hostile byte soup.
  constexpr std::string_view kAlphabet = ".\r\n.\r\nx\0\xff"sv;
  std::mt19937 rng(1939);
  std::uniform_int_distribution<std::size_t> pick(0, kAlphabet.size() - 1);
  std::uniform_int_distribution<std::size_t> length(0, 40);
  for (int round = 0; round < 2000; ++round) {
    std::string input;
    for (std::size_t n = length(rng); n > 0; --n) input.push_back(kAlphabet[pick(rng)]);
    if (round % 2 == 0) input += "\r\n.\r\n";
    const auto expected = referenceUnstuff(input);
    BOOST_TEST_CONTEXT("round " << round) {
      const Outcome outcome = unstuffAllWays(input);
      if (expected) {
        BOOST_TEST(outcome.result == Parse::Done);
        BOOST_TEST(outcome.out == expected->first);
        BOOST_TEST(outcome.consumed == expected->second);
      } else {
        BOOST_TEST(outcome.result == Parse::NeedMore);
        BOOST_TEST(outcome.consumed == input.size());
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(testMultiMegabyteBodyInSocketSizedChunks) {
  // A 4 MB message read in 16 KB socket reads; every 7th line starts with a dot.
  std::string stuffed;
  std::string expected;
  for (int line = 0; stuffed.size() < 4'000'000; ++line) {
    std::string text = "Line " + std::to_string(line) + " of a long message body, 8-bit \xe9\r\n";
    if (line % 7 == 0) text.insert(0, ".");
    expected += text;
    if (text.front() == '.') stuffed += ".";
    stuffed += text;
  }
  stuffed += ".\r\n";
  DotUnstuffer unstuffer;
  std::string out;
  Parse result = Parse::NeedMore;
  std::size_t offset = 0;
  while (result == Parse::NeedMore && offset < stuffed.size()) {
    const std::string_view read = std::string_view(stuffed).substr(offset, 16384);
    std::string_view chunk = read;
    result = unstuffer.feed(chunk, out);
    offset += read.size() - chunk.size();
  }
  BOOST_TEST(result == Parse::Done);
  BOOST_TEST(offset == stuffed.size());
  BOOST_TEST(out.size() == expected.size());
  BOOST_TEST((out == expected));
}
