#pragma once
// What a pass learns of a message before retrieving it: the header fields that TOP n 0 brings
// (Message-ID, Date, From), for backlog: since (its Date) and dedupe: message-id (a copy already in
// the target must carry the same Message-ID, Date and From). No MIME parsing: the fields are read
// with codec/HeaderScan, the bytes are never changed or kept.

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "connectors/codec/HeaderScan.h"
#include "connectors/imap/ImapTypes.h"
#include "connectors/pop3/Pop3Client.h"

namespace popgate::gateway {

// The fields of one header block that decide backlog and dedupe.
struct HeaderFacts {
  std::optional<std::string> message_id, date, from;  // unfolded, trimmed (codec::headerValue)
  std::optional<codec::MessageDate> sent;             // `date` parsed, when it parses
};

// The facts of `header_block` (or of a whole message: reading stops at the empty line).
HeaderFacts headerFacts(std::string_view header_block);

// Whether `copy`, found in the target by Message-ID, is this message: its Message-ID, Date and
// From equal the message's (runs of spaces and tabs count as one, ends trimmed; a field missing
// on both sides is equal). A Message-ID alone proves little (IDs are reused), and the content
// cannot be compared (a fetcher's copy has a Received: line more).
bool sameMessage(const HeaderFacts& message, const imap::HeaderCopy& copy);

// Collects the facts of each message of a MailSource::headers() stream, by message number
// (valid for that session). A header that did not come whole (refused, over the limit) has none.
class HeaderReader final : public pop3::RetrieveHandler {
 public:
  // The most header bytes kept for one message; a longer header counts as unreadable.
  static constexpr std::uint64_t kMaxHeaderBytes = 256 * 1024;

  pop3::ByteSink& begin(const pop3::MessageInfo& message) override;
  void end(const pop3::MessageInfo& message, pop3::RetrieveOutcome outcome,
           std::string_view reply) override;

  // The facts of message `number`, or nullptr when its header was not read whole.
  const HeaderFacts* find(std::uint32_t number) const;
  // Messages whose header was not read (TOP refused, or over kMaxHeaderBytes).
  std::size_t unread() const noexcept { return unread_; }
  // The last refusal the server gave, for a log line.
  const std::string& lastRefusal() const noexcept { return last_refusal_; }
  void clear();

 private:
  class Buffer final : public pop3::ByteSink {
   public:
    void write(std::string_view bytes) override { bytes_.append(bytes); }
    std::string bytes_;
  };
  Buffer buffer_;
  std::map<std::uint32_t, HeaderFacts> facts_;
  std::size_t unread_ = 0;
  std::string last_refusal_;
};

}  // namespace popgate::gateway
