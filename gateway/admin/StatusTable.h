#pragma once
// `popgate status`: the daemon's /status JSON as a table for a terminal, one row per account
// (state, last success, next poll, quarantined, last error), times relative to the daemon's "now".
// Pure: no sockets, fed the body of /status.

#include <string>

namespace popgate::gateway::admin {

struct StatusTable {
  std::string text;          // the table, header row first, each row ending in '\n'
  bool any_failing = false;  // some account's state is "failing"
};

// The table for `status_json` (a /status body). Throws Error(Protocol) when it is not the /status
// document (not JSON, no "accounts" array).
StatusTable renderStatusTable(const std::string& status_json);

// "just now", "42s ago", "4m ago", "3h ago", "2d ago" for a time `seconds` before now; "in 30s",
// "in 4m"... for a time after it.
std::string relativeTime(long long seconds);

}  // namespace popgate::gateway::admin
