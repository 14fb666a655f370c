#include "ImapCommand.h"

#include <cstddef>
#include <cstdio>
#include <limits>
#include <utility>

#include "ImapGrammar.h"
#include "connectors/common/Ascii.h"
#include "connectors/common/Utf8.h"

namespace popgate::codec {

namespace {

constexpr std::size_t kMaxQuoted = 1024;
constexpr std::uint64_t kLiteralMinusMax = 4096;  // RFC 7888 §4: LITERAL- allows "{n+}" up to 4096
constexpr std::string_view kMask = "********";

bool isAtom(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!isAtomChar(c)) return false;
  }
  return true;
}

bool isPrintable7(char c) {
  const auto u = static_cast<unsigned char>(c);
  return u >= 0x20 && u <= 0x7E;
}

// Modified BASE64 of RFC 3501 §5.1.3: RFC 2045 base64 with "," instead of "/" and no padding.
constexpr char kModifiedBase64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

void appendModifiedBase64(const std::string& bytes, std::string& out) {
  std::size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    const std::uint32_t group = (std::uint32_t{static_cast<unsigned char>(bytes[i])} << 16) |
                                (std::uint32_t{static_cast<unsigned char>(bytes[i + 1])} << 8) |
                                std::uint32_t{static_cast<unsigned char>(bytes[i + 2])};
    out += kModifiedBase64[(group >> 18) & 0x3F];
    out += kModifiedBase64[(group >> 12) & 0x3F];
    out += kModifiedBase64[(group >> 6) & 0x3F];
    out += kModifiedBase64[group & 0x3F];
  }
  const std::size_t left = bytes.size() - i;
  if (left == 1) {
    const std::uint32_t group = std::uint32_t{static_cast<unsigned char>(bytes[i])} << 16;
    out += kModifiedBase64[(group >> 18) & 0x3F];
    out += kModifiedBase64[(group >> 12) & 0x3F];
  } else if (left == 2) {
    const std::uint32_t group = (std::uint32_t{static_cast<unsigned char>(bytes[i])} << 16) |
                                (std::uint32_t{static_cast<unsigned char>(bytes[i + 1])} << 8);
    out += kModifiedBase64[(group >> 18) & 0x3F];
    out += kModifiedBase64[(group >> 12) & 0x3F];
    out += kModifiedBase64[(group >> 6) & 0x3F];
  }
}

void appendUtf16be(char32_t cp, std::string& out) {
  auto unit = [&out](std::uint32_t u) {
    out += static_cast<char>((u >> 8) & 0xFF);
    out += static_cast<char>(u & 0xFF);
  };
  if (cp < 0x10000) {
    unit(cp);
  } else {
    const std::uint32_t v = cp - 0x10000;
    unit(0xD800 + (v >> 10));
    unit(0xDC00 + (v & 0x3FF));
  }
}

