// IMAP command pieces: astrings, literal prefixes, modified UTF-7 mailbox names, flag lists,
// date-time and secret-free traces.
#include <boost/test/unit_test.hpp>

#include <cstdint>
#include <ctime>
#include <string>
#include <vector>

#include "connectors/codec/ImapCommand.h"

using namespace popgate::codec;

BOOST_AUTO_TEST_SUITE(astring)

BOOST_AUTO_TEST_CASE(testAtoms) {
  BOOST_TEST((astringForm("INBOX") == AstringForm::Atom));
  BOOST_TEST((astringForm("joe@example.com") == AstringForm::Atom));
  BOOST_TEST((astringForm("Archive/2024.Q1") == AstringForm::Atom));
  BOOST_TEST(astringText("INBOX") == "INBOX");
  BOOST_TEST(astringText("joe@example.com") == "joe@example.com");
}

BOOST_AUTO_TEST_CASE(testQuotedForAtomSpecials) {
  for (const char* value : {"with space", "a]b", "50%", "a*", "{5}", "(x)", "a\"b", "a\\b"}) {
    BOOST_TEST((astringForm(value) == AstringForm::Quoted), value);
  }
  BOOST_TEST(astringText("with space") == "\"with space\"");
  BOOST_TEST(astringText("a]b") == "\"a]b\"");
  BOOST_TEST(astringText("{5}") == "\"{5}\"");
}

BOOST_AUTO_TEST_CASE(testQuotesAndBackslashesEscaped) {
  BOOST_TEST(astringText("pa\"ss") == "\"pa\\\"ss\"");
  BOOST_TEST(astringText("back\\slash") == "\"back\\\\slash\"");
  BOOST_TEST(astringText("\"\\\"") == "\"\\\"\\\\\\\"\"");
}

BOOST_AUTO_TEST_CASE(testEmptyStringIsQuoted) {
  BOOST_TEST((astringForm("") == AstringForm::Quoted));
  BOOST_TEST(astringText("") == "\"\"");
}

BOOST_AUTO_TEST_CASE(testLiteralForEightBitAndControls) {
  BOOST_TEST((astringForm("Gr\xc3\xbc\xc3\x9f"
                          "e") == AstringForm::Literal));
  BOOST_TEST((astringForm("a\r\nb") == AstringForm::Literal));
  BOOST_TEST((astringForm("a\rb") == AstringForm::Literal));
  BOOST_TEST((astringForm("a\nb") == AstringForm::Literal));
  BOOST_TEST((astringForm(std::string("a\0b", 3)) == AstringForm::Literal));
  BOOST_TEST((astringForm("tab\there") == AstringForm::Literal));
  BOOST_TEST((astringForm("del\x7f") == AstringForm::Literal));
  // Nothing unsafe may reach the wire when the caller ignores the form.
  BOOST_TEST(astringText("a\r\nb") == "");
  BOOST_TEST(astringText("Gr\xc3\xbc\xc3\x9f"
                         "e") == "");
}

