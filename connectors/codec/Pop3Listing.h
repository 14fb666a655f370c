#pragma once
// Interpreting the lines of POP3 multi-line listings (UIDL, LIST, CAPA). The lines come from a
// DotUnstuffer-decoded body split at CRLF. Pure functions, no I/O.
//   uidl-line = msg-number SP unique-id        ; RFC 1939 §7: unique-id is 1*70 of 0x21..0x7E
//   list-line = msg-number SP size [SP *CHAR]  ; RFC 1939 §5: text after the size is allowed
// Spaces: runs of SP (0x20 only) between fields and before/after the line are tolerated; any other
// byte (TAB, CR, control, 8-bit) inside a number or id makes the line invalid.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace popgate::codec {

struct UidlEntry {
  std::uint32_t number = 0;
  std::string uidl;
};
struct ListEntry {
  std::uint32_t number = 0;
  std::uint64_t size = 0;
};

// Parses one "n uid" line. nullopt on: missing id, id longer than 70 or with bytes outside
// 0x21..0x7E, a number that is not 1..2^31-1 decimal digits, trailing junk other than spaces.
// Digits only: no sign, leading zeros allowed, overflow is nullopt. Duplicate ids are the caller's.
std::optional<UidlEntry> parseUidlLine(std::string_view line);
// Parses one "n size" line; size may be 0 up to 2^63-1 (the caller decides what is too large).
// Same number rules as parseUidlLine; anything after the size and a SP is ignored (RFC 1939 §5).
std::optional<ListEntry> parseListLine(std::string_view line);

// Splits a decoded listing body into lines at CRLF (a bare LF also ends a line). The trailing
// empty piece after the last CRLF is not a line; a non-empty last piece without a line end is one.
// The views point into `body`.
std::vector<std::string_view> splitLines(std::string_view body);

struct Pop3Capabilities {
  bool uidl = false, top = false, user = false, pipelining = false, resp_codes = false;
  bool stls = false;
  bool sasl_plain = false;
  bool utf8 = false;  // RFC 6856 UTF8: the server takes the UTF8 command
  std::optional<long> expire;  // EXPIRE n (days); "NEVER" = nullopt with expire_never = true
  bool expire_never = false;
  std::vector<std::string> raw;  // every capability line as sent
};
// Reads CAPA lines (RFC 2449 §6): keywords are case-insensitive; "SASL PLAIN LOGIN" lists
// mechanisms; "UTF8 [USER]" sets utf8. "EXPIRE n [USER]" sets expire = n, "EXPIRE NEVER" sets expire_never; an unparsable
// EXPIRE value is ignored (only raw keeps it). Unknown capabilities are only kept in raw.
Pop3Capabilities parseCapabilities(const std::vector<std::string_view>& lines);

}  // namespace popgate::codec
