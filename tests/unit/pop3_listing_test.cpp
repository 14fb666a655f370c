// Pop3Listing: UIDL and LIST lines (RFC 1939 §5, §7), line splitting and CAPA (RFC 2449 §6).
// The end-to-end cases decode a whole listing body with DotUnstuffer, fed whole, one byte at a
// time and in seeded random splits.
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "connectors/codec/DotUnstuffer.h"
#include "connectors/codec/Pop3Listing.h"

namespace {

using popgate::codec::DotUnstuffer;
using popgate::codec::Parse;
using popgate::codec::parseCapabilities;
using popgate::codec::parseListLine;
using popgate::codec::parseUidlLine;
using popgate::codec::Pop3Capabilities;
using popgate::codec::splitLines;
using popgate::codec::UidlEntry;
using namespace std::literals;

using Lines = std::vector<std::string_view>;

// Decodes a multi-line body fed in chunks of at most `widest` bytes (random lengths from `seed`);
// widest 0 means all at once. Returns the body, or "<error>" when it does not end cleanly.
std::string decodeBody(std::string_view stuffed, std::size_t widest, unsigned seed) {
  DotUnstuffer unstuffer;
  std::string out;
  std::mt19937 rng(seed);
  std::uniform_int_distribution<std::size_t> pick(1, std::max<std::size_t>(widest, 1));
  std::size_t offset = 0;
  while (offset < stuffed.size()) {
    const std::size_t length = widest == 0 ? stuffed.size() : pick(rng);
    std::string_view chunk = stuffed.substr(offset, length);
    const std::size_t offered = chunk.size();
    const Parse result = unstuffer.feed(chunk, out);
    offset += offered - chunk.size();
    if (result == Parse::Done) return offset == stuffed.size() ? out : "<trailing bytes>";
    if (result == Parse::Error) return "<error>";
  }
  return "<no terminator>";
}

// The same body decoded whole, byte by byte and in random splits must agree.
std::string decodeAllWays(std::string_view stuffed) {
  std::string whole = decodeBody(stuffed, 0, 0);
  BOOST_TEST(decodeBody(stuffed, 1, 0) == whole);
  for (unsigned seed = 1; seed <= 16; ++seed) {
    BOOST_TEST(decodeBody(stuffed, seed % 2 == 0 ? 5 : stuffed.size(), seed) == whole);
  }
  return whole;
}

}  // namespace

BOOST_AUTO_TEST_CASE(testUidlLineRfc1939Example) {
  const auto entry = parseUidlLine("1 whqtswO00WBw418f9t5JxYwZ");
  BOOST_TEST_REQUIRE(entry.has_value());
  BOOST_TEST(entry->number == 1u);
  BOOST_TEST(entry->uidl == "whqtswO00WBw418f9t5JxYwZ");
}

BOOST_AUTO_TEST_CASE(testDovecotUidlWithPunctuation) {
  // Dovecot's default pop3_uidl_format "%08Xu%08Xv", and ids made of every allowed punctuation.
  const auto dovecot = parseUidlLine("2 000000015e1f2a3b");
  BOOST_TEST_REQUIRE(dovecot.has_value());
  BOOST_TEST(dovecot->number == 2u);
  BOOST_TEST(dovecot->uidl == "000000015e1f2a3b");

  const auto punctuation = parseUidlLine("3 !\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~");
  BOOST_TEST_REQUIRE(punctuation.has_value());
  BOOST_TEST(punctuation->uidl == "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~");
}

BOOST_AUTO_TEST_CASE(testUidlIdOf70CharsAcceptedAnd71Rejected) {
  const std::string id70(70, 'x');
  const auto longest = parseUidlLine("7 " + id70);
  BOOST_TEST_REQUIRE(longest.has_value());
  BOOST_TEST(longest->uidl == id70);
  BOOST_TEST(!parseUidlLine("7 " + id70 + "y").has_value());
}

