// HeaderScan: the header block, unfolded field values and RFC 5322 dates (with obsolete forms).
#include <boost/test/unit_test.hpp>

#include <ctime>
#include <optional>
#include <string>
#include <string_view>

#include "connectors/codec/HeaderScan.h"

using namespace popgate::codec;

namespace {

// 2003-07-01 10:52:37 read as UTC; a zone of offset o minutes gives this minus o * 60.
constexpr std::time_t kJuly1Wall = 1057056757;

std::string valueOr(const std::optional<std::string>& value) {
  return value.value_or("(absent)");
}

// The UTC seconds of a date, or -1 when it does not parse.
long long utcOf(std::string_view date) {
  const auto parsed = parseMessageDate(date);
  return parsed ? static_cast<long long>(parsed->utc) : -1;
}

// The zone offset of a date, or kNoOffset when it does not parse.
constexpr int kNoOffset = 99999;
int offsetOf(std::string_view date) {
  const auto parsed = parseMessageDate(date);
  return parsed ? parsed->offset_minutes : kNoOffset;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(header_block)

BOOST_AUTO_TEST_CASE(testCrLfMessage) {
  BOOST_TEST(headerBlock("From: a@x\r\nTo: b@y\r\n\r\nbody\r\n\r\nmore\r\n") ==
             "From: a@x\r\nTo: b@y\r\n");
}

BOOST_AUTO_TEST_CASE(testBareLfMessage) {
  BOOST_TEST(headerBlock("From: a@x\nTo: b@y\n\nbody\n") == "From: a@x\nTo: b@y\n");
  BOOST_TEST(headerBlock("From: a@x\r\n\nbody") == "From: a@x\r\n");
}

BOOST_AUTO_TEST_CASE(testMessageWithoutBody) {
  BOOST_TEST(headerBlock("From: a@x\r\nTo: b@y\r\n") == "From: a@x\r\nTo: b@y\r\n");
  BOOST_TEST(headerBlock("From: a@x") == "From: a@x");
  BOOST_TEST(headerBlock("From: a@x\r\n\r") == "From: a@x\r\n\r");  // a CR alone ends nothing
  BOOST_TEST(headerBlock("") == "");
}

BOOST_AUTO_TEST_CASE(testOnlyBodySeparator) {
  BOOST_TEST(headerBlock("\r\n") == "");
  BOOST_TEST(headerBlock("\r\nFrom: not a header\r\n") == "");
  BOOST_TEST(headerBlock("\n\nbody") == "");
}

BOOST_AUTO_TEST_CASE(testWhitespaceLineIsNotTheSeparator) {
  BOOST_TEST(headerBlock("Subject: a\r\n \r\nTo: b\r\n\r\nbody") == "Subject: a\r\n \r\nTo: b\r\n");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(header_value)

BOOST_AUTO_TEST_CASE(testCaseInsensitiveName) {
  const std::string_view header = "From: a@x\r\nMessage-ID: <1@x>\r\n";
  BOOST_TEST(valueOr(headerValue(header, "message-id")) == "<1@x>");
  BOOST_TEST(valueOr(headerValue(header, "MESSAGE-ID")) == "<1@x>");
  BOOST_TEST(valueOr(headerValue("message-id: <2@x>\r\n", "Message-ID")) == "<2@x>");
}

BOOST_AUTO_TEST_CASE(testWholeFieldNamesOnly) {
  const std::string_view header =
      "X-Message-ID: <wrong@x>\r\nMessage-IDs: <no@x>\r\n"
      "Message-ID: <right@x>\r\n";
  BOOST_TEST(valueOr(headerValue(header, "Message-ID")) == "<right@x>");
  BOOST_TEST(valueOr(headerValue(header, "Message")) == "(absent)");
  BOOST_TEST(valueOr(headerValue(header, "ID")) == "(absent)");
  BOOST_TEST(valueOr(headerValue(header, "")) == "(absent)");
}

BOOST_AUTO_TEST_CASE(testFirstOccurrenceWins) {
  const std::string_view header = "Received: from a\r\n by b\r\nReceived: from c\r\n";
  BOOST_TEST(valueOr(headerValue(header, "Received")) == "from a by b");
}

BOOST_AUTO_TEST_CASE(testUnfoldingKeepsWhitespace) {
  BOOST_TEST(valueOr(headerValue("Subject: Hello\r\n world\r\n", "Subject")) == "Hello world");
  BOOST_TEST(valueOr(headerValue("Subject: a\r\n\tb\r\n", "Subject")) == "a\tb");
  BOOST_TEST(valueOr(headerValue("Subject: a\r\n b\r\n   c\r\nTo: x\r\n", "Subject")) == "a b   c");
  BOOST_TEST(valueOr(headerValue("Subject: a\n b\nTo: x\n", "Subject")) == "a b");
  BOOST_TEST(valueOr(headerValue("Subject:\r\n folded only\r\n", "Subject")) == "folded only");
}

BOOST_AUTO_TEST_CASE(testNoSpaceAfterColon) {
  BOOST_TEST(valueOr(headerValue("Subject:Hi there\r\n", "Subject")) == "Hi there");
}

BOOST_AUTO_TEST_CASE(testObsoleteSpaceBeforeColon) {
  BOOST_TEST(valueOr(headerValue("Subject : Hi\r\n", "Subject")) == "Hi");
  BOOST_TEST(valueOr(headerValue("Subject\t: Hi\r\n", "Subject")) == "Hi");
}

BOOST_AUTO_TEST_CASE(testTrimmedAndEmptyValues) {
  BOOST_TEST(valueOr(headerValue("Subject: \t Hi \t\r\n", "Subject")) == "Hi");
  BOOST_TEST(valueOr(headerValue("Subject:\r\nTo: x\r\n", "Subject")) == "");
  BOOST_TEST(valueOr(headerValue("To: x\r\nSubject: last", "Subject")) == "last");
}

BOOST_AUTO_TEST_CASE(testDoesNotLookIntoBody) {
  const std::string_view message = "From: a@x\r\nSubject: s\r\n\r\nMessage-ID: <body@x>\r\n";
  BOOST_TEST(valueOr(headerValue(message, "Message-ID")) == "(absent)");
  // A body line starting with whitespace is not a continuation of the last field.
  BOOST_TEST(valueOr(headerValue("Subject: s\r\n\r\n continued?\r\n", "Subject")) == "s");
  BOOST_TEST(valueOr(headerValue("Subject: s\n\n continued?\n", "Subject")) == "s");
}

BOOST_AUTO_TEST_CASE(testMalformedLinesSkipped) {
  BOOST_TEST(valueOr(headerValue(" stray continuation\r\nTo: x\r\n", "To")) == "x");
  BOOST_TEST(valueOr(headerValue("From someone Tue Jul  1 10:52:37 2003\r\nTo: x\r\n", "To")) ==
             "x");
  BOOST_TEST(valueOr(headerValue("Junk\r\n more\r\nTo: x\r\n", "Junk")) == "(absent)");
}

BOOST_AUTO_TEST_CASE(testAbsent) {
  BOOST_TEST(valueOr(headerValue("From: a@x\r\n", "Date")) == "(absent)");
  BOOST_TEST(valueOr(headerValue("", "Date")) == "(absent)");
}

BOOST_AUTO_TEST_CASE(testDateOfARealMessage) {
  const std::string_view message =
      "Return-Path: <a@x>\r\nReceived: from mx (mx [10.0.0.1])\r\n\tby mail; Tue, 1 Jul 2003 "
      "08:52:40 +0000\r\nDate: Tue, 1 Jul 2003\r\n 10:52:37 +0200 (CEST)\r\nSubject: hi\r\n\r\n"
      "Date: Mon, 1 Jan 2001 00:00:00 +0000\r\n";
  const auto date = headerValue(headerBlock(message), "date");
  BOOST_TEST(valueOr(date) == "Tue, 1 Jul 2003 10:52:37 +0200 (CEST)");
  const auto parsed = parseMessageDate(date.value_or(""));
  BOOST_TEST_REQUIRE(parsed.has_value());
  BOOST_TEST(parsed->utc == 1057049557);
  BOOST_TEST(parsed->offset_minutes == 120);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(message_date)

BOOST_AUTO_TEST_CASE(testRfc5322Date) {
  const auto parsed = parseMessageDate("Tue, 1 Jul 2003 10:52:37 +0200");
  BOOST_TEST_REQUIRE(parsed.has_value());
  BOOST_TEST(parsed->utc == 1057049557);
  BOOST_TEST(parsed->offset_minutes == 120);
  BOOST_TEST(utcOf("Sun, 06 Nov 1994 08:49:37 GMT") == 784111777);
  BOOST_TEST(utcOf("Fri, 21 Nov 1997 09:55:06 -0600") == 880127706);
}

BOOST_AUTO_TEST_CASE(testWithoutWeekday) {
  BOOST_TEST(utcOf("1 Jul 2003 10:52:37 +0200") == 1057049557);
  BOOST_TEST(utcOf("01 Jul 2003 10:52:37 +0200") == 1057049557);
}

BOOST_AUTO_TEST_CASE(testWeekdayVariants) {
  BOOST_TEST(utcOf("Tue 1 Jul 2003 10:52:37 +0200") == 1057049557);  // comma missing
  BOOST_TEST(utcOf("Tue , 1 Jul 2003 10:52:37 +0200") == 1057049557);
  BOOST_TEST(utcOf("Tuesday, 1 Jul 2003 10:52:37 +0200") == 1057049557);
  BOOST_TEST(utcOf("Tux, 1 Jul 2003 10:52:37 +0200") == -1);
}

BOOST_AUTO_TEST_CASE(testTwoAndThreeDigitYears) {
  BOOST_TEST(utcOf("Tue, 1 Jul 03 10:52:37 +0200") == 1057049557);
  BOOST_TEST(utcOf("Fri, 21 Nov 97 09:55:06 -0600") == 880127706);
  BOOST_TEST(utcOf("1 Jan 49 00:00:00 +0000") == 2493072000);   // 2049
  BOOST_TEST(utcOf("1 Jan 99 00:00:00 +0000") == 915148800);    // 1999
  BOOST_TEST(utcOf("1 Jan 70 00:00:00 +0000") == 0);            // 1970
  BOOST_TEST(utcOf("1 Jan 50 00:00:00 +0000") == -1);           // 1950: before 1970
  BOOST_TEST(utcOf("1 Jul 103 10:52:37 +0200") == 1057049557);  // 1900 + 103
}

BOOST_AUTO_TEST_CASE(testWithoutSeconds) {
  BOOST_TEST(utcOf("Tue, 1 Jul 2003 10:52 +0200") == 1057049520);
}

BOOST_AUTO_TEST_CASE(testNumericZones) {
  BOOST_TEST(utcOf("1 Jul 2003 10:52:37 -0730") == kJuly1Wall + 27000);  // 7:30 west
  BOOST_TEST(offsetOf("1 Jul 2003 10:52:37 -0730") == -450);
  BOOST_TEST(offsetOf("1 Jul 2003 10:52:37 +0530") == 330);
  BOOST_TEST(utcOf("1 Jul 2003 10:52:37 +0000") == kJuly1Wall);
  BOOST_TEST(utcOf("1 Jul 2003 10:52:37 -0000") == kJuly1Wall);
  BOOST_TEST(offsetOf("1 Jul 2003 10:52:37 -0000") == 0);
  BOOST_TEST(offsetOf("1 Jul 2003 10:52:37 +2359") == 1439);
}

BOOST_AUTO_TEST_CASE(testObsoleteZoneNames) {
  struct Case {
    const char* zone;
    int minutes;
  };
  for (const Case& c :
       {Case{"GMT", 0}, Case{"UT", 0}, Case{"UTC", 0}, Case{"EST", -300}, Case{"EDT", -240},
        Case{"CST", -360}, Case{"CDT", -300}, Case{"MST", -420}, Case{"MDT", -360},
        Case{"PST", -480}, Case{"PDT", -420}, Case{"gmt", 0}, Case{"pst", -480}}) {
    const std::string date = std::string("Tue, 1 Jul 2003 10:52:37 ") + c.zone;
    BOOST_TEST(offsetOf(date) == c.minutes, date);
    BOOST_TEST(utcOf(date) == kJuly1Wall - std::time_t{c.minutes} * 60, date);
  }
}

BOOST_AUTO_TEST_CASE(testMilitaryAndUnknownZonesAreUtc) {
  for (const char* zone : {"Z", "A", "M", "N", "Y", "z", "CET", "CEST", "MEZ"}) {
    const std::string date = std::string("1 Jul 2003 10:52:37 ") + zone;
    BOOST_TEST(offsetOf(date) == 0, date);
    BOOST_TEST(utcOf(date) == kJuly1Wall, date);
  }
}

BOOST_AUTO_TEST_CASE(testMissingZoneIsUtc) {
  BOOST_TEST(utcOf("Tue, 1 Jul 2003 10:52:37") == kJuly1Wall);
}

BOOST_AUTO_TEST_CASE(testComments) {
  BOOST_TEST(utcOf("Tue, 1 Jul 2003 10:52:37 +0200 (CET)") == 1057049557);
  BOOST_TEST(utcOf("Tue, 1 Jul 2003 10:52:37 +0200 (Central European (Summer) Time)") ==
             1057049557);
  BOOST_TEST(utcOf("(sent) Tue,(day) 1 Jul (month) 2003 10:52:37 +0200") == 1057049557);
  BOOST_TEST(utcOf("Tue, 1 Jul 2003 10:52:37 +0200 (unclosed \\) comment") == 1057049557);
  BOOST_TEST(utcOf("Tue, 1 Jul 2003 10:52:37 +0200 CEST") == 1057049557);  // after the zone
}

BOOST_AUTO_TEST_CASE(testExtraWhitespace) {
  BOOST_TEST(utcOf("  Tue ,  1   Jul\t2003   10:52:37    +0200  ") == 1057049557);
  BOOST_TEST(utcOf("Tue, 1 Jul 2003\r\n 10:52:37 +0200") == 1057049557);
  BOOST_TEST(utcOf("Tue, 1 Jul 2003 10 : 52 : 37 +0200") == 1057049557);
}

BOOST_AUTO_TEST_CASE(testLowercaseNames) {
  BOOST_TEST(utcOf("tue, 1 jul 2003 10:52:37 +0200") == 1057049557);
  BOOST_TEST(utcOf("TUE, 1 JUL 2003 10:52:37 +0200") == 1057049557);
}

BOOST_AUTO_TEST_CASE(testLeapDaysAndSeconds) {
  BOOST_TEST(utcOf("29 Feb 2000 00:00:00 +0000") == 951782400);
  BOOST_TEST(utcOf("29 Feb 2004 00:00:00 +0000") != -1);
  BOOST_TEST(utcOf("29 Feb 2003 00:00:00 +0000") == -1);
  BOOST_TEST(utcOf("29 Feb 2100 00:00:00 +0000") == -1);
  BOOST_TEST(utcOf("31 Dec 2003 23:59:60 +0000") == 1072915200);  // leap second
}

BOOST_AUTO_TEST_CASE(testYearRange) {
  BOOST_TEST(utcOf("1 Jan 1970 00:00:00 +0000") == 0);
  BOOST_TEST(utcOf("31 Dec 1969 23:59:59 +0000") == -1);
  BOOST_TEST(utcOf("Thu, 13 Feb 1969 23:32:54 -0330") == -1);
  BOOST_TEST(utcOf("1 Jan 1970 00:30:00 +0100") == -1);  // before the epoch in UTC
  BOOST_TEST(utcOf("31 Dec 9999 23:59:59 +0000") == 253402300799);
  BOOST_TEST(utcOf("31 Dec 9999 23:59:59 -0100") == 253402304399);
  BOOST_TEST(utcOf("1 Jan 10000 00:00:00 +0000") == -1);
  BOOST_TEST(utcOf("1 Jan 999999999999 00:00:00 +0000") == -1);
}

BOOST_AUTO_TEST_CASE(testInvalidFields) {
  BOOST_TEST(utcOf("Tue, 32 Jul 2003 10:52:37 +0200") == -1);
  BOOST_TEST(utcOf("Tue, 0 Jul 2003 10:52:37 +0200") == -1);
  BOOST_TEST(utcOf("31 Apr 2003 10:52:37 +0200") == -1);
  BOOST_TEST(utcOf("1 Foo 2003 10:52:37 +0200") == -1);
  BOOST_TEST(utcOf("1 July 2003 10:52:37 +0200") == -1);
  BOOST_TEST(utcOf("1 Jul 2003 24:00:00 +0200") == -1);
  BOOST_TEST(utcOf("1 Jul 2003 10:60:00 +0200") == -1);
  BOOST_TEST(utcOf("1 Jul 2003 10:52:61 +0200") == -1);
  BOOST_TEST(utcOf("1 Jul 2003 100:52:37 +0200") == -1);
  BOOST_TEST(utcOf("1 Jul 2003 10:52:37 +2400") == -1);
  BOOST_TEST(utcOf("1 Jul 2003 10:52:37 +0260") == -1);
  BOOST_TEST(utcOf("1 Jul 2003 10:52:37 +020") == -1);
  BOOST_TEST(utcOf("1 Jul 2003 10:52:37 + 0200") == -1);
  BOOST_TEST(utcOf("1 Jul 2003 10:52:37 0200") == -1);
  BOOST_TEST(utcOf("1 Jul 2003 10:52:37 Centraleuropean") == -1);
}

BOOST_AUTO_TEST_CASE(testGarbage) {
  BOOST_TEST(utcOf("") == -1);
  BOOST_TEST(utcOf("   ") == -1);
  BOOST_TEST(utcOf("hello world") == -1);
  BOOST_TEST(utcOf("2003-07-01T10:52:37Z") == -1);
  BOOST_TEST(utcOf("Tue, 1 Jul 2003") == -1);
  BOOST_TEST(utcOf("Tue, 1 Jul 2003 10") == -1);
  BOOST_TEST(utcOf("Tue, 1 Jul 2003 10:") == -1);
  BOOST_TEST(utcOf("Tue, 1 Jul 2003 10:52:") == -1);
  BOOST_TEST(utcOf("Tue, Jul 1 2003 10:52:37 +0200") == -1);
  BOOST_TEST(utcOf("1 Jul 2003 10.52.37 +0200") == -1);
}

BOOST_AUTO_TEST_SUITE_END()
