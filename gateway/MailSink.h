#pragma once
// The IMAP side of a pass, as PollJob sees it. ImapSink is the real one; tests use doubles.

#include <string>
#include <vector>

#include "connectors/imap/ImapClient.h"

namespace popgate::gateway {

class MailSink {
 public:
  virtual ~MailSink() = default;
  // Appends the items to `folder` (created when missing); one outcome per item, in order.
  // Throws Error when the connection fails: then none of the items counts as uploaded.
  virtual std::vector<imap::AppendOutcome> append(const std::string& folder,
                                                  const std::vector<imap::AppendItem>& items) = 0;
  // Whether a message with this fingerprint is already in `folder` (crash recovery). Throws Error.
  virtual bool contains(const std::string& folder, const imap::MessageFingerprint& fingerprint) = 0;
  // Ends the session politely; never throws.
  virtual void close() noexcept = 0;
  // Gets ready for appends that are about to come (opens and logs in a session). Throws Error.
  virtual void prepare() {}
};

}  // namespace popgate::gateway
