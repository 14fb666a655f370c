// Pop3ReplyParser: status lines and SASL continuations. Every stream is parsed whole, one byte at a
// time and in seeded random splits; all ways must give the same replies, end offsets and errors.
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cstddef>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "connectors/codec/Pop3ReplyParser.h"
#include "tests/support/ChunkPlans.h"

namespace popgate::codec {
std::ostream& operator<<(std::ostream& os, Pop3Reply::Status status) {
  switch (status) {
    case Pop3Reply::Status::Ok:
      return os << "Ok";
    case Pop3Reply::Status::Err:
      return os << "Err";
    case Pop3Reply::Status::Continue:
      return os << "Continue";
  }
  return os << "?";
}
}  // namespace popgate::codec

namespace {

using popgate::codec::Parse;
using popgate::codec::Pop3Reply;
using popgate::codec::Pop3ReplyParser;
using Status = popgate::codec::Pop3Reply::Status;
using namespace std::literals;

struct Transcript {
  std::vector<Pop3Reply> replies;
  std::vector<std::size_t> ends;  // input offset right after each reply
  Parse last = Parse::NeedMore;   // the answer of the last call
  std::string error;
};

// Parses `input` with one parser, offered in chunks of the given lengths; stops at an Error.
Transcript parsePlan(std::string_view input, const std::vector<std::size_t>& plan,
                     std::size_t max_line) {
  Pop3ReplyParser parser(max_line);
  Transcript transcript;
  std::size_t offset = 0;
  for (const std::size_t length : plan) {
    std::string_view chunk = input.substr(offset, length);
    while (true) {
      Pop3Reply reply;
      transcript.last = parser.parse(chunk, reply);
      if (transcript.last == Parse::Error) {
        transcript.error = std::string(parser.error());
        return transcript;
      }
      if (transcript.last == Parse::NeedMore) {
        BOOST_TEST(chunk.empty());
        break;
      }
      transcript.replies.push_back(std::move(reply));
      transcript.ends.push_back(offset + length - chunk.size());
      if (chunk.empty()) break;
    }
    offset += length;
  }
  return transcript;
}

// Runs every plan, checks each agrees with the whole-input run, and returns that run.
Transcript parseAllWays(std::string_view input, std::size_t max_line = 4096) {
  const auto plans = popgate::test::chunkPlans(input.size(), 5);
  Transcript whole = parsePlan(input, plans.front(), max_line);
  for (std::size_t i = 1; i < plans.size(); ++i) {
    const Transcript split = parsePlan(input, plans[i], max_line);
    BOOST_TEST_CONTEXT("plan " << i << " of " << plans.size()) {
      BOOST_TEST(split.last == whole.last);
      BOOST_TEST(split.error == whole.error);
      BOOST_TEST(split.ends == whole.ends, boost::test_tools::per_element());
      BOOST_TEST_REQUIRE(split.replies.size() == whole.replies.size());
      for (std::size_t r = 0; r < whole.replies.size(); ++r) {
        BOOST_TEST(split.replies[r].status == whole.replies[r].status);
        BOOST_TEST(split.replies[r].code == whole.replies[r].code);
        BOOST_TEST(split.replies[r].text == whole.replies[r].text);
        BOOST_TEST(split.replies[r].line == whole.replies[r].line);
      }
    }
  }
  return whole;
}

// Parses a stream expected to hold exactly one reply ending at the end of `input`.
Pop3Reply parseOne(std::string_view input, std::size_t max_line = 4096) {
  const Transcript transcript = parseAllWays(input, max_line);
  BOOST_TEST(transcript.last == Parse::Done);
  BOOST_TEST(transcript.error == "");
  BOOST_TEST_REQUIRE(transcript.replies.size() == 1u);
  BOOST_TEST(transcript.ends.front() == input.size());
  return transcript.replies.front();
}

// Parses a stream expected to fail; returns the error text.
std::string parseFailure(std::string_view input, std::size_t max_line = 4096) {
  const Transcript transcript = parseAllWays(input, max_line);
  BOOST_TEST(transcript.last == Parse::Error);
  BOOST_TEST(transcript.replies.empty());
  return transcript.error;
}

}  // namespace

BOOST_AUTO_TEST_CASE(testOkWithoutText) {
  const Pop3Reply reply = parseOne("+OK\r\n");
  BOOST_TEST(reply.status == Status::Ok);
  BOOST_TEST(reply.ok());
  BOOST_TEST(reply.code == "");
  BOOST_TEST(reply.text == "");
  BOOST_TEST(reply.line == "+OK");
}

