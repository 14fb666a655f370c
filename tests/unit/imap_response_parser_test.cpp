// ImapResponseParser: every input is parsed whole, one byte at a time and in random chunk splits,
// and all of them must give the same responses, the same error and the same leftover state.
#include <boost/test/unit_test.hpp>

#include <cstddef>
#include <cstdint>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "connectors/codec/ImapResponseParser.h"

using namespace popgate::codec;

namespace {

std::string statusName(ImapStatus status) {
  switch (status) {
    case ImapStatus::Ok:
      return "OK";
    case ImapStatus::No:
      return "NO";
    case ImapStatus::Bad:
      return "BAD";
    case ImapStatus::Bye:
      return "BYE";
    case ImapStatus::PreAuth:
      return "PREAUTH";
    case ImapStatus::None:
      return "NONE";
  }
  return "?";
}

// One line per response, so whole outcomes compare as strings with readable failure messages.
std::string describe(const ImapResponse& response) {
  if (const auto* t = std::get_if<ImapTagged>(&response)) {
    return "tagged tag=" + t->tag + " status=" + statusName(t->status) + " code=[" + t->code +
           "] text=[" + t->text + "]";
  }
  if (const auto* c = std::get_if<ImapContinuation>(&response)) {
    return "continuation text=[" + c->text + "]";
  }
  const auto& u = std::get<ImapUntagged>(response);
  return "untagged status=" + statusName(u.status) + " keyword=" + u.keyword +
         " number=" + (u.number ? std::to_string(*u.number) : std::string("-")) + " code=[" +
         u.code + "] text=[" + u.text + "]";
}

struct Limits {
  std::size_t max_line = std::size_t{64} * 1024;
  std::uint64_t max_literal = 64ull * 1024 * 1024;
};

struct Outcome {
  std::vector<std::string> responses;  // describe() of each Done, in order
  std::vector<ImapResponse> values;
  bool error = false;
  std::string error_text;
  bool pending = false;  // the input ended inside a response (last answer NeedMore)
};

// Feeds `input` in pieces of the given sizes (the last piece takes what is left).
Outcome feed(std::string_view input, const std::vector<std::size_t>& sizes, Limits limits) {
  ImapResponseParser parser(limits.max_line, limits.max_literal);
  Outcome outcome;
  std::size_t offset = 0;
  std::size_t piece = 0;
  while (offset < input.size() && !outcome.error) {
    std::size_t size = piece < sizes.size() ? sizes[piece++] : input.size() - offset;
    if (size > input.size() - offset) size = input.size() - offset;
    std::string_view view = input.substr(offset, size);
    offset += size;
    while (!view.empty()) {
      ImapResponse response;
      const Parse result = parser.parse(view, response);
      if (result == Parse::Done) {
        outcome.responses.push_back(describe(response));
        outcome.values.push_back(response);
        outcome.pending = false;
      } else if (result == Parse::Error) {
        outcome.error = true;
        outcome.error_text = std::string(parser.error());
        outcome.pending = false;
        break;
      } else {
        // NeedMore consumes everything it was given (checked without one assertion per byte).
        if (!view.empty()) BOOST_FAIL("NeedMore left input unconsumed");
        outcome.pending = true;
      }
    }
  }
  return outcome;
}

// Parses whole, byte by byte and in 8 seeded random splits; checks they agree; returns the whole.
Outcome parseEverySplit(std::string_view input, Limits limits = {}) {
  Outcome whole = feed(input, {input.size()}, limits);
  std::vector<std::vector<std::size_t>> splits;
  splits.emplace_back(input.size(), 1);
  std::mt19937 random(20240611);
  for (int round = 0; round < 8; ++round) {
    std::uniform_int_distribution<std::size_t> size(1, round < 4 ? 7 : 300);
    std::vector<std::size_t> sizes;
    for (std::size_t total = 0; total < input.size();) {
      sizes.push_back(size(random));
      total += sizes.back();
    }
    splits.push_back(sizes);
  }
  for (const auto& sizes : splits) {
    const Outcome split = feed(input, sizes, limits);
    BOOST_TEST(split.responses == whole.responses, boost::test_tools::per_element());
    BOOST_TEST(split.error == whole.error);
    BOOST_TEST(split.error_text == whole.error_text);
    BOOST_TEST(split.pending == whole.pending);
  }
  return whole;
}

// The single response `input` must produce, with nothing pending and no error.
std::string one(std::string_view input, Limits limits = {}) {
  const Outcome outcome = parseEverySplit(input, limits);
  BOOST_TEST(!outcome.error, "unexpected error: " << outcome.error_text);
  BOOST_TEST(!outcome.pending);
  BOOST_TEST_REQUIRE(outcome.responses.size() == 1u);
  return outcome.responses.front();
}

// The error `input` must produce (after the given number of good responses).
std::string errorOf(std::string_view input, Limits limits = {}, std::size_t good_before = 0) {
  const Outcome outcome = parseEverySplit(input, limits);
  BOOST_TEST(outcome.error);
  BOOST_TEST(outcome.responses.size() == good_before);
  return outcome.error_text;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(greetings)

BOOST_AUTO_TEST_CASE(testDovecotGreeting) {
  const std::string r =
      one("* OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ STARTTLS "
          "AUTH=PLAIN] Dovecot ready.\r\n");
  BOOST_TEST(r ==
             "untagged status=OK keyword=OK number=- code=[CAPABILITY IMAP4rev1 SASL-IR "
             "LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ STARTTLS AUTH=PLAIN] text=[Dovecot ready.]");
}

BOOST_AUTO_TEST_CASE(testPreauthGreeting) {
  BOOST_TEST(one("* PREAUTH [CAPABILITY IMAP4rev1] Logged in as joe\r\n") ==
             "untagged status=PREAUTH keyword=PREAUTH number=- code=[CAPABILITY IMAP4rev1] "
             "text=[Logged in as joe]");
}

BOOST_AUTO_TEST_CASE(testByeUntagged) {
  BOOST_TEST(
      one("* BYE Disconnected for inactivity.\r\n") ==
      "untagged status=BYE keyword=BYE number=- code=[] text=[Disconnected for inactivity.]");
}

BOOST_AUTO_TEST_CASE(testUntaggedStatusWithoutText) {
  BOOST_TEST(one("* OK\r\n") == "untagged status=OK keyword=OK number=- code=[] text=[]");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(tagged)

BOOST_AUTO_TEST_CASE(testAppendUid) {
  const Outcome outcome = parseEverySplit("a1 OK [APPENDUID 38505 3955] Append completed.\r\n");
  BOOST_TEST_REQUIRE(outcome.values.size() == 1u);
  const auto& t = std::get<ImapTagged>(outcome.values.front());
  BOOST_TEST(t.tag == "a1");
  BOOST_TEST((t.status == ImapStatus::Ok));
  BOOST_TEST(t.code == "APPENDUID 38505 3955");
  BOOST_TEST(t.text == "Append completed.");
  const auto uid = parseAppendUid(t.code);
  BOOST_TEST_REQUIRE(uid.has_value());
  BOOST_TEST(uid->uidvalidity == 38505u);
  BOOST_TEST(uid->uid == 3955u);
}

BOOST_AUTO_TEST_CASE(testTryCreate) {
  BOOST_TEST(one("a2 NO [TRYCREATE] Mailbox doesn't exist: Work\r\n") ==
             "tagged tag=a2 status=NO code=[TRYCREATE] text=[Mailbox doesn't exist: Work]");
}

BOOST_AUTO_TEST_CASE(testOverQuota) {
  BOOST_TEST(one("a3 NO [OVERQUOTA] Quota exceeded\r\n") ==
             "tagged tag=a3 status=NO code=[OVERQUOTA] text=[Quota exceeded]");
}

BOOST_AUTO_TEST_CASE(testBad) {
  BOOST_TEST(one("a4 BAD Error in IMAP command APPEND: Invalid arguments.\r\n") ==
             "tagged tag=a4 status=BAD code=[] text=[Error in IMAP command APPEND: Invalid "
             "arguments.]");
}

BOOST_AUTO_TEST_CASE(testWithoutCode) {
  BOOST_TEST(one("a5 OK Logged in\r\n") == "tagged tag=a5 status=OK code=[] text=[Logged in]");
  BOOST_TEST(one("a6 OK\r\n") == "tagged tag=a6 status=OK code=[] text=[]");
}

BOOST_AUTO_TEST_CASE(testStatusCaseInsensitive) {
  BOOST_TEST(one("a7 ok done\r\n") == "tagged tag=a7 status=OK code=[] text=[done]");
  BOOST_TEST(one("a8 No [trycreate] gone\r\n") ==
             "tagged tag=a8 status=NO code=[trycreate] text=[gone]");
  BOOST_TEST(one("a9 bAd what\r\n") == "tagged tag=a9 status=BAD code=[] text=[what]");
  BOOST_TEST(one("* bye later\r\n") ==
             "untagged status=BYE keyword=BYE number=- code=[] text=[later]");
}

BOOST_AUTO_TEST_CASE(testCodeWithoutSpaceBeforeText) {
  BOOST_TEST(one("a1 OK [READ-WRITE]\r\n") == "tagged tag=a1 status=OK code=[READ-WRITE] text=[]");
  BOOST_TEST(one("a1 OK [READ-WRITE]done\r\n") ==
             "tagged tag=a1 status=OK code=[READ-WRITE] text=[done]");
}

BOOST_AUTO_TEST_CASE(testBadcharsetCodeWithParens) {
  BOOST_TEST(one("a1 NO [BADCHARSET (UTF-8 US-ASCII)] Unsupported charset\r\n") ==
             "tagged tag=a1 status=NO code=[BADCHARSET (UTF-8 US-ASCII)] text=[Unsupported "
             "charset]");
}

BOOST_AUTO_TEST_CASE(testCodeEndsAtFirstBracket) {
  BOOST_TEST(one("a1 NO [X \"a]b\"] rest\r\n") ==
             "tagged tag=a1 status=NO code=[X \"a] text=[b\"] rest]");
}

BOOST_AUTO_TEST_CASE(testOpenBracketWithoutCloseIsText) {
  BOOST_TEST(one("a1 NO [UNFINISHED code\r\n") ==
             "tagged tag=a1 status=NO code=[] text=[[UNFINISHED code]");
}

BOOST_AUTO_TEST_CASE(testTaggedLineEndingInBraceIsNotALiteral) {
  // Tagged responses never carry literals: "{5}" is text and the next bytes are a new response.
  const Outcome outcome = parseEverySplit("a1 OK done {5}\r\n* 1 EXISTS\r\n");
  BOOST_TEST(!outcome.error);
  BOOST_TEST_REQUIRE(outcome.responses.size() == 2u);
  BOOST_TEST(outcome.responses[0] == "tagged tag=a1 status=OK code=[] text=[done {5}]");
  BOOST_TEST(outcome.responses[1] ==
             "untagged status=NONE keyword=EXISTS number=1 code=[] text=[]");
}

BOOST_AUTO_TEST_CASE(testBareLfLineEnd) {
  BOOST_TEST(one("a1 OK done\n") == "tagged tag=a1 status=OK code=[] text=[done]");
  // A CR that is not right before the LF stays in the text.
  BOOST_TEST(one("a1 OK do\rne\r\n") == "tagged tag=a1 status=OK code=[] text=[do\rne]");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(continuation)

BOOST_AUTO_TEST_CASE(testContinuationText) {
  BOOST_TEST(one("+ OK\r\n") == "continuation text=[OK]");
  BOOST_TEST(one("+ Ready for literal data\r\n") == "continuation text=[Ready for literal data]");
}

BOOST_AUTO_TEST_CASE(testBareContinuation) {
  BOOST_TEST(one("+\r\n") == "continuation text=[]");
  BOOST_TEST(one("+ \r\n") == "continuation text=[]");
}

BOOST_AUTO_TEST_CASE(testSaslBase64Continuation) {
  BOOST_TEST(one("+ PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UuZXhhbXBsZS5uZXQ+\r\n") ==
             "continuation text=[PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UuZXhhbXBsZS5uZXQ+]");
}

BOOST_AUTO_TEST_CASE(testContinuationIsNeverALiteral) {
  const Outcome outcome = parseEverySplit("+ go {3}\r\na1 OK x\r\n");
  BOOST_TEST_REQUIRE(outcome.responses.size() == 2u);
  BOOST_TEST(outcome.responses[0] == "continuation text=[go {3}]");
  BOOST_TEST(outcome.responses[1] == "tagged tag=a1 status=OK code=[] text=[x]");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(untagged_data)

BOOST_AUTO_TEST_CASE(testExistsAndExpunge) {
  BOOST_TEST(one("* 3 EXISTS\r\n") ==
             "untagged status=NONE keyword=EXISTS number=3 code=[] text=[]");
  BOOST_TEST(one("* 1 expunge\r\n") ==
             "untagged status=NONE keyword=EXPUNGE number=1 code=[] text=[]");
  BOOST_TEST(one("* 4294967295 EXISTS\r\n") ==
             "untagged status=NONE keyword=EXISTS number=4294967295 code=[] text=[]");
}

BOOST_AUTO_TEST_CASE(testSearch) {
  BOOST_TEST(one("* SEARCH 2 84 882\r\n") ==
             "untagged status=NONE keyword=SEARCH number=- code=[] text=[2 84 882]");
}

BOOST_AUTO_TEST_CASE(testEmptySearch) {
  BOOST_TEST(one("* SEARCH\r\n") == "untagged status=NONE keyword=SEARCH number=- code=[] text=[]");
}

BOOST_AUTO_TEST_CASE(testCapability) {
  BOOST_TEST(one("* CAPABILITY IMAP4rev1 LITERAL- UIDPLUS APPENDLIMIT=35651584\r\n") ==
             "untagged status=NONE keyword=CAPABILITY number=- code=[] text=[IMAP4rev1 LITERAL- "
             "UIDPLUS APPENDLIMIT=35651584]");
}

BOOST_AUTO_TEST_CASE(testAlert) {
  BOOST_TEST(one("* OK [ALERT] System shutdown in 10 minutes\r\n") ==
             "untagged status=OK keyword=OK number=- code=[ALERT] text=[System shutdown in 10 "
             "minutes]");
}

BOOST_AUTO_TEST_CASE(testFetchWithLiteral) {
  BOOST_TEST(one("* 12 FETCH (BODY[] {11}\r\nhello world)\r\n") ==
             "untagged status=NONE keyword=FETCH number=12 code=[] text=[(BODY[] {11})]");
}

BOOST_AUTO_TEST_CASE(testFetchWithTwoLiterals) {
  BOOST_TEST(
      one("* 7 FETCH (BODY[HEADER] {8}\r\nA: b\r\n\r\n BODY[TEXT] {5}\r\nhi\r\n\n UID 9)\r\n") ==
      "untagged status=NONE keyword=FETCH number=7 code=[] text=[(BODY[HEADER] {8} "
      "BODY[TEXT] {5} UID 9)]");
}

BOOST_AUTO_TEST_CASE(testLiteralEndingTheLine) {
  // A literal may be followed directly by the line end (nothing after it on its line).
  BOOST_TEST(one("* LIST () \"/\" {3}\r\nfoo\r\n") ==
             "untagged status=NONE keyword=LIST number=- code=[] text=[() \"/\" {3}]");
}

BOOST_AUTO_TEST_CASE(testEmptyLiteral) {
  BOOST_TEST(one("* 1 FETCH (BODY[] {0}\r\n)\r\n") ==
             "untagged status=NONE keyword=FETCH number=1 code=[] text=[(BODY[] {0})]");
}

BOOST_AUTO_TEST_CASE(testLiteralBytesAreNotInterpreted) {
  // NUL, bare CR/LF, a "{n}" and a fake tagged line inside literal data are all skipped.
  const std::string data("\0\r\na1 OK fake {4}\r\n\xff\n", 21);
  std::string input = "* 2 FETCH (BODY[] {" + std::to_string(data.size()) + "}\r\n";
  input += data;
  input += ")\r\na1 OK real\r\n";
  const Outcome outcome = parseEverySplit(input);
  BOOST_TEST(!outcome.error);
  BOOST_TEST_REQUIRE(outcome.responses.size() == 2u);
  BOOST_TEST(outcome.responses[0] ==
             "untagged status=NONE keyword=FETCH number=2 code=[] text=[(BODY[] {21})]");
  BOOST_TEST(outcome.responses[1] == "tagged tag=a1 status=OK code=[] text=[real]");
}

BOOST_AUTO_TEST_CASE(testBinaryLiteral8) {
  std::string input = "* 3 FETCH (BINARY[1] ~{4}\r\n";
  input += std::string("\0\1\2\3", 4);
  input += ")\r\n";
  BOOST_TEST(one(input) ==
             "untagged status=NONE keyword=FETCH number=3 code=[] text=[(BINARY[1] ~{4})]");
}

BOOST_AUTO_TEST_CASE(testHugeLiteralSkippedNotStored) {
  const std::size_t size = std::size_t{1024} * 1024;
  std::string input = "* 5 FETCH (BODY[] {" + std::to_string(size) + "}\r\n";
  input += std::string(size, 'x');
  input += ")\r\n";
  Limits limits;
  limits.max_line = 100;  // the literal data does not count against the line limit
  limits.max_literal = size;
  BOOST_TEST(one(input, limits) ==
             "untagged status=NONE keyword=FETCH number=5 code=[] text=[(BODY[] {1048576})]");
}

BOOST_AUTO_TEST_CASE(testLiteralInUntaggedStatus) {
  const Outcome outcome = parseEverySplit("* OK note {4}\r\nabcd more\r\na1 OK x\r\n");
  BOOST_TEST_REQUIRE(outcome.responses.size() == 2u);
  BOOST_TEST(outcome.responses[0] ==
             "untagged status=OK keyword=OK number=- code=[] text=[note {4} more]");
}

BOOST_AUTO_TEST_CASE(testBraceTextInStatusResponse) {
  BOOST_TEST(one("* OK [ALERT] see {the docs}\r\n") ==
             "untagged status=OK keyword=OK number=- code=[ALERT] text=[see {the docs}]");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(pipelining)

BOOST_AUTO_TEST_CASE(testUntaggedNoiseThenTagged) {
  const std::string input =
      "* 4 EXISTS\r\n* 1 RECENT\r\n* 2 FETCH (FLAGS (\\Seen) BODY[] {5}\r\nhello)\r\n"
      "* OK [ALERT] hi\r\na1 OK [APPENDUID 1 7] Append completed.\r\n";
  const Outcome outcome = parseEverySplit(input);
  BOOST_TEST(!outcome.error);
  BOOST_TEST(!outcome.pending);
  const std::vector<std::string> expected = {
      "untagged status=NONE keyword=EXISTS number=4 code=[] text=[]",
      "untagged status=NONE keyword=RECENT number=1 code=[] text=[]",
      "untagged status=NONE keyword=FETCH number=2 code=[] text=[(FLAGS (\\Seen) BODY[] {5})]",
      "untagged status=OK keyword=OK number=- code=[ALERT] text=[hi]",
      "tagged tag=a1 status=OK code=[APPENDUID 1 7] text=[Append completed.]"};
  BOOST_TEST(outcome.responses == expected, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(testInputStopsRightAfterResponse) {
  ImapResponseParser parser;
  std::string_view in = "* 1 FETCH (BODY[] {2}\r\nab)\r\na1 OK done\r\n+ more";
  ImapResponse response;
  BOOST_TEST((parser.parse(in, response) == Parse::Done));
  BOOST_TEST(in == "a1 OK done\r\n+ more");
  BOOST_TEST((parser.parse(in, response) == Parse::Done));
  BOOST_TEST(in == "+ more");
  BOOST_TEST(std::get<ImapTagged>(response).text == "done");
  BOOST_TEST((parser.parse(in, response) == Parse::NeedMore));
  BOOST_TEST(in.empty());
  std::string_view end = "\r\n";
  BOOST_TEST((parser.parse(end, response) == Parse::Done));
  BOOST_TEST(std::get<ImapContinuation>(response).text == "more");
}

BOOST_AUTO_TEST_CASE(testPartialInputIsPending) {
  const Outcome outcome = parseEverySplit("a1 OK done\r\n* 3 FETCH (BODY[] {10}\r\nabc");
  BOOST_TEST(!outcome.error);
  BOOST_TEST(outcome.pending);
  BOOST_TEST(outcome.responses.size() == 1u);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(errors)

BOOST_AUTO_TEST_CASE(testEmptyLine) {
  BOOST_TEST(errorOf("\r\n") == "empty response line");
  BOOST_TEST(errorOf("\n") == "empty response line");
}

BOOST_AUTO_TEST_CASE(testNoInputIsNeedMore) {
  ImapResponseParser parser;
  std::string_view in;
  ImapResponse response;
  BOOST_TEST((parser.parse(in, response) == Parse::NeedMore));
}

BOOST_AUTO_TEST_CASE(testMalformedStarts) {
  BOOST_TEST(errorOf("garbage\r\n") == "malformed response (no tag, \"*\" or \"+\")");
  BOOST_TEST(errorOf("a1\r\n") == "malformed response (no tag, \"*\" or \"+\")");
  BOOST_TEST(errorOf(" a1 OK x\r\n") == "malformed response (no tag, \"*\" or \"+\")");
  BOOST_TEST(errorOf("a{1 OK x\r\n") == "malformed response (no tag, \"*\" or \"+\")");
  BOOST_TEST(errorOf("a1 FOO bar\r\n") == "tagged response without OK, NO or BAD");
  BOOST_TEST(errorOf("a1 \r\n") == "tagged response without OK, NO or BAD");
  BOOST_TEST(errorOf("a1 BYE x\r\n") == "tagged response without OK, NO or BAD");
  BOOST_TEST(errorOf("*\r\n") == "malformed untagged response");
  BOOST_TEST(errorOf("*OK x\r\n") == "malformed untagged response");
  BOOST_TEST(errorOf("* \r\n") == "malformed untagged response");
  BOOST_TEST(errorOf("* 3\r\n") == "malformed untagged response");
  BOOST_TEST(errorOf("+OK\r\n") == "malformed continuation request");
}

BOOST_AUTO_TEST_CASE(testUntaggedNumberOverflow) {
  BOOST_TEST(errorOf("* 4294967296 EXISTS\r\n") == "bad number in untagged response");
}

BOOST_AUTO_TEST_CASE(testNonNumericLiteralAnnouncement) {
  BOOST_TEST(errorOf("* 1 FETCH (BODY[] {x}\r\nabc)\r\n") == "bad literal announcement");
  BOOST_TEST(errorOf("* 1 FETCH (BODY[] {}\r\n)\r\n") == "bad literal announcement");
  BOOST_TEST(errorOf("* 1 FETCH (BODY[] {-1}\r\n)\r\n") == "bad literal announcement");
}

BOOST_AUTO_TEST_CASE(testNonSynchronizingLiteralFromServer) {
  BOOST_TEST(errorOf("* 1 FETCH (BODY[] {5+}\r\nhello)\r\n") ==
             "non-synchronizing literal from server");
}

BOOST_AUTO_TEST_CASE(testLiteralSizeOverflow) {
  BOOST_TEST(errorOf("* 1 FETCH (BODY[] {99999999999999999999999}\r\n") == "literal too large");
}

BOOST_AUTO_TEST_CASE(testLiteralOverLimit) {
  Limits limits;
  limits.max_literal = 10;
  BOOST_TEST(one("* 1 FETCH (BODY[] {10}\r\n0123456789)\r\n", limits) ==
             "untagged status=NONE keyword=FETCH number=1 code=[] text=[(BODY[] {10})]");
  BOOST_TEST(errorOf("* 1 FETCH (BODY[] {11}\r\n0123456789a)\r\n", limits) == "literal too large");
}

BOOST_AUTO_TEST_CASE(testLineLimit) {
  Limits limits;
  limits.max_line = 10;
  BOOST_TEST(one("a1 OK 1234\r\n", limits) == "tagged tag=a1 status=OK code=[] text=[1234]");
  BOOST_TEST(one("a1 OK 1234\n", limits) == "tagged tag=a1 status=OK code=[] text=[1234]");
  BOOST_TEST(errorOf("a1 OK 12345\r\n", limits) == "response line too long");
  BOOST_TEST(errorOf("a1 OK 1234\r5\r\n", limits) == "response line too long");
  // An endless line is refused at the limit, not buffered until a LF arrives.
  BOOST_TEST(errorOf(std::string(1000, 'x'), limits) == "response line too long");
}

BOOST_AUTO_TEST_CASE(testLineLimitCountsAllLinesOfAResponse) {
  Limits limits;
  limits.max_line = 20;
  // "* 1 FETCH (X {1}" is 16 bytes; 4 more after the literal fit, 5 do not.
  BOOST_TEST(one("* 1 FETCH (X {1}\r\nz 12)\r\n", limits) ==
             "untagged status=NONE keyword=FETCH number=1 code=[] text=[(X {1} 12)]");
  BOOST_TEST(errorOf("* 1 FETCH (X {1}\r\nz 123)\r\n", limits) == "response line too long");
}

BOOST_AUTO_TEST_CASE(testNulOutsideLiteral) {
  BOOST_TEST(errorOf(std::string("a1 OK do\0ne\r\n", 13)) == "NUL byte in response");
  BOOST_TEST(errorOf(std::string("* 1 FETCH (BODY[] {1}\r\nx\0)\r\n", 28)) ==
             "NUL byte in response");
}

BOOST_AUTO_TEST_CASE(testErrorAfterGoodResponses) {
  BOOST_TEST(errorOf("* 1 EXISTS\r\na1 OK x\r\nnonsense\r\n", {}, 2) ==
             "malformed response (no tag, \"*\" or \"+\")");
}

BOOST_AUTO_TEST_CASE(testErrorIsStickyUntilReset) {
  ImapResponseParser parser;
  ImapResponse response;
  std::string_view bad = "garbage\r\n";
  BOOST_TEST((parser.parse(bad, response) == Parse::Error));
  std::string_view good = "a1 OK x\r\n";
  BOOST_TEST((parser.parse(good, response) == Parse::Error));
  BOOST_TEST(parser.error() == "malformed response (no tag, \"*\" or \"+\")");
  parser.reset();
  BOOST_TEST(parser.error().empty());
  BOOST_TEST((parser.parse(good, response) == Parse::Done));
  BOOST_TEST(std::get<ImapTagged>(response).tag == "a1");
}

BOOST_AUTO_TEST_CASE(testResetDropsPartialResponse) {
  ImapResponseParser parser;
  ImapResponse response;
  std::string_view part = "* 1 FETCH (BODY[] {100}\r\nabc";
  BOOST_TEST((parser.parse(part, response) == Parse::NeedMore));
  parser.reset();
  std::string_view next = "a2 NO nope\r\n";
  BOOST_TEST((parser.parse(next, response) == Parse::Done));
  BOOST_TEST(std::get<ImapTagged>(response).text == "nope");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(codes)

BOOST_AUTO_TEST_CASE(testCodeName) {
  BOOST_TEST(codeName("APPENDUID 1 2") == "APPENDUID");
  BOOST_TEST(codeName("trycreate") == "TRYCREATE");
  BOOST_TEST(codeName("BADCHARSET (UTF-8)") == "BADCHARSET");
  BOOST_TEST(codeName("") == "");
}

BOOST_AUTO_TEST_CASE(testParseAppendUid) {
  const auto uid = parseAppendUid("APPENDUID 38505 3955");
  BOOST_TEST_REQUIRE(uid.has_value());
  BOOST_TEST(uid->uidvalidity == 38505u);
  BOOST_TEST(uid->uid == 3955u);
  const auto max = parseAppendUid("appenduid 4294967295 4294967295");
  BOOST_TEST_REQUIRE(max.has_value());
  BOOST_TEST(max->uid == 4294967295u);
}

BOOST_AUTO_TEST_CASE(testParseAppendUidRejects) {
  BOOST_TEST(!parseAppendUid("APPENDUID 38505 3955:3957").has_value());  // MULTIAPPEND set
  BOOST_TEST(!parseAppendUid("APPENDUID 38505 3955,3960").has_value());
  BOOST_TEST(!parseAppendUid("APPENDUID 38505").has_value());
  BOOST_TEST(!parseAppendUid("APPENDUID 0 3955").has_value());
  BOOST_TEST(!parseAppendUid("APPENDUID 38505 0").has_value());
  BOOST_TEST(!parseAppendUid("APPENDUID 38505 4294967296").has_value());
  BOOST_TEST(!parseAppendUid("APPENDUID 38505 3955 ").has_value());
  BOOST_TEST(!parseAppendUid("APPENDUID 38505  3955").has_value());
  BOOST_TEST(!parseAppendUid("APPENDUID x 3955").has_value());
  BOOST_TEST(!parseAppendUid("COPYUID 38505 3955").has_value());
  BOOST_TEST(!parseAppendUid("TRYCREATE").has_value());
  BOOST_TEST(!parseAppendUid("").has_value());
}

BOOST_AUTO_TEST_CASE(testParseAppendUidSet) {
  const auto single = parseAppendUidSet("APPENDUID 38505 3955");
  BOOST_TEST_REQUIRE(single.has_value());
  BOOST_TEST(single->uidvalidity == 38505u);
  BOOST_TEST(single->uids == std::vector<std::uint32_t>{3955}, boost::test_tools::per_element());

  const auto set = parseAppendUidSet("APPENDUID 38505 3955:3957,3960");
  BOOST_TEST_REQUIRE(set.has_value());
  BOOST_TEST(set->uidvalidity == 38505u);
  BOOST_TEST(set->uids == (std::vector<std::uint32_t>{3955, 3956, 3957, 3960}),
             boost::test_tools::per_element());

  // uid-range: "all values between these two regardless of order" (RFC 4315 §4).
  const auto reversed = parseAppendUidSet("APPENDUID 7 12:10,20");
  BOOST_TEST_REQUIRE(reversed.has_value());
  BOOST_TEST(reversed->uids == (std::vector<std::uint32_t>{10, 11, 12, 20}),
             boost::test_tools::per_element());

  const auto top = parseAppendUidSet("APPENDUID 1 4294967294:4294967295");
  BOOST_TEST_REQUIRE(top.has_value());
  BOOST_TEST(top->uids == (std::vector<std::uint32_t>{4294967294u, 4294967295u}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(testParseAppendUidSetCap) {
  const auto at_cap = parseAppendUidSet("APPENDUID 1 1:100000");
  BOOST_TEST_REQUIRE(at_cap.has_value());
  BOOST_TEST(at_cap->uids.size() == kMaxAppendUids);
  BOOST_TEST(at_cap->uids.back() == 100000u);
  BOOST_TEST(!parseAppendUidSet("APPENDUID 1 1:100001").has_value());
  BOOST_TEST(!parseAppendUidSet("APPENDUID 1 1:99999,100000,100001").has_value());
  BOOST_TEST(!parseAppendUidSet("APPENDUID 1 1:4294967295").has_value());
}

BOOST_AUTO_TEST_CASE(testParseAppendUidSetRejects) {
  BOOST_TEST(!parseAppendUidSet("APPENDUID 38505 3955:*").has_value());
  BOOST_TEST(!parseAppendUidSet("APPENDUID 38505 0:3").has_value());
  BOOST_TEST(!parseAppendUidSet("APPENDUID 38505 3,3").has_value());
  BOOST_TEST(!parseAppendUidSet("APPENDUID 38505 1:3,2").has_value());
  BOOST_TEST(!parseAppendUidSet("APPENDUID 38505 3955,").has_value());
  BOOST_TEST(!parseAppendUidSet("APPENDUID 38505 ,3955").has_value());
  BOOST_TEST(!parseAppendUidSet("APPENDUID 38505 1:2:3").has_value());
  BOOST_TEST(!parseAppendUidSet("APPENDUID 38505").has_value());
  BOOST_TEST(!parseAppendUidSet("APPENDUID 0 1").has_value());
  BOOST_TEST(!parseAppendUidSet("COPYUID 38505 1 2").has_value());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(literal_sink)

// The sink sees every literal octet exactly once, in order, however the input is split; the
// responses are the same as without a sink.
BOOST_AUTO_TEST_CASE(testSinkSeesEveryLiteralOctetOnceWhateverTheSplit) {
  const std::string message("Subject: x\r\n\r\n\0 8-bit \xe9 {5}\r\n)\r\n", 32);
  BOOST_REQUIRE(message.find('\0') == 14u);
  const std::string input = "* 2 FETCH (FLAGS (\\Seen))\r\n* 7 FETCH (UID 12 BODY[] {" +
                            std::to_string(message.size()) + "}\r\n" + message + ")\r\n" +
                            "* 8 FETCH (BODY[HEADER] ~{3}\r\nabc)\r\na1 OK done\r\n";
  for (std::size_t chunk : {std::size_t{1}, std::size_t{2}, std::size_t{7}, input.size()}) {
    ImapResponseParser parser;
    std::string seen;
    parser.setLiteralSink([&](std::string_view bytes) { seen.append(bytes); });
    std::vector<std::string> texts;
    for (std::size_t pos = 0; pos < input.size(); pos += chunk) {
      std::string_view in = std::string_view(input).substr(pos, chunk);
      while (!in.empty()) {
        ImapResponse out;
        const Parse r = parser.parse(in, out);
        BOOST_REQUIRE(r != Parse::Error);
        if (r == Parse::Done) texts.push_back(describe(out));
      }
    }
    BOOST_TEST_CONTEXT("chunks of " << chunk) {
      BOOST_TEST(seen == message + "abc");
      BOOST_REQUIRE(texts.size() == 4u);
      BOOST_TEST(texts[1] == one(input.substr(input.find("* 7"), input.find("* 8") - input.find("* 7"))));
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()