BOOST_AUTO_TEST_CASE(testUidlIdWithControlSpaceOr8BitRejected) {
  BOOST_TEST(!parseUidlLine("1 abc\x01").has_value());
  BOOST_TEST(!parseUidlLine("1 abc\x7f").has_value());
  BOOST_TEST(!parseUidlLine("1 caf\xc3\xa9").has_value());
  BOOST_TEST(!parseUidlLine("1 ab\0c"sv).has_value());
  BOOST_TEST(!parseUidlLine("1 abc\tdef").has_value());
  BOOST_TEST(!parseUidlLine("1 abc def").has_value());  // two ids, or an id with a space
  BOOST_TEST(!parseUidlLine("1 abc\r").has_value());    // a stray CR left by a bad line end
}

BOOST_AUTO_TEST_CASE(testUidlLineWithNoIdRejected) {
  BOOST_TEST(!parseUidlLine("").has_value());
  BOOST_TEST(!parseUidlLine("1").has_value());
  BOOST_TEST(!parseUidlLine("1 ").has_value());
  BOOST_TEST(!parseUidlLine(" ").has_value());
  BOOST_TEST(!parseUidlLine("abc").has_value());
}

BOOST_AUTO_TEST_CASE(testUidlMessageNumberRules) {
  BOOST_TEST(!parseUidlLine("0 abc").has_value());
  BOOST_TEST(!parseUidlLine("-1 abc").has_value());
  BOOST_TEST(!parseUidlLine("+1 abc").has_value());
  BOOST_TEST(!parseUidlLine("1a abc").has_value());
  BOOST_TEST(!parseUidlLine("0x1 abc").has_value());
  BOOST_TEST(!parseUidlLine("2147483648 abc").has_value());
  BOOST_TEST(!parseUidlLine("4294967297 abc").has_value());  // would wrap to 1 in 32 bits
  BOOST_TEST(!parseUidlLine("99999999999999999999 abc").has_value());
  BOOST_TEST(!parseUidlLine("18446744073709551617 abc").has_value());  // would wrap to 1 in 64

  const auto largest = parseUidlLine("2147483647 abc");
  BOOST_TEST_REQUIRE(largest.has_value());
  BOOST_TEST(largest->number == 2147483647u);

  const auto leading_zeros = parseUidlLine("007 abc");
  BOOST_TEST_REQUIRE(leading_zeros.has_value());
  BOOST_TEST(leading_zeros->number == 7u);
}

BOOST_AUTO_TEST_CASE(testUidlSpacePolicy) {
  // Runs of SP between fields and SP around the line are tolerated; a TAB separator is not.
  const auto doubled = parseUidlLine("1  abc");
  BOOST_TEST_REQUIRE(doubled.has_value());
  BOOST_TEST(doubled->uidl == "abc");

  const auto padded = parseUidlLine("  12 abc  ");
  BOOST_TEST_REQUIRE(padded.has_value());
  BOOST_TEST(padded->number == 12u);
  BOOST_TEST(padded->uidl == "abc");

  BOOST_TEST(!parseUidlLine("1\tabc").has_value());
  BOOST_TEST(!parseUidlLine("\t1 abc").has_value());
}

BOOST_AUTO_TEST_CASE(testListLine) {
  const auto entry = parseListLine("1 120");
  BOOST_TEST_REQUIRE(entry.has_value());
  BOOST_TEST(entry->number == 1u);
  BOOST_TEST(entry->size == 120u);

  const auto empty_message = parseListLine("2 0");
  BOOST_TEST_REQUIRE(empty_message.has_value());
  BOOST_TEST(empty_message->size == 0u);
}

BOOST_AUTO_TEST_CASE(testListSizesAbove4GiBAccepted) {
  // Sizes > 2^31 and > 2^32 are the caller's to judge; only 2^63-1 is the hard ceiling.
  const auto big = parseListLine("3 4294967296");
  BOOST_TEST_REQUIRE(big.has_value());
  BOOST_TEST(big->size == 4294967296u);

  const auto ceiling = parseListLine("3 9223372036854775807");
  BOOST_TEST_REQUIRE(ceiling.has_value());
  BOOST_TEST(ceiling->size == 9223372036854775807u);

  BOOST_TEST(!parseListLine("3 9223372036854775808").has_value());
  BOOST_TEST(!parseListLine("3 99999999999999999999").has_value());
}

