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
  a.host = "pop.work.example:995";
  a.folder = "Work";
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
  a.listed = 7;
  // Durations 0.05, 0.3, 3, 3, 400 s: cumulative per bucket <= 0.1 .. 300, +Inf = 5.
  a.duration_buckets = {1, 1, 2, 2, 2, 4, 4, 4, 4, 4};
  a.duration_sum_seconds = 406.35;
  return a;
}

AccountStatus quarantineAccount() {
  AccountStatus a;
  a.name = "home.mail";
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

Object::Ptr parseJson(const std::string& text) {
  Poco::JSON::Parser parser;
  return parser.parse(text).extract<Object::Ptr>();
}

double accountValue(const std::map<std::string, Family>& families, const std::string& name,
                    const std::string& account) {
  return value(families, name, name, {{"account", account}});
}

// Checks the histogram rules for one account and returns its +Inf count.
double checkHistogram(const Family& histogram, const std::string& account) {
  std::vector<std::pair<double, double>> buckets;  // (le, count)
  std::optional<double> sum, count;
  for (const Sample& s : histogram.samples) {
    if (s.labels.at("account") != account) continue;
    if (s.name.ends_with("_bucket")) {
      buckets.emplace_back(parseValue(s.labels.at("le")), s.value);
      BOOST_TEST(s.labels.size() == 2u);
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
  BOOST_TEST(totals->getValue<std::uint64_t>("bytes") == 123456789012ULL);
  BOOST_TEST(totals->getValue<int>("rejected") == 0);
  BOOST_TEST(totals->getValue<int>("too_large") == 2);
  BOOST_TEST(totals->size() == 9u);

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
  BOOST_TEST(root_keys == (std::vector<std::string>{"accounts", "now", "started", "version"}),
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
                                          "quarantine",
                                          "quarantined",
                                          "state",
                                          "totals"};
  BOOST_TEST(keys == expected, boost::test_tools::per_element());
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
      {"popgate_bytes_uploaded_total", "counter"},
      {"popgate_last_success_timestamp_seconds", "gauge"},
      {"popgate_last_poll_timestamp_seconds", "gauge"},
      {"popgate_next_poll_timestamp_seconds", "gauge"},
      {"popgate_account_state", "gauge"},
      {"popgate_consecutive_failures", "gauge"},
      {"popgate_messages_quarantined", "gauge"},
      {"popgate_messages_listed", "gauge"},
      {"popgate_up", "gauge"},
      {"popgate_start_time_seconds", "gauge"},
      {"popgate_build_info", "gauge"},
      {"popgate_poll_duration_seconds", "histogram"},
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
  BOOST_TEST(accountValue(f, "popgate_messages_listed", "home.mail") == 5);

  // Timestamps: Unix seconds (millisecond resolution); 0 when it never happened.
  BOOST_TEST(accountValue(f, "popgate_last_success_timestamp_seconds", "work") == 0);
  BOOST_TEST(accountValue(f, "popgate_last_success_timestamp_seconds", "home.mail") ==
             unixSeconds(at(8, 59, 1)));
  BOOST_TEST(accountValue(f, "popgate_last_poll_timestamp_seconds", "work") ==
             unixSeconds(at(9, 0, 2) + milliseconds{750}));
  BOOST_TEST(accountValue(f, "popgate_next_poll_timestamp_seconds", "work") ==
             unixSeconds(at(9, 5, 0)));
}

BOOST_AUTO_TEST_CASE(testMetricsAccountStateEnum) {
  const auto f = parseExposition(renderMetrics(sampleSnapshot()));
  const Family& states = family(f, "popgate_account_state");
  BOOST_TEST(states.samples.size() == 8u);  // 4 states x 2 accounts
  for (const std::string account : {"work", "home.mail"}) {
    double ones = 0;
    for (const std::string state : {"idle", "polling", "backoff", "failing"}) {
      ones += value(f, "popgate_account_state", "popgate_account_state",
                    {{"account", account}, {"state", state}});
    }
    BOOST_TEST(ones == 1);
  }
  BOOST_TEST(value(f, "popgate_account_state", "popgate_account_state",
                   {{"account", "work"}, {"state", "failing"}}) == 1);
  BOOST_TEST(value(f, "popgate_account_state", "popgate_account_state",
                   {{"account", "home.mail"}, {"state", "idle"}}) == 1);
}

BOOST_AUTO_TEST_CASE(testMetricsHistogram) {
  const auto f = parseExposition(renderMetrics(sampleSnapshot()));
  const Family& histogram = family(f, "popgate_poll_duration_seconds");
  BOOST_TEST(checkHistogram(histogram, "work") == 5);
  BOOST_TEST(checkHistogram(histogram, "home.mail") == 2);
  BOOST_TEST(value(f, "popgate_poll_duration_seconds", "popgate_poll_duration_seconds_sum",
                   {{"account", "work"}}) == 406.35);
  BOOST_TEST(value(f, "popgate_poll_duration_seconds", "popgate_poll_duration_seconds_bucket",
                   {{"account", "work"}, {"le", "0.5"}}) == 2);
  BOOST_TEST(value(f, "popgate_poll_duration_seconds", "popgate_poll_duration_seconds_bucket",
                   {{"account", "work"}, {"le", "300"}}) == 4);
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
