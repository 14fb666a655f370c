#include "GmailApiSink.h"

#include <ostream>
#include <random>
#include <thread>

#include <Poco/URI.h>

#include "connectors/codec/Sha256.h"
#include "connectors/gmail/ImportRequest.h"

namespace popgate::gateway {
namespace {

constexpr const char* kImportPath = "/upload/gmail/v1/users/me/messages/import";
constexpr const char* kMessagesPath = "/gmail/v1/users/me/messages";
constexpr std::size_t kMaxRawAnswer = 80ull * 1024 * 1024;  // 50 MB in base64url, and JSON

bool success(int status) { return status >= 200 && status < 300; }

std::chrono::milliseconds jittered(std::chrono::milliseconds wait) {
  thread_local std::minstd_rand random{std::random_device{}()};
  return wait + std::chrono::milliseconds(random() % 250);
}

// The message's bytes into a request body, asking `guard` (when set) before each chunk: a body cut
// short is never imported.
void streamMessage(const imap::MessageSource& message, std::ostream& out,
                   const std::function<void()>& guard) {
  message.forEachChunk([&out, &guard](std::string_view chunk) {
    if (guard) guard();
    out.write(chunk.data(), static_cast<std::streamsize>(chunk.size()));
  });
}

std::string encoded(const std::string& value) {
  std::string out;
  Poco::URI::encode(value, "!#$&'()*+,/:;=?@[]\"<> %", out);
  return out;
}

}  // namespace

GmailApiSink::GmailApiSink(std::shared_ptr<GmailApiTarget> target, Options options)
    : target_(std::move(target)), options_(options), client_(target_->api()) {}

std::string GmailApiSink::boundaryFor(const imap::MessageSource& message) {
  thread_local std::mt19937_64 random{std::random_device{}()};
  for (;;) {
    char hex[17];
    std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(random()));
    const std::string boundary = std::string("popgate-") + hex;
    gmail::BoundaryScan scan(boundary);
    message.forEachChunk([&scan](std::string_view chunk) { scan.feed(chunk); });
    if (!scan.found()) return boundary;
  }
}

gmail::ApiAnswer GmailApiSink::sendMultipart(const std::string& metadata,
                                             const imap::MessageSource& message) {
  const gmail::MultipartFrame frame(boundaryFor(message), metadata);
  gmail::ApiRequest request;
  request.method = "POST";
  request.target = std::string(kImportPath) + "?uploadType=multipart&" +
                   gmail::importQuery({target_->settings().never_mark_spam,
                                       target_->settings().process_for_calendar});
  request.content_type = frame.contentType();
  request.content_length = frame.length(message.size());
  request.write_body = [this, &frame, &message](std::ostream& out) {
    out << frame.head();
    streamMessage(message, out, options_.write_guard);
    if (options_.write_guard) options_.write_guard();
    out << frame.tail();
  };
  return target_->call(client_, request);
}

gmail::ApiAnswer GmailApiSink::sendResumable(const std::string& metadata,
                                             const imap::MessageSource& message) {
  gmail::ApiRequest start;
  start.method = "POST";
  start.target = std::string(kImportPath) + "?uploadType=resumable&" +
                 gmail::importQuery({target_->settings().never_mark_spam,
                                     target_->settings().process_for_calendar});
  start.content_type = "application/json; charset=UTF-8";
  start.content_length = metadata.size();
  start.headers = {{"X-Upload-Content-Type", "message/rfc822"},
                   {"X-Upload-Content-Length", std::to_string(message.size())}};
  start.write_body = [&metadata](std::ostream& out) { out << metadata; };
  gmail::ApiAnswer started = target_->call(client_, start);
  if (!success(started.status)) return started;
  if (started.location.empty()) {
    throw Error(ErrorKind::Protocol, "the Gmail API started a resumable upload without a Location");
  }
  gmail::ApiRequest put;
  put.method = "PUT";
  put.target = started.location;
  put.content_type = "message/rfc822";
  put.content_length = message.size();
  put.write_body = [this, &message](std::ostream& out) {
    streamMessage(message, out, options_.write_guard);
  };
  return target_->call(client_, put);
}

