// Fuzz target: the IMAP command writers of codec/ImapCommand.h and the header scanner of
// codec/HeaderScan.h. Input (see make-seeds.py): a flags byte, an 8-byte time, a 2-byte zone
// offset, an 8-byte literal size, then a 2-byte-length `value`, 1-byte-length `user`, `pass` and
// `tag`, and the rest as SP-separated flags.
// Checks, beyond "no crash, no sanitizer report":
//  - astringForm/astringText: Atom exactly for non-empty ATOM-CHAR runs (text = value); Quoted for
//    other printable 7-bit values up to 1024 bytes, and the quoted text unquotes to the value;
//    Literal (text "") for anything else;
//  - imapTrace: a LOGIN line built from user and pass (atom, quoted or literal password) traces
//    as exactly "tag LOGIN user ********", AUTHENTICATE PLAIN as "tag AUTHENTICATE PLAIN
//    ********", answers after a prompt as "********"; so no byte of the password survives; any
//    line traces to printable text without CR or LF;
//  - encodeMailboxName: refuses exactly the invalid UTF-8 (RFC 3629 table, written here), and
//    otherwise gives printable 7-bit text that a modified UTF-7 decoder (written here) turns back
//    into the input;
//  - flagList: accepts exactly "\"atom / atom flags other than \Recent, written back in order;
//  - literalPrefix: "{n}" / "{n+}" as the mode allows; imapDateTime: "dd-Mon-yyyy hh:mm:ss
//    +zzzz" that parseMessageDate reads back as the same instant and zone whenever the year is in
//    1970..9999, and parseMessageDate results survive imapDateTime and back the same way;
//  - headerBlock is a prefix of the message followed by its empty line; headerValue finds the
//    same in the message as in its header block, without LF or outer whitespace.

#include <cstddef>
#include <cstdint>
#include <ctime>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "FuzzSupport.h"
#include "connectors/codec/HeaderScan.h"
#include "connectors/codec/ImapCommand.h"
#include "connectors/codec/Sasl.h"

namespace {

namespace codec = popgate::codec;
using popgate::fuzz::check;

constexpr std::string_view kMask = "********";

// ATOM-CHAR of RFC 3501 §9: CHAR (0x01-0x7F) except "(" ")" "{" SP CTL "%" "*" DQUOTE "\" "]".
bool isAtomChar(char c) {
  const auto byte = static_cast<unsigned char>(c);
  if (byte <= 0x20 || byte >= 0x7F) return false;
  return std::string_view("(){%*\"\\]").find(c) == std::string_view::npos;
}

bool isAtom(std::string_view s) {
  if (s.empty()) return false;
  for (const char c : s) {
    if (!isAtomChar(c)) return false;
  }
  return true;
}

bool isPrintable7(std::string_view s) {
  for (const char c : s) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte > 0x7E) return false;
  }
  return true;
}

// quoted = DQUOTE *QUOTED-CHAR DQUOTE, with "\" escaping only DQUOTE and "\".
std::optional<std::string> unquote(std::string_view text) {
  if (text.size() < 2 || text.front() != '"' || text.back() != '"') return std::nullopt;
  std::string out;
  for (std::size_t i = 1; i + 1 < text.size(); ++i) {
    char c = text[i];
    if (c == '"') return std::nullopt;
    if (c == '\\') {
      if (i + 2 >= text.size()) return std::nullopt;
      c = text[++i];
      if (c != '"' && c != '\\') return std::nullopt;
    }
    out += c;
  }
  return out;
}

// RFC 3629 §4 (the UTF8-octets table): well-formed UTF-8.
bool isValidUtf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto lead = static_cast<unsigned char>(s[i]);
    if (lead < 0x80) {
      ++i;
      continue;
    }
    std::size_t length = 0;
    unsigned low = 0x80;
    unsigned high = 0xBF;
    if (lead >= 0xC2 && lead <= 0xDF) {
      length = 2;
    } else if (lead == 0xE0) {
      length = 3, low = 0xA0;
    } else if (lead == 0xED) {
      length = 3, high = 0x9F;
    } else if (lead >= 0xE1 && lead <= 0xEF) {
      length = 3;
    } else if (lead == 0xF0) {
      length = 4, low = 0x90;
    } else if (lead == 0xF4) {
      length = 4, high = 0x8F;
    } else if (lead >= 0xF1 && lead <= 0xF3) {
      length = 4;
    } else {
      return false;
    }
    if (s.size() - i < length) return false;
    const auto second = static_cast<unsigned char>(s[i + 1]);
    if (second < low || second > high) return false;
    for (std::size_t k = 2; k < length; ++k) {
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
    }
    i += length;
  }
  return true;
}

