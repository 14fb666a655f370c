#pragma once
// MailSink over the shared ImapPool: each call borrows a session for as long as it runs, so a pass
// with nothing new never touches the target, and several upload threads of one pass (or several
// accounts) use different sessions at the same time.

#include "ImapPool.h"
#include "MailSink.h"

namespace popgate::gateway {

class ImapSink final : public MailSink {
 public:
  explicit ImapSink(ImapPool& pool) : pool_(pool) {}

  std::vector<imap::AppendOutcome> append(const std::string& folder,
                                          const std::vector<imap::AppendItem>& items) override;
  bool contains(const std::string& folder, const imap::MessageFingerprint& fingerprint) override;
  void close() noexcept override {}
  void prepare() override { ImapPool::Lease warm = pool_.acquire(); }

 private:
  ImapPool& pool_;
};

}  // namespace popgate::gateway
