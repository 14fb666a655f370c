#pragma once
// What every upload thread of a pass to one kind: gmail-api target shares (docs/gmail.md): the
// target's settings, its OAuth credential, and the account's labels by name, listed once and
// created when missing (one thread at a time, so two threads never create the same label).

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "config/GatewayConfig.h"
#include "connectors/gmail/GmailClient.h"
#include "connectors/gmail/GmailLabels.h"
#include "connectors/gmail/GmailReply.h"
#include "connectors/gmail/QuotaWindow.h"
#include "connectors/oauth/TokenManager.h"

namespace popgate::gateway {

// Gmail's quota of one user, shared by every GmailApiTarget of the process for that user.
struct GmailQuota {
  std::mutex mutex;
  gmail::QuotaWindow window;
};

class GmailApiTarget {
 public:
  // `target` must have kind: gmail-api and an oauth section; `tokens` outlives this. `trace` gets
  // the requests and answers (GmailClient), when set.
  GmailApiTarget(const config::ImapTarget& target, oauth::TokenManager* tokens,
                 net::TraceSink trace = {});

  const config::ImapTarget& settings() const noexcept { return target_; }
  // Where the API is and how it is trusted (the target's api_url, ca_file and timeout).
  gmail::ApiSettings api() const;

  // Sends `request` through `client` with the credential's access token; a 401 gets one refresh
  // and one more try (TokenManager::withToken). Returns any other answer. Throws Error(Auth)
  // when the second try is refused too, and what the client and the token manager throw.
  gmail::ApiAnswer call(gmail::GmailClient& client, const gmail::ApiRequest& request);

  // Waits until Gmail's per-user quota has room for `units` (gmail::QuotaWindow), shared by every
  // pass of the process to the same Gmail user. Never throws but bad_alloc.
  void spendQuota(std::uint32_t units);

  // The id of the label for `folder`, created (parents first) when missing. Throws Error of the
  // answer's kind when the API refuses (MailboxProblem for a label it will not create).
  std::string labelFor(gmail::GmailClient& client, const std::string& folder);
  // The id of the label for `folder` when it exists; never creates one. Throws like labelFor.
  std::optional<std::string> existingLabel(gmail::GmailClient& client, const std::string& folder);

 private:
  void listLabels(gmail::GmailClient& client);  // caller holds mutex_

  config::ImapTarget target_;
  oauth::TokenManager* tokens_;
  net::TraceSink trace_;
  oauth::CredentialSpec credential_;
  std::mutex mutex_;
  std::optional<gmail::LabelDirectory> labels_;  // guarded by mutex_
  std::shared_ptr<struct GmailQuota> quota_;  // the user's, shared process-wide
};

// Throws the Error an unsuccessful answer to `what` stands for (gmail::classifyFailure's kind,
// Protocol instead of MessageRejected), with Google's words and its Retry-After.
[[noreturn]] void failGmailRequest(const gmail::ApiAnswer& answer, const std::string& what);

}  // namespace popgate::gateway