void appendUtf8(char32_t cp, std::string& out) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

// Modified UTF-7 (RFC 3501 §5.1.3) to UTF-8: "&-" is "&", "&" base64 "-" is UTF-16BE in the
// alphabet A-Z a-z 0-9 + ",". nullopt for anything malformed: a non-printable byte, an open
// shift, a bad sextet, leftover bits that are not zero padding, a broken surrogate pair.
std::optional<std::string> decodeMailboxName(std::string_view text) {
  constexpr std::string_view kAlphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";
  std::string out;
  std::size_t i = 0;
  while (i < text.size()) {
    const char c = text[i++];
    if (!isPrintable7(std::string_view(&c, 1))) return std::nullopt;
    if (c != '&') {
      out += c;
      continue;
    }
    if (i < text.size() && text[i] == '-') {
      out += '&';
      ++i;
      continue;
    }
    std::uint32_t bits = 0;
    int bit_count = 0;
    std::vector<std::uint16_t> units;
    while (true) {
      if (i == text.size()) return std::nullopt;
      const char d = text[i++];
      if (d == '-') break;
      const std::size_t value = kAlphabet.find(d);
      if (value == std::string_view::npos) return std::nullopt;
      bits = (bits << 6) | static_cast<std::uint32_t>(value);
      bit_count += 6;
      if (bit_count >= 16) {
        bit_count -= 16;
        units.push_back(static_cast<std::uint16_t>(bits >> bit_count));
        bits &= (1u << bit_count) - 1;
      }
    }
    if (units.empty() || bit_count >= 6 || bits != 0) return std::nullopt;
    for (std::size_t k = 0; k < units.size(); ++k) {
      const std::uint16_t unit = units[k];
      if (unit >= 0xD800 && unit <= 0xDBFF) {
        if (k + 1 == units.size() || units[k + 1] < 0xDC00 || units[k + 1] > 0xDFFF) {
          return std::nullopt;
        }
        appendUtf8(0x10000 + ((char32_t{unit} - 0xD800) << 10) + (units[k + 1] - 0xDC00u), out);
        ++k;
      } else if (unit >= 0xDC00 && unit <= 0xDFFF) {
        return std::nullopt;
      } else {
        appendUtf8(unit, out);
      }
    }
  }
  return out;
}

void checkAstring(std::string_view value) {
  const codec::AstringForm form = codec::astringForm(value);
  const std::string text = codec::astringText(value);
  if (value.size() > 1024 || !isPrintable7(value)) {
    check(form == codec::AstringForm::Literal, "unsafe value not sent as a literal", value);
    check(text.empty(), "astringText of a literal value is not empty", text);
  } else if (isAtom(value)) {
    check(form == codec::AstringForm::Atom, "atom not sent as an atom", value);
    check(text == value, "atom text differs from the value", text);
  } else {
    check(form == codec::AstringForm::Quoted, "printable value not sent quoted", value);
    const auto back = unquote(text);
    check(back && *back == value, "quoted text does not unquote to the value", text);
  }
}

// Every byte of a trace is printable (0x20..0x7E or 8-bit), none is CR or LF.
void checkTraceText(std::string_view trace) {
  for (const char c : trace) {
    const auto byte = static_cast<unsigned char>(c);
    check(byte >= 0x20 && byte != 0x7F, "control byte in a trace", trace);
  }
}

// "LOGIN" with the case of each letter taken from a bit of `bits`.
std::string mixedCase(std::string_view word, std::uint8_t bits) {
  std::string out(word);
  for (std::size_t i = 0; i < out.size() && i < 8; ++i) {
    if (((static_cast<unsigned>(bits) >> i) & 1u) != 0)
      out[i] = static_cast<char>(out[i] - 'A' + 'a');
  }
  return out;
}

