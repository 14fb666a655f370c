// Fuzz target: the pure POP3 helpers of codec/Pop3Listing.h, codec/Pop3Command.h and
// codec/Sasl.h. Input (see make-seeds.py): a flags byte, then 1-byte-length `verb`, `arg` and
// `secret`, and the rest as a decoded listing body.
// Checks, beyond "no crash, no sanitizer report":
//  - splitLines: views into the body, in order, that rebuild it with their CRLF/LF ends;
//  - parseUidlLine / parseListLine accept exactly the lines a field split written here accepts
//    (RFC 1939 §5 and §7 with SP runs tolerated), and their entries written back parse the same;
//  - parseCapabilities keeps every line in raw and sets each flag exactly when a line names it;
//  - pop3Command refuses exactly empty or non-printable verbs, CR/LF/NUL in the argument and
//    lines over 255 octets, and otherwise writes "VERB[ arg]\r\n";
//  - pop3Trace masks PASS, APOP's digest, AUTH's initial response and SASL answers exactly as
//    documented ("PASS ********", "APOP name ********", ...), so no byte of the secret survives,
//    and leaves every other line as it was (line end dropped);
//  - base64 round trips both ways (decoding accepts only canonical text); saslPlain decodes to
//    authzid NUL authcid NUL password; apopTimestamp finds a printable "<local@domain>" of the
//    greeting; apopDigest is 32 lower-case hex digits.

#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "FuzzSupport.h"
#include "connectors/codec/Pop3Command.h"
#include "connectors/codec/Pop3Listing.h"
#include "connectors/codec/Sasl.h"

namespace {

namespace codec = popgate::codec;
using popgate::fuzz::check;

constexpr std::string_view kMask = "********";

std::string upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c;
  return out;
}

// The maximal runs of bytes other than SP (0x20).
std::vector<std::string_view> fields(std::string_view line) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i < line.size()) {
    if (line[i] == ' ') {
      ++i;
      continue;
    }
    const std::size_t start = i;
    while (i < line.size() && line[i] != ' ') ++i;
    out.push_back(line.substr(start, i - start));
  }
  return out;
}

// Decimal digits only, at most `max`.
std::optional<std::uint64_t> decimal(std::string_view digits, std::uint64_t max) {
  if (digits.empty()) return std::nullopt;
  std::uint64_t value = 0;
  for (const char c : digits) {
    if (c < '0' || c > '9') return std::nullopt;
    const auto digit = static_cast<std::uint64_t>(c - '0');
    if (value > (max - digit) / 10) return std::nullopt;
    value = value * 10 + digit;
  }
  return value;
}

std::optional<std::uint64_t> messageNumber(std::string_view digits) {
  const auto number = decimal(digits, 0x7FFFFFFF);
  if (!number || *number == 0) return std::nullopt;
  return number;
}

bool isUid(std::string_view uid) {
  if (uid.empty() || uid.size() > 70) return false;
  for (const char c : uid) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte < 0x21 || byte > 0x7E) return false;
  }
  return true;
}