BOOST_AUTO_TEST_CASE(testDovecotGreetingOkWithText) {
  const Pop3Reply reply = parseOne("+OK Dovecot (Debian) ready.\r\n");
  BOOST_TEST(reply.status == Status::Ok);
  BOOST_TEST(reply.code == "");
  BOOST_TEST(reply.text == "Dovecot (Debian) ready.");
  BOOST_TEST(reply.line == "+OK Dovecot (Debian) ready.");
}

BOOST_AUTO_TEST_CASE(testErrInUseResponseCode) {
  const Pop3Reply reply = parseOne("-ERR [IN-USE] Mailbox is locked by another POP3 session\r\n");
  BOOST_TEST(reply.status == Status::Err);
  BOOST_TEST(!reply.ok());
  BOOST_TEST(reply.code == "IN-USE");
  BOOST_TEST(reply.text == "Mailbox is locked by another POP3 session");
  BOOST_TEST(reply.line == "-ERR [IN-USE] Mailbox is locked by another POP3 session");
}

BOOST_AUTO_TEST_CASE(testErrSysTempHierarchicalCode) {
  const Pop3Reply reply = parseOne("-ERR [SYS/TEMP] x\r\n");
  BOOST_TEST(reply.status == Status::Err);
  BOOST_TEST(reply.code == "SYS/TEMP");
  BOOST_TEST(reply.text == "x");
}

BOOST_AUTO_TEST_CASE(testAuthResponseCodeWithoutText) {
  const Pop3Reply reply = parseOne("-ERR [AUTH]\r\n");
  BOOST_TEST(reply.status == Status::Err);
  BOOST_TEST(reply.code == "AUTH");
  BOOST_TEST(reply.text == "");
}

BOOST_AUTO_TEST_CASE(testLowerCaseResponseCodeIsUpperCased) {
  const Pop3Reply reply = parseOne("-ERR [in-use] busy\r\n");
  BOOST_TEST(reply.code == "IN-USE");
  BOOST_TEST(reply.text == "busy");
  BOOST_TEST(reply.line == "-ERR [in-use] busy");  // the line stays as sent
}

BOOST_AUTO_TEST_CASE(testOkWithResponseCode) {
  const Pop3Reply reply = parseOne("+OK [LOGIN-DELAY] 900 seconds\r\n");
  BOOST_TEST(reply.status == Status::Ok);
  BOOST_TEST(reply.code == "LOGIN-DELAY");
  BOOST_TEST(reply.text == "900 seconds");
}

BOOST_AUTO_TEST_CASE(testMalformedResponseCodeStaysText) {
  const Pop3Reply glued = parseOne("-ERR [IN-USE]busy\r\n");
  BOOST_TEST(glued.code == "");
  BOOST_TEST(glued.text == "[IN-USE]busy");

  const Pop3Reply empty = parseOne("-ERR [] no code\r\n");
  BOOST_TEST(empty.code == "");
  BOOST_TEST(empty.text == "[] no code");

  const Pop3Reply empty_level = parseOne("-ERR [SYS//TEMP] x\r\n");
  BOOST_TEST(empty_level.code == "");
  BOOST_TEST(empty_level.text == "[SYS//TEMP] x");

  const Pop3Reply unclosed = parseOne("-ERR [unclosed bracket\r\n");
  BOOST_TEST(unclosed.code == "");
  BOOST_TEST(unclosed.text == "[unclosed bracket");

  const Pop3Reply eight_bit = parseOne("-ERR [\xc3\xa9] x\r\n");
  BOOST_TEST(eight_bit.code == "");
  BOOST_TEST(eight_bit.text == "[\xc3\xa9] x");
}

BOOST_AUTO_TEST_CASE(testSaslContinuationWithBase64) {
  const Pop3Reply reply = parseOne("+ VXNlcm5hbWU6\r\n");
  BOOST_TEST(reply.status == Status::Continue);
  BOOST_TEST(!reply.ok());
  BOOST_TEST(reply.text == "VXNlcm5hbWU6");
  BOOST_TEST(reply.code == "");
  BOOST_TEST(reply.line == "+ VXNlcm5hbWU6");
}

BOOST_AUTO_TEST_CASE(testBareContinuationForAuthPlain) {
  // RFC 5034 §4: AUTH PLAIN without an initial response gets an empty challenge.
  const Pop3Reply bare = parseOne("+\r\n");
  BOOST_TEST(bare.status == Status::Continue);
  BOOST_TEST(bare.text == "");

  const Pop3Reply space = parseOne("+ \r\n");
  BOOST_TEST(space.status == Status::Continue);
  BOOST_TEST(space.text == "");
  BOOST_TEST(space.line == "+ ");
}

