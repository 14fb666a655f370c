#include "Metrics.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <functional>
#include <map>
#include <string_view>
#include <utility>
#include <vector>

#include "StatusJson.h"
#include "connectors/common/Utf8.h"

namespace popgate::gateway::admin {
namespace {

constexpr std::array<AccountState, 4> kStates{AccountState::Idle, AccountState::Polling,
                                              AccountState::Backoff, AccountState::Failing};

// A label value as the format wants it: valid UTF-8 with backslash, double quote and line feed
// escaped.
std::string escapeLabelValue(std::string_view value) {
  const std::string valid = toValidUtf8(value);
  std::string out;
  out.reserve(valid.size());
  for (char c : valid) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '"':
        out += "\\\"";
        break;
      case '\n':
        out += "\\n";
        break;
      default:
        out.push_back(c);
    }
  }
  return out;
}

// Go's ParseFloat reads what std::to_chars writes (shortest round trip), plus the special values.
std::string formatDouble(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  char buffer[64];
  const auto result = std::to_chars(buffer, buffer + sizeof buffer, value);
  return std::string(buffer, result.ptr);
}

std::string formatUnsigned(std::uint64_t value) {
  return std::to_string(value);
}

// Unix seconds with millisecond resolution; 0 when the event has not happened.
std::string formatTimestamp(const std::optional<SystemTime>& time) {
  if (!time) return "0";
  const auto millis =
      std::chrono::duration_cast<std::chrono::milliseconds>(time->time_since_epoch()).count();
  return formatDouble(static_cast<double>(millis) / 1000.0);
}

using Labels = std::vector<std::pair<std::string_view, std::string>>;

// The labels of every per-account sample: the account and the target it delivers to.
Labels accountLabels(const AccountStatus& account) {
  return {{"account", account.name}, {"target", account.target}};
}

// `labels` plus one more.
Labels with(Labels labels, std::string_view name, std::string value) {
  labels.emplace_back(name, std::move(value));
  return labels;
}

// Writes families in the required order: HELP, TYPE, then that family's samples, all contiguous.
class Exposition {
 public:
  void family(std::string_view name, std::string_view type, std::string_view help) {
    out_.append("# HELP ").append(name).append(" ").append(help).append("\n");
    out_.append("# TYPE ").append(name).append(" ").append(type).append("\n");
  }

  void sample(std::string_view name, const Labels& labels, std::string_view value) {
    out_.append(name);
    if (!labels.empty()) {
      out_.push_back('{');
      bool first = true;
      for (const auto& [label, label_value] : labels) {
        if (!first) out_.push_back(',');
        first = false;
        out_.append(label).append("=\"").append(escapeLabelValue(label_value)).append("\"");
      }
      out_.push_back('}');
    }
    out_.append(" ").append(value).append("\n");
  }

  std::string take() { return std::move(out_); }
  // Room for `bytes` up front: growing by doubling would hold the old and the new text at once.
  void reserve(std::size_t bytes) { out_.reserve(bytes); }

 private:
  std::string out_;
};

struct AccountMetric {
  const char* name;
  const char* type;
  const char* help;
  std::string (*value)(const AccountStatus&);
};

