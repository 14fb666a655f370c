#pragma once
// Reading a few header fields out of raw message bytes (RFC 5322 §2.2, §3.3, §3.6.4) without MIME
// parsing and without changing a byte. Used for the internal date and for recovery searches.
//   field        = field-name ":" unstructured CRLF   ; obs: field-name *WSP ":"
//   date-time    = [ day-of-week "," ] date time [CFWS]
//   date         = day month year
//   time         = hour ":" minute [ ":" second ] FWS zone
//   zone         = ( "+" / "-" ) 4DIGIT / obs-zone      ; obs-zone: UT GMT EST EDT CST CDT MST MDT
//                                                        ; PST PDT and military letters

#include <cstddef>
#include <ctime>
#include <optional>
#include <string>
#include <string_view>

namespace popgate::codec {

// The header block: bytes up to (not including) the first empty line ("\r\n\r\n" or "\n\n"),
// or all of `message` when it has no body. The last field keeps its line end; a message that
// starts with an empty line has an empty header block.
std::string_view headerBlock(std::string_view message);

// The unfolded value of the first field named `name` (case-insensitive, whole field names only),
// with leading and trailing SP/HTAB trimmed; nullopt when absent. Unfolding follows RFC 5322
// §2.2.3: only the line end (CRLF or bare LF) before a continuation line is removed, its
// whitespace is kept as is ("a\r\n\tb" gives "a\tb"). The search stops at the first empty line,
// so a whole message may be passed as well.
std::optional<std::string> headerValue(std::string_view header_block, std::string_view name);

// An RFC 5322 date-time ("Tue, 1 Jul 2003 10:52:37 +0200"), with the obsolete forms of §4.3:
// no weekday, no seconds, 2-digit years (00-49 are 20xx, 50-99 are 19xx; 3 digits add 1900),
// lower-case names, extra whitespace, comments anywhere ("(CET)"), zone names UT/UTC/GMT and the
// US zones (EST -0500 ... PDT -0700); military letters and other alphabetic zones, like a missing
// zone, count as +0000. Anything after the zone is ignored. Returns UTC seconds and the zone
// offset; nullopt if unparseable, if a field is out of range (day for its month, hour > 23,
// minute > 59, second > 60, zone beyond ±23:59), or if the year is outside 1970..9999 or the
// instant is before the epoch. Does not depend on the TZ environment.
struct MessageDate {
  std::time_t utc = 0;
  int offset_minutes = 0;
};
std::optional<MessageDate> parseMessageDate(std::string_view value);

}  // namespace popgate::codec
