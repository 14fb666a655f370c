#pragma once
// The values that cross the line between the IMAP client and its users (the gateway's sinks and
// spools): what to append, what the server said, and how a message is looked for after a crash.
// Plain data and one interface; nothing here opens a connection.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "connectors/codec/HeaderScan.h"
#include "connectors/codec/ImapResponseParser.h"
#include "connectors/common/Error.h"

namespace popgate::imap {

// The bytes of one message, readable more than once (a refused batch is sent again).
class MessageSource {
 public:
  virtual ~MessageSource() = default;
  virtual std::uint64_t size() const = 0;
  // Calls `chunk` with consecutive pieces of the message, in order.
  virtual void forEachChunk(const std::function<void(std::string_view)>& chunk) const = 0;
  // True when the message holds a NUL byte, which only a BINARY (RFC 3516) literal may carry.
  virtual bool containsNul() const { return false; }
};

// One message to append.
struct AppendItem {
  const MessageSource* message = nullptr;
  std::vector<std::string> flags;          // e.g. "\\Seen"; validated by config
  std::optional<codec::MessageDate> date;  // internal date; none = the server's "now"
};

// What the server said to one APPEND.
struct AppendOutcome {
  bool ok = false;
  std::optional<codec::AppendUid> uid;          // from APPENDUID, when the server has UIDPLUS
  ErrorKind kind = ErrorKind::MessageRejected;  // when !ok: how to treat the refusal
  std::string reply;                            // the server's tagged line (logs, quarantine)
  bool slow_down = false;  // ok, but the server asks for a pause (Gmail's "OK ... [THROTTLED]")
  std::optional<std::chrono::milliseconds> retry_after;  // Throttled: the wait it suggested
};

// What is known of a message whose upload may or may not have happened before a crash.
struct MessageFingerprint {
  std::uint64_t size = 0;
  std::string sha256;                              // lower-case hex of the bytes; "" = unknown
  std::optional<std::string> message_id;           // the Message-ID header value
  std::optional<std::string> date, from, subject;  // searched when there is no Message-ID
};

// The answer of a recovery lookup. Only Present is proof that the message is in the target:
// a candidate's content had the fingerprint's size and SHA-256. Absent: searched, not there.
// Unknown: the target could not be searched or the candidates not read (`detail` says why);
// the caller appends again, accepting a possible duplicate rather than risking a loss.
struct Lookup {
  enum class Presence { Present, Absent, Unknown };
  Presence presence = Presence::Absent;
  std::uint32_t uid = 0;  // when Present
  std::string detail;     // when Unknown

  static Lookup present(std::uint32_t uid) { return {Presence::Present, uid, {}}; }
  static Lookup absent() { return {}; }
  static Lookup unknown(std::string why) { return {Presence::Unknown, 0, std::move(why)}; }
};

// One SEARCH HEADER criterion (RFC 3501 §6.4.4: a case-insensitive substring match).
struct HeaderCriterion {
  std::string field;
  std::string value;
};

// One recovery search: every header criterion, and the exact size when set (LARGER n-1
// SMALLER n+1); neither means every message of the folder (ALL).
struct RecoverySearch {
  std::vector<HeaderCriterion> headers;
  std::optional<std::uint64_t> size;
};

// The searches that look for `fingerprint`, tried in order until one finds it. By its Message-ID
// when it has a printable-ASCII one, else by whichever of Date, From and Subject it has in
// printable ASCII: no size criterion, since servers differ in what LARGER/SMALLER compare (GNU
// mailutils uses its stored LF size), and the content check decides anyway. A message with none
// of those headers is looked for by its exact size first and then among the newest messages of
// the folder, whatever their size.
std::vector<RecoverySearch> recoverySearches(const MessageFingerprint& fingerprint);

// At most this many candidates of one search, the newest (highest UIDs) first, have their content
// compared: the lost message was appended shortly before the crash.
inline constexpr std::size_t kRecoveryCandidates = 16;

}  // namespace popgate::imap
