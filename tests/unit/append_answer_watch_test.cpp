// The IMAP stream watch behind the interop tests' aimed kills: it must mark exactly the server's
// tagged OK to an APPEND — never a line inside a literal (a message being appended, a message
// being fetched), never the OK of another command, never a NO — and hand on every byte unchanged,
// in order, however the stream is cut. Fed one byte at a time.
#include <boost/test/unit_test.hpp>

#include <string>
#include <vector>

#include "tests/support/AppendAnswerWatch.h"

using popgate::test::AppendAnswerWatch;
using popgate::test::ImapStreamSplitter;

namespace {

struct Seen {
  std::string forwarded;               // every byte handed on, in order
  std::vector<std::string> append_ok;  // the lines marked
};

// Feeds `client` then `server` to `watch` one byte at a time.
Seen byteByByte(AppendAnswerWatch& watch, const std::string& client, const std::string& server) {
  for (const char c : client) watch.fromClient(std::string(1, c));
  Seen seen;
  for (const char c : server) {
    for (const AppendAnswerWatch::Answer& a : watch.fromServer(std::string(1, c))) {
      seen.forwarded += a.bytes;
      if (a.append_ok) seen.append_ok.push_back(a.bytes);
    }
  }
  return seen;
}

}  // namespace

BOOST_AUTO_TEST_CASE(testMarksTheOkOfAnAppendWithASynchronisingLiteral) {
  AppendAnswerWatch watch;
  const std::string client =
      "A0001 LOGIN me ********\r\n"
      "A0002 APPEND Work (\\Seen) {27}\r\n"
      "Subject: x\r\n\r\nA0002 OK no\r\n"  // the message itself: a line that looks like an answer
      "\r\n";
  const std::string server =
      "* OK ready\r\n"
      "A0001 OK LOGIN completed\r\n"
      "+ go ahead\r\n"
      "* 3 EXISTS\r\n"
      "A0002 OK APPEND completed\r\n";
  const Seen seen = byteByByte(watch, client, server);
  BOOST_TEST(seen.forwarded == server);
  BOOST_TEST(seen.append_ok == std::vector<std::string>{"A0002 OK APPEND completed\r\n"});
}

BOOST_AUTO_TEST_CASE(testALineInsideAFetchedLiteralIsNotAnAnswer) {
  AppendAnswerWatch watch;
  const std::string fetched = "Subject: y\r\n\r\nA0007 OK APPEND completed\r\n";
  const std::string client =
      "A0007 APPEND Work {5+}\r\nhello\r\n"
      "A0008 UID FETCH 4 (BODY.PEEK[])\r\n";
  const std::string server = "* 4 FETCH (UID 4 BODY[] {" + std::to_string(fetched.size()) +
                             "}\r\n" + fetched + ")\r\nA0008 OK FETCH done\r\nA0007 OK done\n";
  const Seen seen = byteByByte(watch, client, server);
  BOOST_TEST(seen.forwarded == server);
  // Only the real answer, which mailutils ends with a bare LF.
  BOOST_TEST(seen.append_ok == std::vector<std::string>{"A0007 OK done\n"});
}

BOOST_AUTO_TEST_CASE(testAMultiappendIsOneAppendAndANoIsNotMarked) {
  AppendAnswerWatch watch;
  const std::string client =
      "A3 append Work (\\Seen) {17+}\r\nA9 APPEND Other\r\n (\\Seen) {3+}\r\nabc\r\n"
      "A4 APPEND Work {3+}\r\nxyz\r\n";
  const std::string server = "A4 NO [TRYCREATE] failed\r\nA9 OK not an append\r\nA3 ok done\r\n";
  const Seen seen = byteByByte(watch, client, server);
  BOOST_TEST(seen.forwarded == server);
  BOOST_TEST(seen.append_ok == std::vector<std::string>{"A3 ok done\r\n"});
}

BOOST_AUTO_TEST_CASE(testAnUnfinishedLineIsHeldUntilItsLineFeed) {
  ImapStreamSplitter splitter;
  BOOST_TEST(splitter.feed("A1 OK do").empty());
  BOOST_TEST(splitter.held() == "A1 OK do");
  const std::vector<ImapStreamSplitter::Piece> pieces = splitter.feed("ne\r\n* 1 FETCH {2}\r\nab");
  BOOST_TEST_REQUIRE(pieces.size() == 3u);
  BOOST_TEST(pieces[0].bytes == "A1 OK done\r\n");
  BOOST_TEST(pieces[0].line_start);
  BOOST_TEST(pieces[1].line_start);
  BOOST_TEST(pieces[2].bytes == "ab");
  BOOST_TEST(pieces[2].literal);
  const std::vector<ImapStreamSplitter::Piece> rest = splitter.feed(")\r\n");
  BOOST_TEST_REQUIRE(rest.size() == 1u);
  BOOST_TEST(!rest[0].line_start);  // the FETCH line goes on after its literal
}