void checkListingLine(std::string_view line) {
  const std::vector<std::string_view> parts = fields(line);
  const auto number = parts.empty() ? std::nullopt : messageNumber(parts[0]);
  const std::uint64_t number_value = number.value_or(0);  // (gcc: no maybe-uninitialized)

  const auto uidl = codec::parseUidlLine(line);
  const bool uidl_valid = number && parts.size() == 2 && isUid(parts[1]);
  check(uidl.has_value() == uidl_valid, "parseUidlLine accepts the wrong lines", line);
  if (uidl) {
    check(uidl->number == number_value && uidl->uidl == parts[1], "UIDL entry differs", line);
    const auto again = codec::parseUidlLine(std::to_string(uidl->number) + " " + uidl->uidl);
    check(again && again->number == uidl->number && again->uidl == uidl->uidl,
          "UIDL entry written back parses differently", line);
  }

  const auto list = codec::parseListLine(line);
  const auto size =
      parts.size() >= 2
          ? decimal(parts[1], static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
          : std::nullopt;
  check(list.has_value() == (number && size), "parseListLine accepts the wrong lines", line);
  if (list) {
    check(list->number == number_value && list->size == size.value_or(0), "LIST entry differs",
          line);
    const auto again =
        codec::parseListLine(std::to_string(list->number) + " " + std::to_string(list->size));
    check(again && again->number == list->number && again->size == list->size,
          "LIST entry written back parses differently", line);
  }
}

std::vector<std::string_view> checkSplitLines(std::string_view body) {
  const std::vector<std::string_view> lines = codec::splitLines(body);
  std::size_t pos = 0;
  for (const std::string_view line : lines) {
    check(line.data() == body.data() + pos, "splitLines skipped or reordered bytes", line);
    check(line.find('\n') == std::string_view::npos, "line holds an LF", line);
    pos += line.size();
    const std::string_view end = body.substr(pos);
    if (end.starts_with("\r\n")) {
      pos += 2;
    } else if (end.starts_with("\n")) {
      pos += 1;
    } else {
      check(end.empty(), "line not ended by CRLF, LF or the body end", end);
    }
  }
  check(pos == body.size(), "splitLines lost the end of the body");
  return lines;
}

void checkCapabilities(const std::vector<std::string_view>& lines) {
  const codec::Pop3Capabilities caps = codec::parseCapabilities(lines);
  check(caps.raw.size() == lines.size(), "raw capability lines lost");
  bool uidl = false, top = false, user = false, pipelining = false, resp_codes = false;
  bool stls = false, sasl_plain = false;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    check(caps.raw[i] == lines[i], "raw capability line changed", lines[i]);
    const std::vector<std::string_view> parts = fields(lines[i]);
    if (parts.empty()) continue;
    const std::string tag = upper(parts[0]);
    uidl = uidl || tag == "UIDL";
    top = top || tag == "TOP";
    user = user || tag == "USER";
    pipelining = pipelining || tag == "PIPELINING";
    resp_codes = resp_codes || tag == "RESP-CODES";
    stls = stls || tag == "STLS";
    if (tag == "SASL") {
      for (std::size_t k = 1; k < parts.size(); ++k)
        sasl_plain = sasl_plain || upper(parts[k]) == "PLAIN";
    }
  }
  check(caps.uidl == uidl && caps.top == top && caps.user == user &&
            caps.pipelining == pipelining && caps.resp_codes == resp_codes && caps.stls == stls &&
            caps.sasl_plain == sasl_plain,
        "a capability flag disagrees with the lines");
  check(!(caps.expire && caps.expire_never), "EXPIRE both a number and NEVER");
  if (caps.expire) check(*caps.expire >= 0, "negative EXPIRE");
}

void checkCommand(std::string_view verb, std::string_view arg) {
  bool valid = !verb.empty();
  for (const char c : verb) {
    const auto byte = static_cast<unsigned char>(c);
    valid = valid && byte >= 0x21 && byte <= 0x7E;
  }
  valid = valid && arg.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos;
  const std::string expected =
      std::string(verb) + (arg.empty() ? "" : " ") + std::string(arg) + "\r\n";
  valid = valid && expected.size() <= 255;
  const auto line = codec::pop3Command(verb, arg);
  check(line.has_value() == valid, "pop3Command accepts the wrong commands", expected);
  if (line) check(*line == expected, "pop3Command line differs", *line);
}

bool isSeparator(char c) {
  return c == ' ' || c == '\t';
}

// What pop3Trace must keep after the verb: the line without its trailing CR/LF bytes and
// without the separators that follow the verb.
std::string_view argumentsOf(std::string_view line) {
  while (!line.empty() && (line.back() == '\r' || line.back() == '\n')) line.remove_suffix(1);
  line.remove_prefix(line.size() < 4 ? line.size() : 4);
  while (!line.empty() && isSeparator(line.front())) line.remove_prefix(1);
  return line;
}

// "PASS" etc. with the case of each letter from a bit of `bits`.
std::string mixedCase(std::string_view word, std::uint8_t bits) {
  std::string out(word);
  for (std::size_t i = 0; i < out.size(); ++i) {
    if (((static_cast<unsigned>(bits) >> i) & 1u) != 0)
      out[i] = static_cast<char>(out[i] - 'A' + 'a');
  }
  return out;
}

