#include "Metrics.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdint>
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
constexpr std::array<AccountMetric, 15> kAccountMetrics{{
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
    {"popgate_consecutive_failures", "gauge", "Polls failed in a row (0 after a success).",
     [](const AccountStatus& a) { return formatUnsigned(a.consecutive_failures); }},
    {"popgate_messages_quarantined", "gauge",
     "Messages the target refused, waiting on the POP server for a retry (last poll).",
     [](const AccountStatus& a) { return formatUnsigned(a.quarantined); }},
    {"popgate_messages_listed", "gauge", "Messages in the POP maildrop at the last poll.",
     [](const AccountStatus& a) { return formatUnsigned(a.listed); }},
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
      out.sample("popgate_account_state", {{"account", account.name}, {"state", stateName(state)}},
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
                 {{"account", account.name}, {"le", formatDouble(kDurationBuckets[i])}},
                 formatUnsigned(cumulative));
    }
    const std::uint64_t count = std::max(cumulative, account.polls);
    out.sample("popgate_poll_duration_seconds_bucket", {{"account", account.name}, {"le", "+Inf"}},
               formatUnsigned(count));
    out.sample("popgate_poll_duration_seconds_sum", {{"account", account.name}},
               formatDouble(account.duration_sum_seconds));
    out.sample("popgate_poll_duration_seconds_count", {{"account", account.name}},
               formatUnsigned(count));
  }
}

}  // namespace

std::string renderMetrics(const StatusSnapshot& snapshot) {
  Exposition out;
  renderProcess(snapshot, out);
  for (const AccountMetric& metric : kAccountMetrics) {
    out.family(metric.name, metric.type, metric.help);
    for (const AccountStatus& account : snapshot.accounts) {
      out.sample(metric.name, {{"account", account.name}}, metric.value(account));
    }
  }
  renderStates(snapshot, out);
  renderDurations(snapshot, out);
  return out.take();
}

}  // namespace popgate::gateway::admin
