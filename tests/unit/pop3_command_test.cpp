// Pop3Command: command lines, secret-free traces, APOP (RFC 1939 §7); Sasl: base64 (RFC 4648) and
// PLAIN (RFC 4616). Greetings are parsed with Pop3ReplyParser fed whole and one byte at a time.
#include <boost/test/unit_test.hpp>

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "connectors/codec/Pop3Command.h"
#include "connectors/codec/Pop3ReplyParser.h"
#include "connectors/codec/Sasl.h"

namespace {

using popgate::codec::apopDigest;
using popgate::codec::apopTimestamp;
using popgate::codec::base64Decode;
using popgate::codec::base64Encode;
using popgate::codec::Parse;
using popgate::codec::pop3Command;
using popgate::codec::Pop3Reply;
using popgate::codec::Pop3ReplyParser;
using popgate::codec::pop3Trace;
using popgate::codec::saslPlain;
using namespace std::literals;

constexpr std::string_view kRfcTimestamp = "<1896.697170952@dbc.mtview.ca.us>";
constexpr std::string_view kRfcDigest = "c4c9334bac560ecc979e58001b3e22fb";

// An optional result as printable text, so failed checks show the value.
std::string shown(const std::optional<std::string>& value) {
  return value ? *value : std::string("<nullopt>");
}

// The reply text of one status line, parsed with `byte_at_a_time` or whole; "" on failure.
std::string greetingText(std::string_view line, bool byte_at_a_time) {
  Pop3ReplyParser parser;
  Pop3Reply reply;
  for (std::size_t offset = 0; offset < line.size();) {
    const std::size_t length = byte_at_a_time ? 1 : line.size();
    std::string_view chunk = line.substr(offset, length);
    const Parse result = parser.parse(chunk, reply);
    if (result == Parse::Done) return reply.text;
    if (result == Parse::Error) return {};
    offset += length;
  }
  return {};
}

}  // namespace

BOOST_AUTO_TEST_CASE(testCommandLines) {
  BOOST_TEST(shown(pop3Command("USER", "tim")) == "USER tim\r\n");
  BOOST_TEST(shown(pop3Command("STAT")) == "STAT\r\n");
  BOOST_TEST(shown(pop3Command("RETR", "1")) == "RETR 1\r\n");
  BOOST_TEST(shown(pop3Command("AUTH", "PLAIN AHRpbQB0YW5zdGFhZnRhbnN0YWFm")) ==
             "AUTH PLAIN AHRpbQB0YW5zdGFhZnRhbnN0YWFm\r\n");
  BOOST_TEST(shown(pop3Command("PASS", "with space and 8-bit \xe9")) ==
             "PASS with space and 8-bit \xe9\r\n");
}

BOOST_AUTO_TEST_CASE(testCrLfInjectionInArgumentRejected) {
  // A user name from config like "tim\r\nDELE 1" must never become a second command.
  BOOST_TEST(!pop3Command("USER", "tim\r\nDELE 1").has_value());
  BOOST_TEST(!pop3Command("USER", "tim\nDELE 1").has_value());
  BOOST_TEST(!pop3Command("USER", "tim\rDELE 1").has_value());
  BOOST_TEST(!pop3Command("PASS", "secret\0"sv).has_value());
  BOOST_TEST(!pop3Command("PASS", "\r\n").has_value());
}

BOOST_AUTO_TEST_CASE(testMalformedVerbRejected) {
  BOOST_TEST(!pop3Command("", "x").has_value());
  BOOST_TEST(!pop3Command("US ER", "tim").has_value());
  BOOST_TEST(!pop3Command("QUIT\r\n").has_value());
  BOOST_TEST(!pop3Command("\xe9").has_value());
}

BOOST_AUTO_TEST_CASE(testCommandLimitIs255OctetsWithCrLf) {
  const std::string fits(248, 'p');  // "PASS " + 248 + CRLF = 255
  const auto line = pop3Command("PASS", fits);
  BOOST_TEST_REQUIRE(line.has_value());
  BOOST_TEST(line->size() == 255u);
  BOOST_TEST(!pop3Command("PASS", fits + "p").has_value());
  BOOST_TEST(!pop3Command(std::string(254, 'X')).has_value());
  BOOST_TEST(pop3Command(std::string(253, 'X')).has_value());
}

BOOST_AUTO_TEST_CASE(testLongAuthPlainTokenMustGoAfterPrompt) {
  // RFC 5034 §4: an initial response that does not fit 255 octets goes after the "+" prompt.
  const std::string token = saslPlain("tim", std::string(200, 'p'));
  BOOST_TEST(!pop3Command("AUTH", "PLAIN " + token).has_value());
  BOOST_TEST(pop3Command("AUTH", "PLAIN").has_value());
}