BOOST_AUTO_TEST_CASE(testLowerCaseStatusAccepted) {
  const Pop3Reply ok = parseOne("+ok hi\r\n");
  BOOST_TEST(ok.status == Status::Ok);
  BOOST_TEST(ok.text == "hi");

  const Pop3Reply mixed = parseOne("+Ok\r\n");
  BOOST_TEST(mixed.status == Status::Ok);

  const Pop3Reply err = parseOne("-err no such message\r\n");
  BOOST_TEST(err.status == Status::Err);
  BOOST_TEST(err.text == "no such message");
}

BOOST_AUTO_TEST_CASE(testStatusWordFollowedByLettersIsError) {
  BOOST_TEST(parseFailure("+OKAY\r\n") == "not a POP3 status line: \"+OKAY\"");
  BOOST_TEST(parseFailure("-ERROR x\r\n") == "not a POP3 status line: \"-ERROR x\"");
  BOOST_TEST(parseFailure("+VXNl\r\n") == "not a POP3 status line: \"+VXNl\"");
}

BOOST_AUTO_TEST_CASE(testImapGreetingOnPop3PortIsError) {
  // The account points at the IMAP port by mistake.
  BOOST_TEST(parseFailure("* OK [CAPABILITY IMAP4rev1 SASL-IR] Dovecot ready.\r\n") ==
             "not a POP3 status line: \"* OK [CAPABILITY IMAP4rev1 SASL-IR] Dove...\"");
}

BOOST_AUTO_TEST_CASE(testHttpAnswerOnPop3PortIsError) {
  BOOST_TEST(parseFailure("HTTP/1.1 400 Bad Request\r\n") ==
             "not a POP3 status line: \"HTTP/1.1 400 Bad Request\"");
}

BOOST_AUTO_TEST_CASE(testEmptyLineIsError) {
  BOOST_TEST(parseFailure("\r\n") == "not a POP3 status line: \"\"");
  BOOST_TEST(parseFailure("\n") == "not a POP3 status line: \"\"");
}

BOOST_AUTO_TEST_CASE(testGarbageBytesInErrorTextAreMasked) {
  BOOST_TEST(parseFailure("\x1b[31mred\xff\r\n") == "not a POP3 status line: \"?[31mred?\"");
}

BOOST_AUTO_TEST_CASE(testNulInStatusLineIsError) {
  BOOST_TEST(parseFailure("+OK a\0b\r\n"sv) == "NUL byte in a POP3 status line");
  BOOST_TEST(parseFailure("\0"sv) == "NUL byte in a POP3 status line");
}

BOOST_AUTO_TEST_CASE(testOverlongLineFailsWithoutBuffering) {
  // A server that never ends its line: the error comes after max_line bytes, not at the LF.
  constexpr std::size_t kMaxLine = 64;
  const std::string endless = "+OK " + std::string(100000, 'a');
  Pop3ReplyParser parser(kMaxLine);
  Pop3Reply reply;
  std::size_t fed = 0;
  Parse result = Parse::NeedMore;
  while (result == Parse::NeedMore && fed < endless.size()) {
    std::string_view byte = std::string_view(endless).substr(fed, 1);
    result = parser.parse(byte, reply);
    ++fed;
  }
  BOOST_TEST(result == Parse::Error);
  BOOST_TEST(fed == kMaxLine);  // 63 bytes kept; the 64th leaves no room for the LF
  BOOST_TEST(parser.error() == "POP3 status line longer than 64 octets");

  BOOST_TEST(parseFailure(endless, kMaxLine) == "POP3 status line longer than 64 octets");
}

BOOST_AUTO_TEST_CASE(testLineExactlyAtLimit) {
  // max_line counts the CRLF.
  const Pop3Reply fits = parseOne("+OK 1234\r\n", 10);
  BOOST_TEST(fits.text == "1234");
  BOOST_TEST(parseFailure("+OK 12345\r\n", 10) == "POP3 status line longer than 10 octets");

  const Pop3Reply bare_lf = parseOne("+OK 12345\n", 10);
  BOOST_TEST(bare_lf.text == "12345");
}

BOOST_AUTO_TEST_CASE(testNulAfterLimitReportsLength) {
  // Whichever violation comes first in the stream is reported, for any split.
  BOOST_TEST(parseFailure("+OK 123456789\0\r\n"sv, 10) == "POP3 status line longer than 10 octets");
  BOOST_TEST(parseFailure("+OK\0 123456789\r\n"sv, 10) == "NUL byte in a POP3 status line");
}

