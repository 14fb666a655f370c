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
  totals->set("in_target", account.in_target);
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

// A running pass's progress (null between passes): its phase, what the maildrop lists, and once
// the pass has chosen what to fetch, how much of it is handled and delivered.
Poco::Dynamic::Var renderProgress(const std::optional<PassProgress>& progress) {
  if (!progress) return {};
  Object::Ptr object = orderedObject();
  const char* phase = "connecting";
  if (progress->phase == PassProgress::Phase::Checking) phase = "checking";
  if (progress->phase == PassProgress::Phase::Delivering) phase = "delivering";
  object->set("phase", std::string(phase));
  object->set("listed", progress->listed);
  if (progress->totals_known) {
    object->set("total", progress->total);
    object->set("total_bytes", progress->total_bytes);
  } else {
    object->set("total", Poco::Dynamic::Var{});
    object->set("total_bytes", Poco::Dynamic::Var{});
  }
  object->set("done", progress->done);
  object->set("done_bytes", progress->done_bytes);
  object->set("delivered", progress->delivered);
  return object;
}

Object::Ptr renderAccount(const AccountStatus& account) {
  Object::Ptr object = orderedObject();
  object->set("name", text(account.name));
  object->set("target", text(account.target));
  object->set("host", text(account.host));
  object->set("folder", text(account.folder));
  object->set("poll_interval_seconds", static_cast<std::int64_t>(account.poll_interval.count()));
  object->set("state", std::string(stateName(account.state)));
  object->set("progress", renderProgress(account.progress));
  object->set("last_poll_start", timeOrNull(account.last_start));
  object->set("last_poll_end", timeOrNull(account.last_end));
  object->set("last_success", timeOrNull(account.last_success));
  object->set("next_poll", timeOrNull(account.next_poll));
  object->set("last_error", textOrNull(account.last_error));
  object->set("last_error_kind", textOrNull(account.last_error_kind));
  object->set("consecutive_failures", account.consecutive_failures);
  object->set("totals", renderTotals(account));
  object->set("listed", account.listed);
  object->set("waiting_bytes", account.waiting_bytes);
  object->set("quarantined", account.quarantined);
  object->set("not_imported", account.backlog);
  object->set("quarantine", renderQuarantine(account.quarantine));
  object->set("oauth", renderOAuth(account.oauth));
  return object;
}

Object::Ptr renderTarget(const TargetStatus& target, SystemTime now) {
  const std::int64_t now_unix =
      std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
  const bool paused = target.paused_until > now_unix;
  Object::Ptr object = orderedObject();
  object->set("name", text(target.name));
  object->set("host", text(target.host));
  object->set("connections", static_cast<std::uint64_t>(target.connections));
  object->set("capacity", static_cast<std::uint64_t>(target.capacity));
  object->set("paused_until", paused ? unixTimeOrNull(target.paused_until) : Poco::Dynamic::Var{});
  object->set("pause_reason", paused ? textOrNull(target.pause_reason) : Poco::Dynamic::Var{});
  Object::Ptr budget = orderedObject();
  if (target.daily_limit > 0) {
    budget->set("daily_limit", target.daily_limit);
    budget->set("used", target.used);
    budget->set("remaining", target.daily_limit > target.used ? target.daily_limit - target.used : 0);
    budget->set("next_room_at", unixTimeOrNull(target.next_room_at));
  } else {
    budget->set("daily_limit", Poco::Dynamic::Var{});
    budget->set("used", target.used);
    budget->set("remaining", Poco::Dynamic::Var{});
    budget->set("next_room_at", Poco::Dynamic::Var{});
  }
  budget->set("waiting_bytes", target.waiting_bytes);
  budget->set("backlog_eta", unixTimeOrNull(target.backlog_eta));
  object->set("upload_budget", budget);
  object->set("oauth", renderOAuth(target.oauth));
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
  Array::Ptr targets = new Array(Poco::JSON_PRESERVE_KEY_ORDER);
  for (const TargetStatus& target : snapshot.targets) targets->add(renderTarget(target, snapshot.now));
  root->set("targets", targets);
  Array::Ptr accounts = new Array(Poco::JSON_PRESERVE_KEY_ORDER);
  for (const AccountStatus& account : snapshot.accounts) accounts->add(renderAccount(account));
  root->set("accounts", accounts);
  if (snapshot.cluster) {
    // Replicas sharing a ledger: who holds which account, until when (as of the last renewal).
    Object::Ptr cluster = orderedObject();
    cluster->set("replica", text(snapshot.cluster->replica));
    Array::Ptr replicas = new Array(Poco::JSON_PRESERVE_KEY_ORDER);
    for (const std::string& r : snapshot.cluster->replicas) replicas->add(text(r));
    cluster->set("replicas", replicas);
    Array::Ptr leases = new Array(Poco::JSON_PRESERVE_KEY_ORDER);
    for (const LeaseRow& lease : snapshot.cluster->leases) {
      Object::Ptr row = orderedObject();
      row->set("account", text(lease.account));
      row->set("holder", text(lease.holder));
      row->set("epoch", lease.epoch);
      row->set("expires", formatRfc3339Utc(SystemTime(std::chrono::seconds(lease.expires_at))));
      leases->add(row);
    }
    cluster->set("leases", leases);
    root->set("cluster", cluster);
  }
  std::ostringstream out;
  root->stringify(out);
  out << '\n';
  return out.str();
}

}  // namespace popgate::gateway::admin
