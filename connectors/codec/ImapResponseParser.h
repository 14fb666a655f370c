#pragma once
// IMAP server responses (RFC 3501 §7, RFC 9051 §7), one whole response at a time, literals
// included.
//   response-tagged = tag SP resp-cond-state CRLF        ; "a1 OK [APPENDUID 38505 3955] done"
//   resp-cond-state = ("OK" / "NO" / "BAD") SP resp-text
//   resp-text       = ["[" resp-text-code "]" SP] text
//   continue-req    = "+" SP (resp-text / base64) CRLF
//   response-data   = "*" SP (resp-cond-state / resp-cond-bye / mailbox-data / message-data /
//                     capability-data) CRLF             ; may carry literals "{n}" CRLF <n octets>
//   literal         = "{" number "}" CRLF *CHAR8         ; RFC 3501 §9
//   literal8        = "~{" number64 "}" CRLF *OCTET      ; RFC 3516 §4.2 (BINARY)
// A line ends at LF with an optional CR before it. Never reads a socket.
//
// Literals are honoured in untagged responses only (tagged and continuation lines never carry
// one): a line ending in "{n}" or "~{n}" is followed by n octets that are skipped, never stored;
// the text keeps the announcement as a placeholder and goes on with the line after the octets.
// "{n+}" is client-only syntax (RFC 7888) and an Error from a server. In a data response
// ("* 12 FETCH ...") a trailing "{...}" that is not a number is an Error; in the human-readable
// text of "* OK/NO/BAD/BYE/PREAUTH" it is just text.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "Parse.h"

namespace popgate::codec {

enum class ImapStatus { Ok, No, Bad, Bye, PreAuth, None };

struct ImapTagged {
  std::string tag;
  ImapStatus status = ImapStatus::Bad;  // Ok, No or Bad
  std::string code;  // inside the brackets, e.g. "APPENDUID 38505 3955", "TRYCREATE"
  std::string text;  // after the code
};
struct ImapContinuation {
  std::string text;  // everything after "+ " (may be base64 for SASL); "" for a bare "+"
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
  // max_line bounds the text of one response without literal data and without line ends (all
  // its lines together, literal placeholders included); max_literal bounds each literal
  // announced inside a response (whose bytes are skipped, not stored).
  explicit ImapResponseParser(std::size_t max_line = 64 * 1024,
                              std::uint64_t max_literal = 64ull * 1024 * 1024);

  // Consumes bytes of one response from `in`. Done: `out` holds it and `in` starts right after;
  // the parser is ready for the next response (no reset needed). NeedMore: all of `in` consumed.
  // Error: malformed start (no tag, "*" or "+"), a tag without OK/NO/BAD, a bad literal
  // announcement, a NUL outside a literal, or a limit. Error is sticky until reset().
  Parse parse(std::string_view& in, ImapResponse& out);
  // Forgets any partial response and error (not the literal sink).
  void reset();
  // Hands every literal's bytes to `sink` as they go by (they are still not stored), e.g. to
  // hash a fetched message; an empty function stops it.
  void setLiteralSink(std::function<void(std::string_view)> sink) { literal_sink_ = std::move(sink); }
  // The largest literal a response may announce.
  std::uint64_t maxLiteral() const noexcept { return max_literal_; }
  std::string_view error() const noexcept { return error_; }

 private:
  Parse fail(std::string message);
  // Called at the LF of each physical line; decides between "literal follows" and "done".
  Parse endOfLine(ImapResponse& out);

  std::size_t max_line_;
  std::uint64_t max_literal_;
  std::string line_;            // the logical response so far (literals elided)
  std::size_t line_start_ = 0;  // where the physical line being read starts in line_
  std::uint64_t literal_left_ = 0;
  bool in_literal_ = false;
  std::string error_;
  std::function<void(std::string_view)> literal_sink_;
};

// Splits "APPENDUID 38505 3955" style codes: returns the atom before the first space, upper-cased.
std::string codeName(std::string_view code);

// The UIDVALIDITY and UID of an APPENDUID code (RFC 4315); nullopt when absent or malformed, and
// for a uid-set of several UIDs (MULTIAPPEND: use parseAppendUidSet).
//   resp-code-apnd = "APPENDUID" SP nz-number SP append-uid
struct AppendUid {
  std::uint32_t uidvalidity = 0;
  std::uint32_t uid = 0;
};
std::optional<AppendUid> parseAppendUid(std::string_view code);

// An APPENDUID code whose append-uid may be a uid-set (RFC 4315 §3, MULTIAPPEND): the UIDs in
// the order the messages were sent. Ranges "a:b" expand in ascending order whichever way they are
// written (RFC 4315 §4: "regardless of order"); comma lists keep their order.
//   append-uid = uniqueid / uid-set
//   uid-set    = (uniqueid / uid-range) *("," uid-set)
//   uid-range  = (uniqueid ":" uniqueid)
// nullopt when malformed, when a UID is 0, "*" or repeated, or beyond kMaxAppendUids UIDs.
struct AppendUidSet {
  std::uint32_t uidvalidity = 0;
  std::vector<std::uint32_t> uids;
};
inline constexpr std::size_t kMaxAppendUids = 100000;
std::optional<AppendUidSet> parseAppendUidSet(std::string_view code);

// The numbers of a SEARCH response's text ("2 84 882"), in order (RFC 3501 §7.2.5):
//   mailbox-data =/ "SEARCH" *(SP nz-number)
// Words that are not an nz-number (zero, overflowing 32 bits, not digits) are skipped.
std::vector<std::uint32_t> parseSearchNumbers(std::string_view text);

// The UID of a FETCH response's text ("(UID 12 BODY[]<0> {2214} )"), nullopt when it names none.
//   msg-att-static =/ "UID" SP uniqueid
std::optional<std::uint32_t> fetchUid(std::string_view text);

}  // namespace popgate::codec
