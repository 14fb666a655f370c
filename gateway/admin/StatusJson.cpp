#include "StatusJson.h"
#include "connectors/common/Utf8.h"

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
  return object;
}

}  // namespace

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
  std::ostringstream out;
  root->stringify(out);
  out << '\n';
  return out.str();
}

}  // namespace popgate::gateway::admin
