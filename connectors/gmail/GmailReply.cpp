#include "GmailReply.h"

#include <sstream>

#include <Poco/Base64Decoder.h>
#include <Poco/Base64Encoder.h>
#include <Poco/Exception.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include "connectors/common/Printable.h"

namespace popgate::gmail {
namespace {

constexpr std::size_t kMaxWords = 300;

Poco::JSON::Object::Ptr parseObject(std::string_view body) {
  try {
    Poco::JSON::Parser parser;
    const Poco::Dynamic::Var parsed = parser.parse(std::string(body));
    if (parsed.type() != typeid(Poco::JSON::Object::Ptr)) return nullptr;
    return parsed.extract<Poco::JSON::Object::Ptr>();
  } catch (const Poco::Exception&) {
    return nullptr;
  }
}

std::string text(const Poco::JSON::Object::Ptr& object, const std::string& key) {
  if (!object || !object->has(key)) return {};
  try {
    const Poco::Dynamic::Var value = object->get(key);
    return value.isEmpty() ? std::string() : value.convert<std::string>();
  } catch (const Poco::Exception&) {
    return {};
  }
}

bool rateLimitReason(std::string_view reason) {
  return reason == "rateLimitExceeded" || reason == "userRateLimitExceeded" ||
         reason == "quotaExceeded";
}

}  // namespace

std::optional<std::chrono::milliseconds> parseRetryAfter(std::string_view value) {
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
  if (value.empty() || value.size() > 10) return std::nullopt;
  std::int64_t seconds = 0;
  for (const char c : value) {
    if (c < '0' || c > '9') return std::nullopt;
    seconds = seconds * 10 + (c - '0');
  }
  return std::chrono::milliseconds(std::min<std::int64_t>(seconds, 86400) * 1000);
}

Failure classifyFailure(int status, std::string_view body, std::string_view retry_after) {
  Failure failure;
  failure.status = status;
  failure.retry_after = parseRetryAfter(retry_after);
  std::string message;
  if (const auto root = parseObject(body); root && root->has("error")) {
    if (const auto error = root->getObject("error")) {
      message = text(error, "message");
      if (const auto errors = error->getArray("errors"); errors && errors->size() > 0) {
        failure.reason = text(errors->getObject(0), "reason");
      }
      if (failure.reason.empty()) failure.reason = text(error, "status");
    }
  } else {
    message = std::string(body.substr(0, 200));
  }
  std::string words = "HTTP " + std::to_string(status);
  if (!failure.reason.empty()) words += " " + failure.reason;
  if (!message.empty()) words += ": " + message;
  failure.words = printable(words, kMaxWords);

  if (status == 429 || (status == 403 && rateLimitReason(failure.reason))) {
    failure.kind = ErrorKind::Throttled;
  } else if (status >= 500 || status == 408) {
    failure.kind = ErrorKind::Transient;
  } else if (status == 401 || status == 403) {
    failure.kind = ErrorKind::Auth;
  } else if (status == 400) {
    failure.kind = ErrorKind::MessageRejected;
  } else {
    failure.kind = ErrorKind::Protocol;
  }
  return failure;
}

std::optional<std::string> resourceId(std::string_view body) {
  const std::string id = text(parseObject(body), "id");
  if (id.empty()) return std::nullopt;
  return id;
}

std::optional<IdHalves> splitMessageId(std::string_view id) {
  if (id.empty() || id.size() > 16) return std::nullopt;
  std::uint64_t value = 0;
  for (const char c : id) {
    int digit = 0;
    if (c >= '0' && c <= '9') {
      digit = c - '0';
    } else if (c >= 'a' && c <= 'f') {
      digit = c - 'a' + 10;
    } else {
      return std::nullopt;
    }
    value = (value << 4) | static_cast<std::uint64_t>(digit);
  }
  if (id.size() > 1 && id.front() == '0') return std::nullopt;  // would not come back unchanged
  return IdHalves{static_cast<std::uint32_t>(value >> 32), static_cast<std::uint32_t>(value)};
}

std::string joinMessageId(IdHalves halves) {
  static constexpr char kHex[] = "0123456789abcdef";
  const std::uint64_t value = (static_cast<std::uint64_t>(halves.high) << 32) | halves.low;
  std::string out(16, '0');
  for (int i = 15, shift = 0; i >= 0; --i, shift += 4) out[static_cast<std::size_t>(i)] = kHex[(value >> shift) & 0xf];
  // Gmail ids have no leading zeros.
  const std::size_t first = out.find_first_not_of('0');
  return first == std::string::npos ? "0" : out.substr(first);
}

MessageList parseMessageList(std::string_view body) {
  const auto root = parseObject(body);
  if (!root) throw Error(ErrorKind::Protocol, "the Gmail API sent a message list that is not JSON");
  MessageList list;
  list.next_page_token = text(root, "nextPageToken");
  if (const auto messages = root->getArray("messages")) {
    for (std::size_t i = 0; i < messages->size(); ++i) {
      const std::string id = text(messages->getObject(static_cast<unsigned>(i)), "id");
      if (!id.empty()) list.ids.push_back(id);
    }
  }
  return list;
}

std::string parseRawMessage(std::string_view body) {
  const std::string raw = text(parseObject(body), "raw");
  if (raw.empty()) throw Error(ErrorKind::Protocol, "the Gmail API sent a message without raw content");
  std::string padded = raw;
  while (padded.size() % 4 != 0) padded.push_back('=');
  try {
    std::istringstream in(padded);
    Poco::Base64Decoder decoder(in, Poco::BASE64_URL_ENCODING);
    std::string out;
    char chunk[8192];
    while (decoder.read(chunk, sizeof chunk) || decoder.gcount() > 0) {
      out.append(chunk, static_cast<std::size_t>(decoder.gcount()));
    }
    return out;
  } catch (const Poco::Exception& e) {
    throw Error(ErrorKind::Protocol, "the Gmail API sent raw content that is not base64url: " +
                                         e.displayText());
  }
}

}  // namespace popgate::gmail
