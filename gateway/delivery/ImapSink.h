#pragma once
// MailSink over the shared ImapPool: each call borrows a session for as long as it runs, so a pass
// with nothing new never touches the target, and several upload threads of one pass (or several
// accounts) use different sessions at the same time. Between start() and the last finish() the
// sink keeps its session: the answers it waits for will arrive there.

#include <deque>
#include <functional>
#include <optional>

#include "ImapPool.h"
#include "MailSink.h"

namespace popgate::gateway {

class ImapSink final : public MailSink {
 public:
  // With every message paying a round trip for its "+", batches of this many keep every session
  // busy from the first messages on (and the ledger commits once per batch, not per message).
  static constexpr std::size_t kRoundTripBatch = 4;

  // `guard` (may be empty) is set on every session while this sink uses it: each write asks it
  // first (net::Connection::setWriteGuard), so a pass that lost its lease sends nothing more.
  explicit ImapSink(ImapPool& pool, std::function<void()> guard = {})
      : pool_(pool), guard_(std::move(guard)) {}
  ~ImapSink() override;
  ImapSink(const ImapSink&) = delete;
  ImapSink& operator=(const ImapSink&) = delete;

  std::vector<imap::AppendOutcome> append(const std::string& folder,
                                          const std::vector<imap::AppendItem>& items) override;
  void start(const std::string& folder, std::vector<imap::AppendItem> items) override;
  std::vector<imap::AppendOutcome> finish() override;
  std::size_t preferredBatch() const override { return preferred_batch_; }
  imap::Lookup lookup(const std::string& folder, const imap::MessageFingerprint& fingerprint) override;
  // The folder, then (on Gmail) All Mail for the IDs not found in the folder.
  imap::CopySearch findCopies(const std::string& folder,
                              const std::vector<std::string>& message_ids) override;
  void prepare() override;
  std::optional<std::uint64_t> appendLimit() override;

 private:
  // Runs `work` on the held session, or on one borrowed for the call. The session is kept while
  // started appends are unfinished; when `work` throws it is closed, and they are forgotten.
  template <class Work>
  auto withSession(Work&& work);

  ImapPool& pool_;
  std::function<void()> guard_;
  std::optional<ImapPool::Lease> held_;
  std::deque<imap::ImapClient::PendingAppend> started_;
  std::size_t preferred_batch_ = SIZE_MAX;
};

}  // namespace popgate::gateway