BOOST_AUTO_TEST_CASE(testLengthBoundary) {
  BOOST_TEST((astringForm(std::string(1024, 'a')) == AstringForm::Atom));
  BOOST_TEST((astringForm(std::string(1025, 'a')) == AstringForm::Literal));
  BOOST_TEST((astringForm(std::string(1023, 'a') + " ") == AstringForm::Quoted));
  BOOST_TEST((astringForm(std::string(1024, ' ')) == AstringForm::Quoted));
  BOOST_TEST((astringForm(std::string(1025, ' ')) == AstringForm::Literal));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(literal_prefix)

BOOST_AUTO_TEST_CASE(testSynchronizing) {
  const LiteralPrefix p = literalPrefix(310, LiteralMode::Synchronizing);
  BOOST_TEST(p.text == "{310}");
  BOOST_TEST(p.needs_wait);
  BOOST_TEST(literalPrefix(1, LiteralMode::Synchronizing).text == "{1}");
}

BOOST_AUTO_TEST_CASE(testLiteralPlus) {
  const LiteralPrefix small = literalPrefix(310, LiteralMode::LiteralPlus);
  BOOST_TEST(small.text == "{310+}");
  BOOST_TEST(!small.needs_wait);
  const LiteralPrefix big = literalPrefix(35651584, LiteralMode::LiteralPlus);
  BOOST_TEST(big.text == "{35651584+}");
  BOOST_TEST(!big.needs_wait);
}

BOOST_AUTO_TEST_CASE(testLiteralMinusBoundary) {
  const LiteralPrefix at = literalPrefix(4096, LiteralMode::LiteralMinus);
  BOOST_TEST(at.text == "{4096+}");
  BOOST_TEST(!at.needs_wait);
  const LiteralPrefix over = literalPrefix(4097, LiteralMode::LiteralMinus);
  BOOST_TEST(over.text == "{4097}");
  BOOST_TEST(over.needs_wait);
  BOOST_TEST(literalPrefix(0, LiteralMode::LiteralMinus).text == "{0+}");
}

BOOST_AUTO_TEST_CASE(testHugeSize) {
  BOOST_TEST(literalPrefix(UINT64_MAX, LiteralMode::Synchronizing).text ==
             "{18446744073709551615}");
  BOOST_TEST(literalPrefix(UINT64_MAX, LiteralMode::LiteralMinus).text == "{18446744073709551615}");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(mailbox_name)

BOOST_AUTO_TEST_CASE(testRfc3501Example) {
  // RFC 3501 §5.1.3: "~peter/mail/<japanese>/<chinese>".
  BOOST_TEST(
      encodeMailboxName("~peter/mail/\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e/\xe5\x8f\xb0\xe5\x8c\x97")
          .value_or("(none)") == "~peter/mail/&ZeVnLIqe-/&U,BTFw-");
}

BOOST_AUTO_TEST_CASE(testAmpersand) {
  BOOST_TEST(encodeMailboxName("&").value_or("(none)") == "&-");
  BOOST_TEST(encodeMailboxName("Tom & Jerry").value_or("(none)") == "Tom &- Jerry");
  BOOST_TEST(encodeMailboxName("&J\xc3\xa4ger").value_or("(none)") == "&-J&AOQ-ger");
}

BOOST_AUTO_TEST_CASE(testPlainAsciiUnchanged) {
  BOOST_TEST(encodeMailboxName("INBOX").value_or("(none)") == "INBOX");
  BOOST_TEST(encodeMailboxName("Archive/2024 Q1 ~x-y+z,").value_or("(none)") ==
             "Archive/2024 Q1 ~x-y+z,");
  BOOST_TEST(encodeMailboxName("").value_or("(none)") == "");
}

BOOST_AUTO_TEST_CASE(testCyrillicInbox) {
  BOOST_TEST(encodeMailboxName("\xd0\x92\xd1\x85\xd0\xbe\xd0\xb4\xd1\x8f\xd1\x89\xd0\xb8\xd0\xb5")
                 .value_or("(none)") == "&BBIERQQ+BDQETwRJBDgENQ-");
}

BOOST_AUTO_TEST_CASE(testGermanAndSupplementaryPlane) {
  BOOST_TEST(encodeMailboxName("Entw\xc3\xbcrfe").value_or("(none)") == "Entw&APw-rfe");
  BOOST_TEST(encodeMailboxName("Gesendete Objekte/\xc3\x9cnter").value_or("(none)") ==
             "Gesendete Objekte/&ANw-nter");
  // U+1F600 travels as the surrogate pair D83D DE00.
  BOOST_TEST(encodeMailboxName("a\xf0\x9f\x98\x80"
                               "b")
                 .value_or("(none)") == "a&2D3eAA-b");
}

BOOST_AUTO_TEST_CASE(testInvalidUtf8) {
  BOOST_TEST(!encodeMailboxName("\xff").has_value());
  BOOST_TEST(!encodeMailboxName("\x80").has_value());              // lone continuation byte
  BOOST_TEST(!encodeMailboxName("abc\xc3").has_value());           // truncated
  BOOST_TEST(!encodeMailboxName("\xe6\x97").has_value());          // truncated
  BOOST_TEST(!encodeMailboxName("\xc0\xaf").has_value());          // overlong "/"
  BOOST_TEST(!encodeMailboxName("\xe0\x80\xaf").has_value());      // overlong "/"
  BOOST_TEST(!encodeMailboxName("\xed\xa0\x80").has_value());      // surrogate U+D800
  BOOST_TEST(!encodeMailboxName("\xf4\x90\x80\x80").has_value());  // above U+10FFFF
  BOOST_TEST(!encodeMailboxName("\xc3(").has_value());             // bad continuation
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(flag_list)

BOOST_AUTO_TEST_CASE(testSystemFlagsAndKeywords) {
  BOOST_TEST(flagList({"\\Seen", "\\Flagged", "$Label1", "Junk"}).value_or("(none)") ==
             "(\\Seen \\Flagged $Label1 Junk)");
  BOOST_TEST(flagList({"\\Answered", "\\Deleted", "\\Draft", "$Forwarded", "NonJunk"})
                 .value_or("(none)") == "(\\Answered \\Deleted \\Draft $Forwarded NonJunk)");
}

BOOST_AUTO_TEST_CASE(testEmptyList) {
  BOOST_TEST(flagList({}).value_or("(none)") == "()");
}

BOOST_AUTO_TEST_CASE(testRecentCannotBeSet) {
  BOOST_TEST(!flagList({"\\Recent"}).has_value());
  BOOST_TEST(!flagList({"\\Seen", "\\recent"}).has_value());
}

BOOST_AUTO_TEST_CASE(testBadFlags) {
  for (const char* flag : {"", "\\", "\\*", "two words", "a(b", "a)b", "a]", "a{1}", "50%", "x\"y",
                           "a\\b", "\\\\Seen", "Gr\xc3\xbcn", "x\r\n"}) {
    BOOST_TEST(!flagList({"\\Seen", flag}).has_value(), flag);
  }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(date_time)

BOOST_AUTO_TEST_CASE(testEpoch) {
  BOOST_TEST(imapDateTime(0, 0) == "\" 1-Jan-1970 00:00:00 +0000\"");
}

BOOST_AUTO_TEST_CASE(testPositiveOffset) {
  BOOST_TEST(imapDateTime(1057049557, 120) == "\" 1-Jul-2003 10:52:37 +0200\"");
  BOOST_TEST(imapDateTime(0, 330) == "\" 1-Jan-1970 05:30:00 +0530\"");
  BOOST_TEST(imapDateTime(1709208000, 840) == "\" 1-Mar-2024 02:00:00 +1400\"");
}

BOOST_AUTO_TEST_CASE(testNegativeOffset) {
  BOOST_TEST(imapDateTime(0, -300) == "\"31-Dec-1969 19:00:00 -0500\"");
  BOOST_TEST(imapDateTime(1057049557, -210) == "\" 1-Jul-2003 05:22:37 -0330\"");
  BOOST_TEST(imapDateTime(1057049557, -30) == "\" 1-Jul-2003 08:22:37 -0030\"");
}

BOOST_AUTO_TEST_CASE(testLeapYears) {
  BOOST_TEST(imapDateTime(1709208000, 0) == "\"29-Feb-2024 12:00:00 +0000\"");
  BOOST_TEST(imapDateTime(951868799, 0) == "\"29-Feb-2000 23:59:59 +0000\"");
  BOOST_TEST(imapDateTime(4107542400, 0) == "\" 1-Mar-2100 00:00:00 +0000\"");
  BOOST_TEST(imapDateTime(4107542400 - 1, 0) == "\"28-Feb-2100 23:59:59 +0000\"");
}

BOOST_AUTO_TEST_CASE(testFarDatesAndBeforeEpoch) {
  BOOST_TEST(imapDateTime(2147483648, 0) == "\"19-Jan-2038 03:14:08 +0000\"");
  BOOST_TEST(imapDateTime(253402300799, 0) == "\"31-Dec-9999 23:59:59 +0000\"");
  BOOST_TEST(imapDateTime(-1, 0) == "\"31-Dec-1969 23:59:59 +0000\"");
}

BOOST_AUTO_TEST_CASE(testOffsetOutOfRangeIsUtc) {
  BOOST_TEST(imapDateTime(0, 24 * 60) == "\" 1-Jan-1970 00:00:00 +0000\"");
  BOOST_TEST(imapDateTime(0, -24 * 60) == "\" 1-Jan-1970 00:00:00 +0000\"");
  BOOST_TEST(imapDateTime(0, 23 * 60 + 59) == "\" 1-Jan-1970 23:59:00 +2359\"");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(trace)

BOOST_AUTO_TEST_CASE(testLoginAtomPassword) {
  BOOST_TEST(imapTrace("a1 LOGIN joe s3cret") == "a1 LOGIN joe ********");
  BOOST_TEST(imapTrace("a1 LOGIN joe s3cret\r\n") == "a1 LOGIN joe ********");
  BOOST_TEST(imapTrace("a1 login joe s3cret") == "a1 login joe ********");
}

BOOST_AUTO_TEST_CASE(testLoginQuotedArguments) {
  BOOST_TEST(imapTrace("a1 LOGIN \"joe smith\" \"pa\\\"ss word\"\r\n") ==
             "a1 LOGIN \"joe smith\" ********");
  BOOST_TEST(imapTrace("a1 LOGIN \"jo\\\"e\" secret") == "a1 LOGIN \"jo\\\"e\" ********");
  // An unterminated quoted user: nothing after the verb can be trusted to be harmless.
  BOOST_TEST(imapTrace("a1 LOGIN \"joe secret") == "a1 LOGIN ********");
}

BOOST_AUTO_TEST_CASE(testLoginLiteralPassword) {
  BOOST_TEST(imapTrace("a1 LOGIN joe {5}\r\n") == "a1 LOGIN joe ********");
  BOOST_TEST(imapTrace("a1 LOGIN joe {6+}\r\nsecret\r\n") == "a1 LOGIN joe ********");
  // A literal user name: the password comes in a later line, traced after the prompt.
  BOOST_TEST(imapTrace("a1 LOGIN {3}\r\n") == "a1 LOGIN {3}");
  BOOST_TEST(imapTrace("joe {6}", true) == "********");
  BOOST_TEST(imapTrace("secret", true) == "********");
}

BOOST_AUTO_TEST_CASE(testLoginWithoutPassword) {
  BOOST_TEST(imapTrace("a1 LOGIN joe") == "a1 LOGIN joe");
  BOOST_TEST(imapTrace("a1 LOGIN") == "a1 LOGIN");
}

BOOST_AUTO_TEST_CASE(testAuthenticatePlainInitialResponse) {
  BOOST_TEST(imapTrace("a2 AUTHENTICATE PLAIN AGpvZQBzM2NyZXQ=\r\n") ==
             "a2 AUTHENTICATE PLAIN ********");
  BOOST_TEST(imapTrace("a2 authenticate plain =") == "a2 authenticate plain ********");
  BOOST_TEST(imapTrace("a2 AUTHENTICATE PLAIN") == "a2 AUTHENTICATE PLAIN");
}

BOOST_AUTO_TEST_CASE(testAfterAuthPrompt) {
  BOOST_TEST(imapTrace("AGpvZQBzM2NyZXQ=\r\n", true) == "********");
  BOOST_TEST(imapTrace("*", true) == "********");
  BOOST_TEST(imapTrace("", true) == "********");
}

BOOST_AUTO_TEST_CASE(testOtherCommandsUnchanged) {
  BOOST_TEST(imapTrace("a3 CAPABILITY\r\n") == "a3 CAPABILITY");
  BOOST_TEST(imapTrace("a4 APPEND INBOX (\\Seen) \" 1-Jul-2003 10:52:37 +0200\" {310}") ==
             "a4 APPEND INBOX (\\Seen) \" 1-Jul-2003 10:52:37 +0200\" {310}");
  BOOST_TEST(imapTrace("a5 UID SEARCH HEADER Message-ID <x@y>") ==
             "a5 UID SEARCH HEADER Message-ID <x@y>");
}

BOOST_AUTO_TEST_CASE(testLiteralDataNotTraced) {
  BOOST_TEST(imapTrace("a4 APPEND INBOX {5+}\r\nhello\r\n") == "a4 APPEND INBOX {5+}");
  BOOST_TEST(imapTrace("a4 APPEND INBOX {5+}\nhello") == "a4 APPEND INBOX {5+}");
}

BOOST_AUTO_TEST_CASE(testControlBytesReplaced) {
  BOOST_TEST(imapTrace("a6 SELECT \"x\ty\x1b[0m\"") == "a6 SELECT \"x?y?[0m\"");
}

BOOST_AUTO_TEST_SUITE_END()
