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

// What is known of a message whose upload may or may not have happened before a crash.
struct MessageFingerprint {
  std::uint64_t size = 0;
  std::string sha256;                              // lower-case hex of the bytes; "" = unknown
  std::optional<std::string> message_id;           // the Message-ID header value
  std::optional<std::string> date, from, subject;  // searched when there is no Message-ID
};

// The bytes of one message, readable more than once (a refused batch is sent again).
class MessageSource {
 public:
  virtual ~MessageSource() = default;
  virtual std::uint64_t size() const = 0;
  // Calls `chunk` with consecutive pieces of the message, in order.
  virtual void forEachChunk(const std::function<void(std::string_view)>& chunk) const = 0;
  // True when the message holds a NUL byte, which only a BINARY (RFC 3516) literal may carry.
  virtual bool containsNul() const { return false; }
  // How to look for the message in the target (ImapClient::lookup) when the server's answer to
  // its APPEND cannot be trusted; nullopt: it cannot be looked for (it is appended again).
  virtual std::optional<MessageFingerprint> recoveryFingerprint() const { return std::nullopt; }
};

// A message held in a string (which must outlive it): small messages popgate writes itself.
class StringMessage final : public MessageSource {
 public:
  explicit StringMessage(std::string_view bytes) : bytes_(bytes) {}
  std::uint64_t size() const override { return bytes_.size(); }
  void forEachChunk(const std::function<void(std::string_view)>& chunk) const override {
    chunk(bytes_);
  }
  bool containsNul() const override { return bytes_.find('\0') != std::string_view::npos; }

 private:
  std::string_view bytes_;
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

// A message of the target that carries one of the Message-IDs looked for, with the header fields
// that tell a copy from a look-alike (the caller compares them: a Message-ID alone proves little).
struct HeaderCopy {
  std::uint32_t uid = 0;
  std::string mailbox;  // where it was found, as the server names it
  std::optional<std::string> message_id, date, from;  // unfolded values (codec::headerValue)
};

// What a search for copies found: every candidate, or why the target could not be searched.
struct CopySearch {
  std::vector<HeaderCopy> found;
  std::vector<std::string> searched;   // the mailboxes searched, as the server names them
  std::optional<std::string> refused;  // set when a search was refused: the server's words
};

// The longest command line a copy search sends: well under the 9,900 characters Microsoft 365
// accepts (the longest limit of the servers popgate knows is far above it).
inline constexpr std::size_t kMaxSearchLine = 4000;
// Search (or fetch) commands of a copy search in flight at once.
inline constexpr std::size_t kSearchWindow = 16;

// At most this many candidates of one search, the newest (highest UIDs) first, have their content
// compared: the lost message was appended shortly before the crash.
inline constexpr std::size_t kRecoveryCandidates = 16;

}  // namespace popgate::imap