// The per-account families with one sample per account. Counters end in _total.
constexpr std::array<AccountMetric, 18> kAccountMetrics{{
    {"popgate_polls_total", "counter", "Polls finished (successful or not) since the start.",
     [](const AccountStatus& a) { return formatUnsigned(a.polls); }},
    {"popgate_poll_failures_total", "counter", "Polls that failed since the start.",
     [](const AccountStatus& a) { return formatUnsigned(a.failures); }},
    {"popgate_messages_uploaded_total", "counter", "Messages appended to the target.",
     [](const AccountStatus& a) { return formatUnsigned(a.uploaded); }},
    {"popgate_messages_recovered_total", "counter",
     "Messages found already in the target after an interrupted upload (not appended again).",
     [](const AccountStatus& a) { return formatUnsigned(a.recovered); }},
    {"popgate_messages_skipped_total", "counter",
     "Messages left alone because they were delivered before (counted on every poll).",
     [](const AccountStatus& a) { return formatUnsigned(a.skipped); }},
    {"popgate_messages_deleted_total", "counter", "Messages deleted from the POP server.",
     [](const AccountStatus& a) { return formatUnsigned(a.deleted); }},
    {"popgate_messages_rejected_total", "counter",
     "Messages the target refused (quarantined, retried later).",
     [](const AccountStatus& a) { return formatUnsigned(a.rejected); }},
    {"popgate_messages_too_large_total", "counter",
     "Messages over max_message_size left on the server (counted on every poll).",
     [](const AccountStatus& a) { return formatUnsigned(a.too_large); }},
    {"popgate_messages_in_target_total", "counter",
     "New messages found already in the target by Message-ID, Date and From (dedupe), not "
     "appended.",
     [](const AccountStatus& a) { return formatUnsigned(a.in_target); }},
    {"popgate_bytes_uploaded_total", "counter", "Bytes of messages appended to the target.",
     [](const AccountStatus& a) { return formatUnsigned(a.bytes); }},
    {"popgate_last_success_timestamp_seconds", "gauge",
     "Unix time the last successful poll finished; 0 if none succeeded yet.",
     [](const AccountStatus& a) { return formatTimestamp(a.last_success); }},
    {"popgate_last_poll_timestamp_seconds", "gauge",
     "Unix time the last poll finished, successful or not; 0 if none finished yet.",
     [](const AccountStatus& a) { return formatTimestamp(a.last_end); }},
    {"popgate_next_poll_timestamp_seconds", "gauge",
     "Unix time the next poll is due; 0 if none is scheduled (e.g. while polling).",
     [](const AccountStatus& a) { return formatTimestamp(a.next_poll); }},
    {"popgate_poll_interval_seconds", "gauge",
     "The configured time between two polls of the account, in seconds.",
     [](const AccountStatus& a) { return formatUnsigned(static_cast<std::uint64_t>(a.poll_interval.count())); }},
    {"popgate_consecutive_failures", "gauge", "Polls failed in a row (0 after a success).",
     [](const AccountStatus& a) { return formatUnsigned(a.consecutive_failures); }},
    {"popgate_messages_quarantined", "gauge",
     "Messages the target refused, waiting on the POP server for a retry (last poll).",
     [](const AccountStatus& a) { return formatUnsigned(a.quarantined); }},
    {"popgate_messages_listed", "gauge", "Messages in the POP maildrop at the last poll.",
     [](const AccountStatus& a) { return formatUnsigned(a.listed); }},
    {"popgate_messages_not_imported", "gauge",
     "Messages on the POP server before the account's first pass (backlog), left there.",
     [](const AccountStatus& a) { return formatUnsigned(a.backlog); }},
}};

void renderProcess(const StatusSnapshot& snapshot, Exposition& out) {
  out.family("popgate_up", "gauge", "1 while the daemon answers.");
  out.sample("popgate_up", {}, "1");
  out.family("popgate_build_info", "gauge", "The running version; the value is always 1.");
  out.sample("popgate_build_info", {{"version", snapshot.version}}, "1");
  out.family("popgate_start_time_seconds", "gauge", "Unix time the daemon started.");
  out.sample("popgate_start_time_seconds", {}, formatTimestamp(snapshot.started));
}

void renderStates(const StatusSnapshot& snapshot, Exposition& out) {
  out.family(
      "popgate_account_state", "gauge",
      "1 for the account's current state (idle, polling, backoff, failing), 0 for the others.");
  for (const AccountStatus& account : snapshot.accounts) {
    for (AccountState state : kStates) {
      out.sample("popgate_account_state", with(accountLabels(account), "state", stateName(state)),
                 state == account.state ? "1" : "0");
    }
  }
}

