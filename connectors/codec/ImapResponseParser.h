#pragma once
// IMAP server responses (RFC 3501 §7, RFC 9051 §7), one whole response at a time, literals included.
//   response-tagged = tag SP resp-cond-state CRLF        ; "a1 OK [APPENDUID 38505 3955] done"
//   resp-cond-state = ("OK" / "NO" / "BAD") SP resp-text
//   resp-text       = ["[" resp-text-code "]" SP] text
//   continue-req    = "+" SP (resp-text / base64) CRLF
//   response-data   = "*" SP (resp-cond-state / resp-cond-bye / mailbox-data / message-data /
//                     capability-data) CRLF             ; may carry literals "{n}" CRLF <n octets>
// A line ends at LF with an optional CR before it. Never reads a socket.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "Parse.h"

namespace popgate::codec {

enum class ImapStatus { Ok, No, Bad, Bye, PreAuth, None };

struct ImapTagged {
  std::string tag;
  ImapStatus status = ImapStatus::Bad;  // Ok, No or Bad
  std::string code;                     // inside the brackets, e.g. "APPENDUID 38505 3955", "TRYCREATE"
  std::string text;                     // after the code
};
struct ImapContinuation {
  std::string text;  // everything after "+ " (may be base64 for SASL)
};
struct ImapUntagged {
  // For "* OK/NO/BAD/BYE/PREAUTH ...": that status, with code and text as in ImapTagged.
  // Otherwise status = None, `keyword` is the upper-cased response name ("CAPABILITY", "SEARCH",
  // "EXISTS", "FETCH", ...), `number` the leading number of "* 3 EXISTS", and `text` the rest.
  ImapStatus status = ImapStatus::None;
  std::string keyword;
  std::optional<std::uint32_t> number;
  std::string code;
  std::string text;  // literal contents are not kept: each literal appears as "{n}"
};
using ImapResponse = std::variant<ImapTagged, ImapContinuation, ImapUntagged>;

class ImapResponseParser {
 public:
  // max_line bounds each line of a response (without literal data); max_literal bounds each
  // literal announced inside a response (whose bytes are skipped, not stored).
  explicit ImapResponseParser(std::size_t max_line = 64 * 1024,
                              std::uint64_t max_literal = 64ull * 1024 * 1024);

  // Consumes bytes of one response from `in`. Done: `out` holds it and `in` starts right after.
  // Error: malformed start (no tag, "*" or "+"), a bad literal announcement, a NUL, or a limit.
  Parse parse(std::string_view& in, ImapResponse& out);
  void reset();
  std::string_view error() const noexcept { return error_; }

 private:
  std::size_t max_line_;
  std::uint64_t max_literal_;
  std::string line_;              // the logical response so far (literals elided)
  std::string current_;           // the physical line being read
  std::uint64_t literal_left_ = 0;
  std::string error_;
};

// Splits "APPENDUID 38505 3955" style codes: returns the atom before the first space, upper-cased.
std::string codeName(std::string_view code);
// The UIDVALIDITY and UID of an APPENDUID code (RFC 4315); nullopt when absent or malformed.
struct AppendUid { std::uint32_t uidvalidity = 0; std::uint32_t uid = 0; };
std::optional<AppendUid> parseAppendUid(std::string_view code);

}  // namespace popgate::codec
