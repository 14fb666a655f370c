#pragma once
// What the Gmail API's answers mean, without a socket (docs/gmail.md "Errors"). An error answer
// is {"error": {"code": N, "message": "...", "errors": [{"reason": "...", ...}], "status": "..."}}
// with a Retry-After header on some 429s; a success of users.messages.import is a Message
// resource {"id": "...", "threadId": "...", "labelIds": [...]}.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "connectors/common/Error.h"

namespace popgate::gmail {

// A refused request, as popgate treats it.
struct Failure {
  int status = 0;              // HTTP status
  ErrorKind kind = ErrorKind::Protocol;
  std::string reason;          // errors[0].reason ("rateLimitExceeded", "invalidArgument"), or ""
  std::string words;           // Google's words for logs and the quarantine: "HTTP 400
                               // invalidArgument: Invalid attachment" (printable, at most 300 bytes)
  std::optional<std::chrono::milliseconds> retry_after;  // from Retry-After (delta-seconds)
};

// The meaning of a non-2xx answer: 429, and 403 with reason rateLimitExceeded,
// userRateLimitExceeded or quotaExceeded → Throttled; 5xx (and 408) → Transient; 401 → Auth (the
// access token: refresh once); other 403s → Auth (missing scope, API disabled); 400 →
// MessageRejected (for an import: the message itself was refused); anything else → Protocol.
// A body that is not the error JSON is quoted by its printable start. Never throws but bad_alloc.
Failure classifyFailure(int status, std::string_view body, std::string_view retry_after);

// Retry-After as delta-seconds (RFC 9110 §10.2.3), capped at one day; nullopt for anything else
// (an HTTP-date is treated as absent: the caller's own back-off applies).
std::optional<std::chrono::milliseconds> parseRetryAfter(std::string_view value);

// The "id" of a JSON object (a Message or Label resource); nullopt when absent or not JSON.
std::optional<std::string> resourceId(std::string_view body);

// A Gmail message id (16 hex digits, a 64-bit number) as the ledger's two 32-bit halves, kept
// where an IMAP target's APPENDUID goes (uidvalidity = high half, uid = low half); nullopt for
// an id of another shape (then nothing is kept).
struct IdHalves {
  std::uint32_t high = 0;
  std::uint32_t low = 0;
};
std::optional<IdHalves> splitMessageId(std::string_view id);
// The id again from its halves: 16 lower-case hex digits.
std::string joinMessageId(IdHalves halves);

// users.messages.list: the ids of "messages" and the nextPageToken (empty when none). Throws
// Error(Protocol) when the body is not a message list.
struct MessageList {
  std::vector<std::string> ids;
  std::string next_page_token;
};
MessageList parseMessageList(std::string_view body);

// users.messages.get?format=raw: the message bytes (the "raw" field, base64url with or without
// padding). Throws Error(Protocol) when absent or not base64url.
std::string parseRawMessage(std::string_view body);

}  // namespace popgate::gmail