std::int64_t floorDiv(std::int64_t a, std::int64_t b) {
  const std::int64_t q = a / b;
  return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

bool isLeapYear(std::int64_t y) {
  return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

// Leap years in 1..y of the proleptic Gregorian calendar (negative for y < 0).
std::int64_t leapsThrough(std::int64_t y) {
  return floorDiv(y, 4) - floorDiv(y, 100) + floorDiv(y, 400);
}

// Days from 1970-01-01 to 1 January of year y.
std::int64_t daysBeforeYear(std::int64_t y) {
  return 365 * (y - 1970) + leapsThrough(y - 1) - leapsThrough(1969);
}

struct Civil {
  std::int64_t year;
  int month;
  int day;
};

// The calendar date of day number `days` counted from 1970-01-01 (proleptic Gregorian).
Civil civilFromDays(std::int64_t days) {
  // 146097 days make 400 years exactly; the estimate is within one year of the answer.
  std::int64_t year = 1970 + floorDiv(days * 400, 146097);
  while (daysBeforeYear(year) > days) --year;
  while (daysBeforeYear(year + 1) <= days) ++year;
  std::int64_t day_of_year = days - daysBeforeYear(year);
  static constexpr int kMonthDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  int month = 0;
  while (true) {
    const int length = kMonthDays[month] + ((month == 1 && isLeapYear(year)) ? 1 : 0);
    if (day_of_year < length) break;
    day_of_year -= length;
    ++month;
  }
  return Civil{year, month + 1, static_cast<int>(day_of_year) + 1};
}

// The first token of `s` (up to SP) and what follows the SP.
std::pair<std::string_view, std::string_view> firstWord(std::string_view s) {
  const auto sp = s.find(' ');
  if (sp == std::string_view::npos) return {s, {}};
  return {s.substr(0, sp), s.substr(sp + 1)};
}

// Length of the astring at the start of `s` as the client wrote it: a quoted string up to its
// closing quote, a literal announcement up to "}", or an atom up to SP. nullopt when a quoted
// string does not end.
std::optional<std::size_t> astringLength(std::string_view s) {
  if (!s.empty() && s.front() == '"') {
    for (std::size_t i = 1; i < s.size(); ++i) {
      if (s[i] == '\\') {
        ++i;
      } else if (s[i] == '"') {
        return i + 1;
      }
    }
    return std::nullopt;
  }
  if (!s.empty() && s.front() == '{') {
    const auto close = s.find('}');
    return close == std::string_view::npos ? s.size() : close + 1;
  }
  const auto sp = s.find(' ');
  return sp == std::string_view::npos ? s.size() : sp;
}

}  // namespace

AstringForm astringForm(std::string_view value) {
  if (value.size() > kMaxQuoted) return AstringForm::Literal;
  for (char c : value) {
    if (!isPrintable7(c)) return AstringForm::Literal;
  }
  return isAtom(value) ? AstringForm::Atom : AstringForm::Quoted;
}

std::string astringText(std::string_view value) {
  switch (astringForm(value)) {
    case AstringForm::Atom:
      return std::string(value);
    case AstringForm::Quoted: {
      std::string out;
      out.reserve(value.size() + 2);
      out += '"';
      for (char c : value) {
        if (c == '"' || c == '\\') out += '\\';
        out += c;
      }
      out += '"';
      return out;
    }
    case AstringForm::Literal:
      break;
  }
  return {};
}

LiteralPrefix literalPrefix(std::uint64_t size, LiteralMode mode) {
  const bool non_sync = mode == LiteralMode::LiteralPlus ||
                        (mode == LiteralMode::LiteralMinus && size <= kLiteralMinusMax);
  LiteralPrefix prefix;
  prefix.text = "{" + std::to_string(size) + (non_sync ? "+}" : "}");
  prefix.needs_wait = !non_sync;
  return prefix;
}

std::optional<std::string> encodeMailboxName(std::string_view utf8) {
  std::string out;
  std::string pending;  // UTF-16BE bytes of the current shifted run
  auto flush = [&]() {
    if (pending.empty()) return;
    out += '&';
    appendModifiedBase64(pending, out);
    out += '-';
    pending.clear();
  };
  std::size_t pos = 0;
  while (pos < utf8.size()) {
    const auto cp = decodeUtf8(utf8, pos);
    if (!cp) return std::nullopt;
    if (*cp >= 0x20 && *cp <= 0x7E) {
      flush();
      out += static_cast<char>(*cp);
      if (*cp == U'&') out += '-';
    } else {
      appendUtf16be(*cp, pending);
    }
  }
  flush();
  return out;
}

std::optional<std::string> flagList(const std::vector<std::string>& flags) {
  std::string out = "(";
  for (const std::string& flag : flags) {
    const std::string_view f(flag);
    if (!f.empty() && f.front() == '\\') {
      // flag = "\Answered" / "\Flagged" / "\Deleted" / "\Seen" / "\Draft" / flag-extension
      if (!isAtom(f.substr(1)) || equalsNoCase(f.substr(1), "Recent")) return std::nullopt;
    } else if (!isAtom(f)) {  // flag-keyword = atom
      return std::nullopt;
    }
    if (out.size() > 1) out += ' ';
    out += f;
  }
  out += ')';
  return out;
}

std::string imapDateTime(std::time_t t, int offset_minutes) {
  constexpr int kMaxOffset = 23 * 60 + 59;
  if (offset_minutes > kMaxOffset || offset_minutes < -kMaxOffset) offset_minutes = 0;
  const auto utc = static_cast<std::int64_t>(t);
  const std::int64_t shift = std::int64_t{offset_minutes} * 60;
  constexpr auto kMax = std::numeric_limits<std::int64_t>::max();
  constexpr auto kMin = std::numeric_limits<std::int64_t>::min();
  if ((shift > 0 && utc > kMax - shift) || (shift < 0 && utc < kMin - shift)) {
    offset_minutes = 0;
  }
  const std::int64_t local = utc + std::int64_t{offset_minutes} * 60;
  const std::int64_t days = floorDiv(local, 86400);
  // Not local - days * 86400: that product overflows within a day of INT64_MIN.
  std::int64_t rest = local % 86400;
  if (rest < 0) rest += 86400;
  const auto seconds = static_cast<int>(rest);
  const Civil date = civilFromDays(days);
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  const int zone = offset_minutes < 0 ? -offset_minutes : offset_minutes;
  char buffer[128];
  std::snprintf(buffer, sizeof buffer, "\"%2d-%s-%04lld %02d:%02d:%02d %c%02d%02d\"", date.day,
                kMonths[date.month - 1], static_cast<long long>(date.year), seconds / 3600,
                seconds / 60 % 60, seconds % 60, offset_minutes < 0 ? '-' : '+', zone / 60,
                zone % 60);
  return buffer;
}

std::string imapTrace(std::string_view line, bool after_auth_prompt) {
  if (after_auth_prompt) return std::string(kMask);
  line = line.substr(0, line.find_first_of("\r\n"));
  std::string out;
  const auto [tag, after_tag] = firstWord(line);
  const auto [verb, args] = firstWord(after_tag);
  if (equalsNoCase(verb, "LOGIN") || equalsNoCase(verb, "AUTHENTICATE")) {
    // LOGIN SP userid SP password;  AUTHENTICATE SP auth-type [SP (base64 / "=")]
    const auto kept = equalsNoCase(verb, "LOGIN") ? astringLength(args)
                                                  : std::optional(firstWord(args).first.size());
    out.assign(line.substr(0, line.size() - args.size()));
    if (!kept) {
      out += kMask;
    } else {
      out += args.substr(0, *kept);
      if (*kept < args.size()) {
        out += ' ';
        out += kMask;
      }
    }
  } else {
    out.assign(line);
  }
  for (char& c : out) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7F) c = '?';
  }
  return out;
}

}  // namespace popgate::codec
