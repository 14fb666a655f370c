#include "GmailApiTarget.h"

#include <map>
#include <thread>

#include "OAuthCredentials.h"

namespace popgate::gateway {

namespace {

constexpr const char* kLabelsPath = "/gmail/v1/users/me/labels";

// One quota per Gmail user in the process: every pass delivering to that user spends from it.
std::shared_ptr<GmailQuota> quotaOf(const std::string& user) {
  static std::mutex mutex;
  static std::map<std::string, std::shared_ptr<GmailQuota>> quotas;
  std::lock_guard lock(mutex);
  auto& quota = quotas[user];
  if (!quota) quota = std::make_shared<GmailQuota>();
  return quota;
}

}  // namespace

void GmailApiTarget::spendQuota(std::uint32_t units) {
  std::chrono::milliseconds wait{0};
  {
    std::lock_guard lock(quota_->mutex);
    wait = quota_->window.reserve(units, std::chrono::steady_clock::now());
  }
  if (wait.count() > 0) std::this_thread::sleep_for(wait);
}

void failGmailRequest(const gmail::ApiAnswer& answer, const std::string& what) {
  const gmail::Failure failure =
      gmail::classifyFailure(answer.status, answer.body, answer.retry_after);
  const ErrorKind kind =
      failure.kind == ErrorKind::MessageRejected ? ErrorKind::Protocol : failure.kind;
  Error error(kind, "the Gmail API refused " + what, failure.words);
  if (failure.retry_after) throw error.withRetryAfter(*failure.retry_after);
  throw error;
}

GmailApiTarget::GmailApiTarget(const config::ImapTarget& target, oauth::TokenManager* tokens,
                               net::TraceSink trace)
    : target_(target),
      tokens_(tokens),
      trace_(std::move(trace)),
      credential_(targetCredential(target)),
      quota_(quotaOf(target.server.username)) {}

gmail::ApiSettings GmailApiTarget::api() const {
  gmail::ApiSettings api;
  api.base_url = target_.api_url;
  api.ca_file = target_.server.ca_file;
  api.timeout = std::chrono::duration_cast<std::chrono::milliseconds>(target_.server.timeout);
  api.trace = trace_;
  return api;
}

gmail::ApiAnswer GmailApiTarget::call(gmail::GmailClient& client,
                                      const gmail::ApiRequest& request) {
  gmail::ApiAnswer answer;
  requireTokens(tokens_).withToken(credential_, [&](const Secret& token) {
    answer = client.send(request, token);
    if (answer.status == 401) {
      throw Error(ErrorKind::Auth, "the Gmail API refused the access token",
                  gmail::classifyFailure(answer.status, answer.body, answer.retry_after).words);
    }
  });
  return answer;
}

void GmailApiTarget::listLabels(gmail::GmailClient& client) {
  gmail::ApiRequest request;
  request.target = kLabelsPath;
  const gmail::ApiAnswer answer = call(client, request);
  if (answer.status != 200) failGmailRequest(answer, "the label list");
  labels_ = gmail::LabelDirectory::fromList(answer.body);
}

std::optional<std::string> GmailApiTarget::existingLabel(gmail::GmailClient& client,
                                                         const std::string& folder) {
  std::lock_guard lock(mutex_);
  if (gmail::isInbox(folder)) return std::string("INBOX");
  if (!labels_ || !labels_->idOf(folder)) listLabels(client);
  return labels_->idOf(folder);
}

std::string GmailApiTarget::labelFor(gmail::GmailClient& client, const std::string& folder) {
  std::lock_guard lock(mutex_);
  if (gmail::isInbox(folder)) return "INBOX";
  if (labels_) {
    if (auto id = labels_->idOf(folder)) return *id;
  }
  listLabels(client);  // made by someone else meanwhile? ask before creating
  for (const std::string& name : labels_->missingFor(folder)) {
    gmail::ApiRequest request;
    request.method = "POST";
    request.target = kLabelsPath;
    const std::string body = gmail::labelCreateBody(name);
    request.content_type = "application/json; charset=UTF-8";
    request.content_length = body.size();
    request.write_body = [&body](std::ostream& out) { out << body; };
    const gmail::ApiAnswer answer = call(client, request);
    if (answer.status == 409) {  // created meanwhile (another process): list again
      listLabels(client);
      continue;
    }
    if (answer.status != 200) {
      const gmail::Failure failure =
          gmail::classifyFailure(answer.status, answer.body, answer.retry_after);
      if (failure.kind == ErrorKind::MessageRejected) {
        throw Error(ErrorKind::MailboxProblem, "Gmail will not create the label \"" + name + "\"",
                    failure.words);
      }
      failGmailRequest(answer, "to create the label \"" + name + "\"");
    }
    const std::optional<std::string> id = gmail::resourceId(answer.body);
    if (!id) throw Error(ErrorKind::Protocol, "the Gmail API created a label without an id");
    labels_->add(name, *id);
  }
  if (auto id = labels_->idOf(folder)) return *id;
  throw Error(ErrorKind::MailboxProblem, "the Gmail label \"" + folder + "\" is missing after it was created");
}

}  // namespace popgate::gateway
