// POP3 command lines (RFC 1939 §3, RFC 2449 §4):
//   command   = keyword *(SP argument) CRLF      ; "Commands ... may be up to 255 octets,
//                                                ;  including the terminating CRLF" (RFC 2449 §4)
//   apop      = "APOP" SP name SP digest          ; RFC 1939 §7: digest = MD5(timestamp password)
//   timestamp = msg-id                           ; RFC 1939 §7, "<" addr-spec ">" of RFC 822
//   auth      = "AUTH" SP mechanism [SP initial-response]   ; RFC 5034 §4

#include "Pop3Command.h"

#include <openssl/evp.h>

#include <array>
#include <memory>

#include "DigestContext.h"
#include "connectors/common/Ascii.h"

namespace popgate::codec {
namespace {

constexpr std::size_t kMaxCommandLine = 255;
constexpr std::string_view kMask = "********";

bool isSeparator(char c) noexcept {
  return c == ' ' || c == '\t';
}

// Returns the next separator-delimited field of `rest` and moves `rest` past it.
std::string_view nextField(std::string_view& rest) {
  while (!rest.empty() && isSeparator(rest.front())) rest.remove_prefix(1);
  std::size_t len = 0;
  while (len < rest.size() && !isSeparator(rest[len])) ++len;
  const std::string_view field = rest.substr(0, len);
  rest.remove_prefix(len);
  return field;
}

bool isTimestampChar(char c) noexcept {
  const auto byte = static_cast<unsigned char>(c);
  return byte >= 0x21 && byte <= 0x7E && c != '<' && c != '>';
}

// "<" local "@" domain ">" with both parts non-empty and printable, no spaces.
bool isTimestamp(std::string_view inner) noexcept {
  const std::size_t at = inner.find('@');
  if (at == std::string_view::npos || at == 0 || at + 1 == inner.size()) return false;
  for (const char c : inner) {
    if (!isTimestampChar(c)) return false;
  }
  return true;
}

}  // namespace

std::optional<std::string> pop3Command(std::string_view verb, std::string_view arg) {
  if (verb.empty()) return std::nullopt;
  for (const char c : verb) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte < 0x21 || byte > 0x7E) return std::nullopt;
  }
  for (const char c : arg) {
    if (c == '\r' || c == '\n' || c == '\0') return std::nullopt;
  }
  const std::size_t length = verb.size() + (arg.empty() ? 0 : 1 + arg.size()) + 2;
  if (length > kMaxCommandLine) return std::nullopt;
  std::string line;
  line.reserve(length);
  line.append(verb);
  if (!arg.empty()) {
    line.push_back(' ');
    line.append(arg);
  }
  line.append("\r\n");
  return line;
}

std::string pop3Trace(std::string_view line, bool after_auth_prompt) {
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.remove_suffix(1);
  if (after_auth_prompt) return std::string(kMask);
  // The verb is matched on its first four letters, so even "PASSsecret" never reaches a log.
  const std::string_view verb = line.substr(0, 4);
  std::size_t kept_fields = 0;  // arguments shown before the mask
  if (equalsNoCase(verb, "PASS")) {
    kept_fields = 0;
  } else if (equalsNoCase(verb, "APOP") || equalsNoCase(verb, "AUTH")) {
    kept_fields = 1;  // APOP's name, AUTH's mechanism
  } else {
    return std::string(line);
  }
  std::string_view rest = line.substr(verb.size());
  std::string out(verb);
  for (std::size_t i = 0; i < kept_fields; ++i) {
    const std::string_view field = nextField(rest);
    if (field.empty()) break;
    out.push_back(' ');
    out.append(field);
  }
  while (!rest.empty() && isSeparator(rest.front())) rest.remove_prefix(1);
  if (!rest.empty()) {
    out.push_back(' ');
    out.append(kMask);
  }
  return out;
}

std::optional<std::string> apopTimestamp(std::string_view greeting) {
  std::size_t open = greeting.find('<');
  while (open != std::string_view::npos) {
    const std::size_t close = greeting.find('>', open + 1);
    if (close == std::string_view::npos) return std::nullopt;
    const std::string_view inner = greeting.substr(open + 1, close - open - 1);
    if (isTimestamp(inner)) return std::string(greeting.substr(open, close - open + 1));
    open = greeting.find('<', open + 1);
  }
  return std::nullopt;
}

std::string apopDigest(std::string_view timestamp, std::string_view password) {
  const DigestContext ctx = newDigestContext();
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int digest_len = 0;
  // Two updates instead of one concatenation: no extra heap copy of the password.
  if (EVP_DigestInit_ex(ctx.get(), EVP_md5(), nullptr) != 1 ||
      EVP_DigestUpdate(ctx.get(), timestamp.data(), timestamp.size()) != 1 ||
      EVP_DigestUpdate(ctx.get(), password.data(), password.size()) != 1 ||
      EVP_DigestFinal_ex(ctx.get(), digest.data(), &digest_len) != 1) {
    return {};  // MD5 unavailable (e.g. a FIPS-only libcrypto): the caller must not send APOP
  }
  return lowerHex(digest.data(), digest_len);
}

}  // namespace popgate::codec