void checkTraces(std::string_view name, std::string_view secret, std::string_view any,
                 std::uint8_t bits) {
  // PASS: everything after the verb is secret, even without a SP ("PASSsecret").
  const std::string pass = mixedCase("PASS", bits);
  for (const std::string& line : {pass + " " + std::string(secret), pass + std::string(secret)}) {
    const std::string expected = argumentsOf(line).empty() ? pass : pass + " " + std::string(kMask);
    check(codec::pop3Trace(line) == expected, "PASS trace differs", codec::pop3Trace(line));
  }
  // APOP name digest / AUTH mechanism initial-response: the first field stays.
  const bool plain_name = !name.empty() && name.find_first_of(" \t\r\n") == std::string_view::npos;
  if (plain_name) {
    for (const std::string_view verb : {"APOP", "AUTH"}) {
      const std::string word = mixedCase(verb, static_cast<std::uint8_t>(bits >> 4));
      const std::string line = word + " " + std::string(name) + " " + std::string(secret);
      std::string_view rest = argumentsOf(line).substr(name.size());
      while (!rest.empty() && isSeparator(rest.front())) rest.remove_prefix(1);
      const std::string expected =
          word + " " + std::string(name) + (rest.empty() ? "" : " " + std::string(kMask));
      check(codec::pop3Trace(line) == expected, "APOP/AUTH trace differs", codec::pop3Trace(line));
    }
  }
  const std::string auth = "AUTH PLAIN " + codec::base64Encode(codec::saslPlain(name, secret));
  check(codec::pop3Trace(auth + "\r\n") == "AUTH PLAIN " + std::string(kMask),
        "AUTH PLAIN trace keeps the response");
  check(codec::pop3Trace(secret, true) == kMask, "SASL answer not masked");

  // Any other line comes back unchanged, less its trailing CR/LF.
  const std::string verb = upper(any.substr(0, 4));
  if (verb != "PASS" && verb != "APOP" && verb != "AUTH") {
    std::string_view expected = any;
    while (!expected.empty() && (expected.back() == '\r' || expected.back() == '\n')) {
      expected.remove_suffix(1);
    }
    check(codec::pop3Trace(any) == expected, "ordinary line changed by pop3Trace", any);
  }
}

void checkSasl(std::string_view authcid, std::string_view password, std::string_view authzid,
               std::string_view body) {
  const std::string encoded = codec::base64Encode(body);
  check(encoded.size() == (body.size() + 2) / 3 * 4, "base64 length");
  const auto decoded = codec::base64Decode(encoded);
  check(decoded && *decoded == body, "base64 round trip differs", encoded);
  if (const auto raw = codec::base64Decode(body)) {
    check(codec::base64Encode(*raw) == body, "non-canonical base64 accepted", body);
  }
  const auto plain = codec::base64Decode(codec::saslPlain(authcid, password, authzid));
  std::string message(authzid);
  message += '\0';
  message += authcid;
  message += '\0';
  message += password;
  check(plain && *plain == message, "saslPlain does not decode to its message");
}

void checkApop(std::string_view greeting, std::string_view password) {
  const auto timestamp = codec::apopTimestamp(greeting);
  if (timestamp) {
    check(greeting.find(*timestamp) != std::string_view::npos, "APOP timestamp not in greeting",
          *timestamp);
    check(timestamp->size() >= 5 && timestamp->front() == '<' && timestamp->back() == '>',
          "APOP timestamp not bracketed", *timestamp);
    const std::string_view inner = std::string_view(*timestamp).substr(1, timestamp->size() - 2);
    const std::size_t at = inner.find('@');
    check(at != std::string_view::npos && at > 0 && at + 1 < inner.size(),
          "APOP timestamp without local@domain", *timestamp);
    for (const char c : inner) {
      const auto byte = static_cast<unsigned char>(c);
      check(byte >= 0x21 && byte <= 0x7E && c != '<' && c != '>', "APOP timestamp byte",
            *timestamp);
    }
  }
  const std::string digest = codec::apopDigest(timestamp.value_or("<1.2@x>"), password);
  if (digest.empty()) return;  // a FIPS-only libcrypto has no MD5
  check(digest.size() == 32 && digest.find_first_not_of("0123456789abcdef") == std::string::npos,
        "APOP digest is not 32 hex digits", digest);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  popgate::fuzz::ByteReader reader(data, size);
  const std::uint8_t bits = reader.byte();
  const std::string_view verb = reader.shortString();
  const std::string_view arg = reader.shortString();
  const std::string_view secret = reader.shortString();
  const std::string_view body = reader.rest();

  const std::vector<std::string_view> lines = checkSplitLines(body);
  for (const std::string_view line : lines) checkListingLine(line);
  checkCapabilities(lines);
  checkCommand(verb, arg);
  checkTraces(arg, secret, body, bits);
  for (const std::string_view line : lines) checkTraces(verb, line, line, bits);
  checkSasl(verb, secret, arg, body);
  checkApop(body, secret);
  return 0;
}
