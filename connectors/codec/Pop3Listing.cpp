// POP3 listing lines (RFC 1939 §5 and §7, RFC 2449 §6):
//   uidl-line  = msg-number SP unique-id        ; §7: unique-id "consists of 1 to 70 characters
//                                               ;     in the range 0x21 to 0x7E"
//   list-line  = msg-number SP size [SP *CHAR]  ; §5: "this memo makes no requirement on what
//                                               ;     follows the message size in the scan listing"
//   capa-line  = capa-tag *(SP param)           ; RFC 2449 §6: tags are case-insensitive
// Spaces: runs of SP (0x20 only) between fields, before the first and after the last are
// tolerated; any other byte (TAB, CR, control, 8-bit) inside a field makes the line invalid.

#include "Pop3Listing.h"

#include "connectors/common/Ascii.h"

#include <limits>

namespace popgate::codec {
namespace {

constexpr std::uint64_t kMaxMessageNumber = 0x7FFFFFFF;  // 2^31-1
constexpr std::size_t kMaxUidLength = 70;

// Returns the next SP-delimited field of `rest` (skipping leading SP) and moves `rest` past it.
std::string_view nextField(std::string_view& rest) {
  const std::size_t start = rest.find_first_not_of(' ');
  if (start == std::string_view::npos) {
    rest = {};
    return {};
  }
  rest.remove_prefix(start);
  const std::size_t stop = rest.find(' ');
  const std::string_view field = rest.substr(0, stop);
  rest.remove_prefix(field.size());
  return field;
}

// Decimal digits only: no sign, no space; nullopt when empty or above `max` (no overflow).
std::optional<std::uint64_t> parseDecimal(std::string_view digits, std::uint64_t max) {
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

std::optional<std::uint32_t> parseMessageNumber(std::string_view digits) {
  const auto number = parseDecimal(digits, kMaxMessageNumber);
  if (!number || *number == 0) return std::nullopt;
  return static_cast<std::uint32_t>(*number);
}

bool isUidChar(char c) noexcept {
  const auto byte = static_cast<unsigned char>(c);
  return byte >= 0x21 && byte <= 0x7E;
}

}  // namespace

std::optional<UidlEntry> parseUidlLine(std::string_view line) {
  std::string_view rest = line;
  const auto number = parseMessageNumber(nextField(rest));
  if (!number) return std::nullopt;
  const std::string_view uid = nextField(rest);
  if (uid.empty() || uid.size() > kMaxUidLength) return std::nullopt;
  for (const char c : uid) {
    if (!isUidChar(c)) return std::nullopt;
  }
  if (!nextField(rest).empty()) return std::nullopt;  // "1 abc def": not one unique-id
  return UidlEntry{*number, std::string(uid)};
}

std::optional<ListEntry> parseListLine(std::string_view line) {
  std::string_view rest = line;
  const auto number = parseMessageNumber(nextField(rest));
  if (!number) return std::nullopt;
  const auto size = parseDecimal(
      nextField(rest), static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()));
  if (!size) return std::nullopt;
  return ListEntry{*number, *size};  // whatever follows the size after SP is ignored (§5)
}

std::vector<std::string_view> splitLines(std::string_view body) {
  std::vector<std::string_view> lines;
  while (!body.empty()) {
    const std::size_t lf = body.find('\n');
    if (lf == std::string_view::npos) {
      lines.push_back(body);  // a last line without its line end
      break;
    }
    std::string_view line = body.substr(0, lf);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    lines.push_back(line);
    body.remove_prefix(lf + 1);
  }
  return lines;
}

Pop3Capabilities parseCapabilities(const std::vector<std::string_view>& lines) {
  Pop3Capabilities caps;
  for (const std::string_view line : lines) {
    caps.raw.emplace_back(line);
    std::string_view rest = line;
    const std::string tag = upperAscii(nextField(rest));
    if (tag == "UIDL") {
      caps.uidl = true;
    } else if (tag == "TOP") {
      caps.top = true;
    } else if (tag == "USER") {
      caps.user = true;
    } else if (tag == "PIPELINING") {
      caps.pipelining = true;
    } else if (tag == "RESP-CODES") {
      caps.resp_codes = true;
    } else if (tag == "STLS") {
      caps.stls = true;
    } else if (tag == "UTF8") {
      caps.utf8 = true;
    } else if (tag == "SASL") {
      for (std::string_view mech = nextField(rest); !mech.empty(); mech = nextField(rest)) {
        if (upperAscii(mech) == "PLAIN") caps.sasl_plain = true;
      }
    } else if (tag == "EXPIRE") {
      // RFC 2449 §6.7: "EXPIRE" SP ("NEVER" / days) [SP "USER"]; USER only says the value may
      // differ per user (re-read CAPA after login). Unparsable values are ignored.
      const std::string_view value = nextField(rest);
      if (upperAscii(value) == "NEVER") {
        caps.expire.reset();
        caps.expire_never = true;
      } else if (const auto days = parseDecimal(
                     value, static_cast<std::uint64_t>(std::numeric_limits<long>::max()))) {
        caps.expire = static_cast<long>(*days);
        caps.expire_never = false;
      }
    }
  }
  return caps;
}

}  // namespace popgate::codec
