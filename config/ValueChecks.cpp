#include "ValueChecks.h"

#include <arpa/inet.h>

#include <array>

#include "MessageText.h"
#include "connectors/common/Ascii.h"
#include "connectors/common/Utf8.h"

namespace popgate::config {

namespace {

constexpr std::size_t kMaxHostName = 253;
constexpr std::size_t kMaxLabel = 63;
constexpr std::size_t kMaxAccountName = 64;

bool isDigit(char c) {
  return c >= '0' && c <= '9';
}
bool isAlnum(char c) {
  return isDigit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

bool isIp(int family, std::string_view text) {
  const std::string copy(text);  // inet_pton wants a terminated string
  std::array<unsigned char, 16> buffer{};
  return inet_pton(family, copy.c_str(), buffer.data()) == 1;
}

bool isHostName(std::string_view text) {
  if (!text.empty() && text.back() == '.') text.remove_suffix(1);  // fully qualified "host."
  if (text.empty() || text.size() > kMaxHostName) return false;
  std::size_t label = 0;
  for (std::size_t i = 0; i <= text.size(); ++i) {
    if (i == text.size() || text[i] == '.') {
      if (label == 0 || label > kMaxLabel) return false;
      if (text[i - 1] == '-' || text[i - label] == '-') return false;
      label = 0;
    } else if (isAlnum(text[i]) || text[i] == '-' || text[i] == '_') {
      ++label;
    } else {
      return false;
    }
  }
  return true;
}

bool onlyDigitsAndDots(std::string_view text) {
  for (const char c : text) {
    if (!isDigit(c) && c != '.') return false;
  }
  return true;
}

template <typename T>
Parsed<T> problem(std::string why) {
  return Parsed<T>{std::nullopt, std::move(why)};
}

constexpr std::array<std::string_view, 5> kSystemFlags{"\\Seen", "\\Answered", "\\Flagged",
                                                       "\\Draft", "\\Deleted"};

// RFC 3501: atom-char = <any CHAR except atom-specials>; atom-specials = "(" / ")" / "{" / SP /
// CTL / list-wildcards ("%" / "*") / quoted-specials (DQUOTE / "\") / resp-specials ("]").
bool isAtomChar(char c) {
  const auto byte = static_cast<unsigned char>(c);
  if (byte <= 0x20 || byte >= 0x7f) return false;
  constexpr std::string_view kSpecials = "(){%*\"\\]";
  return kSpecials.find(c) == std::string_view::npos;
}

}  // namespace

Parsed<std::string> parseHost(std::string_view text) {
  if (text.empty()) return problem<std::string>("must not be empty");
  const std::string shown = quoteForMessage(text);
  if (text.front() == '[') {
    if (text.back() == ']' && isIp(AF_INET6, text.substr(1, text.size() - 2))) {
      return {std::string(text.substr(1, text.size() - 2)), {}};
    }
    return problem<std::string>(shown + " is not a valid [IPv6] address");
  }
  if (text.find(':') != std::string_view::npos) {
    if (isIp(AF_INET6, text)) return {std::string(text), {}};
    const std::size_t colon = text.rfind(':');
    if (text.find(':') == colon) {
      return problem<std::string>(shown + ": write the port under its own key (port:), not in " +
                                  "the host");
    }
    return problem<std::string>(shown + " is not a valid IPv6 address");
  }
  if (onlyDigitsAndDots(text)) {
    if (isIp(AF_INET, text)) return {std::string(text), {}};
    return problem<std::string>(shown + " is not a valid IPv4 address");
  }
  if (!isHostName(text)) {
    return problem<std::string>("expected a host name or IP address, found " + shown);
  }
  return {std::string(text), {}};
}

Parsed<std::uint16_t> parsePort(std::string_view text) {
  const std::string expected = "expected a port from 1 to 65535, found " + quoteForMessage(text);
  if (text.empty() || text.size() > 5) return problem<std::uint16_t>(expected);
  unsigned value = 0;
  for (const char c : text) {
    if (!isDigit(c)) return problem<std::uint16_t>(expected);
    value = value * 10 + static_cast<unsigned>(c - '0');
  }
  if (value < 1 || value > 65535) return problem<std::uint16_t>(expected);
  return {static_cast<std::uint16_t>(value), {}};
}

Parsed<ListenAddress> parseListen(std::string_view text) {
  const std::string example = "expected host:port, e.g. 127.0.0.1:8025";
  if (text.empty()) return problem<ListenAddress>(example);
  std::string_view host;
  std::string_view port;
  if (text.front() == '[') {
    const std::size_t close = text.find("]:");
    if (close == std::string_view::npos) {
      return problem<ListenAddress>("expected [IPv6]:port, e.g. '[::1]:8025', found " +
                                    quoteForMessage(text));
    }
    host = text.substr(0, close + 1);
    port = text.substr(close + 2);
  } else {
    const std::size_t colon = text.find(':');
    if (colon == std::string_view::npos) {
      return problem<ListenAddress>(example + " (the port is required)");
    }
    if (text.find(':', colon + 1) != std::string_view::npos) {
      return problem<ListenAddress>("write an IPv6 address in brackets and quotes, e.g. " +
                                    std::string("'[::1]:8025'"));
    }
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (host.empty()) {
      return problem<ListenAddress>("the host is missing; write 0.0.0.0:" + std::string(port) +
                                    " to listen on every IPv4 address");
    }
  }
  auto parsed_host = parseHost(host);
  if (!parsed_host.value) return problem<ListenAddress>(parsed_host.error);
  auto parsed_port = parsePort(port);
  if (!parsed_port.value) return problem<ListenAddress>(parsed_port.error);
  return {ListenAddress{std::move(*parsed_host.value), *parsed_port.value}, {}};
}

std::string accountNameProblem(std::string_view name) {
  if (name.empty()) return "must not be empty";
  const std::string rule = " (letters, digits, '_', '.' and '-' only)";
  if (name == "." || name == "..") return quoteForMessage(name) + " cannot be an account name";
  if (name.size() > kMaxAccountName) {
    return "is longer than " + std::to_string(kMaxAccountName) + " characters";
  }
  for (const char c : name) {
    if (!isAlnum(c) && c != '_' && c != '.' && c != '-') {
      return quoteForMessage(name) + " is not a valid account name" + rule;
    }
  }
  return {};
}

std::string folderProblem(std::string_view folder) {
  if (folder.empty()) return "must not be empty (the default is INBOX)";
  if (hasLineBreakOrNul(folder)) return "must not contain a line break or NUL byte";
  if (!isValidUtf8(folder)) return "is not valid UTF-8 (save the file as UTF-8)";
  return {};
}

Parsed<std::string> parseImapFlag(std::string_view text) {
  if (text.empty()) return problem<std::string>("must not be empty");
  const std::string shown = quoteForMessage(text);
  if (text.front() == '\\') {
    for (const std::string_view flag : kSystemFlags) {
      if (equalsNoCase(flag, text)) return {std::string(flag), {}};
    }
    if (equalsNoCase(text, "\\Recent")) {
      return problem<std::string>("\\Recent is set by the server and cannot be given to APPEND");
    }
    return problem<std::string>("unknown system flag " + shown + "; expected " +
                                choiceList(kSystemFlags) + ", or a keyword without '\\'");
  }
  for (const char c : text) {
    if (!isAtomChar(c)) {
      return problem<std::string>(shown +
                                  " is not a valid IMAP keyword (no spaces, control or non-ASCII "
                                  "characters, nor any of ( ) { % * \" \\ ])");
    }
  }
  return {std::string(text), {}};
}

std::string envNameProblem(std::string_view name) {
  bool valid = !name.empty() && !isDigit(name.front());
  for (const char c : name) valid = valid && (isAlnum(c) || c == '_');
  if (valid) return {};
  return quoteForMessage(name) + " is not an environment variable name ([A-Za-z_][A-Za-z0-9_]*)";
}

bool hasLineBreakOrNul(std::string_view text) {
  return text.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos;
}

}  // namespace popgate::config
