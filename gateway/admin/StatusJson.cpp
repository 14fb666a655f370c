#include "StatusJson.h"

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <sstream>

#include <Poco/Dynamic/Var.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSONString.h>

namespace popgate::gateway::admin {
namespace {

using Poco::JSON::Array;
using Poco::JSON::Object;

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD in UTF-8

bool isContinuation(unsigned char byte) noexcept {
  return byte >= 0x80 && byte <= 0xBF;
}

// How many bytes a sequence led by `lead` has (0: not a valid lead byte) and the range its second
// byte must fall in (Unicode Table 3-7, which excludes overlongs, surrogates and > U+10FFFF).
struct LeadInfo {
  std::size_t length;
  unsigned char second_low;
  unsigned char second_high;
};

LeadInfo leadInfo(unsigned char lead) noexcept {
  if (lead <= 0x7F) return {1, 0, 0};
  if (lead >= 0xC2 && lead <= 0xDF) return {2, 0x80, 0xBF};
  if (lead == 0xE0) return {3, 0xA0, 0xBF};
  if (lead == 0xED) return {3, 0x80, 0x9F};
  if (lead >= 0xE1 && lead <= 0xEF) return {3, 0x80, 0xBF};
  if (lead == 0xF0) return {4, 0x90, 0xBF};
  if (lead >= 0xF1 && lead <= 0xF3) return {4, 0x80, 0xBF};
  if (lead == 0xF4) return {4, 0x80, 0x8F};
  return {0, 0, 0};
}

Poco::Dynamic::Var text(std::string_view value) {
  return toValidUtf8(value);
}

// An empty text reads as "none" in the board (last_error, last_error_kind): null in JSON.
Poco::Dynamic::Var textOrNull(std::string_view value) {
  if (value.empty()) return {};
  return toValidUtf8(value);
}

Poco::Dynamic::Var timeOrNull(const std::optional<SystemTime>& time) {
  if (!time) return {};
  return formatRfc3339Utc(*time);
}

Poco::Dynamic::Var unixTimeOrNull(std::int64_t seconds) {
  if (seconds <= 0) return {};
  return formatRfc3339Utc(SystemTime{std::chrono::seconds{seconds}});
}

Object::Ptr orderedObject() {
  return new Object(Poco::JSON_PRESERVE_KEY_ORDER);
}

Object::Ptr renderTotals(const AccountStatus& account) {
  Object::Ptr totals = orderedObject();
  totals->set("polls", account.polls);
  totals->set("failures", account.failures);
  totals->set("uploaded", account.uploaded);
  totals->set("recovered", account.recovered);
  totals->set("skipped", account.skipped);
  totals->set("deleted", account.deleted);
  totals->set("bytes", account.bytes);
  totals->set("rejected", account.rejected);
  totals->set("too_large", account.too_large);
  return totals;
}

Array::Ptr renderQuarantine(const std::vector<QuarantinedMessage>& quarantine) {
  Array::Ptr list = new Array(Poco::JSON_PRESERVE_KEY_ORDER);
  for (const QuarantinedMessage& message : quarantine) {
    Object::Ptr entry = orderedObject();
    entry->set("uidl", text(message.uidl));
    entry->set("reason", text(message.reason));
    entry->set("attempts", message.attempts);
    entry->set("retry_at", unixTimeOrNull(message.retry_at));
    list->add(entry);
  }
  return list;
}

// null when the login does not use OAuth; never a token.
Poco::Dynamic::Var renderOAuth(const OAuthStatus& oauth) {
  if (oauth.mechanism.empty()) return {};
  Object::Ptr object = orderedObject();
  object->set("mechanism", oauth.mechanism);
  object->set("access_token_expires", timeOrNull(oauth.access_token_expires));
  object->set("last_refresh", timeOrNull(oauth.last_refresh));
  object->set("refresh_token_rotated", timeOrNull(oauth.refresh_token_rotated));
  object->set("refresh_failures", oauth.refresh_failures);
  return object;
}

Object::Ptr renderAccount(const AccountStatus& account) {
  Object::Ptr object = orderedObject();
  object->set("name", text(account.name));
  object->set("host", text(account.host));
  object->set("folder", text(account.folder));
  object->set("state", std::string(stateName(account.state)));
  object->set("last_poll_start", timeOrNull(account.last_start));
  object->set("last_poll_end", timeOrNull(account.last_end));
  object->set("last_success", timeOrNull(account.last_success));
  object->set("next_poll", timeOrNull(account.next_poll));
  object->set("last_error", textOrNull(account.last_error));
  object->set("last_error_kind", textOrNull(account.last_error_kind));
  object->set("consecutive_failures", account.consecutive_failures);
  object->set("totals", renderTotals(account));
  object->set("listed", account.listed);
  object->set("quarantined", account.quarantined);
  object->set("quarantine", renderQuarantine(account.quarantine));
  object->set("oauth", renderOAuth(account.oauth));
  return object;
}

}  // namespace

std::string toValidUtf8(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size());
  std::size_t i = 0;
  while (i < bytes.size()) {
    const auto lead = static_cast<unsigned char>(bytes[i]);
    const LeadInfo info = leadInfo(lead);
    if (info.length == 1) {
      out.push_back(bytes[i]);
      ++i;
      continue;
    }
    if (info.length == 0) {
      out.append(kReplacement);
      ++i;
      continue;
    }
    // Count how many bytes of the sequence are well formed; stop at the first that is not.
    std::size_t good = 1;
    while (good < info.length && i + good < bytes.size()) {
      const auto byte = static_cast<unsigned char>(bytes[i + good]);
      const bool fits =
          good == 1 ? (byte >= info.second_low && byte <= info.second_high) : isContinuation(byte);
      if (!fits) break;
      ++good;
    }
    if (good == info.length) {
      out.append(bytes.substr(i, good));
    } else {
      out.append(kReplacement);  // the maximal subpart, whatever its length, becomes one U+FFFD
    }
    i += good;
  }
  return out;
}

std::string formatRfc3339Utc(SystemTime time) {
  using namespace std::chrono;
  const auto day = floor<days>(time);
  const year_month_day date{day};
  const hh_mm_ss clock{floor<seconds>(time) - day};
  char buffer[40];
  std::snprintf(buffer, sizeof buffer, "%04d-%02u-%02uT%02d:%02d:%02dZ",
                static_cast<int>(date.year()), static_cast<unsigned>(date.month()),
                static_cast<unsigned>(date.day()), static_cast<int>(clock.hours().count()),
                static_cast<int>(clock.minutes().count()),
                static_cast<int>(clock.seconds().count()));
  return buffer;
}

std::string renderStatusJson(const StatusSnapshot& snapshot) {
  Object::Ptr root = orderedObject();
  root->set("version", text(snapshot.version));
  root->set("started", formatRfc3339Utc(snapshot.started));
  root->set("now", formatRfc3339Utc(snapshot.now));
  Array::Ptr accounts = new Array(Poco::JSON_PRESERVE_KEY_ORDER);
  for (const AccountStatus& account : snapshot.accounts) accounts->add(renderAccount(account));
  root->set("accounts", accounts);
  Object::Ptr target = orderedObject();
  target->set("host", textOrNull(snapshot.target.host));
  target->set("oauth", renderOAuth(snapshot.target.oauth));
  root->set("target", target);
  std::ostringstream out;
  root->stringify(out);
  out << '\n';
  return out.str();
}

}  // namespace popgate::gateway::admin