BOOST_AUTO_TEST_CASE(testBareLfLineEndAccepted) {
  const Transcript transcript = parseAllWays("+OK hi\n-ERR no\n");
  BOOST_TEST(transcript.last == Parse::Done);
  BOOST_TEST_REQUIRE(transcript.replies.size() == 2u);
  BOOST_TEST(transcript.replies[0].status == Status::Ok);
  BOOST_TEST(transcript.replies[0].text == "hi");
  BOOST_TEST(transcript.replies[1].status == Status::Err);
  BOOST_TEST(transcript.replies[1].text == "no");
  BOOST_TEST(transcript.ends == (std::vector<std::size_t>{7, 15}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(testOnlyOneCrBeforeLfIsStripped) {
  const Pop3Reply reply = parseOne("+OK a\rb\r\r\n");
  BOOST_TEST(reply.text == "a\rb\r");
  BOOST_TEST(reply.line == "+OK a\rb\r");
}

BOOST_AUTO_TEST_CASE(test8BitServerTextKept) {
  const Pop3Reply reply = parseOne("-ERR Mot de passe erron\xc3\xa9\r\n");
  BOOST_TEST(reply.status == Status::Err);
  BOOST_TEST(reply.text == "Mot de passe erron\xc3\xa9");
}

BOOST_AUTO_TEST_CASE(testPipelinedRepliesParseOneAfterAnother) {
  // PIPELINING: answers to USER, PASS, STAT arrive in one read.
  const std::string input = "+OK\r\n+OK Logged in.\r\n-ERR [SYS/PERM] Disk error\r\n+OK 2 320";
  const Transcript transcript = parseAllWays(input);
  BOOST_TEST(transcript.last == Parse::NeedMore);  // the fourth line is still incomplete
  BOOST_TEST_REQUIRE(transcript.replies.size() == 3u);
  BOOST_TEST(transcript.ends == (std::vector<std::size_t>{5, 21, 49}),
             boost::test_tools::per_element());
  BOOST_TEST(transcript.replies[1].text == "Logged in.");
  BOOST_TEST(transcript.replies[2].code == "SYS/PERM");
  BOOST_TEST(transcript.replies[2].text == "Disk error");

  Pop3ReplyParser parser;
  Pop3Reply reply;
  std::string_view in = input;
  BOOST_TEST(parser.parse(in, reply) == Parse::Done);
  BOOST_TEST(in.substr(0, 16) == "+OK Logged in.\r\n");
  BOOST_TEST(static_cast<const void*>(in.data()) == static_cast<const void*>(input.data() + 5));
}

BOOST_AUTO_TEST_CASE(testPartialLineThenRest) {
  Pop3ReplyParser parser;
  Pop3Reply reply;
  std::string_view first = "+OK hel";
  BOOST_TEST(parser.parse(first, reply) == Parse::NeedMore);
  BOOST_TEST(first.empty());
  std::string_view empty;
  BOOST_TEST(parser.parse(empty, reply) == Parse::NeedMore);
  std::string_view second = "lo\r\n+OK";
  BOOST_TEST(parser.parse(second, reply) == Parse::Done);
  BOOST_TEST(reply.text == "hello");
  BOOST_TEST(second == "+OK");
}

BOOST_AUTO_TEST_CASE(testErrorIsStickyUntilReset) {
  Pop3ReplyParser parser;
  Pop3Reply reply;
  std::string_view garbage = "garbage\r\n";
  BOOST_TEST(parser.parse(garbage, reply) == Parse::Error);
  std::string_view good = "+OK\r\n";
  BOOST_TEST(parser.parse(good, reply) == Parse::Error);
  BOOST_TEST(parser.error() == "not a POP3 status line: \"garbage\"");
  parser.reset();
  BOOST_TEST(parser.error() == "");
  BOOST_TEST(parser.parse(good, reply) == Parse::Done);
  BOOST_TEST(reply.ok());
}

BOOST_AUTO_TEST_CASE(testResetDropsPartialLine) {
  Pop3ReplyParser parser;
  Pop3Reply reply;
  std::string_view partial = "-ERR half";
  BOOST_TEST(parser.parse(partial, reply) == Parse::NeedMore);
  parser.reset();
  std::string_view fresh = "+OK whole\r\n";
  BOOST_TEST(parser.parse(fresh, reply) == Parse::Done);
  BOOST_TEST(reply.line == "+OK whole");
}
