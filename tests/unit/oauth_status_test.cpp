// OAuth in /status and /metrics: whether a login uses OAuth, when its access token expires, the
// last rotation, failed refreshes; the StatusBoard keeping them across a reload; never a token.
#include <boost/test/unit_test.hpp>

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include "gateway/service/StatusBoard.h"
#include "gateway/admin/Metrics.h"
#include "gateway/admin/StatusJson.h"
#include "tests/support/PromText.h"

using namespace popgate::gateway;
using namespace popgate::gateway::admin;
using namespace std::chrono;
using Poco::JSON::Object;

namespace {

const SystemTime kExpires = SystemTime{sys_days{year{2026} / December / 1}} + hours{10};
const SystemTime kRotated = SystemTime{sys_days{year{2026} / December / 1}} + hours{9};

// Fills `board` with accounts work (xoauth2) and isp (password) and an OAuth target, which the
// target probe (the daemon's pool) names "target" (the one `target:`).
void fillWithOAuth(StatusBoard& board) {
  AccountStatus work, isp;
  work.name = "work";
  isp.name = "isp";
  board.setAccounts({work, isp});
  board.setTargetProbe([] {
    TargetStatus target;
    target.name = "target";
    target.host = "imap.gmail.com:993";
    return std::vector<TargetStatus>{target};
  });
  board.setOAuthLogins({{"account-work", "xoauth2"}, {"target", "oauthbearer"}});
  OAuthStatus status;
  status.access_token_expires = kExpires;
  status.last_refresh = kRotated;
  status.refresh_token_rotated = kRotated;
  status.refresh_failures = 2;
  board.oauthChanged("account-work", status);
  board.oauthChanged("account-isp", status);  // not declared: ignored
  OAuthStatus target;
  target.refresh_failures = 1;
  board.oauthChanged("target", target);
}

Object::Ptr parse(const std::string& json) {
  Poco::JSON::Parser parser;
  return parser.parse(json).extract<Object::Ptr>();
}

}  // namespace

BOOST_AUTO_TEST_CASE(testStatusShowsOAuthPerAccountAndTarget) {
  StatusBoard board("0.1.0");
  fillWithOAuth(board);
  const Object::Ptr root = parse(renderStatusJson(board.snapshot()));
  const auto accounts = root->getArray("accounts");
  const Object::Ptr work = accounts->getObject(0)->getObject("oauth");
  BOOST_REQUIRE(work);
  BOOST_TEST(work->getValue<std::string>("mechanism") == "xoauth2");
  BOOST_TEST(work->getValue<std::string>("access_token_expires") == "2026-12-01T10:00:00Z");
  BOOST_TEST(work->getValue<std::string>("refresh_token_rotated") == "2026-12-01T09:00:00Z");
  BOOST_TEST(work->getValue<std::string>("last_refresh") == "2026-12-01T09:00:00Z");
  BOOST_TEST(work->getValue<int>("refresh_failures") == 2);
  BOOST_TEST(accounts->getObject(1)->isNull("oauth"));  // isp logs in with a password
  const Object::Ptr target = root->getArray("targets")->getObject(0);
  BOOST_TEST(target->getValue<std::string>("name") == "target");
  BOOST_TEST(target->getValue<std::string>("host") == "imap.gmail.com:993");
  const Object::Ptr target_oauth = target->getObject("oauth");
  BOOST_TEST(target_oauth->getValue<std::string>("mechanism") == "oauthbearer");
  BOOST_TEST(target_oauth->isNull("access_token_expires"));
  BOOST_TEST(target_oauth->getValue<int>("refresh_failures") == 1);
}

BOOST_AUTO_TEST_CASE(testMetricsForOAuthLogins) {
  StatusBoard board("0.1.0");
  fillWithOAuth(board);
  const auto families = popgate::test::parseExposition(renderMetrics(board.snapshot()));
  const auto& failures = popgate::test::family(families, "popgate_oauth_refresh_failures_total");
  BOOST_TEST(failures.type == "counter");
  BOOST_TEST(failures.samples.size() == 2u);  // work and the target; isp uses no OAuth
  BOOST_TEST(popgate::test::value(families, "popgate_oauth_refresh_failures_total",
                                  "popgate_oauth_refresh_failures_total", {{"account", "work"}}) == 2);
  BOOST_TEST(popgate::test::value(families, "popgate_oauth_refresh_failures_total",
                                  "popgate_oauth_refresh_failures_total", {{"target", "target"}}) == 1);
  const double expiry = popgate::test::value(families, "popgate_oauth_token_expiry_timestamp_seconds",
                                             "popgate_oauth_token_expiry_timestamp_seconds",
                                             {{"account", "work"}});
  BOOST_TEST(expiry == static_cast<double>(duration_cast<seconds>(kExpires.time_since_epoch()).count()));
  BOOST_TEST(popgate::test::value(families, "popgate_oauth_token_expiry_timestamp_seconds",
                                  "popgate_oauth_token_expiry_timestamp_seconds",
                                  {{"target", "target"}}) == 0);
}

BOOST_AUTO_TEST_CASE(testReloadKeepsWhatIsKnownAndDropsRemovedLogins) {
  StatusBoard board("0.1.0");
  fillWithOAuth(board);
  board.setOAuthLogins({{"account-work", "oauthbearer"}});
  const StatusSnapshot snapshot = board.snapshot();
  BOOST_TEST(snapshot.accounts[0].oauth.mechanism == "oauthbearer");
  BOOST_TEST(snapshot.accounts[0].oauth.refresh_failures == 2u);
  BOOST_TEST((snapshot.accounts[0].oauth.access_token_expires == kExpires));
  BOOST_REQUIRE(snapshot.targets.size() == 1u);
  BOOST_TEST(snapshot.targets[0].oauth.mechanism.empty());
  const Object::Ptr root = parse(renderStatusJson(snapshot));
  BOOST_TEST(root->getArray("targets")->getObject(0)->isNull("oauth"));
}
