#pragma once
// The POP side of a pass, as PollJob sees it: one logged-in session. Pop3Source is the real one;
// the kill-at-every-step tests use a double.

#include <cstdint>
#include <vector>

#include "connectors/pop3/Pop3Client.h"

namespace popgate::gateway {

class MailSource {
 public:
  virtual ~MailSource() = default;
  // The maildrop: UIDL and sizes. Throws Error.
  virtual pop3::Listing list() = 0;
  // Streams the messages to the handler in order (see Pop3Client::retrieveMany). Throws Error.
  virtual void retrieve(const std::vector<pop3::MessageInfo>& messages, std::uint64_t max_bytes,
                        pop3::RetrieveHandler& handler) = 0;
  // Marks for deletion; returns those refused. Nothing is deleted before commit().
  virtual std::vector<pop3::Refusal> markDeleted(const std::vector<std::uint32_t>& numbers) = 0;
  // Ends the session so the server applies the deletions (QUIT). True when it confirmed.
  virtual bool commit() noexcept = 0;
  // Drops the session: the server forgets marked deletions.
  virtual void abandon() noexcept = 0;
  // True when the server deletes every retrieved message at QUIT (CAPA EXPIRE 0).
  virtual bool expiresRetrieved() const noexcept = 0;
  // True when commands are pipelined on this session (CAPA PIPELINING).
  virtual bool pipelining() const noexcept { return false; }
};

}  // namespace popgate::gateway