BOOST_AUTO_TEST_CASE(testTraceMasksPass) {
  BOOST_TEST(pop3Trace("PASS tanstaaf\r\n") == "PASS ********");
  BOOST_TEST(pop3Trace("pass tanstaaf") == "pass ********");
  BOOST_TEST(pop3Trace("PASS with spaces in it\r\n") == "PASS ********");
  BOOST_TEST(pop3Trace("PASS\r\n") == "PASS");
  BOOST_TEST(pop3Trace("PASS \r\n") == "PASS");
  BOOST_TEST(pop3Trace("PASStanstaaf\r\n") == "PASS ********");
  BOOST_TEST(pop3Trace("PASS\ttanstaaf") == "PASS ********");
}

BOOST_AUTO_TEST_CASE(testTraceMasksApopDigestKeepsUser) {
  BOOST_TEST(pop3Trace("APOP mrose c4c9334bac560ecc979e58001b3e22fb\r\n") == "APOP mrose ********");
  BOOST_TEST(pop3Trace("apop mrose  c4c9334bac560ecc979e58001b3e22fb") == "apop mrose ********");
  BOOST_TEST(pop3Trace("APOP mrose") == "APOP mrose");
}

BOOST_AUTO_TEST_CASE(testTraceMasksAuthPlainInitialResponseKeepsMechanism) {
  BOOST_TEST(pop3Trace("AUTH PLAIN AHRpbQB0YW5zdGFhZnRhbnN0YWFm\r\n") == "AUTH PLAIN ********");
  BOOST_TEST(pop3Trace("AUTH PLAIN =\r\n") == "AUTH PLAIN ********");
  BOOST_TEST(pop3Trace("AUTH PLAIN\r\n") == "AUTH PLAIN");
  BOOST_TEST(pop3Trace("AUTH\r\n") == "AUTH");
}

BOOST_AUTO_TEST_CASE(testTraceMasksWholeLineAfterAuthPrompt) {
  BOOST_TEST(pop3Trace("AHRpbQB0YW5zdGFhZnRhbnN0YWFm\r\n", true) == "********");
  BOOST_TEST(pop3Trace("USER looks-harmless\r\n", true) == "********");
  BOOST_TEST(pop3Trace("*\r\n", true) == "********");
}

BOOST_AUTO_TEST_CASE(testTraceKeepsOtherCommands) {
  BOOST_TEST(pop3Trace("USER tim\r\n") == "USER tim");
  BOOST_TEST(pop3Trace("RETR 1\r\n") == "RETR 1");
  BOOST_TEST(pop3Trace("UIDL") == "UIDL");
  BOOST_TEST(pop3Trace("STLS\r\n") == "STLS");
  BOOST_TEST(pop3Trace("") == "");
}

BOOST_AUTO_TEST_CASE(testApopTimestampInRfc1939Greeting) {
  const auto stamp = apopTimestamp("+OK POP3 server ready <1896.697170952@dbc.mtview.ca.us>");
  BOOST_TEST_REQUIRE(stamp.has_value());
  BOOST_TEST(*stamp == kRfcTimestamp);
  BOOST_TEST(shown(apopTimestamp("POP3 server ready <1896.697170952@dbc.mtview.ca.us> ok")) ==
             std::string(kRfcTimestamp));
}

BOOST_AUTO_TEST_CASE(testGreetingWithoutApopTimestamp) {
  BOOST_TEST(!apopTimestamp("+OK Dovecot (Debian) ready.").has_value());
  BOOST_TEST(!apopTimestamp("+OK <no-at-sign>").has_value());
  BOOST_TEST(!apopTimestamp("+OK <@host>").has_value());
  BOOST_TEST(!apopTimestamp("+OK <local@>").has_value());
  BOOST_TEST(!apopTimestamp("+OK <with space@host>").has_value());
  BOOST_TEST(!apopTimestamp("+OK <unclosed@host").has_value());
  BOOST_TEST(!apopTimestamp("+OK <ctl\x01@host>").has_value());
  BOOST_TEST(!apopTimestamp("").has_value());
}

BOOST_AUTO_TEST_CASE(testApopTimestampAfterBrokenBracket) {
  BOOST_TEST(shown(apopTimestamp("+OK <x <1.2@host> ready")) == "<1.2@host>"s);
  BOOST_TEST(shown(apopTimestamp("+OK <a@b> <c@d>")) == "<a@b>"s);
}

BOOST_AUTO_TEST_CASE(testApopDigestRfc1939Vector) {
  BOOST_TEST(apopDigest(kRfcTimestamp, "tanstaaf") == kRfcDigest);
  BOOST_TEST(apopDigest("", "") == "d41d8cd98f00b204e9800998ecf8427e");  // MD5 of nothing
}

