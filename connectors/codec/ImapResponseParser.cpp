#include "ImapResponseParser.h"

#include <algorithm>
#include <utility>

#include "ImapGrammar.h"
#include "connectors/common/Ascii.h"

namespace popgate::codec {

namespace {

bool isDigit(char c) {
  return c >= '0' && c <= '9';
}

// tag = 1*<any ASTRING-CHAR except "+">;  ASTRING-CHAR = ATOM-CHAR / resp-specials
bool isTag(std::string_view tag) {
  if (tag.empty()) return false;
  return std::all_of(tag.begin(), tag.end(),
                     [](char c) { return c != '+' && (c == ']' || isAtomChar(c)); });
}

// Decimal digits into a 64-bit value; nullopt when empty, not all digits, or overflowing.
std::optional<std::uint64_t> parseDecimal64(std::string_view s) {
  if (s.empty()) return std::nullopt;
  std::uint64_t value = 0;
  for (char c : s) {
    if (!isDigit(c)) return std::nullopt;
    const auto digit = static_cast<std::uint64_t>(c - '0');
    if (value > (UINT64_MAX - digit) / 10) return std::nullopt;
    value = value * 10 + digit;
  }
  return value;
}

// number = 1*DIGIT (unsigned 32-bit)
std::optional<std::uint32_t> parseNumber32(std::string_view s) {
  const auto v = parseDecimal64(s);
  if (!v || *v > UINT32_MAX) return std::nullopt;
  return static_cast<std::uint32_t>(*v);
}

// nz-number = digit-nz *DIGIT (unsigned 32-bit, no leading zero)
std::optional<std::uint32_t> parseNzNumber(std::string_view s) {
  if (s.empty() || s.front() == '0') return std::nullopt;
  return parseNumber32(s);
}

std::optional<ImapStatus> statusWord(std::string_view word) {
  if (equalsNoCase(word, "OK")) return ImapStatus::Ok;
  if (equalsNoCase(word, "NO")) return ImapStatus::No;
  if (equalsNoCase(word, "BAD")) return ImapStatus::Bad;
  if (equalsNoCase(word, "BYE")) return ImapStatus::Bye;
  if (equalsNoCase(word, "PREAUTH")) return ImapStatus::PreAuth;
  return std::nullopt;
}

// Splits at the first SP: the word before it and the rest after it ("" when there is no SP).
std::pair<std::string_view, std::string_view> firstWord(std::string_view s) {
  const auto sp = s.find(' ');
  if (sp == std::string_view::npos) return {s, {}};
  return {s.substr(0, sp), s.substr(sp + 1)};
}

// resp-text = ["[" resp-text-code "]" SP] text
// The code ends at the first "]"; a "[" without any "]" is plain text. The SP after "]" is
// optional.
void splitRespText(std::string_view rest, std::string& code, std::string& text) {
  code.clear();
  if (!rest.empty() && rest.front() == '[') {
    const auto close = rest.find(']');
    if (close != std::string_view::npos) {
      code.assign(rest.substr(1, close - 1));
      rest.remove_prefix(close + 1);
      if (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
    }
  }
  text.assign(rest);
}

// True when the first line of an untagged response is a status response (OK/NO/BAD/BYE/PREAUTH),
// whose human-readable text may legitimately end in "{...}".
bool untaggedIsStatus(std::string_view line) {
  if (line.size() < 2 || line[1] != ' ') return false;
  return statusWord(firstWord(line.substr(2)).first).has_value();
}

// Interprets one whole logical response (line ends removed, literal data elided). Returns an
// error message, empty on success.
std::string buildResponse(std::string_view line, ImapResponse& out) {
  if (line.empty()) return "empty response line";
  if (line.front() == '+') {
    // continue-req = "+" SP (resp-text / base64) CRLF; a bare "+" is accepted as empty text.
    if (line.size() == 1) {
      out = ImapContinuation{};
      return {};
    }
    if (line[1] != ' ') return "malformed continuation request";
    out = ImapContinuation{std::string(line.substr(2))};
    return {};
  }
  if (line.front() == '*') {
    if (line.size() < 2 || line[1] != ' ') return "malformed untagged response";
    std::string_view rest = line.substr(2);
    ImapUntagged untagged;
    if (!rest.empty() && isDigit(rest.front())) {
      // message-data = nz-number SP ("EXPUNGE" / ("FETCH" SP msg-att)); mailbox-data has
      // number SP "EXISTS" / "RECENT".
      const auto [digits, after] = firstWord(rest);
      untagged.number = parseNumber32(digits);
      if (!untagged.number) return "bad number in untagged response";
      rest = after;
    }
    const auto [word, after] = firstWord(rest);
    if (word.empty() || !std::all_of(word.begin(), word.end(), isAtomChar)) {
      return "malformed untagged response";
    }
    const auto status = untagged.number ? std::nullopt : statusWord(word);
    if (status) {
      untagged.status = *status;
      untagged.keyword = upperAscii(word);
      splitRespText(after, untagged.code, untagged.text);
    } else {
      untagged.keyword = upperAscii(word);
      untagged.text.assign(after);
    }
    out = std::move(untagged);
    return {};
  }
  // response-tagged = tag SP resp-cond-state CRLF
  const auto [tag, after_tag] = firstWord(line);
  if (!isTag(tag) || tag.size() == line.size())
    return "malformed response (no tag, \"*\" or \"+\")";
  const auto [word, after] = firstWord(after_tag);
  const auto status = statusWord(word);
  if (!status || *status == ImapStatus::Bye || *status == ImapStatus::PreAuth) {
    return "tagged response without OK, NO or BAD";
  }
  ImapTagged tagged;
  tagged.tag.assign(tag);
  tagged.status = *status;
  splitRespText(after, tagged.code, tagged.text);
  out = std::move(tagged);
  return {};
}

}  // namespace

ImapResponseParser::ImapResponseParser(std::size_t max_line, std::uint64_t max_literal)
    : max_line_(max_line), max_literal_(max_literal) {}

void ImapResponseParser::reset() {
  line_.clear();
  line_start_ = 0;
  literal_left_ = 0;
  in_literal_ = false;
  error_.clear();
}

Parse ImapResponseParser::fail(std::string message) {
  error_ = std::move(message);
  if (error_.empty()) error_ = "malformed response";
  return Parse::Error;
}

Parse ImapResponseParser::parse(std::string_view& in, ImapResponse& out) {
  if (!error_.empty()) return Parse::Error;
  while (!in.empty()) {
    if (in_literal_) {
      // Literal octets (NUL and 8-bit included) are skipped, never stored.
      const auto n = static_cast<std::size_t>(
          std::min<std::uint64_t>(literal_left_, static_cast<std::uint64_t>(in.size())));
      if (literal_sink_) literal_sink_(in.substr(0, n));
      in.remove_prefix(n);
      literal_left_ -= n;
      if (literal_left_ == 0) in_literal_ = false;
      continue;
    }
    const auto lf = in.find('\n');
    const std::string_view chunk = in.substr(0, lf == std::string_view::npos ? in.size() : lf);
    if (chunk.find('\0') != std::string_view::npos) return fail("NUL byte in response");
    // The limit counts text only: a CR that may turn out to end the line is not counted yet.
    const std::size_t total = line_.size() + chunk.size();
    const bool trailing_cr =
        chunk.empty() ? (!line_.empty() && line_.back() == '\r' && line_.size() > line_start_)
                      : chunk.back() == '\r';
    if (total - (trailing_cr ? 1 : 0) > max_line_) return fail("response line too long");
    line_.append(chunk);
    if (lf == std::string_view::npos) {
      in.remove_prefix(in.size());
      return Parse::NeedMore;
    }
    in.remove_prefix(lf + 1);
    if (line_.size() > line_start_ && line_.back() == '\r') line_.pop_back();
    const Parse result = endOfLine(out);
    if (result != Parse::NeedMore) return result;
  }
  return Parse::NeedMore;
}

Parse ImapResponseParser::endOfLine(ImapResponse& out) {
  const std::string_view line(line_);
  const std::string_view physical = line.substr(line_start_);
  const bool untagged = !line.empty() && line.front() == '*';
  if (untagged && !physical.empty() && physical.back() == '}') {
    const auto open = physical.rfind('{');
    if (open != std::string_view::npos) {
      const std::string_view inner = physical.substr(open + 1, physical.size() - open - 2);
      if (const auto size = parseDecimal64(inner)) {
        if (*size > max_literal_) return fail("literal too large");
        literal_left_ = *size;
        in_literal_ = *size > 0;
        line_start_ = line_.size();
        return Parse::NeedMore;
      }
      const bool all_digits = std::all_of(inner.begin(), inner.end(), isDigit);
      const bool plus_form = !inner.empty() && inner.back() == '+' && inner.size() > 1 &&
                             std::all_of(inner.begin(), inner.end() - 1, isDigit);
      if (plus_form) return fail("non-synchronizing literal from server");
      if (all_digits && !inner.empty()) return fail("literal too large");  // overflowed 64 bits
      if (!untaggedIsStatus(line)) return fail("bad literal announcement");
      // Otherwise "{...}" is part of the human-readable text of a status response.
    }
  }
  std::string message = buildResponse(line, out);
  line_.clear();
  line_start_ = 0;
  if (!message.empty()) return fail(std::move(message));
  return Parse::Done;
}

std::string codeName(std::string_view code) {
  return upperAscii(firstWord(code).first);
}

std::optional<AppendUidSet> parseAppendUidSet(std::string_view code) {
  const auto [name, rest] = firstWord(code);
  if (!equalsNoCase(name, "APPENDUID")) return std::nullopt;
  const auto [validity_text, set_text] = firstWord(rest);
  const auto validity = parseNzNumber(validity_text);
  if (!validity || set_text.empty()) return std::nullopt;

  AppendUidSet result;
  result.uidvalidity = *validity;
  std::string_view set = set_text;
  while (true) {
    const auto comma = set.find(',');
    const std::string_view item = set.substr(0, comma);
    const auto colon = item.find(':');
    if (colon == std::string_view::npos) {
      const auto uid = parseNzNumber(item);
      if (!uid || result.uids.size() >= kMaxAppendUids) return std::nullopt;
      result.uids.push_back(*uid);
    } else {
      const auto a = parseNzNumber(item.substr(0, colon));
      const auto b = parseNzNumber(item.substr(colon + 1));
      if (!a || !b) return std::nullopt;
      const std::uint32_t low = std::min(*a, *b);
      const std::uint32_t high = std::max(*a, *b);
      const std::uint64_t count = std::uint64_t{high} - low + 1;
      if (count > kMaxAppendUids - result.uids.size()) return std::nullopt;
      for (std::uint64_t uid = low; uid <= high; ++uid) {
        result.uids.push_back(static_cast<std::uint32_t>(uid));
      }
    }
    if (comma == std::string_view::npos) break;
    set.remove_prefix(comma + 1);
  }
  std::vector<std::uint32_t> sorted = result.uids;
  std::sort(sorted.begin(), sorted.end());
  if (std::adjacent_find(sorted.begin(), sorted.end()) != sorted.end()) return std::nullopt;
  return result;
}

std::optional<AppendUid> parseAppendUid(std::string_view code) {
  const auto [name, rest] = firstWord(code);
  const auto [validity_text, uid_text] = firstWord(rest);
  if (!equalsNoCase(name, "APPENDUID")) return std::nullopt;
  const auto validity = parseNzNumber(validity_text);
  const auto uid = parseNzNumber(uid_text);
  if (!validity || !uid) return std::nullopt;
  return AppendUid{*validity, *uid};
}

std::vector<std::uint32_t> parseSearchNumbers(std::string_view text) {
  std::vector<std::uint32_t> numbers;
  while (!text.empty()) {
    const auto [word, rest] = firstWord(text);
    if (const auto n = parseNzNumber(word)) numbers.push_back(*n);
    text = rest;
  }
  return numbers;
}

std::optional<std::uint32_t> fetchUid(std::string_view text) {
  for (std::size_t at = 0; at + 4 <= text.size(); ++at) {
    const bool starts = at == 0 || text[at - 1] == '(' || text[at - 1] == ' ';
    if (!starts || !equalsNoCase(text.substr(at, 4), "UID ")) continue;
    std::string_view digits = text.substr(at + 4);
    digits = digits.substr(0, std::min(digits.find_first_not_of("0123456789"), digits.size()));
    return parseNzNumber(digits);
  }
  return std::nullopt;
}

}  // namespace popgate::codec