void checkLoginTrace(std::string_view tag_in, std::string_view user, std::string_view pass,
                     std::uint8_t bits) {
  const std::string tag = isAtom(tag_in) && tag_in.find('+') == std::string_view::npos
                              ? std::string(tag_in)
                              : std::string("a1");
  const std::string login = tag + " " + mixedCase("LOGIN", bits) + " ";
  if (codec::astringForm(user) == codec::AstringForm::Literal) {
    // The user goes first as a literal; what follows the prompt is traced as a secret.
    const std::string first = login + "{" + std::to_string(user.size()) + "}";
    check(codec::imapTrace(first + "\r\n") == first, "LOGIN with a literal user changed");
  } else {
    const std::string kept = login + codec::astringText(user);
    std::string line = kept + " ";
    if (codec::astringForm(pass) == codec::AstringForm::Literal) {
      line += "{" + std::to_string(pass.size()) + "}\r\n" + std::string(pass);
    } else {
      line += codec::astringText(pass) + "\r\n";
    }
    const std::string trace = codec::imapTrace(line);
    check(trace == kept + " " + std::string(kMask), "LOGIN trace is not 'tag LOGIN user ****'",
          trace);
  }
  std::string rest(user);
  rest += " ";
  rest += pass;
  check(codec::imapTrace(rest, true) == kMask, "answer after a prompt not masked");

  const std::string auth = tag + " " + mixedCase("AUTHENTICATE", bits) + " PLAIN";
  const std::string response = codec::base64Encode(codec::saslPlain(user, pass));
  const std::string trace = codec::imapTrace(auth + " " + response + "\r\n");
  check(trace == auth + " " + std::string(kMask), "AUTHENTICATE trace keeps the response", trace);
}

void checkMailboxName(std::string_view value) {
  const auto encoded = codec::encodeMailboxName(value);
  check(encoded.has_value() == isValidUtf8(value), "encodeMailboxName and RFC 3629 disagree",
        value);
  if (!encoded) return;
  check(isPrintable7(*encoded), "encoded mailbox name is not printable 7-bit", *encoded);
  const auto decoded = decodeMailboxName(*encoded);
  check(decoded && *decoded == value, "mailbox name does not decode back", *encoded);
  if (value.find('&') == std::string_view::npos && isPrintable7(value)) {
    check(*encoded == value, "printable mailbox name changed", *encoded);
  }
}

void checkFlags(std::string_view text) {
  std::vector<std::string> flags;
  bool valid = true;
  for (std::size_t start = 0; !text.empty();) {
    const std::size_t sp = text.find(' ', start);
    flags.emplace_back(text.substr(start, sp - start));
    const std::string_view flag = flags.back();
    const std::string_view name = flag.starts_with('\\') ? flag.substr(1) : flag;
    std::string lower(name);
    for (char& c : lower) c = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
    valid = valid && isAtom(name) && !(flag.starts_with('\\') && lower == "recent");
    if (sp == std::string_view::npos) break;
    start = sp + 1;
  }
  const auto list = codec::flagList(flags);
  check(list.has_value() == valid, "flagList accepts the wrong flags", text);
  if (!list) return;
  check(*list == "(" + std::string(text) + ")", "flag list differs from the flags", *list);
}

// imapDateTime's text ("dd-Mon-yyyy hh:mm:ss +zzzz", quoted) in RFC 5322 spelling.
std::string asMessageDate(std::string text) {
  check(text.size() >= 2 && text.front() == '"' && text.back() == '"', "date-time not quoted",
        text);
  text = text.substr(1, text.size() - 2);
  // Only the two "-" of the date (the first 11 bytes); a "-" zone sign stays.
  for (std::size_t i = 0; i < text.size() && i < 11; ++i) {
    if (text[i] == '-') text[i] = ' ';
  }
  return text;
}

void checkDates(std::int64_t t, int offset_minutes) {
  const std::string text = codec::imapDateTime(static_cast<std::time_t>(t), offset_minutes);
  constexpr std::int64_t kLastSecond = 253402300799;  // 9999-12-31 23:59:59 UTC
  if (t < 0 || t > kLastSecond) {
    check(text.front() == '"' && text.back() == '"', "date-time not quoted", text);
    return;
  }
  const int zone = (offset_minutes > 1439 || offset_minutes < -1439) ? 0 : offset_minutes;
  const std::int64_t local = t + std::int64_t{zone} * 60;
  const bool readable = local >= 0 && local <= kLastSecond;  // a 4-digit year, not before 1970
  if (readable) check(text.size() == 28, "date-time of a 4-digit year is not 28 bytes", text);
  const auto parsed = codec::parseMessageDate(asMessageDate(text));
  check(parsed.has_value() == readable, "date-time not read back", text);
  if (!parsed) return;
  check(parsed->utc == t && parsed->offset_minutes == zone, "date-time reads back differently",
        text);
}