imap::AppendOutcome GmailApiSink::importOne(const std::string& label,
                                            const imap::AppendItem& item) {
  const std::string metadata = gmail::importMetadata(gmail::labelIdsFor(label, item.flags));
  std::chrono::milliseconds backoff{1000};
  for (unsigned attempt = 0;; ++attempt) {
    target_->spendQuota(gmail::QuotaWindow::kImportCost);
    const gmail::ApiAnswer answer = item.message->size() <= options_.multipart_limit
                                        ? sendMultipart(metadata, *item.message)
                                        : sendResumable(metadata, *item.message);
    imap::AppendOutcome outcome;
    if (success(answer.status)) {
      outcome.ok = true;
      const std::optional<std::string> id = gmail::resourceId(answer.body);
      outcome.reply = "imported as " + id.value_or("(no id)");
      if (id) {
        if (const auto halves = gmail::splitMessageId(*id)) {
          outcome.uid = codec::AppendUid{halves->high, halves->low};
        }
      }
      return outcome;
    }
    const gmail::Failure failure =
        gmail::classifyFailure(answer.status, answer.body, answer.retry_after);
    const bool retryable =
        failure.kind == ErrorKind::Throttled || failure.kind == ErrorKind::Transient;
    const std::chrono::milliseconds wait = failure.retry_after.value_or(backoff);
    if (retryable && attempt < options_.retries && wait <= options_.longest_wait) {
      std::this_thread::sleep_for(jittered(wait));
      backoff *= 2;
      continue;
    }
    switch (failure.kind) {
      case ErrorKind::MessageRejected:
      case ErrorKind::Throttled:
        outcome.kind = failure.kind;
        outcome.reply = failure.words;
        if (failure.kind == ErrorKind::Throttled) outcome.retry_after = wait;
        return outcome;
      default: {
        // In doubt (a 5xx may still have imported it) or not the message's fault: the message
        // stays in flight, looked for before it is sent again.
        Error error(failure.kind, "the Gmail API did not import a message", failure.words);
        if (failure.retry_after) throw error.withRetryAfter(*failure.retry_after);
        throw error;
      }
    }
  }
}

std::vector<imap::AppendOutcome> GmailApiSink::append(const std::string& folder,
                                                      const std::vector<imap::AppendItem>& items) {
  const std::string label = target_->labelFor(client_, folder);
  std::vector<imap::AppendOutcome> outcomes;
  outcomes.reserve(items.size());
  for (const imap::AppendItem& item : items) outcomes.push_back(importOne(label, item));
  return outcomes;
}

imap::Lookup GmailApiSink::lookup(const std::string& folder,
                                  const imap::MessageFingerprint& fingerprint) {
  std::string query = std::string(kMessagesPath) + "?includeSpamTrash=true&maxResults=" +
                      std::to_string(imap::kRecoveryCandidates);
  std::string id = fingerprint.message_id.value_or("");
  if (id.size() > 2 && id.front() == '<' && id.back() == '>') id = id.substr(1, id.size() - 2);
  const bool by_id = !id.empty() && id.find_first_of(" \t\r\n\"") == std::string::npos;
  if (by_id) {
    query += "&q=" + encoded("rfc822msgid:" + id);
  } else {
    const std::optional<std::string> label = target_->existingLabel(client_, folder);
    if (!label) return imap::Lookup::absent();  // no label, no message with it
    query += "&labelIds=" + encoded(*label);
  }
  gmail::ApiRequest list;
  list.target = query;
  const gmail::ApiAnswer listed = target_->call(client_, list);
  if (!success(listed.status)) {
    const gmail::Failure failure =
        gmail::classifyFailure(listed.status, listed.body, listed.retry_after);
    if (failure.kind == ErrorKind::Transient || failure.kind == ErrorKind::Throttled) {
      failGmailRequest(listed, "the search for a message sent before a crash");
    }
    return imap::Lookup::unknown("the Gmail API refused the search: " + failure.words);
  }
  for (const std::string& candidate : gmail::parseMessageList(listed.body).ids) {
    gmail::ApiRequest get;
    get.target = std::string(kMessagesPath) + "/" + encoded(candidate) + "?format=raw";
    get.max_answer = kMaxRawAnswer;
    const gmail::ApiAnswer got = target_->call(client_, get);
    if (got.status == 404) continue;  // deleted since the search
    if (!success(got.status)) {
      const gmail::Failure failure = gmail::classifyFailure(got.status, got.body, got.retry_after);
      if (failure.kind == ErrorKind::Transient || failure.kind == ErrorKind::Throttled) {
        failGmailRequest(got, "a message found by the search");
      }
      return imap::Lookup::unknown("the Gmail API refused to show a candidate: " + failure.words);
    }
    const std::string raw = gmail::parseRawMessage(got.body);
    if (raw.size() != fingerprint.size) continue;
    codec::Sha256 sha;
    sha.update(raw);
    if (!fingerprint.sha256.empty() && sha.hex() == fingerprint.sha256) {
      const auto halves = gmail::splitMessageId(candidate);
      return imap::Lookup::present(halves ? halves->low : 0);
    }
  }
  return imap::Lookup::absent();
}

}  // namespace popgate::gateway
