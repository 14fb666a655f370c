#include "StatusTable.h"

#include <algorithm>
#include <array>
#include <ctime>
#include <iomanip>
#include <optional>
#include <sstream>
#include <vector>

#include <Poco/Exception.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include "connectors/common/Error.h"

namespace popgate::gateway::admin {
namespace {

using Poco::JSON::Object;

constexpr std::size_t kColumns = 6;
using Row = std::array<std::string, kColumns>;

std::string textOf(const Object::Ptr& object, const std::string& key, const std::string& none) {
  if (!object->has(key) || object->isNull(key)) return none;
  return object->getValue<std::string>(key);
}

// Seconds since the epoch of an RFC 3339 UTC time as /status writes it ("2026-12-04T23:55:57Z");
// nullopt for anything else.
std::optional<long long> epochOf(const std::string& text) {
  std::tm tm{};
  std::istringstream in(text);
  in >> std::get_time(&tm, "%Y-%m-%dT%H:%M:%SZ");
  if (in.fail()) return std::nullopt;
  return static_cast<long long>(timegm(&tm));
}

// A time of the document relative to its "now"; `none` when absent or unreadable.
std::string whenOf(const Object::Ptr& account, const std::string& key,
                   std::optional<long long> now, const std::string& none) {
  const std::string text = textOf(account, key, "");
  const auto at = epochOf(text);
  if (!at || !now) return text.empty() ? none : text;
  return relativeTime(*now - *at);
}

// One line: newlines and tabs of a server's words become spaces.
std::string oneLine(std::string text) {
  std::replace_if(text.begin(), text.end(), [](char c) { return c == '\n' || c == '\r' || c == '\t'; },
                  ' ');
  return text;
}

// Display width: UTF-8 continuation bytes take no column.
std::size_t widthOf(const std::string& text) {
  return static_cast<std::size_t>(std::count_if(
      text.begin(), text.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }));
}

}  // namespace

std::string relativeTime(long long seconds) {
  const bool future = seconds < 0;
  const long long span = future ? -seconds : seconds;
  if (span < 2) return "just now";
  std::string amount;
  if (span < 120) {
    amount = std::to_string(span) + "s";
  } else if (span < 2 * 3600) {
    amount = std::to_string(span / 60) + "m";
  } else if (span < 2 * 86400) {
    amount = std::to_string(span / 3600) + "h";
  } else {
    amount = std::to_string(span / 86400) + "d";
  }
  return future ? "in " + amount : amount + " ago";
}

StatusTable renderStatusTable(const std::string& status_json) {
  Object::Ptr root;
  try {
    root = Poco::JSON::Parser().parse(status_json).extract<Object::Ptr>();
  } catch (const Poco::BadCastException&) {
    throw Error(ErrorKind::Protocol, "the daemon's /status is not a JSON object");
  } catch (const Poco::Exception& e) {
    throw Error(ErrorKind::Protocol, "the daemon's /status is not JSON: " + e.displayText());
  }
  if (root.isNull() || !root->isArray("accounts")) {
    throw Error(ErrorKind::Protocol, "the daemon's /status has no \"accounts\" list");
  }
  const std::optional<long long> now = epochOf(textOf(root, "now", ""));
  std::vector<Row> rows{{"ACCOUNT", "STATE", "LAST SUCCESS", "NEXT POLL", "QUARANTINED",
                         "LAST ERROR"}};
  StatusTable table;
  const auto accounts = root->getArray("accounts");
  for (std::size_t i = 0; i < accounts->size(); ++i) {
    const Object::Ptr account = accounts->getObject(static_cast<unsigned>(i));
    if (account.isNull()) continue;
    const std::string state = textOf(account, "state", "?");
    if (state == "failing") table.any_failing = true;
    std::string error = oneLine(textOf(account, "last_error", "-"));
    const std::string kind = textOf(account, "last_error_kind", "");
    if (!kind.empty() && error != "-") error = kind + ": " + error;
    const std::string quarantined =
        account->has("quarantined") ? account->get("quarantined").toString() : "0";
    rows.push_back(Row{textOf(account, "name", "?"), state,
                       whenOf(account, "last_success", now, "never"),
                       whenOf(account, "next_poll", now, "-"), quarantined, error});
  }
  std::array<std::size_t, kColumns> widths{};
  for (const Row& row : rows) {
    for (std::size_t c = 0; c < kColumns; ++c) widths[c] = std::max(widths[c], widthOf(row[c]));
  }
  std::ostringstream out;
  for (const Row& row : rows) {
    for (std::size_t c = 0; c + 1 < kColumns; ++c) {
      out << row[c] << std::string(widths[c] - widthOf(row[c]) + 2, ' ');
    }
    out << row[kColumns - 1] << '\n';
  }
  table.text = out.str();
  return table;
}

}  // namespace popgate::gateway::admin