void checkMessageDate(std::string_view value) {
  const auto parsed = codec::parseMessageDate(value);
  if (!parsed) return;
  check(parsed->utc >= 0, "message date before the epoch", value);
  check(parsed->offset_minutes >= -1439 && parsed->offset_minutes <= 1439, "zone out of range",
        value);
  // "23:59:60" on 31 Dec 9999 is a valid date whose instant falls in the year 10000, which
  // imapDateTime writes with five digits and parseMessageDate (rightly) refuses.
  constexpr std::int64_t kLastSecond = 253402300799;
  if (std::int64_t{parsed->utc} + std::int64_t{parsed->offset_minutes} * 60 > kLastSecond) return;
  const std::string text = codec::imapDateTime(parsed->utc, parsed->offset_minutes);
  const auto again = codec::parseMessageDate(asMessageDate(text));
  check(again && again->utc == parsed->utc && again->offset_minutes == parsed->offset_minutes,
        "message date does not survive imapDateTime", text);
}

void checkHeaders(std::string_view message, std::string_view name) {
  const std::string_view block = codec::headerBlock(message);
  check(block.data() == message.data() && block.size() <= message.size(),
        "header block is not a prefix");
  if (block.size() < message.size()) {
    const std::string_view after = message.substr(block.size());
    check(after.starts_with("\r\n") || after.starts_with("\n"),
          "header block not cut at an empty line", after);
  }
  for (const std::string_view field : {name, std::string_view("Date"), std::string_view("From")}) {
    const auto value = codec::headerValue(message, field);
    const auto in_block = codec::headerValue(block, field);
    check(value == in_block, "headerValue differs between message and header block", field);
    if (field.empty()) check(!value, "headerValue found a field without a name");
    if (!value) continue;
    check(value->find('\n') == std::string::npos, "header value holds an LF", *value);
    if (!value->empty()) {
      check(value->front() != ' ' && value->front() != '\t' && value->back() != ' ' &&
                value->back() != '\t',
            "header value not trimmed", *value);
    }
    if (field == "Date") checkMessageDate(*value);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  popgate::fuzz::ByteReader reader(data, size);
  const std::uint8_t bits = reader.byte();
  const auto t = static_cast<std::int64_t>(reader.u64());
  const auto offset = static_cast<std::int16_t>(reader.u16());
  const std::uint64_t literal_size = reader.u64();
  const std::string_view value = reader.longString();
  const std::string_view user = reader.shortString();
  const std::string_view pass = reader.shortString();
  const std::string_view tag = reader.shortString();
  const std::string_view flags = reader.rest();

  checkAstring(value);
  checkAstring(user);
  checkAstring(pass);
  checkLoginTrace(tag, user, pass, bits);
  const std::string trace = codec::imapTrace(value, false);
  checkTraceText(trace);
  check(trace.size() <= value.size() + 1 + kMask.size(), "trace longer than the line", trace);
  checkMailboxName(value);
  checkMailboxName(user);
  checkFlags(flags);

  const auto mode = static_cast<codec::LiteralMode>((bits >> 5) % 3);
  const codec::LiteralPrefix prefix = codec::literalPrefix(literal_size, mode);
  const bool non_sync = mode == codec::LiteralMode::LiteralPlus ||
                        (mode == codec::LiteralMode::LiteralMinus && literal_size <= 4096);
  check(prefix.text == "{" + std::to_string(literal_size) + (non_sync ? "+}" : "}"),
        "literal prefix text", prefix.text);
  check(prefix.needs_wait == !non_sync, "literal prefix wait flag", prefix.text);

  checkDates(t, offset);
  // A time inside 1970..9999 as well, so the round trip runs for most inputs.
  checkDates(static_cast<std::int64_t>(static_cast<std::uint64_t>(t) % 253402300800u),
             offset % 1500);
  checkMessageDate(value);
  checkMessageDate(user);
  checkHeaders(value, user);
  return 0;
}
