#pragma once
// The IMAP side of a pass, as PollJob sees it. ImapSink is the real one; tests use doubles.

#include <cstdint>
#include <cstddef>
#include <deque>
#include <optional>
#include <string>
#include <vector>

#include "connectors/common/Error.h"
#include "connectors/imap/ImapTypes.h"

namespace popgate::gateway {

class MailSink {
 public:
  virtual ~MailSink() = default;
  // Appends the items to `folder` (created when missing); one outcome per item, in order.
  // Throws Error when the connection fails: then none of the items counts as uploaded.
  virtual std::vector<imap::AppendOutcome> append(const std::string& folder,
                                                  const std::vector<imap::AppendItem>& items) = 0;

  // append() in two halves. start() sends; finish() returns the outcomes of the oldest start()
  // not finished yet. A sink that can (ImapSink) sends a second start() before reading the
  // answers to the first, so that a round trip of one overlaps the other. The items' messages must
  // outlive finish(). When either throws, nothing started and unfinished counts as uploaded, and
  // finish() throws for each of them too. The default appends at once in start().
  virtual void start(const std::string& folder, std::vector<imap::AppendItem> items) {
    finished_.push_back(append(folder, items));
  }
  virtual std::vector<imap::AppendOutcome> finish() {
    if (finished_.empty()) throw Error(ErrorKind::Internal, "MailSink::finish() without start()");
    std::vector<imap::AppendOutcome> outcomes = std::move(finished_.front());
    finished_.pop_front();
    return outcomes;
  }
  // The largest batch worth one start(), known after prepare(): small when every message costs
  // a round trip whatever the batch (no LITERAL+, no MULTIAPPEND), so that the first messages
  // go out on every session at once instead of waiting to make up large batches.
  virtual std::size_t preferredBatch() const { return SIZE_MAX; }

  // Whether a message with this fingerprint is already in `folder` (crash recovery): Present only
  // on proof by content, Unknown when the target could not be searched (see imap::Lookup).
  // Throws Error when the connection fails.
  virtual imap::Lookup lookup(const std::string& folder, const imap::MessageFingerprint& fingerprint) = 0;
  // Gets ready for appends that are about to come (opens and logs in a session). Throws Error.
  virtual void prepare() {}
  // The largest message the target takes (IMAP APPENDLIMIT), when it says; asked once per pass
  // with something to upload, before any message is retrieved. Throws Error.
  virtual std::optional<std::uint64_t> appendLimit() { return std::nullopt; }

 private:
  std::deque<std::vector<imap::AppendOutcome>> finished_;  // the default start()'s outcomes
};

}  // namespace popgate::gateway
