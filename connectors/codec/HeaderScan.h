#pragma once
// Reading a few header fields out of raw message bytes (RFC 5322 §2.2, §3.3, §3.6.4) without MIME
// parsing and without changing a byte. Used for the internal date and for recovery searches.

#include <cstddef>
#include <ctime>
#include <optional>
#include <string>
#include <string_view>

namespace popgate::codec {

// The header block: bytes up to (not including) the first empty line ("\r\n\r\n" or "\n\n"),
// or all of `message` when it has no body.
std::string_view headerBlock(std::string_view message);

// The unfolded value of the first field named `name` (case-insensitive), with leading and trailing
// whitespace trimmed; nullopt when absent. Only the header block is searched.
std::optional<std::string> headerValue(std::string_view header_block, std::string_view name);

// An RFC 5322 date-time ("Tue, 1 Jul 2003 10:52:37 +0200", obsolete zones like "GMT"/"EST" and
// missing seconds or weekday accepted). Returns UTC seconds and the zone offset, nullopt if unparseable
// or out of range (years 1970..9999).
struct MessageDate { std::time_t utc = 0; int offset_minutes = 0; };
std::optional<MessageDate> parseMessageDate(std::string_view value);

}  // namespace popgate::codec