void renderDurations(const StatusSnapshot& snapshot, Exposition& out) {
  out.family("popgate_poll_duration_seconds", "histogram", "How long polls took, in seconds.");
  for (const AccountStatus& account : snapshot.accounts) {
    // Buckets are cumulative in the board; the running maximum keeps the output valid even if a
    // snapshot were inconsistent, and +Inf equals _count by construction.
    std::uint64_t cumulative = 0;
    for (std::size_t i = 0; i < kDurationBuckets.size(); ++i) {
      cumulative = std::max(cumulative, account.duration_buckets[i]);
      out.sample("popgate_poll_duration_seconds_bucket",
                 with(accountLabels(account), "le", formatDouble(kDurationBuckets[i])),
                 formatUnsigned(cumulative));
    }
    const std::uint64_t count = std::max(cumulative, account.polls);
    out.sample("popgate_poll_duration_seconds_bucket", with(accountLabels(account), "le", "+Inf"),
               formatUnsigned(count));
    out.sample("popgate_poll_duration_seconds_sum", accountLabels(account),
               formatDouble(account.duration_sum_seconds));
    out.sample("popgate_poll_duration_seconds_count", accountLabels(account),
               formatUnsigned(count));
  }
}

// OAuth credentials: one sample per account that signs in with OAuth (account="NAME") and one
// per target that does (target="NAME"; "target" for the one `target:`).
void renderOAuth(const StatusSnapshot& snapshot, Exposition& out) {
  using Value = std::string (*)(const OAuthStatus&);
  const auto family = [&](const char* name, const char* type, const char* help, Value value) {
    out.family(name, type, help);
    for (const AccountStatus& account : snapshot.accounts) {
      if (!account.oauth.mechanism.empty()) {
        out.sample(name, {{"account", account.name}}, value(account.oauth));
      }
    }
    for (const TargetStatus& target : snapshot.targets) {
      if (!target.oauth.mechanism.empty()) {
        out.sample(name, {{"target", target.name}}, value(target.oauth));
      }
    }
  };
  family("popgate_oauth_refresh_failures_total", "counter",
         "OAuth access token refreshes that failed since the start.",
         [](const OAuthStatus& o) { return formatUnsigned(o.refresh_failures); });
  family("popgate_oauth_token_expiry_timestamp_seconds", "gauge",
         "Unix time the current OAuth access token expires; 0 before the first refresh.",
         [](const OAuthStatus& o) { return formatTimestamp(o.access_token_expires); });
}

struct TargetMetric {
  const char* name;
  const char* help;
  std::string (*value)(const TargetStatus&, std::int64_t now);
};

std::string formatUnixSeconds(std::int64_t seconds) {
  return seconds > 0 ? std::to_string(seconds) : "0";
}

// The per-target gauges, labelled target="<name>".
constexpr std::array<TargetMetric, 7> kTargetMetrics{{
    {"popgate_target_connections", "Upload sessions the target may have (target.connections).",
     [](const TargetStatus& t, std::int64_t) { return formatUnsigned(t.connections); }},
    {"popgate_target_connection_capacity",
     "Upload sessions usable now: fewer for a while after \"too many simultaneous connections\".",
     [](const TargetStatus& t, std::int64_t) { return formatUnsigned(t.capacity); }},
    {"popgate_target_paused_until_timestamp_seconds",
     "Unix time a pause the target asked for (throttling, bandwidth) ends; 0 when not paused.",
     [](const TargetStatus& t, std::int64_t now) {
       return formatUnixSeconds(t.paused_until > now ? t.paused_until : 0);
     }},
    {"popgate_target_upload_budget_bytes",
     "The daily upload budget (target.daily_upload_limit) in bytes per rolling 24 hours; 0: none.",
     [](const TargetStatus& t, std::int64_t) { return formatUnsigned(t.daily_limit); }},
    {"popgate_target_uploaded_24h_bytes",
     "Bytes uploaded to the target in the last 24 hours (since the start, unless a daily upload "
     "budget is set: then also before, from the ledger).",
     [](const TargetStatus& t, std::int64_t) { return formatUnsigned(t.used); }},
    {"popgate_target_backlog_bytes",
     "Bytes of listed messages the last passes set out to deliver and did not (the backlog).",
     [](const TargetStatus& t, std::int64_t) { return formatUnsigned(t.waiting_bytes); }},
    {"popgate_target_backlog_eta_timestamp_seconds",
     "Unix time the backlog should be through at the daily upload budget; 0: no backlog or no budget.",
     [](const TargetStatus& t, std::int64_t) { return formatUnixSeconds(t.backlog_eta); }},
}};