BOOST_AUTO_TEST_CASE(testListLineWithExtraInfoAfterSize) {
  // RFC 1939 §5 allows more information after the size.
  const auto entry = parseListLine("4 1205 From: someone");
  BOOST_TEST_REQUIRE(entry.has_value());
  BOOST_TEST(entry->number == 4u);
  BOOST_TEST(entry->size == 1205u);
}

BOOST_AUTO_TEST_CASE(testListLineMalformed) {
  BOOST_TEST(!parseListLine("").has_value());
  BOOST_TEST(!parseListLine("1").has_value());
  BOOST_TEST(!parseListLine("1 ").has_value());
  BOOST_TEST(!parseListLine("1 -5").has_value());
  BOOST_TEST(!parseListLine("1 +5").has_value());
  BOOST_TEST(!parseListLine("1 120abc").has_value());
  BOOST_TEST(!parseListLine("1 12.5").has_value());
  BOOST_TEST(!parseListLine("0 120").has_value());
  BOOST_TEST(!parseListLine("x 120").has_value());
  BOOST_TEST(!parseListLine("1\t120").has_value());
}

BOOST_AUTO_TEST_CASE(testSplitLines) {
  BOOST_TEST(splitLines("a\r\nb\r\n") == (Lines{"a", "b"}), boost::test_tools::per_element());
  BOOST_TEST(splitLines("").empty());
  BOOST_TEST(splitLines("\r\n") == (Lines{""}), boost::test_tools::per_element());
  BOOST_TEST(splitLines("\r\n\r\n") == (Lines{"", ""}), boost::test_tools::per_element());
  BOOST_TEST(splitLines("a\nb\n") == (Lines{"a", "b"}), boost::test_tools::per_element());
  BOOST_TEST(splitLines("a\r\nlast") == (Lines{"a", "last"}), boost::test_tools::per_element());
  BOOST_TEST(splitLines("a\r\r\nb\r\n") == (Lines{"a\r", "b"}), boost::test_tools::per_element());
  BOOST_TEST(splitLines("a\rb\r\n") == (Lines{"a\rb"}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(testSplitLinesPointIntoBody) {
  const std::string body = "1 a\r\n2 b\r\n";
  const Lines lines = splitLines(body);
  BOOST_TEST_REQUIRE(lines.size() == 2u);
  BOOST_TEST(static_cast<const void*>(lines[1].data()) ==
             static_cast<const void*>(body.data() + 5));
}

BOOST_AUTO_TEST_CASE(testWholeUidlResponseDecoded) {
  // The body of "UIDL" after "+OK", as a server sends it; the caller handles duplicate ids.
  const std::string stuffed =
      "1 whqtswO00WBw418f9t5JxYwZ\r\n"
      "2 QhdPYR:00WBw1Ph7x7\r\n"
      "3 QhdPYR:00WBw1Ph7x7\r\n"
      ".\r\n";
  const std::string body = decodeAllWays(stuffed);
  BOOST_TEST(body == stuffed.substr(0, stuffed.size() - 3));
  std::vector<UidlEntry> entries;
  for (const std::string_view line : splitLines(body)) {
    const auto entry = parseUidlLine(line);
    BOOST_TEST_REQUIRE(entry.has_value());
    entries.push_back(*entry);
  }
  BOOST_TEST_REQUIRE(entries.size() == 3u);
  BOOST_TEST(entries[0].uidl == "whqtswO00WBw418f9t5JxYwZ");
  BOOST_TEST(entries[1].uidl == "QhdPYR:00WBw1Ph7x7");
  BOOST_TEST(entries[2].number == 3u);
  BOOST_TEST(entries[2].uidl == entries[1].uidl);  // duplicates reach the caller unchanged
}

BOOST_AUTO_TEST_CASE(testWholeListResponseWithStuffedLineDecoded) {
  // A hostile listing whose line starts with a dot: stuffed on the wire, invalid after decoding.
  const std::string stuffed = "1 120\r\n..2 5\r\n3 4096\r\n.\r\n";
  const std::string body = decodeAllWays(stuffed);
  BOOST_TEST(body == "1 120\r\n.2 5\r\n3 4096\r\n");
  const Lines lines = splitLines(body);
  BOOST_TEST_REQUIRE(lines.size() == 3u);
  const auto first = parseListLine(lines[0]);
  BOOST_TEST_REQUIRE(first.has_value());
  BOOST_TEST(first->size == 120u);
  BOOST_TEST(!parseListLine(lines[1]).has_value());
  const auto third = parseListLine(lines[2]);
  BOOST_TEST_REQUIRE(third.has_value());
  BOOST_TEST(third->number == 3u);
  BOOST_TEST(third->size == 4096u);
}

BOOST_AUTO_TEST_CASE(testDovecotCapabilities) {
  const std::string stuffed =
      "CAPA\r\nTOP\r\nUIDL\r\nRESP-CODES\r\nPIPELINING\r\nAUTH-RESP-CODE\r\nSTLS\r\nUSER\r\n"
      "SASL PLAIN LOGIN\r\n.\r\n";
  const std::string body = decodeAllWays(stuffed);
  const Pop3Capabilities caps = parseCapabilities(splitLines(body));
  BOOST_TEST(caps.top);
  BOOST_TEST(caps.uidl);
  BOOST_TEST(caps.resp_codes);
  BOOST_TEST(caps.pipelining);
  BOOST_TEST(caps.stls);
  BOOST_TEST(caps.user);
  BOOST_TEST(caps.sasl_plain);
  BOOST_TEST(!caps.expire.has_value());
  BOOST_TEST(!caps.expire_never);
  BOOST_TEST(caps.raw.size() == 9u);
  BOOST_TEST(caps.raw.back() == "SASL PLAIN LOGIN");
}

BOOST_AUTO_TEST_CASE(testCapabilityKeywordsCaseInsensitive) {
  const Pop3Capabilities caps =
      parseCapabilities({"uidl", "Stls", "pipelining", "resp-codes", "sasl login plain", "top"});
  BOOST_TEST(caps.uidl);
  BOOST_TEST(caps.stls);
  BOOST_TEST(caps.pipelining);
  BOOST_TEST(caps.resp_codes);
  BOOST_TEST(caps.sasl_plain);
  BOOST_TEST(caps.top);
  BOOST_TEST(!caps.user);
  BOOST_TEST(caps.raw == (std::vector<std::string>{"uidl", "Stls", "pipelining", "resp-codes",
                                                   "sasl login plain", "top"}),
             boost::test_tools::per_element());
}

// What other servers than Dovecot answer to CAPA (checked against the servers themselves).
BOOST_AUTO_TEST_CASE(testCapabilitiesOfOtherRealServers) {
  // Courier 5: UTF8 with the USER argument (RFC 6856), LOGIN-DELAY, IMPLEMENTATION.
  const Pop3Capabilities courier = parseCapabilities(
      {"STLS", "TOP", "USER", "LOGIN-DELAY 10", "PIPELINING", "UIDL", "UTF8 USER",
       "IMPLEMENTATION Courier Mail Server"});
  BOOST_TEST(courier.utf8);
  BOOST_TEST(courier.pipelining);
  BOOST_TEST(courier.stls);
  // GNU mailutils 3.15 runs "EXPIRE" and "NEVER" together: an unknown word, no expiry known.
  const Pop3Capabilities mailutils = parseCapabilities(
      {"TOP", "UIDL", "RESP-CODES", "PIPELINING", "AUTH-RESP-CODE", "EXPIRENEVER", "USER"});
  BOOST_TEST(mailutils.pipelining);
  BOOST_TEST(!mailutils.expire.has_value());
  BOOST_TEST(!mailutils.expire_never);
  BOOST_TEST(!mailutils.utf8);
  // Cyrus 3.6.
  const Pop3Capabilities cyrus = parseCapabilities(
      {"SASL PLAIN LOGIN", "EXPIRE NEVER", "LOGIN-DELAY 60", "TOP", "UIDL", "PIPELINING",
       "RESP-CODES", "AUTH-RESP-CODE", "USER", "IMPLEMENTATION Cyrus POP3 3.6.1-Debian-3.6.1-4+deb12u5"});
  BOOST_TEST(cyrus.sasl_plain);
  BOOST_TEST(cyrus.expire_never);
  // Twisted 22.4: "PIPELINE" is not PIPELINING.
  const Pop3Capabilities twisted =
      parseCapabilities({"TOP", "USER", "UIDL", "PIPELINE", "CELERITY", "AUSPEX", "POTENCE"});
  BOOST_TEST(!twisted.pipelining);
  BOOST_TEST(twisted.uidl);
  BOOST_TEST(twisted.raw.size() == 7u);
}

BOOST_AUTO_TEST_CASE(testMinimalServerHasNoCapabilities) {
  const Pop3Capabilities caps = parseCapabilities({});
  BOOST_TEST(!caps.uidl);
  BOOST_TEST(!caps.top);
  BOOST_TEST(!caps.user);
  BOOST_TEST(!caps.pipelining);
  BOOST_TEST(!caps.resp_codes);
  BOOST_TEST(!caps.stls);
  BOOST_TEST(!caps.sasl_plain);
  BOOST_TEST(!caps.expire.has_value());
  BOOST_TEST(!caps.expire_never);
  BOOST_TEST(caps.raw.empty());
}

BOOST_AUTO_TEST_CASE(testSaslWithoutPlain) {
  BOOST_TEST(!parseCapabilities({"SASL LOGIN CRAM-MD5"}).sasl_plain);
  BOOST_TEST(!parseCapabilities({"SASL"}).sasl_plain);
  BOOST_TEST(!parseCapabilities({"SASLPLAIN"}).sasl_plain);
  BOOST_TEST(!parseCapabilities({"X-SASL PLAIN"}).sasl_plain);
  BOOST_TEST(!parseCapabilities({"SASL PLAINTEXT"}).sasl_plain);
  BOOST_TEST(parseCapabilities({"SASL  CRAM-MD5  PLAIN "}).sasl_plain);
}

BOOST_AUTO_TEST_CASE(testExpireZeroServer) {
  // EXPIRE 0: the server may delete every retrieved message at QUIT.
  const Pop3Capabilities caps = parseCapabilities({"EXPIRE 0"});
  BOOST_TEST_REQUIRE(caps.expire.has_value());
  BOOST_TEST(*caps.expire == 0L);
  BOOST_TEST(!caps.expire_never);
}

BOOST_AUTO_TEST_CASE(testExpireNever) {
  const Pop3Capabilities caps = parseCapabilities({"EXPIRE NEVER"});
  BOOST_TEST(!caps.expire.has_value());
  BOOST_TEST(caps.expire_never);
  BOOST_TEST(parseCapabilities({"expire never"}).expire_never);
}

BOOST_AUTO_TEST_CASE(testExpirePerUser) {
  const Pop3Capabilities caps = parseCapabilities({"EXPIRE 30 USER"});
  BOOST_TEST_REQUIRE(caps.expire.has_value());
  BOOST_TEST(*caps.expire == 30L);
  BOOST_TEST(!caps.user);  // the USER flag of EXPIRE is not the USER command
}

BOOST_AUTO_TEST_CASE(testExpireGarbageIgnored) {
  for (const std::string_view line :
       {"EXPIRE"sv, "EXPIRE soon"sv, "EXPIRE -1"sv, "EXPIRE 99999999999999999999"sv}) {
    BOOST_TEST_CONTEXT(line) {
      const Pop3Capabilities caps = parseCapabilities({line});
      BOOST_TEST(!caps.expire.has_value());
      BOOST_TEST(!caps.expire_never);
      BOOST_TEST_REQUIRE(caps.raw.size() == 1u);
      BOOST_TEST(caps.raw.front() == line);
    }
  }
}
