#pragma once
// MailSink for a kind: gmail-api target (docs/gmail.md): each message goes to Gmail's
// users.messages.import over HTTPS, multipart/related when small, resumable (the bytes streamed
// from the spool in one PUT) when large; the folder is a label. One message per batch: each
// import is its own request, so a failure leaves exactly one message in doubt.
//
// Answers: 2xx → uploaded (Gmail's 64-bit message id kept as the ledger's uidvalidity and uid
// halves); 429 and 403 rate limits → waited out here when short (Retry-After, else a jittered
// back-off), else Throttled with the wait; 5xx → retried with back-off, then Error(Transient)
// (the message stays in flight and is looked for before it is sent again); 400 → that message
// is refused with Google's words (quarantined); 401 → one token refresh, one more try.

#include <chrono>
#include <functional>
#include <memory>

#include "GmailApiTarget.h"
#include "MailSink.h"

namespace popgate::gateway {

class GmailApiSink final : public MailSink {
 public:
  struct Options {
    // Messages up to this size go in one multipart/related request, larger ones resumable.
    std::uint64_t multipart_limit = 5ull * 1024 * 1024;
    // Throttle and 5xx answers waited out in place at most this long each, this many times.
    std::chrono::milliseconds longest_wait{10000};
    unsigned retries = 3;
    // Asked before each chunk of a message body goes out (may be empty): a pass that lost its
    // lease throws Error(Fenced) there, and the cut request imports nothing.
    std::function<void()> write_guard;
  };
  // The API's limit for an imported message.
  static constexpr std::uint64_t kImportLimit = 50ull * 1024 * 1024;

  GmailApiSink(std::shared_ptr<GmailApiTarget> target, Options options);
  explicit GmailApiSink(std::shared_ptr<GmailApiTarget> target)
      : GmailApiSink(std::move(target), Options{}) {}

  std::vector<imap::AppendOutcome> append(const std::string& folder,
                                          const std::vector<imap::AppendItem>& items) override;
  std::size_t preferredBatch() const override { return 1; }
  // By rfc822msgid: when the message has a Message-ID (anywhere in the account, spam and trash
  // included), else among the newest messages with the folder's label; Present only when a
  // candidate's raw bytes have the fingerprint's size and SHA-256. Unknown when the API refuses
  // the search (the credential lacks a read scope: docs/gmail.md "Scopes").
  imap::Lookup lookup(const std::string& folder, const imap::MessageFingerprint& fingerprint) override;
  std::optional<std::uint64_t> appendLimit() override { return kImportLimit; }

 private:
  imap::AppendOutcome importOne(const std::string& label, const imap::AppendItem& item);
  gmail::ApiAnswer sendMultipart(const std::string& metadata, const imap::MessageSource& message);
  gmail::ApiAnswer sendResumable(const std::string& metadata, const imap::MessageSource& message);
  std::string boundaryFor(const imap::MessageSource& message);

  std::shared_ptr<GmailApiTarget> target_;
  Options options_;
  gmail::GmailClient client_;
};

}  // namespace popgate::gateway