void renderTargets(const StatusSnapshot& snapshot, Exposition& out) {
  const std::int64_t now =
      std::chrono::duration_cast<std::chrono::seconds>(snapshot.now.time_since_epoch()).count();
  for (const TargetMetric& metric : kTargetMetrics) {
    out.family(metric.name, "gauge", metric.help);
    for (const TargetStatus& target : snapshot.targets) {
      out.sample(metric.name, {{"target", target.name}}, metric.value(target, now));
    }
  }
}

// Replicas sharing a ledger (a snapshot with a cluster section): how many are live, and per
// account whether this replica holds its lease, when the lease expires and its fencing epoch, as
// of the last renewal round. Nothing for a single process.
void renderCluster(const StatusSnapshot& snapshot, Exposition& out) {
  if (!snapshot.cluster) return;
  const ClusterStatus& cluster = *snapshot.cluster;
  const std::int64_t now =
      std::chrono::duration_cast<std::chrono::seconds>(snapshot.now.time_since_epoch()).count();
  std::map<std::string_view, const LeaseRow*> leases;
  for (const LeaseRow& lease : cluster.leases) leases.emplace(lease.account, &lease);
  // One family with a sample per configured account, from its lease row (nullptr: none).
  const auto perAccount = [&](const char* name, const char* help, bool with_replica,
                              const std::function<std::string(const LeaseRow*)>& value) {
    out.family(name, "gauge", help);
    for (const AccountStatus& account : snapshot.accounts) {
      const auto it = leases.find(account.name);
      const Labels labels = with_replica
                                ? with(accountLabels(account), "replica", cluster.replica)
                                : accountLabels(account);
      out.sample(name, labels, value(it == leases.end() ? nullptr : it->second));
    }
  };

  out.family("popgate_cluster_replicas", "gauge",
             "Replicas sharing the ledger whose heartbeat is younger than lease_ttl, this one "
             "included.");
  out.sample("popgate_cluster_replicas", {}, formatUnsigned(cluster.replicas.size()));
  perAccount("popgate_lease_held",
             "1 when this replica (label replica) holds the account's unexpired lease, else 0.",
             true, [&](const LeaseRow* lease) {
               const bool held =
                   lease && lease->holder == cluster.replica && lease->expires_at > now;
               return std::string(held ? "1" : "0");
             });
  perAccount("popgate_lease_expiry_timestamp_seconds",
             "Unix time the account's lease expires, whichever replica holds it; 0 when it has "
             "none.",
             false, [](const LeaseRow* lease) {
               return formatUnixSeconds(lease ? lease->expires_at : 0);
             });
  perAccount("popgate_lease_epoch",
             "The fencing epoch of the account's lease: it goes up whenever a replica takes the "
             "account anew; 0 when it has no lease.",
             false, [](const LeaseRow* lease) {
               return lease && lease->epoch > 0 ? std::to_string(lease->epoch) : std::string("0");
             });
}

}  // namespace

std::string renderMetrics(const StatusSnapshot& snapshot) {
  Exposition out;
  // About 36 samples an account of some 64 bytes besides its two labels, and the HELP texts.
  std::size_t estimate = 16 * 1024;
  for (const AccountStatus& account : snapshot.accounts) {
    estimate += 36 * (64 + account.name.size() + account.target.size());
  }
  out.reserve(estimate);
  renderProcess(snapshot, out);
  for (const AccountMetric& metric : kAccountMetrics) {
    out.family(metric.name, metric.type, metric.help);
    for (const AccountStatus& account : snapshot.accounts) {
      out.sample(metric.name, accountLabels(account), metric.value(account));
    }
  }
  renderStates(snapshot, out);
  renderDurations(snapshot, out);
  renderOAuth(snapshot, out);
  renderTargets(snapshot, out);
  renderCluster(snapshot, out);
  return out.take();
}

}  // namespace popgate::gateway::admin
