// What a person sees of the daemon without curl and jq: `popgate status`'s table (times relative
// to the daemon's clock, a failing account flagged for the exit code, the server's words on one
// line, garbage refused), and the status page GET / (public, no secret in it, served with a
// Content-Security-Policy whose hashes are exactly those of its inline script and style).
#include <boost/test/unit_test.hpp>

#include <string>

#include <Poco/Net/HTTPRequest.h>

#include "connectors/codec/Sasl.h"
#include "connectors/common/Error.h"
#include "gateway/admin/AdminRouter.h"
#include "gateway/admin/StatusPage.h"
#include "gateway/admin/StatusTable.h"
#include "gateway/service/StatusBoard.h"

using namespace popgate;
using namespace popgate::gateway;
using namespace popgate::gateway::admin;

namespace {

const std::string kStatus = R"({"version":"1.0","started":"2026-12-04T10:00:00Z",
 "now":"2026-12-04T12:00:00Z","accounts":[
 {"name":"work","host":"pop.example.com:995","folder":"Work","state":"idle",
  "last_success":"2026-12-04T11:56:00Z","next_poll":"2026-12-04T12:00:30Z","last_error":null,
  "last_error_kind":null,"quarantined":0},
 {"name":"locked","host":"pop.example.net:995","folder":"Locked","state":"failing",
  "last_success":null,"next_poll":"2026-12-04T12:10:00Z",
  "last_error":"login refused:\n-ERR [AUTH] Authentication failed.","last_error_kind":"auth",
  "quarantined":2}]})";

// Poco's request with a Host header naming the endpoint and, when given, a bearer token.
Poco::Net::HTTPRequest get(const std::string& path, const std::string& token = {}) {
  Poco::Net::HTTPRequest request(Poco::Net::HTTPRequest::HTTP_GET, path,
                                 Poco::Net::HTTPMessage::HTTP_1_1);
  request.setHost("127.0.0.1", 8025);
  if (!token.empty()) request.set("Authorization", "Bearer " + token);
  return request;
}

std::string header(const HttpReply& reply, const std::string& name) {
  for (const auto& [key, value] : reply.headers) {
    if (key == name) return value;
  }
  return {};
}

}  // namespace

BOOST_AUTO_TEST_CASE(testTableShowsEveryAccountWithRelativeTimesAndFlagsTheFailingOne) {
  const StatusTable table = renderStatusTable(kStatus);
  BOOST_TEST(table.any_failing);
  BOOST_TEST_INFO(table.text);
  BOOST_TEST(table.text.starts_with("ACCOUNT  STATE    LAST SUCCESS  NEXT POLL  QUARANTINED  LAST ERROR\n"));
  BOOST_TEST(table.text.find("work     idle     4m ago        in 30s     0            -\n") !=
             std::string::npos);
  BOOST_TEST(table.text.find("locked   failing  never         in 10m     2            auth: login "
                             "refused: -ERR [AUTH] Authentication failed.\n") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(testTableOfHealthyAccountsIsNotFailing) {
  const StatusTable table = renderStatusTable(
      R"({"now":"2026-12-04T12:00:00Z","accounts":[{"name":"a","state":"polling"}]})");
  BOOST_TEST(!table.any_failing);
  BOOST_TEST(table.text.find("a        polling  never") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(testTableRefusesWhatIsNotAStatusDocument) {
  for (const char* bad : {"", "not json", "[1,2]", R"({"accounts":3})", R"({"version":"1"})"}) {
    BOOST_CHECK_THROW(renderStatusTable(bad), popgate::Error);
  }
}

BOOST_AUTO_TEST_CASE(testRelativeTimes) {
  BOOST_TEST(relativeTime(0) == "just now");
  BOOST_TEST(relativeTime(42) == "42s ago");
  BOOST_TEST(relativeTime(-30) == "in 30s");
  BOOST_TEST(relativeTime(4 * 60 + 5) == "4m ago");
  BOOST_TEST(relativeTime(3 * 3600) == "3h ago");
  BOOST_TEST(relativeTime(-3 * 86400) == "in 3d");
}

BOOST_AUTO_TEST_CASE(testPageIsPublicButStatusStillNeedsTheToken) {
  AdminSettings settings;
  settings.token = Secret("page-test-token-0123456789");
  StatusBoard board("test");
  AdminRouter router(settings, board, [](const std::string&) { return PollRequest::Accepted; });

  const HttpReply page = router.handle(get("/"));
  BOOST_TEST(page.status == 200);
  BOOST_TEST(page.content_type == "text/html; charset=utf-8");
  BOOST_TEST(page.body == statusPageHtml());
  BOOST_TEST(page.body.find("page-test-token") == std::string::npos);
  BOOST_TEST(header(page, "Content-Security-Policy") == statusPagePolicy());
  BOOST_TEST(header(page, "X-Frame-Options") == "DENY");
  BOOST_TEST(header(page, "Cache-Control") == "no-store");
  BOOST_TEST(router.handle(get("/status")).status == 401);
  BOOST_TEST(router.handle(get("/status", "page-test-token-0123456789")).status == 200);
  BOOST_TEST(router.handle(get("/index.html")).status == 401);  // only / is public

  Poco::Net::HTTPRequest post(Poco::Net::HTTPRequest::HTTP_POST, "/", Poco::Net::HTTPMessage::HTTP_1_1);
  post.setHost("127.0.0.1", 8025);
  BOOST_TEST(router.handle(post).status == 405);
}

BOOST_AUTO_TEST_CASE(testPolicyAllowsOnlyTheInlineScriptAndStyleOfThePage) {
  const std::string& policy = statusPagePolicy();
  BOOST_TEST(policy.starts_with("default-src 'none'; script-src 'sha256-"));
  for (const char* loose : {"unsafe-inline", "unsafe-eval", "http:", "https:", "*"}) {
    BOOST_TEST(policy.find(loose) == std::string::npos, loose);
  }
  // Each hash is 32 bytes of base64; the page has exactly one <script> and one <style>, no
  // external source and no inline handler attribute (which the policy would block).
  const std::string& html = statusPageHtml();
  for (const char* once : {"<script>", "<style>"}) {
    const auto first = html.find(once);
    BOOST_TEST((first != std::string::npos && html.find(once, first + 1) == std::string::npos), once);
  }
  for (const char* banned : {"src=\"http", "href=\"http", "onclick=", "onload=", "style=\"", "<script src"}) {
    BOOST_TEST(html.find(banned) == std::string::npos, banned);
  }
  const auto start = policy.find("'sha256-") + 8;
  const auto digest = popgate::codec::base64Decode(policy.substr(start, policy.find('\'', start) - start));
  BOOST_TEST((digest && digest->size() == 32u));
}
