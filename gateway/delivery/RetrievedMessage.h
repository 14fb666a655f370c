#pragma once
// One message as retrieval left it: its listing entry, its spooled bytes (none when the RETR was
// refused) and how the RETR ended. What travels from the POP side to the upload threads.

#include <cstdint>
#include <memory>
#include <string>

#include "Spool.h"
#include "connectors/pop3/Pop3Client.h"

namespace popgate::gateway {

struct RetrievedMessage {
  pop3::MessageInfo info;
  std::unique_ptr<Spool> spool;  // null when Refused
  pop3::RetrieveOutcome outcome = pop3::RetrieveOutcome::Refused;
  std::string reply;  // the server's status line of the RETR

  // Bytes actually spooled (not what LIST claimed: a server can lie about sizes).
  std::uint64_t bytes() const noexcept { return spool ? spool->size() : 0; }
};

}  // namespace popgate::gateway
