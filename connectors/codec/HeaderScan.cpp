#include "HeaderScan.h"

#include <chrono>
#include <cstdint>
#include <vector>

#include "connectors/common/Ascii.h"

namespace popgate::codec {

namespace {

bool isWsp(char c) {
  return c == ' ' || c == '\t';
}
bool isDigit(char c) {
  return c >= '0' && c <= '9';
}
bool isAlpha(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

std::string_view trimWsp(std::string_view s) {
  while (!s.empty() && isWsp(s.front())) s.remove_prefix(1);
  while (!s.empty() && isWsp(s.back())) s.remove_suffix(1);
  return s;
}

// One physical line starting at `pos` without its LF and an optional CR before it; moves `pos`
// past the LF (or to the end).
std::string_view nextLine(std::string_view text, std::size_t& pos) {
  const auto lf = text.find('\n', pos);
  const std::size_t end = lf == std::string_view::npos ? text.size() : lf;
  std::string_view line = text.substr(pos, end - pos);
  pos = lf == std::string_view::npos ? text.size() : lf + 1;
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  return line;
}

// ---- dates (RFC 5322 §3.3, §4.3) ----

struct Token {
  enum class Kind { Alpha, Number, Punct, Other } kind;
  std::string_view text;
  bool space_before;
};

// Splits a date value into runs of letters, runs of digits and single other characters.
// Comments "( ... )" (nested, with quoted-pairs) count as whitespace; an unclosed one runs to
// the end.
std::vector<Token> tokenize(std::string_view s) {
  std::vector<Token> tokens;
  bool space = true;
  std::size_t i = 0;
  while (i < s.size()) {
    const char c = s[i];
    if (c == '(') {
      int depth = 0;
      for (; i < s.size(); ++i) {
        if (s[i] == '\\') {
          ++i;
        } else if (s[i] == '(') {
          ++depth;
        } else if (s[i] == ')' && --depth == 0) {
          ++i;
          break;
        }
      }
      space = true;
      continue;
    }
    if (isWsp(c) || c == '\r' || c == '\n') {
      space = true;
      ++i;
      continue;
    }
    std::size_t j = i + 1;
    Token::Kind kind = Token::Kind::Other;
    if (isAlpha(c)) {
      kind = Token::Kind::Alpha;
      while (j < s.size() && isAlpha(s[j])) ++j;
    } else if (isDigit(c)) {
      kind = Token::Kind::Number;
      while (j < s.size() && isDigit(s[j])) ++j;
    } else if (c == ',' || c == ':' || c == '+' || c == '-') {
      kind = Token::Kind::Punct;
    }
    tokens.push_back(Token{kind, s.substr(i, j - i), space});
    space = false;
    i = j;
  }
  return tokens;
}

// The value of a run of at most 9 digits (fits an int).
std::optional<int> smallNumber(const Token& token, std::size_t max_digits) {
  if (token.kind != Token::Kind::Number || token.text.size() > max_digits) return std::nullopt;
  int value = 0;
  for (char c : token.text) value = value * 10 + (c - '0');
  return value;
}

std::optional<int> monthNumber(std::string_view name) {
  static constexpr std::string_view kMonths[] = {"jan", "feb", "mar", "apr", "may", "jun",
                                                 "jul", "aug", "sep", "oct", "nov", "dec"};
  for (int i = 0; i < 12; ++i) {
    if (equalsNoCase(name, kMonths[i])) return i + 1;
  }
  return std::nullopt;
}

// day-name = "Mon" / "Tue" / ...; the full English names are accepted too.
bool isDayName(std::string_view name) {
  static constexpr std::string_view kDays[] = {"monday", "tuesday",  "wednesday", "thursday",
                                               "friday", "saturday", "sunday"};
  for (std::string_view day : kDays) {
    if (equalsNoCase(name, day) || equalsNoCase(name, day.substr(0, 3))) return true;
  }
  return false;
}

// obs-zone (RFC 5322 §4.3) in minutes east of UTC; unknown alphabetic zones and the military
// letters are +0000 ("-0000" in the RFC's words: no information).
std::optional<int> namedZone(std::string_view name) {
  struct Zone {
    std::string_view name;
    int minutes;
  };
  static constexpr Zone kZones[] = {{"ut", 0},        {"utc", 0},       {"gmt", 0},
                                    {"est", -5 * 60}, {"edt", -4 * 60}, {"cst", -6 * 60},
                                    {"cdt", -5 * 60}, {"mst", -7 * 60}, {"mdt", -6 * 60},
                                    {"pst", -8 * 60}, {"pdt", -7 * 60}};
  for (const Zone& zone : kZones) {
    if (equalsNoCase(name, zone.name)) return zone.minutes;
  }
  if (name.size() <= 5) return 0;
  return std::nullopt;
}

}  // namespace

std::string_view headerBlock(std::string_view message) {
  std::size_t pos = 0;
  while (pos < message.size()) {
    const std::size_t start = pos;
    if (nextLine(message, pos).empty() && pos > start && message[pos - 1] == '\n') {
      return message.substr(0, start);
    }
  }
  return message;
}

std::optional<std::string> headerValue(std::string_view header_block, std::string_view name) {
  if (name.empty()) return std::nullopt;
  std::size_t pos = 0;
  std::optional<std::string> value;
  while (pos < header_block.size()) {
    const std::string_view line = nextLine(header_block, pos);
    if (line.empty()) break;  // the empty line: the body follows
    if (isWsp(line.front())) {
      if (value) value->append(line);  // a continuation: only the line end goes
      continue;
    }
    if (value) break;  // the next field: the matching one is complete
    const auto colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    std::string_view field = line.substr(0, colon);
    while (!field.empty() && isWsp(field.back())) field.remove_suffix(1);  // obs: name WSP ":"
    if (equalsNoCase(field, name)) value.emplace(line.substr(colon + 1));
  }
  if (value) *value = std::string(trimWsp(*value));
  return value;
}

std::optional<MessageDate> parseMessageDate(std::string_view value) {
  const std::vector<Token> tokens = tokenize(value);
  std::size_t i = 0;
  auto at = [&](std::size_t k) -> const Token* { return k < tokens.size() ? &tokens[k] : nullptr; };
  auto punct = [&](std::size_t k, char c) {
    const Token* t = at(k);
    return t && t->kind == Token::Kind::Punct && t->text.front() == c;
  };

  // [ day-of-week "," ]: "Tue," or the full name; the comma may be missing.
  if (const Token* t = at(i); t && t->kind == Token::Kind::Alpha) {
    if (!isDayName(t->text)) return std::nullopt;
    ++i;
    if (punct(i, ',')) ++i;
  }
  // day month year
  const Token* day_token = at(i++);
  const auto day = day_token ? smallNumber(*day_token, 2) : std::nullopt;
  const Token* month_token = at(i++);
  if (!day || !month_token || month_token->kind != Token::Kind::Alpha) return std::nullopt;
  const auto month = monthNumber(month_token->text);
  const Token* year_token = at(i++);
  auto year = year_token ? smallNumber(*year_token, 9) : std::nullopt;
  if (!month || !year) return std::nullopt;
  if (year_token->text.size() == 2) {
    *year += *year < 50 ? 2000 : 1900;
  } else if (year_token->text.size() == 3) {
    *year += 1900;
  }
  // hour ":" minute [ ":" second ]
  const Token* hour_token = at(i++);
  const auto hour = hour_token ? smallNumber(*hour_token, 2) : std::nullopt;
  if (!hour || !punct(i++, ':')) return std::nullopt;
  const Token* minute_token = at(i++);
  const auto minute = minute_token ? smallNumber(*minute_token, 2) : std::nullopt;
  if (!minute) return std::nullopt;
  int second = 0;
  if (punct(i, ':')) {
    const Token* second_token = at(i + 1);
    const auto s = second_token ? smallNumber(*second_token, 2) : std::nullopt;
    if (!s) return std::nullopt;
    second = *s;
    i += 2;
  }
  // zone
  int offset = 0;
  if (const Token* t = at(i)) {
    if (t->kind == Token::Kind::Punct && (t->text.front() == '+' || t->text.front() == '-')) {
      const Token* digits = at(i + 1);
      if (!digits || digits->space_before || digits->text.size() != 4) return std::nullopt;
      const auto hhmm = smallNumber(*digits, 4);
      if (!hhmm || *hhmm / 100 > 23 || *hhmm % 100 > 59) return std::nullopt;
      offset = (*hhmm / 100) * 60 + *hhmm % 100;
      if (t->text.front() == '-') offset = -offset;
    } else if (t->kind == Token::Kind::Alpha) {
      const auto named = namedZone(t->text);
      if (!named) return std::nullopt;
      offset = *named;
    } else {
      return std::nullopt;
    }
  }

  if (*year < 1970 || *year > 9999 || *hour > 23 || *minute > 59 || second > 60) return std::nullopt;
  const std::chrono::year_month_day date{std::chrono::year{static_cast<int>(*year)},
                                         std::chrono::month{static_cast<unsigned>(*month)},
                                         std::chrono::day{static_cast<unsigned>(*day)}};
  if (!date.ok()) return std::nullopt;  // 31 April, 29 February of a common year...
  const std::int64_t utc = std::chrono::sys_days{date}.time_since_epoch().count() * std::int64_t{86400} +
                           std::int64_t{*hour} * 3600 + std::int64_t{*minute} * 60 + second -
                           std::int64_t{offset} * 60;
  if (utc < 0) return std::nullopt;
  return MessageDate{static_cast<std::time_t>(utc), offset};
}

}  // namespace popgate::codec