BOOST_AUTO_TEST_CASE(testApopLoginFromParsedGreeting) {
  const std::string greeting = "+OK POP3 server ready <1896.697170952@dbc.mtview.ca.us>\r\n";
  for (const bool byte_at_a_time : {false, true}) {
    const std::string text = greetingText(greeting, byte_at_a_time);
    const auto stamp = apopTimestamp(text);
    BOOST_TEST_REQUIRE(stamp.has_value());
    const auto line = pop3Command("APOP", "mrose " + apopDigest(*stamp, "tanstaaf"));
    BOOST_TEST(shown(line) == "APOP mrose c4c9334bac560ecc979e58001b3e22fb\r\n");
    BOOST_TEST(pop3Trace(*line) == "APOP mrose ********");
  }
}

BOOST_AUTO_TEST_CASE(testBase64Rfc4648Vectors) {
  BOOST_TEST(base64Encode("") == "");
  BOOST_TEST(base64Encode("f") == "Zg==");
  BOOST_TEST(base64Encode("fo") == "Zm8=");
  BOOST_TEST(base64Encode("foo") == "Zm9v");
  BOOST_TEST(base64Encode("foob") == "Zm9vYg==");
  BOOST_TEST(base64Encode("fooba") == "Zm9vYmE=");
  BOOST_TEST(base64Encode("foobar") == "Zm9vYmFy");
  for (const std::string_view plain : {""sv, "f"sv, "fo"sv, "foo"sv, "foob"sv, "fooba"sv}) {
    BOOST_TEST(shown(base64Decode(base64Encode(plain))) == std::string(plain));
  }
}

BOOST_AUTO_TEST_CASE(testBase64BinaryRoundTrip) {
  BOOST_TEST(base64Encode("\xff\xfe\0"sv) == "//4A");
  BOOST_TEST(shown(base64Decode("//4A")) == "\xff\xfe\0"s);
  std::string every_byte;
  for (int i = 0; i < 256; ++i) every_byte.push_back(static_cast<char>(i));
  for (std::size_t cut = 0; cut < 4; ++cut) {
    const std::string piece = every_byte.substr(cut);
    BOOST_TEST(shown(base64Decode(base64Encode(piece))) == piece);
  }
}

BOOST_AUTO_TEST_CASE(testBase64DecodeRejectsInvalid) {
  BOOST_TEST(!base64Decode("Zg=").has_value());   // length not a multiple of 4
  BOOST_TEST(!base64Decode("Zg").has_value());    // padding missing
  BOOST_TEST(!base64Decode("Z===").has_value());  // too much padding
  BOOST_TEST(!base64Decode("====").has_value());
  BOOST_TEST(!base64Decode("=Zg=").has_value());      // padding first
  BOOST_TEST(!base64Decode("Z=g=").has_value());      // padding in the middle of a group
  BOOST_TEST(!base64Decode("Zg==Zg==").has_value());  // padding before the end
  BOOST_TEST(!base64Decode("Zm9v\r\n").has_value());  // no line breaks
  BOOST_TEST(!base64Decode("Zm 9v").has_value());     // no spaces
  BOOST_TEST(!base64Decode("Zm9*").has_value());      // outside the alphabet
  BOOST_TEST(!base64Decode("Zm9-").has_value());      // base64url is not base64
  BOOST_TEST(!base64Decode("Zm9\0"sv).has_value());
  BOOST_TEST(!base64Decode("Zh==").has_value());  // non-zero pad bits: not canonical
  BOOST_TEST(!base64Decode("Zm9=").has_value());
}

BOOST_AUTO_TEST_CASE(testBase64DecodesServerChallenge) {
  BOOST_TEST(shown(base64Decode("VXNlcm5hbWU6")) == "Username:"s);  // AUTH LOGIN prompt
  BOOST_TEST(shown(base64Decode("")) == ""s);
}

BOOST_AUTO_TEST_CASE(testSaslPlainRfc4616Example) {
  const std::string token = saslPlain("tim", "tanstaaftanstaaf");
  BOOST_TEST(token == base64Encode("\0tim\0tanstaaftanstaaf"sv));
  BOOST_TEST(token == "AHRpbQB0YW5zdGFhZnRhbnN0YWFm");
}

BOOST_AUTO_TEST_CASE(testSaslPlainWithAuthzid) {
  BOOST_TEST(shown(base64Decode(saslPlain("tim", "pw", "admin"))) == "admin\0tim\0pw"s);
  BOOST_TEST(shown(base64Decode(saslPlain("", ""))) == "\0\0"s);
}
