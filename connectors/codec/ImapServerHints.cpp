#include "ImapServerHints.h"

#include <cstdint>

#include "connectors/common/Ascii.h"

namespace popgate::codec {

namespace {

std::string_view codeWord(std::string_view code) { return code.substr(0, code.find(' ')); }

// The number of milliseconds in "Suggested Backoff Time: 299609 milliseconds".
std::optional<std::chrono::milliseconds> suggestedBackoff(std::string_view text) {
  constexpr std::string_view kLabel = "suggested backoff time:";
  std::size_t at = 0;
  while (at + kLabel.size() <= text.size() && !equalsNoCase(text.substr(at, kLabel.size()), kLabel)) {
    ++at;
  }
  if (at + kLabel.size() > text.size()) return std::nullopt;
  std::string_view rest = text.substr(at + kLabel.size());
  while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
  std::uint64_t value = 0;
  std::size_t digits = 0;
  while (digits < rest.size() && rest[digits] >= '0' && rest[digits] <= '9' && digits < 12) {
    value = value * 10 + static_cast<std::uint64_t>(rest[digits] - '0');
    ++digits;
  }
  if (digits == 0) return std::nullopt;
  rest.remove_prefix(digits);
  while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
  const bool seconds = startsWithNoCase(rest, "second") || startsWithNoCase(rest, "sec");
  return std::chrono::milliseconds(seconds ? value * 1000 : value);
}

}  // namespace

ThrottleHint throttleHint(std::string_view code, std::string_view text) {
  ThrottleHint hint;
  hint.throttled = equalsNoCase(codeWord(code), "THROTTLED") ||
                   containsNoCase(text, "[THROTTLED]") || containsNoCase(text, "is throttled") ||
                   containsNoCase(text, "Server Unavailable");
  if (hint.throttled) hint.wait = suggestedBackoff(text);
  return hint;
}

bool connectionLimitReached(std::string_view code, std::string_view text) {
  return containsNoCase(text, "too many simultaneous connections") ||
         containsNoCase(text, "too many connections") || equalsNoCase(codeWord(code), "LIMIT");
}

bool usageLimitBye(std::string_view code, std::string_view text) {
  return equalsNoCase(codeWord(code), "OVERQUOTA") || containsNoCase(text, "bandwidth limits");
}

bool messageTooBig(std::string_view code, std::string_view text) {
  return equalsNoCase(codeWord(code), "TOOBIG") ||
         containsNoCase(text, "maximum size of appendable message") ||
         containsNoCase(text, "message too large");
}

}  // namespace popgate::codec
