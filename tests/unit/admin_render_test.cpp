// The admin endpoint's pure renderers: /status JSON parsed back with Poco's parser, /metrics
// checked with a small Prometheus text-format (0.0.4) parser written here, and the UTF-8 repair
// both rely on.
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <map>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include "gateway/service/StatusBoard.h"
#include "tests/support/PromText.h"
#include "gateway/admin/Metrics.h"
#include "gateway/admin/StatusJson.h"
#include "connectors/common/Utf8.h"

using namespace popgate::gateway;
using namespace popgate::gateway::admin;
using namespace popgate::test;
using namespace std::chrono;
using Poco::JSON::Array;
using Poco::JSON::Object;

namespace {

// U+FFFD in UTF-8 (a function: no throwing initializer at namespace scope).
std::string fffd() {
  return "\xEF\xBF\xBD";
}

// 2024-05-01T08:00:00Z
SystemTime at(int hour, int minute = 0, int second = 0) {
  return SystemTime{sys_days{year{2024} / May / 1}} + hours{hour} + minutes{minute} +
         seconds{second};
}

double unixSeconds(SystemTime time) {
  return static_cast<double>(duration_cast<milliseconds>(time.time_since_epoch()).count()) / 1000.0;
}

AccountStatus failingAccount() {
  AccountStatus a;
  a.name = "work";
  a.target = "anna";
  a.host = "pop.work.example:995";
  a.folder = "Work";
  a.poll_interval = std::chrono::seconds(300);
  a.state = AccountState::Failing;
  a.last_start = at(9, 0, 0);
  a.last_end = at(9, 0, 2) + milliseconds{750};
  a.next_poll = at(9, 5, 0);
  a.last_error = "pop.work.example:995: login refused: \"-ERR [AUTH] bad\"\nsee \xFF log";
  a.last_error_kind = "auth";
  a.consecutive_failures = 3;
  a.polls = 5;
  a.failures = 3;
  a.uploaded = 10;
  a.recovered = 1;
  a.skipped = 40;
  a.deleted = 9;
  a.bytes = 123456789012ULL;
  a.rejected = 0;
  a.too_large = 2;
  a.in_target = 950;
  a.listed = 7;
  a.backlog = 4;
  // Durations 0.05, 0.3, 3, 3, 400 s: cumulative per bucket <= 0.1 .. 300, +Inf = 5.
  a.duration_buckets = {1, 1, 2, 2, 2, 4, 4, 4, 4, 4};
  a.duration_sum_seconds = 406.35;
  return a;
}

AccountStatus quarantineAccount() {
  AccountStatus a;
  a.name = "home.mail";
  a.target = "ben";
  a.host = "pop.home.example:110";
  a.folder = "INBOX";
  a.state = AccountState::Idle;
  a.last_start = at(8, 59, 0);
  a.last_end = at(8, 59, 1);
  a.last_success = at(8, 59, 1);
  a.next_poll = at(9, 4, 1);
  a.polls = 2;
  a.uploaded = 3;
  a.bytes = 4096;
  a.rejected = 2;
  a.listed = 5;
  a.quarantined = 2;
  a.quarantine = {{"UID-1", "target refused: [LIMIT] too big", 1, 1714554000},
                  {"UID-2", "target refused: bad \"header\"", 4, 0}};
  a.duration_buckets = {0, 0, 1, 2, 2, 2, 2, 2, 2, 2};
  a.duration_sum_seconds = 1.5;
  return a;
}

StatusSnapshot sampleSnapshot() {
  StatusSnapshot s;
  s.version = "1.2.3";
  s.started = at(8);
  s.now = at(9, 30, 15) + milliseconds{500};
  s.accounts = {failingAccount(), quarantineAccount()};
  return s;
}

// A Gmail-like target paused by the server until 10:00, half its 500 MB budget spent, with a
// backlog of 1.25 GB: through in two days at the budget (an estimate, see backlogEta()).
TargetStatus pausedTarget(const StatusSnapshot& s) {
  TargetStatus t;
  t.name = "default";
  t.host = "imap.gmail.com:993";
  t.connections = 4;
  t.capacity = 2;
  t.paused_until = static_cast<std::int64_t>(unixSeconds(at(10)));
  t.pause_reason = "Account exceeded command or bandwidth limits.";
  t.daily_limit = 500000000;
  t.used = 250000000;
  t.next_room_at = static_cast<std::int64_t>(unixSeconds(at(11)));
  t.waiting_bytes = 1250000000;
  t.backlog_eta = backlogEta(t.daily_limit, t.used, t.waiting_bytes,
                             static_cast<std::int64_t>(unixSeconds(s.now)));
  return t;
}

Object::Ptr parseJson(const std::string& text) {
  Poco::JSON::Parser parser;
  return parser.parse(text).extract<Object::Ptr>();
}

// The labels of an account's samples: the account and its target (work → anna, others → ben).
std::map<std::string, std::string> labelsOf(const std::string& account,
                                            std::map<std::string, std::string> more = {}) {
  more["account"] = account;
  more["target"] = account == "work" ? "anna" : "ben";
  return more;
}

double accountValue(const std::map<std::string, Family>& families, const std::string& name,
                    const std::string& account) {
  return value(families, name, name, labelsOf(account));
}

// Checks the histogram rules for one account and returns its +Inf count.
double checkHistogram(const Family& histogram, const std::string& account) {
  std::vector<std::pair<double, double>> buckets;  // (le, count)
  std::optional<double> sum, count;
  for (const Sample& s : histogram.samples) {
    if (s.labels.at("account") != account) continue;
    if (s.name.ends_with("_bucket")) {
      buckets.emplace_back(parseValue(s.labels.at("le")), s.value);
      BOOST_TEST(s.labels.size() == 3u);  // account, target, le
    } else if (s.name.ends_with("_sum")) {
      sum = s.value;
    } else if (s.name.ends_with("_count")) {
      count = s.value;
    }
  }
  BOOST_REQUIRE(sum.has_value());
  BOOST_REQUIRE(count.has_value());
  BOOST_REQUIRE(!buckets.empty());
  BOOST_TEST(std::isinf(buckets.back().first));
  for (std::size_t i = 1; i < buckets.size(); ++i) {
    BOOST_TEST(buckets[i].first > buckets[i - 1].first);     // bounds ascend
    BOOST_TEST(buckets[i].second >= buckets[i - 1].second);  // counts are cumulative
  }
  BOOST_TEST(buckets.back().second == *count);
  BOOST_TEST(buckets.size() == kDurationBuckets.size() + 1);
  return *count;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(status_json)

BOOST_AUTO_TEST_CASE(testStatusJsonRoundTrip) {
  const std::string json = renderStatusJson(sampleSnapshot());
  BOOST_TEST(popgate::toValidUtf8(json) == json);  // well-formed UTF-8 despite the 0xFF in the error text
  const Object::Ptr root = parseJson(json);
  BOOST_TEST(root->getValue<std::string>("version") == "1.2.3");
  BOOST_TEST(root->getValue<std::string>("started") == "2024-05-01T08:00:00Z");
  BOOST_TEST(root->getValue<std::string>("now") == "2024-05-01T09:30:15Z");
  const Array::Ptr accounts = root->getArray("accounts");
  BOOST_REQUIRE(accounts);
  BOOST_REQUIRE(accounts->size() == 2u);

  const Object::Ptr work = accounts->getObject(0);
  BOOST_TEST(work->getValue<std::string>("name") == "work");
  BOOST_TEST(work->getValue<std::string>("host") == "pop.work.example:995");
  BOOST_TEST(work->getValue<std::string>("folder") == "Work");
  BOOST_TEST(work->getValue<std::string>("state") == "failing");
  BOOST_TEST(work->getValue<std::string>("last_poll_start") == "2024-05-01T09:00:00Z");
  BOOST_TEST(work->getValue<std::string>("last_poll_end") == "2024-05-01T09:00:02Z");
  BOOST_TEST(work->isNull("last_success"));
  BOOST_TEST(work->getValue<std::string>("next_poll") == "2024-05-01T09:05:00Z");
  BOOST_TEST(work->getValue<std::string>("last_error") ==
             "pop.work.example:995: login refused: \"-ERR [AUTH] bad\"\nsee " + fffd() + " log");
  BOOST_TEST(work->getValue<std::string>("last_error_kind") == "auth");
  BOOST_TEST(work->getValue<int>("consecutive_failures") == 3);
  BOOST_TEST(work->getValue<int>("listed") == 7);
  BOOST_TEST(work->getValue<int>("quarantined") == 0);
  BOOST_TEST(work->getArray("quarantine")->size() == 0u);
  const Object::Ptr totals = work->getObject("totals");
  BOOST_REQUIRE(totals);
  BOOST_TEST(totals->getValue<int>("polls") == 5);
  BOOST_TEST(totals->getValue<int>("failures") == 3);
  BOOST_TEST(totals->getValue<int>("uploaded") == 10);
  BOOST_TEST(totals->getValue<int>("recovered") == 1);
  BOOST_TEST(totals->getValue<int>("skipped") == 40);
  BOOST_TEST(totals->getValue<int>("deleted") == 9);
  BOOST_TEST(totals->getValue<int>("in_target") == 950);
  BOOST_TEST(work->getValue<int>("not_imported") == 4);
  BOOST_TEST(totals->getValue<std::uint64_t>("bytes") == 123456789012ULL);
  BOOST_TEST(totals->getValue<int>("rejected") == 0);
  BOOST_TEST(totals->getValue<int>("too_large") == 2);
  BOOST_TEST(totals->size() == 10u);

  const Object::Ptr home = accounts->getObject(1);
  BOOST_TEST(home->getValue<std::string>("name") == "home.mail");
  BOOST_TEST(home->getValue<std::string>("state") == "idle");
  BOOST_TEST(home->getValue<std::string>("last_success") == "2024-05-01T08:59:01Z");
  BOOST_TEST(home->isNull("last_error"));
  BOOST_TEST(home->isNull("last_error_kind"));
  BOOST_TEST(home->getValue<int>("quarantined") == 2);
  const Array::Ptr quarantine = home->getArray("quarantine");
  BOOST_REQUIRE(quarantine->size() == 2u);
  const Object::Ptr first = quarantine->getObject(0);
  BOOST_TEST(first->getValue<std::string>("uidl") == "UID-1");
  BOOST_TEST(first->getValue<std::string>("reason") == "target refused: [LIMIT] too big");
  BOOST_TEST(first->getValue<int>("attempts") == 1);
  BOOST_TEST(first->getValue<std::string>("retry_at") == "2024-05-01T09:00:00Z");
  const Object::Ptr second = quarantine->getObject(1);
  BOOST_TEST(second->getValue<std::string>("reason") == "target refused: bad \"header\"");
  BOOST_TEST(second->getValue<int>("attempts") == 4);
  BOOST_TEST(second->isNull("retry_at"));  // 0 = no retry time known
}

BOOST_AUTO_TEST_CASE(testStatusJsonFieldSet) {
  // The documented fields, no more: a new board field must not reach /status by accident.
  const Object::Ptr root = parseJson(renderStatusJson(sampleSnapshot()));
  std::vector<std::string> root_keys;
  root->getNames(root_keys);
  std::sort(root_keys.begin(), root_keys.end());
  BOOST_TEST(root_keys == (std::vector<std::string>{"accounts", "now", "started", "targets", "version"}),
             boost::test_tools::per_element());
  std::vector<std::string> keys;
  root->getArray("accounts")->getObject(0)->getNames(keys);
  std::sort(keys.begin(), keys.end());
  const std::vector<std::string> expected{"consecutive_failures",
                                          "folder",
                                          "host",
                                          "last_error",
                                          "last_error_kind",
                                          "last_poll_end",
                                          "last_poll_start",
                                          "last_success",
                                          "listed",
                                          "name",
                                          "next_poll",
                                          "not_imported",
                                          "oauth",
                                          "poll_interval_seconds",
                                          "progress",
                                          "quarantine",
                                          "quarantined",
                                          "state",
                                          "target",
                                          "totals",
                                          "waiting_bytes"};
  BOOST_TEST(keys == expected, boost::test_tools::per_element());
}

// A running pass shows how far it has got: null between passes, the phase and the listing while
// it checks, then what it set out to deliver and how much of that is done.
BOOST_AUTO_TEST_CASE(testStatusJsonShowsARunningPassesProgress) {
  StatusSnapshot s = sampleSnapshot();
  BOOST_TEST(parseJson(renderStatusJson(s))->getArray("accounts")->getObject(0)->isNull("progress"));
  PassProgress p;
  p.phase = PassProgress::Phase::Checking;
  p.listed = 1204;
  s.accounts[0].progress = p;
  Object::Ptr progress =
      parseJson(renderStatusJson(s))->getArray("accounts")->getObject(0)->getObject("progress");
  BOOST_REQUIRE(progress);
  BOOST_TEST(progress->getValue<std::string>("phase") == "checking");
  BOOST_TEST(progress->getValue<std::uint64_t>("listed") == 1204u);
  BOOST_TEST(progress->isNull("total"));  // not chosen yet
  p.phase = PassProgress::Phase::Delivering;
  p.totals_known = true;
  p.total = 1204;
  p.total_bytes = 160'000'000;
  p.done = 312;
  p.done_bytes = 41'200'000;
  p.delivered = 310;
  s.accounts[0].progress = p;
  progress = parseJson(renderStatusJson(s))->getArray("accounts")->getObject(0)->getObject("progress");
  BOOST_TEST(progress->getValue<std::string>("phase") == "delivering");
  BOOST_TEST(progress->getValue<std::uint64_t>("total") == 1204u);
  BOOST_TEST(progress->getValue<std::uint64_t>("total_bytes") == 160'000'000u);
  BOOST_TEST(progress->getValue<std::uint64_t>("done") == 312u);
  BOOST_TEST(progress->getValue<std::uint64_t>("done_bytes") == 41'200'000u);
  BOOST_TEST(progress->getValue<std::uint64_t>("delivered") == 310u);
}

// The target's state at the top of /status: capacity after "too many connections", a pause with
// the server's words (shown only while it lasts), the budget with what remains and the backlog ETA.
BOOST_AUTO_TEST_CASE(testStatusJsonShowsTheTargetsPauseAndBudget) {
  StatusSnapshot s = sampleSnapshot();
  s.targets = {pausedTarget(s)};
  const Object::Ptr target = parseJson(renderStatusJson(s))->getArray("targets")->getObject(0);
  BOOST_TEST(target->getValue<std::string>("name") == "default");
  BOOST_TEST(target->getValue<std::string>("host") == "imap.gmail.com:993");
  BOOST_TEST(target->getValue<int>("connections") == 4);
  BOOST_TEST(target->getValue<int>("capacity") == 2);
  BOOST_TEST(target->getValue<std::string>("paused_until") == "2024-05-01T10:00:00Z");
  BOOST_TEST(target->getValue<std::string>("pause_reason") ==
             "Account exceeded command or bandwidth limits.");
  const Object::Ptr budget = target->getObject("upload_budget");
  BOOST_TEST(budget->getValue<std::uint64_t>("daily_limit") == 500000000u);
  BOOST_TEST(budget->getValue<std::uint64_t>("used") == 250000000u);
  BOOST_TEST(budget->getValue<std::uint64_t>("remaining") == 250000000u);
  BOOST_TEST(budget->getValue<std::string>("next_room_at") == "2024-05-01T11:00:00Z");
  BOOST_TEST(budget->getValue<std::uint64_t>("waiting_bytes") == 1250000000u);
  // 250 MB fit today; 1 GB more takes two days of 500 MB.
  BOOST_TEST(budget->getValue<std::string>("backlog_eta") == "2024-05-03T09:30:15Z");

  s.now = at(10, 0, 1);  // the pause is over: no longer shown
  s.targets[0].daily_limit = 0;  // and without a budget, no remaining and no ETA
  s.targets[0].backlog_eta = 0;
  const Object::Ptr later = parseJson(renderStatusJson(s))->getArray("targets")->getObject(0);
  BOOST_TEST(later->isNull("paused_until"));
  BOOST_TEST(later->isNull("pause_reason"));
  BOOST_TEST(later->getObject("upload_budget")->isNull("daily_limit"));
  BOOST_TEST(later->getObject("upload_budget")->isNull("remaining"));
  BOOST_TEST(later->getObject("upload_budget")->isNull("backlog_eta"));
}

BOOST_AUTO_TEST_CASE(testBacklogEta) {
  BOOST_TEST(backlogEta(0, 0, 1000, 100) == 0);        // no budget: no estimate
  BOOST_TEST(backlogEta(1000, 0, 0, 100) == 0);        // nothing waiting
  BOOST_TEST(backlogEta(1000, 400, 600, 100) == 100);  // fits in what is left: now
  BOOST_TEST(backlogEta(1000, 400, 1100, 100) == 100 + 43200);  // half a day more
  BOOST_TEST(backlogEta(1000, 5000, 1000, 100) == 100 + 86400);  // over budget: a whole day
}

BOOST_AUTO_TEST_CASE(testStatusJsonWithoutAccounts) {
  StatusSnapshot empty;
  empty.version = "0.1.0";
  empty.started = SystemTime{};
  empty.now = SystemTime{};
  const Object::Ptr root = parseJson(renderStatusJson(empty));
  BOOST_TEST(root->getArray("accounts")->size() == 0u);
  BOOST_TEST(root->getValue<std::string>("started") == "1970-01-01T00:00:00Z");
}

BOOST_AUTO_TEST_CASE(testStatusJsonControlCharactersEscaped) {
  StatusSnapshot s = sampleSnapshot();
  s.accounts[0].last_error = std::string("nul\0tab\tbell\x07", 13);
  const std::string json = renderStatusJson(s);
  BOOST_TEST(json.find('\x07') == std::string::npos);
  BOOST_TEST(json.find('\0') == std::string::npos);
  const Object::Ptr root = parseJson(json);
  BOOST_TEST(root->getArray("accounts")->getObject(0)->getValue<std::string>("last_error") ==
             std::string("nul\0tab\tbell\x07", 13));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(clock_times)

BOOST_AUTO_TEST_CASE(testRfc3339Utc) {
  BOOST_TEST(formatRfc3339Utc(SystemTime{}) == "1970-01-01T00:00:00Z");
  BOOST_TEST(formatRfc3339Utc(SystemTime{sys_days{year{2024} / February / 29}} + hours{23} +
                              minutes{59} + seconds{59} + milliseconds{999}) ==
             "2024-02-29T23:59:59Z");
  BOOST_TEST(formatRfc3339Utc(SystemTime{} - seconds{1}) == "1969-12-31T23:59:59Z");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(metrics)

BOOST_AUTO_TEST_CASE(testMetricsParseAndFamilies) {
  const auto families = parseExposition(renderMetrics(sampleSnapshot()));
  const std::map<std::string, std::string> expected_types{
      {"popgate_polls_total", "counter"},
      {"popgate_poll_failures_total", "counter"},
      {"popgate_messages_uploaded_total", "counter"},
      {"popgate_messages_recovered_total", "counter"},
      {"popgate_messages_skipped_total", "counter"},
      {"popgate_messages_deleted_total", "counter"},
      {"popgate_messages_rejected_total", "counter"},
      {"popgate_messages_too_large_total", "counter"},
      {"popgate_messages_in_target_total", "counter"},
      {"popgate_bytes_uploaded_total", "counter"},
      {"popgate_last_success_timestamp_seconds", "gauge"},
      {"popgate_last_poll_timestamp_seconds", "gauge"},
      {"popgate_next_poll_timestamp_seconds", "gauge"},
      {"popgate_poll_interval_seconds", "gauge"},
      {"popgate_account_state", "gauge"},
      {"popgate_consecutive_failures", "gauge"},
      {"popgate_messages_quarantined", "gauge"},
      {"popgate_messages_listed", "gauge"},
      {"popgate_messages_not_imported", "gauge"},
      {"popgate_up", "gauge"},
      {"popgate_start_time_seconds", "gauge"},
      {"popgate_build_info", "gauge"},
      {"popgate_poll_duration_seconds", "histogram"},
      {"popgate_oauth_refresh_failures_total", "counter"},
      {"popgate_oauth_token_expiry_timestamp_seconds", "gauge"},
      {"popgate_target_connections", "gauge"},
      {"popgate_target_connection_capacity", "gauge"},
      {"popgate_target_paused_until_timestamp_seconds", "gauge"},
      {"popgate_target_upload_budget_bytes", "gauge"},
      {"popgate_target_uploaded_24h_bytes", "gauge"},
      {"popgate_target_backlog_bytes", "gauge"},
      {"popgate_target_backlog_eta_timestamp_seconds", "gauge"},
  };
  BOOST_TEST(families.size() == expected_types.size());
  for (const auto& [name, type] : expected_types) {
    BOOST_TEST_CONTEXT(name) {
      BOOST_REQUIRE(families.count(name) == 1u);
      BOOST_TEST(families.at(name).type == type);
      BOOST_TEST(!families.at(name).help.empty());
    }
  }
  for (const auto& [name, fam] : families) {
    BOOST_TEST_CONTEXT(name) {
      BOOST_TEST(name.starts_with("popgate_"));
      BOOST_TEST((fam.type == "counter") == name.ends_with("_total"));
      for (const Sample& s : fam.samples) {
        if (s.labels.count("account") != 0) {
          const std::string& account = s.labels.at("account");
          BOOST_TEST((account == "work" || account == "home.mail"));
        }
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(testMetricsValues) {
  const StatusSnapshot snapshot = sampleSnapshot();
  const auto f = parseExposition(renderMetrics(snapshot));
  BOOST_TEST(value(f, "popgate_up", "popgate_up", {}) == 1);
  BOOST_TEST(value(f, "popgate_build_info", "popgate_build_info", {{"version", "1.2.3"}}) == 1);
  BOOST_TEST(value(f, "popgate_start_time_seconds", "popgate_start_time_seconds", {}) ==
             unixSeconds(snapshot.started));

  BOOST_TEST(accountValue(f, "popgate_polls_total", "work") == 5);
  BOOST_TEST(accountValue(f, "popgate_poll_failures_total", "work") == 3);
  BOOST_TEST(accountValue(f, "popgate_messages_uploaded_total", "work") == 10);
  BOOST_TEST(accountValue(f, "popgate_messages_recovered_total", "work") == 1);
  BOOST_TEST(accountValue(f, "popgate_messages_skipped_total", "work") == 40);
  BOOST_TEST(accountValue(f, "popgate_messages_deleted_total", "work") == 9);
  BOOST_TEST(accountValue(f, "popgate_messages_rejected_total", "home.mail") == 2);
  BOOST_TEST(accountValue(f, "popgate_messages_too_large_total", "work") == 2);
  BOOST_TEST(accountValue(f, "popgate_bytes_uploaded_total", "work") == 123456789012.0);
  BOOST_TEST(accountValue(f, "popgate_consecutive_failures", "work") == 3);
  BOOST_TEST(accountValue(f, "popgate_messages_quarantined", "home.mail") == 2);
  BOOST_TEST(accountValue(f, "popgate_messages_listed", "work") == 7);
  BOOST_TEST(accountValue(f, "popgate_messages_in_target_total", "work") == 950);
  BOOST_TEST(accountValue(f, "popgate_messages_not_imported", "work") == 4);
  BOOST_TEST(accountValue(f, "popgate_messages_listed", "home.mail") == 5);

  // Timestamps: Unix seconds (millisecond resolution); 0 when it never happened.
  BOOST_TEST(accountValue(f, "popgate_last_success_timestamp_seconds", "work") == 0);
  BOOST_TEST(accountValue(f, "popgate_last_success_timestamp_seconds", "home.mail") ==
             unixSeconds(at(8, 59, 1)));
  BOOST_TEST(accountValue(f, "popgate_last_poll_timestamp_seconds", "work") ==
             unixSeconds(at(9, 0, 2) + milliseconds{750}));
  BOOST_TEST(accountValue(f, "popgate_poll_interval_seconds", "work") == 300.0);
  BOOST_TEST(accountValue(f, "popgate_next_poll_timestamp_seconds", "work") ==
             unixSeconds(at(9, 5, 0)));
}

BOOST_AUTO_TEST_CASE(testMetricsTargetBudgetAndPause) {
  StatusSnapshot s = sampleSnapshot();
  s.targets = {pausedTarget(s)};
  const auto f = parseExposition(renderMetrics(s));
  const auto target = [&](const std::string& name) {
    return value(f, name, name, {{"target", "default"}});
  };
  BOOST_TEST(target("popgate_target_upload_budget_bytes") == 500000000);
  BOOST_TEST(target("popgate_target_uploaded_24h_bytes") == 250000000);
  BOOST_TEST(target("popgate_target_backlog_bytes") == 1250000000);
  BOOST_TEST(target("popgate_target_backlog_eta_timestamp_seconds") ==
             static_cast<double>(s.targets[0].backlog_eta));
  BOOST_TEST(target("popgate_target_paused_until_timestamp_seconds") == unixSeconds(at(10)));
  BOOST_TEST(target("popgate_target_connections") == 4);
  BOOST_TEST(target("popgate_target_connection_capacity") == 2);
}

BOOST_AUTO_TEST_CASE(testMetricsAccountStateEnum) {
  const auto f = parseExposition(renderMetrics(sampleSnapshot()));
  const Family& states = family(f, "popgate_account_state");
  BOOST_TEST(states.samples.size() == 8u);  // 4 states x 2 accounts
  for (const std::string account : {"work", "home.mail"}) {
    double ones = 0;
    for (const std::string state : {"idle", "polling", "backoff", "failing"}) {
      ones += value(f, "popgate_account_state", "popgate_account_state",
                    labelsOf(account, {{"state", state}}));
    }
    BOOST_TEST(ones == 1);
  }
  BOOST_TEST(value(f, "popgate_account_state", "popgate_account_state",
                   labelsOf("work", {{"state", "failing"}})) == 1);
  BOOST_TEST(value(f, "popgate_account_state", "popgate_account_state",
                   labelsOf("home.mail", {{"state", "idle"}})) == 1);
}

BOOST_AUTO_TEST_CASE(testMetricsHistogram) {
  const auto f = parseExposition(renderMetrics(sampleSnapshot()));
  const Family& histogram = family(f, "popgate_poll_duration_seconds");
  BOOST_TEST(checkHistogram(histogram, "work") == 5);
  BOOST_TEST(checkHistogram(histogram, "home.mail") == 2);
  BOOST_TEST(value(f, "popgate_poll_duration_seconds", "popgate_poll_duration_seconds_sum",
                   labelsOf("work")) == 406.35);
  BOOST_TEST(value(f, "popgate_poll_duration_seconds", "popgate_poll_duration_seconds_bucket",
                   labelsOf("work", {{"le", "0.5"}})) == 2);
  BOOST_TEST(value(f, "popgate_poll_duration_seconds", "popgate_poll_duration_seconds_bucket",
                   labelsOf("work", {{"le", "300"}})) == 4);
}

BOOST_AUTO_TEST_CASE(testMetricsHistogramStaysValidOnInconsistentSnapshot) {
  // A bucket above polls or a dip must not produce an invalid histogram.
  StatusSnapshot s = sampleSnapshot();
  s.accounts[0].duration_buckets = {3, 1, 2, 2, 2, 9, 4, 4, 4, 4};
  s.accounts[0].polls = 5;
  const auto f = parseExposition(renderMetrics(s));
  BOOST_TEST(checkHistogram(family(f, "popgate_poll_duration_seconds"), "work") == 9);
}

BOOST_AUTO_TEST_CASE(testMetricsLabelEscaping) {
  StatusSnapshot s = sampleSnapshot();
  s.version = "1.0 \"beta\"\\x\nnext";
  s.accounts[1].name = "we\"ird\\na\nme\xFF";
  const std::string text = renderMetrics(s);
  BOOST_TEST(text.find("version=\"1.0 \\\"beta\\\"\\\\x\\nnext\"") != std::string::npos);
  const auto f = parseExposition(text);
  BOOST_TEST(value(f, "popgate_build_info", "popgate_build_info",
                   {{"version", "1.0 \"beta\"\\x\nnext"}}) == 1);
  BOOST_TEST(accountValue(f, "popgate_polls_total", "we\"ird\\na\nme" + fffd()) == 2);
  BOOST_TEST(popgate::toValidUtf8(text) == text);
}

// A family's two central mailboxes: anna's paused with a budget, ben's idle without one.
std::vector<TargetStatus> familyTargets(const StatusSnapshot& s) {
  TargetStatus anna = pausedTarget(s);
  anna.name = "anna";
  TargetStatus ben;
  ben.name = "ben";
  ben.host = "imap.fastmail.com:993";
  ben.connections = 1;
  ben.capacity = 1;
  ben.used = 4096;
  return {anna, ben};
}

BOOST_AUTO_TEST_CASE(testStatusJsonTargetPerAccountAndPerTargetState) {
  StatusSnapshot s = sampleSnapshot();
  s.targets = familyTargets(s);
  const Object::Ptr root = parseJson(renderStatusJson(s));
  BOOST_TEST(root->getArray("accounts")->getObject(0)->getValue<std::string>("target") == "anna");
  BOOST_TEST(root->getArray("accounts")->getObject(1)->getValue<std::string>("target") == "ben");
  const Array::Ptr targets = root->getArray("targets");
  BOOST_REQUIRE(targets->size() == 2u);
  BOOST_TEST(targets->getObject(0)->getValue<std::string>("name") == "anna");
  BOOST_TEST(targets->getObject(0)->getValue<std::string>("paused_until") == "2024-05-01T10:00:00Z");
  const Object::Ptr ben = targets->getObject(1);
  BOOST_TEST(ben->getValue<std::string>("name") == "ben");
  BOOST_TEST(ben->isNull("paused_until"));  // anna's pause is anna's alone
  BOOST_TEST(ben->getObject("upload_budget")->isNull("daily_limit"));
  BOOST_TEST(ben->getObject("upload_budget")->getValue<std::uint64_t>("used") == 4096u);
}

BOOST_AUTO_TEST_CASE(testMetricsEveryAccountSampleNamesItsTarget) {
  StatusSnapshot s = sampleSnapshot();
  s.targets = familyTargets(s);
  const auto f = parseExposition(renderMetrics(s));
  for (const auto& [name, fam] : f) {
    for (const Sample& sample : fam.samples) {
      if (sample.labels.count("account") == 0) continue;
      BOOST_TEST_CONTEXT(sample.name) {
        BOOST_TEST(sample.labels.at("target") ==
                   (sample.labels.at("account") == "work" ? "anna" : "ben"));
      }
    }
  }
  BOOST_TEST(value(f, "popgate_target_paused_until_timestamp_seconds",
                   "popgate_target_paused_until_timestamp_seconds", {{"target", "ben"}}) == 0);
  BOOST_TEST(value(f, "popgate_target_paused_until_timestamp_seconds",
                   "popgate_target_paused_until_timestamp_seconds", {{"target", "anna"}}) > 0);
  BOOST_TEST(value(f, "popgate_target_connections", "popgate_target_connections",
                   {{"target", "ben"}}) == 1);
  BOOST_TEST(value(f, "popgate_target_uploaded_24h_bytes", "popgate_target_uploaded_24h_bytes",
                   {{"target", "ben"}}) == 4096);
}

BOOST_AUTO_TEST_CASE(testMetricsWithoutAccounts) {
  StatusSnapshot empty;
  empty.version = "0.1.0";
  const auto f = parseExposition(renderMetrics(empty));
  BOOST_TEST(family(f, "popgate_polls_total").samples.empty());
  BOOST_TEST(family(f, "popgate_poll_duration_seconds").samples.empty());
  BOOST_TEST(value(f, "popgate_up", "popgate_up", {}) == 1);
}

BOOST_AUTO_TEST_CASE(testMetricsContentType) {
  BOOST_TEST(std::string(kMetricsContentType) == "text/plain; version=0.0.4; charset=utf-8");
}

BOOST_AUTO_TEST_CASE(testExpositionParserRejectsBadInput) {
  // The checker itself must catch what it is meant to catch.
  BOOST_CHECK_THROW(parseExposition("popgate_x 1\n"), std::runtime_error);  // no HELP/TYPE
  BOOST_CHECK_THROW(parseExposition("# HELP a x\n# TYPE a gauge\na{l=\"v} 1\n"),
                    std::runtime_error);
  BOOST_CHECK_THROW(parseExposition("# HELP a x\n# TYPE a gauge\na{l=\"\\t\"} 1\n"),
                    std::runtime_error);
  BOOST_CHECK_THROW(
      parseExposition("# HELP a x\n# TYPE a gauge\na 1\n# HELP b x\n# TYPE b gauge\nb 1\na 2\n"),
      std::runtime_error);
  BOOST_CHECK_THROW(parseExposition("# HELP a x\n# TYPE a gauge\na one\n"), std::runtime_error);
  BOOST_CHECK_NO_THROW(parseExposition("# HELP a x\n# TYPE a gauge\na{l=\"\\\"\\n\\\\\"} 1\n"));
}

BOOST_AUTO_TEST_SUITE_END()

// Three replicas share the ledger; this one ("pod-b", a quote in its id to test the escaping)
// holds work's lease, pod-a holds home.mail's, and a lease row of an account no longer in the
// config is left out.
namespace {

ClusterStatus threeReplicas(const StatusSnapshot& s) {
  const auto now = static_cast<std::int64_t>(unixSeconds(s.now));
  ClusterStatus c;
  c.replica = "pod-b \"7\"";
  c.replicas = {"pod-a", "pod-b \"7\"", "pod-c"};
  c.leases = {{"gone", "pod-c", 9, now + 20},
              {"home.mail", "pod-a", 4, now + 25},
              {"work", "pod-b \"7\"", 2, now + 18}};
  return c;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(cluster_metrics)

BOOST_AUTO_TEST_CASE(testMetricsShowWhichAccountsThisReplicaHoldsAndUntilWhen) {
  StatusSnapshot s = sampleSnapshot();
  s.cluster = threeReplicas(s);
  const std::string text = renderMetrics(s);
  BOOST_TEST(text.find("replica=\"pod-b \\\"7\\\"\"") != std::string::npos);
  const auto f = parseExposition(text);
  const auto now = static_cast<std::int64_t>(unixSeconds(s.now));
  BOOST_TEST(value(f, "popgate_cluster_replicas", "popgate_cluster_replicas", {}) == 3);
  BOOST_TEST(value(f, "popgate_lease_held", "popgate_lease_held",
                   labelsOf("work", {{"replica", "pod-b \"7\""}})) == 1);
  BOOST_TEST(value(f, "popgate_lease_held", "popgate_lease_held",
                   labelsOf("home.mail", {{"replica", "pod-b \"7\""}})) == 0);
  BOOST_TEST(accountValue(f, "popgate_lease_expiry_timestamp_seconds", "work") ==
             static_cast<double>(now + 18));
  BOOST_TEST(accountValue(f, "popgate_lease_expiry_timestamp_seconds", "home.mail") ==
             static_cast<double>(now + 25));
  BOOST_TEST(accountValue(f, "popgate_lease_epoch", "work") == 2);
  BOOST_TEST(accountValue(f, "popgate_lease_epoch", "home.mail") == 4);
  for (const char* name : {"popgate_lease_held", "popgate_lease_expiry_timestamp_seconds",
                           "popgate_lease_epoch"}) {
    BOOST_TEST_CONTEXT(name) {
      const Family& fam = family(f, name);
      BOOST_TEST(fam.type == "gauge");
      BOOST_TEST(fam.samples.size() == 2u);  // the configured accounts only: not "gone"
    }
  }
}

BOOST_AUTO_TEST_CASE(testMetricsLeaseExpiredOrMissingIsNotHeld) {
  StatusSnapshot s = sampleSnapshot();
  s.cluster = threeReplicas(s);
  const auto now = static_cast<std::int64_t>(unixSeconds(s.now));
  s.cluster->leases = {{"work", s.cluster->replica, 3, now - 1}};  // lapsed: a paused replica's
  const auto f = parseExposition(renderMetrics(s));
  BOOST_TEST(value(f, "popgate_lease_held", "popgate_lease_held",
                   labelsOf("work", {{"replica", "pod-b \"7\""}})) == 0);
  BOOST_TEST(value(f, "popgate_lease_held", "popgate_lease_held",
                   labelsOf("home.mail", {{"replica", "pod-b \"7\""}})) == 0);
  BOOST_TEST(accountValue(f, "popgate_lease_expiry_timestamp_seconds", "home.mail") == 0);
  BOOST_TEST(accountValue(f, "popgate_lease_epoch", "home.mail") == 0);
}

BOOST_AUTO_TEST_CASE(testMetricsOfASingleProcessHaveNoClusterFamilies) {
  const auto f = parseExposition(renderMetrics(sampleSnapshot()));
  for (const char* name : {"popgate_cluster_replicas", "popgate_lease_held",
                           "popgate_lease_expiry_timestamp_seconds", "popgate_lease_epoch"}) {
    BOOST_TEST_CONTEXT(name) { BOOST_TEST(f.count(name) == 0u); }
  }
}

BOOST_AUTO_TEST_SUITE_END()
