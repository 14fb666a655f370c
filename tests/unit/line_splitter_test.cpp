// LineSplitter: lines at LF with the CR of CRLF dropped, lone CRs kept, over-long lines cut and
// flagged with bounded memory; every input is also fed one byte at a time and must split the same.
#include <boost/test/unit_test.hpp>

#include <string>
#include <vector>

#include "connectors/codec/LineSplitter.h"

using popgate::codec::LineSplitter;

namespace {

struct Line {
  std::string text;
  bool cut;
  bool operator==(const Line&) const = default;
};

std::ostream& operator<<(std::ostream& out, const Line& l) {
  return out << '"' << l.text << '"' << (l.cut ? " (cut)" : "");
}

// Splits `input` fed in pieces of `step` bytes (0: whole).
std::vector<Line> split(const std::string& input, std::size_t max_line, std::size_t step) {
  std::vector<Line> lines;
  LineSplitter splitter(max_line);
  auto on_line = [&](std::string_view text, bool cut) { lines.push_back({std::string(text), cut}); };
  if (step == 0) step = input.size() + 1;
  for (std::size_t at = 0; at < input.size(); at += step) {
    splitter.feed(std::string_view(input).substr(at, step), on_line);
  }
  splitter.finish(on_line);
  return lines;
}

void check(const std::string& input, std::size_t max_line, const std::vector<Line>& expected) {
  for (const std::size_t step : {std::size_t{0}, std::size_t{1}, std::size_t{2}, std::size_t{3}}) {
    BOOST_TEST_CONTEXT("fed in pieces of " << step) {
      BOOST_TEST(split(input, max_line, step) == expected, boost::test_tools::per_element());
    }
  }
}

}  // namespace

BOOST_AUTO_TEST_CASE(testCrlfAndBareLfEndLines) {
  check("1 a\r\n2 b\n3 c\r\n", 100, {{"1 a", false}, {"2 b", false}, {"3 c", false}});
}

BOOST_AUTO_TEST_CASE(testLoneCrStaysInTheLine) {
  check("1 a\rb\r\n\r\r\n", 100, {{"1 a\rb", false}, {"\r", false}});
}

BOOST_AUTO_TEST_CASE(testLastLineWithoutLineEnd) {
  check("1 a\r\n2 b", 100, {{"1 a", false}, {"2 b", false}});
  check("1 a\r\n2 b\r", 100, {{"1 a", false}, {"2 b\r", false}});
}

BOOST_AUTO_TEST_CASE(testEmptyLinesAreLines) {
  check("\r\n\n1 a\r\n", 100, {{"", false}, {"", false}, {"1 a", false}});
}

BOOST_AUTO_TEST_CASE(testLongLineIsCutAndFlaggedAndTheNextIsWhole) {
  check("1 abcdefgh\r\n2 b\r\n", 5, {{"1 abc", true}, {"2 b", false}});
  check("12345\r\n", 5, {{"12345", false}});
  check("123456", 5, {{"12345", true}});
  check("12345\r", 5, {{"12345", true}});  // the lone CR is the sixth byte
}
