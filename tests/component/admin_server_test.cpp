// The admin endpoint on loopback: every route and status code, bearer-token checks (before
// routing, constant-time compare), poll-now with percent-decoded names, exact binding (a port in
// use is a configuration error), a stop() that cuts idle and busy connections, and probeHealth.
// The attacks of a shared host: slow clients (16 connections dripping a header byte a second, a
// full connection table) cannot delay /healthz or /status; a foreign Host header (DNS rebinding)
// gets 421; a cross-site poll without token or custom header gets 403; poll-now is rate-limited
// (429) and never shortens an auth/TLS backoff; a stuck scheduler makes /healthz answer 503.
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <chrono>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/NetException.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/Net/StreamSocket.h>
#include <Poco/StreamCopier.h>
#include <Poco/Timespan.h>

#include "connectors/common/Error.h"
#include "gateway/service/StatusBoard.h"
#include "gateway/admin/AdminServer.h"
#include "gateway/admin/HealthProbe.h"
#include "gateway/admin/Metrics.h"
#include "tests/support/GatewaySetup.h"
#include "tests/support/SlowClients.h"

using namespace popgate;
using namespace popgate::gateway;
using namespace popgate::gateway::admin;
using namespace std::chrono_literals;
using Poco::Net::HTTPClientSession;
using Poco::Net::HTTPRequest;
using Poco::Net::HTTPResponse;

namespace {

// The configured token (a function: no throwing initializer at namespace scope).
std::string token() {
  return "s3cr3t-T0ken_value";
}

struct Reply {
  int status = 0;
  std::string body;
  std::string headers;  // the whole header block as received
  std::string content_type;
  std::string allow;
  std::string www_authenticate;
  std::string retry_after;
  bool keep_alive = false;
};

Reply call(HTTPClientSession& session, const std::string& method, const std::string& path,
           const std::string& authorization = {}, const std::string& body = {}) {
  HTTPRequest request(method, path, HTTPRequest::HTTP_1_1);
  request.setKeepAlive(true);
  if (!authorization.empty()) request.set("Authorization", authorization);
  request.set(std::string(kCsrfHeader), "1");  // what a script sends; a browser form cannot
  if (!body.empty()) request.setContentLength(static_cast<std::streamsize>(body.size()));
  std::ostream& out = session.sendRequest(request);
  out << body;
  HTTPResponse response;
  std::istream& in = session.receiveResponse(response);
  Reply reply;
  reply.status = static_cast<int>(response.getStatus());
  Poco::StreamCopier::copyToString(in, reply.body);
  std::ostringstream headers;
  response.write(headers);
  reply.headers = headers.str();
  reply.content_type = response.getContentType();
  reply.allow = response.get("Allow", "");
  reply.www_authenticate = response.get("WWW-Authenticate", "");
  reply.retry_after = response.get("Retry-After", "");
  reply.keep_alive = response.getKeepAlive();
  return reply;
}

std::unique_ptr<HTTPClientSession> session(std::uint16_t port) {
  auto s = std::make_unique<HTTPClientSession>("127.0.0.1", port);
  s->setTimeout(Poco::Timespan(5, 0));
  s->setKeepAlive(true);
  return s;
}

Reply call(std::uint16_t port, const std::string& method, const std::string& path,
           const std::string& authorization = {}, const std::string& body = {}) {
  return call(*session(port), method, path, authorization, body);
}

Poco::JSON::Object::Ptr json(const std::string& text) {
  Poco::JSON::Parser parser;
  return parser.parse(text).extract<Poco::JSON::Object::Ptr>();
}

AccountStatus account(const std::string& name) {
  AccountStatus a;
  a.name = name;
  a.target = "target";
  a.host = "pop." + name + ".example:995";
  a.folder = "INBOX";
  return a;
}

// A port nothing listens on (bound once by the system, then released).
std::uint16_t closedPort() {
  Poco::Net::ServerSocket probe(Poco::Net::SocketAddress("127.0.0.1", 0));
  const std::uint16_t port = probe.address().port();
  probe.close();
  return port;
}

// Settings for a server on 127.0.0.1 at a system-chosen port; no poll-now rate limit unless a
// test sets one.
AdminSettings settings(std::string token = {}) {
  AdminSettings s;
  s.host = "127.0.0.1";
  s.port = 0;
  s.token = Secret(std::move(token));
  s.poll_min_interval = std::chrono::seconds(0);
  return s;
}

PollNowCallback acceptAll() {
  return [](const std::string&) { return PollRequest::Accepted; };
}

// A running server on 127.0.0.1 (system-chosen port) over three accounts; records poll-now calls.
struct Server {
  explicit Server(AdminSettings s = settings())
      : server(std::move(s), board, [this](const std::string& name) {
          std::lock_guard lock(mutex);
          polled.push_back(name);
          return board.hasAccount(name) ? PollRequest::Accepted : PollRequest::UnknownAccount;
        }) {
    board.setAccounts({account("work"), account("home.mail"), account("a-b_c.d")});
    server.start();
  }

  std::vector<std::string> polls() {
    std::lock_guard lock(mutex);
    return polled;
  }

  std::uint16_t port() const { return server.port(); }

  StatusBoard board{"9.9.9-test"};
  std::mutex mutex;
  std::vector<std::string> polled;
  AdminServer server;
};

struct TokenServer : Server {
  TokenServer() : Server(settings(token())) {}
};

}  // namespace

BOOST_AUTO_TEST_SUITE(pure_helpers)

BOOST_AUTO_TEST_CASE(testConstantTimeEquals) {
  BOOST_TEST(constantTimeEquals("", ""));
  BOOST_TEST(constantTimeEquals("abc", "abc"));
  BOOST_TEST(!constantTimeEquals("abd", "abc"));
  BOOST_TEST(!constantTimeEquals("xbc", "abc"));
  BOOST_TEST(!constantTimeEquals("ab", "abc"));    // a prefix
  BOOST_TEST(!constantTimeEquals("abcd", "abc"));  // longer
  BOOST_TEST(!constantTimeEquals("", "abc"));
  BOOST_TEST(!constantTimeEquals("abc", ""));
  BOOST_TEST(!constantTimeEquals(std::string("abc\0", 4), "abc"));  // a trailing NUL differs
  BOOST_TEST(!constantTimeEquals("ABC", "abc"));
  // A candidate that repeats the expected value must not match by wrapping around.
  BOOST_TEST(!constantTimeEquals("abcabc", "abc"));
}

BOOST_AUTO_TEST_CASE(testBearerMatches) {
  BOOST_TEST(bearerMatches("Bearer " + token(), token()));
  BOOST_TEST(bearerMatches("bearer " + token(), token()));  // the scheme is case-insensitive
  BOOST_TEST(bearerMatches("BEARER   " + token() + "  ", token()));  // extra blanks around
  BOOST_TEST(bearerMatches(" \tBearer " + token() + "\t", token()));
  BOOST_TEST(!bearerMatches("Bearer " + token() + "x", token()));
  BOOST_TEST(!bearerMatches("Bearer " + token().substr(1), token()));
  BOOST_TEST(!bearerMatches("Basic " + token(), token()));
  BOOST_TEST(!bearerMatches("Bearer" + token(), token()));  // no space after the scheme
  BOOST_TEST(!bearerMatches("Bearer", token()));
  BOOST_TEST(!bearerMatches("Bearer ", token()));
  BOOST_TEST(!bearerMatches(token(), token()));
  BOOST_TEST(!bearerMatches("", token()));
  BOOST_TEST(!bearerMatches("Bearer ", ""));       // no token configured: no match
  BOOST_TEST(bearerMatches("Bearer a b", "a b"));  // inner blanks belong to the token
}

BOOST_AUTO_TEST_CASE(testAccountNameSyntax) {
  BOOST_TEST(isValidAccountName("work"));
  BOOST_TEST(isValidAccountName("a-b_c.d"));
  BOOST_TEST(isValidAccountName("ABC019"));
  BOOST_TEST(!isValidAccountName(""));
  BOOST_TEST(!isValidAccountName("a b"));
  BOOST_TEST(!isValidAccountName("a/b"));
  BOOST_TEST(!isValidAccountName("\xC3\xA9"));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_FIXTURE_TEST_SUITE(without_token, Server)

BOOST_AUTO_TEST_CASE(testHealthz) {
  const Reply r = call(port(), "GET", "/healthz");
  BOOST_TEST(r.status == 200);
  BOOST_TEST(r.body == "ok\n");
  BOOST_TEST(r.content_type.starts_with("text/plain"));
}

BOOST_AUTO_TEST_CASE(testStatusJson) {
  const Reply r = call(port(), "GET", "/status");
  BOOST_TEST(r.status == 200);
  BOOST_TEST(r.content_type == "application/json");
  const auto root = json(r.body);
  BOOST_TEST(root->getValue<std::string>("version") == "9.9.9-test");
  const auto accounts = root->getArray("accounts");
  BOOST_REQUIRE(accounts->size() == 3u);
  BOOST_TEST(accounts->getObject(0)->getValue<std::string>("name") == "work");
  BOOST_TEST(accounts->getObject(0)->getValue<std::string>("state") == "idle");
}

BOOST_AUTO_TEST_CASE(testMetrics) {
  const Reply r = call(port(), "GET", "/metrics?x=1");  // a query does not change the route
  BOOST_TEST(r.status == 200);
  BOOST_TEST(r.content_type == "text/plain; version=0.0.4; charset=utf-8");
  BOOST_TEST(r.body.find("\npopgate_up 1\n") != std::string::npos);
  BOOST_TEST(r.body.find("popgate_polls_total{account=\"a-b_c.d\",target=\"target\"} 0\n") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(testHeadOnGetRoutes) {
  for (const std::string path : {"/healthz", "/status", "/metrics"}) {
    BOOST_TEST_CONTEXT(path) {
      const Reply r = call(port(), "HEAD", path);
      BOOST_TEST(r.status == 200);
      BOOST_TEST(r.body.empty());
    }
  }
}

BOOST_AUTO_TEST_CASE(testPollNowAccepted) {
  const Reply r = call(port(), "POST", "/accounts/work/poll");
  BOOST_TEST(r.status == 202);
  BOOST_TEST(r.content_type == "application/json");
  const auto body = json(r.body);
  BOOST_TEST(body->getValue<std::string>("account") == "work");
  BOOST_TEST(body->getValue<std::string>("status") == "poll requested");
  BOOST_TEST(polls() == std::vector<std::string>{"work"}, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(testPollNowDecodesName) {
  const Reply r = call(port(), "POST", "/accounts/a%2Db%5Fc%2ed/poll");
  BOOST_TEST(r.status == 202);
  BOOST_TEST(json(r.body)->getValue<std::string>("account") == "a-b_c.d");
  BOOST_TEST(polls() == std::vector<std::string>{"a-b_c.d"}, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(testPollNowUnknownAccount) {
  const Reply r = call(port(), "POST", "/accounts/nosuch/poll");
  BOOST_TEST(r.status == 404);
  BOOST_TEST(r.content_type == "application/json");
  BOOST_TEST(json(r.body)->getValue<std::string>("error") == "no account named nosuch");
  BOOST_TEST(polls().empty());  // the board knows it is not there; the scheduler is not asked
}

BOOST_AUTO_TEST_CASE(testPollNowInvalidNameNeverReachesScheduler) {
  for (const std::string path :
       {"/accounts/bad%20name/poll", "/accounts/a%2Fb/poll", "/accounts/%ZZ/poll",
        "/accounts/%C3%A9/poll", "/accounts/%22%0A/poll"}) {
    BOOST_TEST_CONTEXT(path) {
      const Reply r = call(port(), "POST", path);
      BOOST_TEST(r.status == 404);
      const auto body = json(r.body);  // well-formed JSON whatever the name held
      BOOST_TEST(body->getValue<std::string>("error").starts_with("no account named "));
    }
  }
  BOOST_TEST(polls().empty());
}

BOOST_AUTO_TEST_CASE(testWrongMethodGives405WithAllow) {
  struct Case {
    const char* method;
    const char* path;
    const char* allow;
  };
  for (const Case& c :
       {Case{"POST", "/status", "GET, HEAD"}, Case{"DELETE", "/metrics", "GET, HEAD"},
        Case{"PUT", "/healthz", "GET, HEAD"}, Case{"GET", "/accounts/work/poll", "POST"},
        Case{"DELETE", "/accounts/nosuch/poll", "POST"}}) {
    BOOST_TEST_CONTEXT(c.method << " " << c.path) {
      const Reply r = call(port(), c.method, c.path);
      BOOST_TEST(r.status == 405);
      BOOST_TEST(r.allow == c.allow);
      BOOST_TEST(json(r.body)->has("error"));
    }
  }
  BOOST_TEST(polls().empty());
}

BOOST_AUTO_TEST_CASE(testRootServesTheStatusPageWithItsPolicy) {
  const Reply r = call(port(), "GET", "/");
  BOOST_TEST(r.status == 200);
  BOOST_TEST(r.content_type == "text/html; charset=utf-8");
  BOOST_TEST(r.body.starts_with("<!DOCTYPE html>"));
  BOOST_TEST(r.headers.find("Content-Security-Policy: default-src 'none'; script-src 'sha256-") !=
             std::string::npos);
  BOOST_TEST(r.headers.find("X-Frame-Options: DENY") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(testUnknownPathGives404Json) {
  for (const std::string path : {"/index.html", "/nope", "/status/", "/healthz/x", "/accounts/work",
                                 "/accounts/work/poll/x", "/accounts//poll", "/STATUS"}) {
    BOOST_TEST_CONTEXT(path) {
      const Reply r = call(port(), "GET", path);
      BOOST_TEST(r.status == 404);
      BOOST_TEST(r.content_type == "application/json");
      BOOST_TEST(json(r.body)->has("error"));
    }
  }
}

BOOST_AUTO_TEST_CASE(testKeepAliveSessionServesSeveralRequests) {
  auto s = session(port());
  for (int i = 0; i < 3; ++i) {
    // A small body is read and dropped so the next request on the connection parses.
    const Reply r = call(*s, "POST", "/accounts/work/poll", {}, std::string(1000, 'b'));
    BOOST_TEST(r.status == 202);
    BOOST_TEST(r.keep_alive);
    BOOST_TEST(call(*s, "GET", "/healthz").status == 200);
  }
  BOOST_TEST(polls().size() == 3u);
}

// A provider's /metrics: 5,000 accounts make a body of megabytes, far more than a socket takes
// at once; it is sent from where it was rendered, in pieces after the head, and arrives whole
// (as long as Content-Length says), twice on one keep-alive connection, then a small reply.
BOOST_AUTO_TEST_CASE(testMetricsOfFiveThousandAccountsArriveWholeOnOneConnection) {
  std::vector<AccountStatus> many;
  for (int i = 0; i < 5000; ++i) many.push_back(account("u" + std::to_string(10000 + i)));
  board.setAccounts(many);
  const std::string expected = renderMetrics(board.snapshot());
  BOOST_TEST_REQUIRE(expected.size() > 8'000'000u);
  auto s = session(port());
  for (int i = 0; i < 2; ++i) {
    const Reply r = call(*s, "GET", "/metrics");
    BOOST_TEST(r.status == 200);
    BOOST_TEST(r.keep_alive);
    BOOST_TEST(r.body.size() == expected.size());
    BOOST_TEST((r.body == expected));
  }
  BOOST_TEST(call(*s, "GET", "/healthz").body == "ok\n");
}

BOOST_AUTO_TEST_CASE(testRequestBodyOver64KiBRefused) {
  // The headers announce 100 000 bytes; the server answers 413 without reading any of them.
  auto s = session(port());
  HTTPRequest request(HTTPRequest::HTTP_POST, "/accounts/work/poll", HTTPRequest::HTTP_1_1);
  request.setContentLength(100000);
  s->sendRequest(request);
  HTTPResponse response;
  std::istream& in = s->receiveResponse(response);
  std::string body;
  Poco::StreamCopier::copyToString(in, body);
  BOOST_TEST(static_cast<int>(response.getStatus()) == 413);
  BOOST_TEST(!response.getKeepAlive());
  BOOST_TEST(polls().empty());
  // 64 KiB exactly is fine.
  BOOST_TEST(
      call(port(), "POST", "/accounts/work/poll", {}, std::string(std::size_t{64} * 1024, 'x'))
          .status == 202);
}

BOOST_AUTO_TEST_CASE(testChunkedBodyOver64KiBRefused) {
  auto s = session(port());
  HTTPRequest request(HTTPRequest::HTTP_POST, "/accounts/work/poll", HTTPRequest::HTTP_1_1);
  request.setChunkedTransferEncoding(true);
  std::ostream& out = s->sendRequest(request);
  out << std::string(std::size_t{64} * 1024 + 1, 'x');
  out.flush();
  HTTPResponse response;
  std::string body;
  try {
    std::istream& in = s->receiveResponse(response);
    Poco::StreamCopier::copyToString(in, body);
    BOOST_TEST(static_cast<int>(response.getStatus()) == 411);  // no length-less bodies at all
  } catch (const Poco::Exception&) {
    // The server may close before the client finished its last chunk; what matters is below.
  }
  BOOST_TEST(polls().empty());
}

BOOST_AUTO_TEST_CASE(testNoAuthorizationNeededWithoutToken) {
  BOOST_TEST(call(port(), "GET", "/status", "Bearer whatever").status == 200);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_FIXTURE_TEST_SUITE(with_token, TokenServer)

BOOST_AUTO_TEST_CASE(testHealthzNeedsNoToken) {
  BOOST_TEST(call(port(), "GET", "/healthz").status == 200);
  BOOST_TEST(call(port(), "GET", "/healthz", "Bearer wrong").status == 200);
  BOOST_TEST(call(port(), "HEAD", "/healthz").status == 200);
}

BOOST_AUTO_TEST_CASE(testUnauthorizedRequests) {
  const std::vector<std::string> bad_headers{
      "",                                                 // missing
      "Bearer wrong",                                     // wrong token
      "Bearer " + token() + "x",                          // longer
      "Bearer " + token().substr(0, token().size() - 1),  // a prefix
      "Basic " + token(),                                 // wrong scheme
      "Bearer",                                           // no token
      token(),                                            // no scheme
  };
  for (const std::string& header : bad_headers) {
    for (const auto& [method, path] :
         std::vector<std::pair<std::string, std::string>>{{"GET", "/status"},
                                                          {"GET", "/metrics"},
                                                          {"POST", "/accounts/work/poll"},
                                                          {"GET", "/no/such/path"},
                                                          {"DELETE", "/status"}}) {
      BOOST_TEST_CONTEXT("'" << header << "' " << method << " " << path) {
        const Reply r = call(port(), method, path, header);
        BOOST_TEST(r.status == 401);  // before routing: also for unknown paths and methods
        BOOST_TEST(r.www_authenticate == "Bearer");
        BOOST_TEST(r.body == "unauthorized\n");
      }
    }
  }
  BOOST_TEST(polls().empty());
}

BOOST_AUTO_TEST_CASE(testAuthorizedRequests) {
  for (const std::string& header :
       {"Bearer " + token(), "bearer " + token(), "Bearer    " + token() + "   "}) {
    BOOST_TEST_CONTEXT("'" << header << "'") {
      BOOST_TEST(call(port(), "GET", "/status", header).status == 200);
      BOOST_TEST(call(port(), "GET", "/metrics", header).status == 200);
      BOOST_TEST(call(port(), "POST", "/accounts/work/poll", header).status == 202);
      BOOST_TEST(call(port(), "POST", "/accounts/nosuch/poll", header).status == 404);
      BOOST_TEST(call(port(), "GET", "/nope", header).status == 404);
      BOOST_TEST(call(port(), "POST", "/status", header).status == 405);
    }
  }
  BOOST_TEST(polls().size() == 3u);  // "nosuch" never reaches the scheduler
}

BOOST_AUTO_TEST_CASE(testTokenNeverInAResponse) {
  std::vector<Reply> replies;
  for (const std::string& header :
       {std::string(), "Bearer " + token(), std::string("Bearer wrong")}) {
    for (const auto& [method, path] :
         std::vector<std::pair<std::string, std::string>>{{"GET", "/healthz"},
                                                          {"GET", "/status"},
                                                          {"GET", "/metrics"},
                                                          {"POST", "/accounts/work/poll"},
                                                          {"POST", "/accounts/nosuch/poll"},
                                                          {"GET", "/nope"},
                                                          {"PUT", "/status"}}) {
      replies.push_back(call(port(), method, path, header));
    }
  }
  for (const Reply& r : replies) {
    BOOST_TEST(r.body.find(token()) == std::string::npos);
    BOOST_TEST(r.headers.find(token()) == std::string::npos);
  }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(lifecycle)

BOOST_AUTO_TEST_CASE(testPortInUseIsConfigError) {
  Poco::Net::ServerSocket taken(Poco::Net::SocketAddress("127.0.0.1", 0));
  const std::uint16_t port = taken.address().port();
  StatusBoard board("x");
  AdminSettings s = settings();
  s.port = port;
  AdminServer server(std::move(s), board, acceptAll());
  try {
    server.start();
    BOOST_FAIL("start() on a port in use did not throw");
  } catch (const Error& e) {
    BOOST_TEST(static_cast<int>(e.kind()) == static_cast<int>(ErrorKind::Config));
    BOOST_TEST(std::string(e.what()) ==
               "admin.listen 127.0.0.1:" + std::to_string(port) + ": address already in use");
  }
  BOOST_TEST(server.port() == 0);
}

BOOST_AUTO_TEST_CASE(testSecondServerOnSamePortFails) {
  Server first;
  StatusBoard board("x");
  AdminSettings s = settings();
  s.port = first.port();
  AdminServer second(std::move(s), board, acceptAll());
  BOOST_CHECK_THROW(second.start(), Error);
  BOOST_TEST(call(first.port(), "GET", "/healthz").status == 200);  // the first one is unharmed
}

BOOST_AUTO_TEST_CASE(testUnusableListenAddressIsConfigError) {
  StatusBoard board("x");
  AdminSettings s = settings();
  s.host = "192.0.2.1";
  s.port = 8025;
  AdminServer server(std::move(s), board, acceptAll());
  try {
    server.start();
    BOOST_FAIL("start() on a foreign address did not throw");
  } catch (const Error& e) {
    BOOST_TEST(static_cast<int>(e.kind()) == static_cast<int>(ErrorKind::Config));
    BOOST_TEST(std::string(e.what()).starts_with("admin.listen 192.0.2.1:8025: "));
  }
}

BOOST_AUTO_TEST_CASE(testMissingCallbackRefused) {
  StatusBoard board("x");
  BOOST_CHECK_THROW(AdminServer(settings(), board, PollNowCallback{}), Error);
}

// stop() cuts connections rather than waiting for them: kept-alive idle clients, one connected
// but silent in the queue, and one trickling a request a byte at a time, which would keep its
// handler reading for ever (every byte restarts the server's read timeout). A stop() that waited
// for any connection would not come back while the trickle lasts; it must come back within a
// minute (its contract is about a second), and then the trickle stops, so a failure cannot hang.
BOOST_AUTO_TEST_CASE(testStopCutsIdleAndBusyConnectionsInsteadOfWaiting) {
  Server s;
  const std::uint16_t port = s.port();
  // Three kept-alive connections, one trickling a request, one connected but silent.
  std::vector<std::unique_ptr<HTTPClientSession>> held;
  for (int i = 0; i < 3; ++i) {
    held.push_back(session(port));
    const Reply r = call(*held.back(), "GET", "/healthz");
    BOOST_TEST(r.status == 200);
    BOOST_TEST(r.keep_alive);
  }
  Poco::Net::StreamSocket trickle;
  trickle.connect(Poco::Net::SocketAddress("127.0.0.1", port));
  std::atomic<bool> stop_trickling{false};
  std::thread trickler([&] {
    try {
      const std::string start = "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ";
      trickle.sendBytes(start.data(), static_cast<int>(start.size()));
      while (!stop_trickling.load()) {
        trickle.sendBytes("a", 1);
        std::this_thread::sleep_for(std::chrono::milliseconds(50));  // the pace of the trickle
      }
    } catch (const Poco::Exception&) {
      // The server cut the connection: what stop() is for.
    }
  });
  Poco::Net::StreamSocket silent;
  silent.connect(Poco::Net::SocketAddress("127.0.0.1", port));

  auto stopped = std::async(std::launch::async, [&] { s.server.stop(); });
  const bool prompt = stopped.wait_for(std::chrono::seconds(60)) == std::future_status::ready;
  stop_trickling = true;
  stopped.wait();
  trickler.join();
  BOOST_TEST(prompt, "stop() waited for a connection instead of cutting it");
  BOOST_TEST(s.server.port() == 0);
  Poco::Net::StreamSocket late;
  BOOST_CHECK_THROW(late.connect(Poco::Net::SocketAddress("127.0.0.1", port)),
                    Poco::Net::ConnectionRefusedException);
  s.server.stop();  // idempotent
}

BOOST_AUTO_TEST_CASE(testRestartOnSamePort) {
  Server s;
  const std::uint16_t port = s.port();
  BOOST_TEST(call(port, "GET", "/healthz").status == 200);  // leaves a connection in TIME_WAIT
  s.server.stop();
  StatusBoard board("x");
  AdminSettings again_settings = settings();
  again_settings.port = port;
  AdminServer again(std::move(again_settings), board, acceptAll());
  again.start();
  BOOST_TEST(again.port() == port);
  BOOST_TEST(call(port, "GET", "/healthz").status == 200);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(health_probe)

BOOST_AUTO_TEST_CASE(testProbeRunningServer) {
  TokenServer s;  // /healthz needs no token even when one is configured
  BOOST_TEST(probeHealth("127.0.0.1", s.port(), std::chrono::seconds{2}) == 0);
  BOOST_TEST(probeHealth("0.0.0.0", s.port(), std::chrono::seconds{2}) == 0);  // probed on loopback
}

BOOST_AUTO_TEST_CASE(testProbeClosedPort) {
  BOOST_TEST(probeHealth("127.0.0.1", closedPort(), std::chrono::seconds{2}) == 1);
}

BOOST_AUTO_TEST_CASE(testProbeSilentServerTimesOut) {
  // Listening, never accepting: the connection completes in the backlog, no answer ever comes, so
  // only the probe's own deadline ends the wait (without one it would wait for ever; the check
  // allows a minute for a one-second deadline, so a loaded machine cannot fail it).
  Poco::Net::ServerSocket silent(Poco::Net::SocketAddress("127.0.0.1", 0));
  const auto begin = std::chrono::steady_clock::now();
  BOOST_TEST(probeHealth("127.0.0.1", silent.address().port(), std::chrono::seconds{1}) == 1);
  const auto elapsed = std::chrono::steady_clock::now() - begin;
  BOOST_TEST(std::chrono::duration_cast<std::chrono::milliseconds>(elapsed).count() >= 900);
  BOOST_TEST(std::chrono::duration_cast<std::chrono::seconds>(elapsed).count() < 60);
}

BOOST_AUTO_TEST_SUITE_END()

// -----------------------------------------------------------------------------------------------
// Attacks from a shared host or a web page

namespace {

// A request head that never ends: dripped one byte a second it would take hours.
const std::string kDrip = "GET /status HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ";

// One GET with an explicit Host header (or none at all, as HTTP/1.0); the status code, 0 if none.
int statusWithHost(std::uint16_t port, const std::string& path, const std::string& host,
                   const std::string& version = "HTTP/1.1") {
  Poco::Net::StreamSocket socket(Poco::Net::SocketAddress("127.0.0.1", port));
  socket.setReceiveTimeout(Poco::Timespan(5, 0));
  const std::string request = "GET " + path + " " + version + "\r\n" +
                              (host.empty() ? std::string() : "Host: " + host + "\r\n") +
                              "Connection: close\r\n\r\n";
  socket.sendBytes(request.data(), static_cast<int>(request.size()));
  char buffer[64] = {};
  const int n = socket.receiveBytes(buffer, sizeof buffer - 1);
  const std::string line(buffer, static_cast<std::size_t>(std::max(n, 0)));
  return line.size() >= 12 ? std::stoi(line.substr(9, 3)) : 0;
}

// Probes /healthz and an authorised /status `rounds` times, `gap` apart; each must answer 200
// within `limit`. Returns the slowest answer.
std::chrono::milliseconds probeUnderAttack(std::uint16_t port, int rounds,
                                           std::chrono::milliseconds gap,
                                           std::chrono::milliseconds limit) {
  std::chrono::milliseconds slowest{0};
  for (int i = 0; i < rounds; ++i) {
    for (const auto& [path, bearer] : {std::pair<std::string, std::string>{"/healthz", ""},
                                       std::pair<std::string, std::string>{"/status", token()}}) {
      const test::TimedReply r = test::timedRequest(port, "GET", path, bearer);
      BOOST_TEST_CONTEXT("probe " << i << " " << path) {
        BOOST_TEST(r.status == 200);
        BOOST_TEST(r.elapsed.count() < limit.count());
      }
      slowest = std::max(slowest, r.elapsed);
    }
    std::this_thread::sleep_for(gap);  // the attack's pace, not a synchronisation
  }
  return slowest;
}

void failAccount(StatusBoard& board, const std::string& name, ErrorKind kind,
                 std::optional<SystemTime> next_poll) {
  PollResult result;
  result.account = name;
  result.error = Error(kind, name + " refused");
  board.pollFinished(name, result, std::chrono::system_clock::now(), AccountState::Failing,
                     next_poll, {});
}

}  // namespace

BOOST_AUTO_TEST_SUITE(slow_clients)

BOOST_AUTO_TEST_CASE(testSixteenDrippingConnectionsCannotDelayHealthzOrStatus) {
  TokenServer s;
  test::SlowClients drip(s.port(), 16, kDrip, 1000ms);
  BOOST_REQUIRE(drip.waitUntilDripping(2, 10s));
  // Ten rounds over about six seconds: the drippers are cut at their 5 s deadline and come back
  // meanwhile, and every probe still answers at once.
  const auto slowest = probeUnderAttack(s.port(), 10, 600ms, 1000ms);
  BOOST_TEST_MESSAGE("16 drippers: slowest /healthz or /status answer " << slowest.count()
                     << " ms; drippers cut by the server: " << drip.closedByServer());
}

BOOST_AUTO_TEST_CASE(testAFewDozenDrippersCannotExhaustIt) {
  TokenServer s;
  test::SlowClients drip(s.port(), 48, kDrip, 500ms);
  BOOST_REQUIRE(drip.waitUntilDripping(2, 10s));
  probeUnderAttack(s.port(), 4, 300ms, 1000ms);
}

BOOST_AUTO_TEST_CASE(testAFullConnectionTableStillServes) {
  TokenServer s;
  // More silent connections than the table holds: the longest-waiting ones give way.
  std::vector<std::unique_ptr<Poco::Net::StreamSocket>> silent;
  for (std::size_t i = 0; i < AdminServer::kMaxConnections + 50; ++i) {
    silent.push_back(std::make_unique<Poco::Net::StreamSocket>(
        Poco::Net::SocketAddress("127.0.0.1", s.port())));
  }
  probeUnderAttack(s.port(), 3, 100ms, 1000ms);
}

BOOST_AUTO_TEST_CASE(testWholeRequestDeadlineNotPerRead) {
  AdminSettings quick = settings();
  quick.request_deadline = 1000ms;
  Server s(std::move(quick));
  // A byte every 100 ms: a per-read timeout would never fire; the whole-request deadline does.
  test::SlowClients drip(s.port(), 1, kDrip, 100ms);
  BOOST_REQUIRE(drip.waitUntilDripping(1, 10s));
  BOOST_TEST(test::waitFor([&] { return drip.closedByServer() >= 2; }, 15s));
}

BOOST_AUTO_TEST_CASE(testOversizedHeadIsRefused) {
  Server s;
  Poco::Net::StreamSocket socket(Poco::Net::SocketAddress("127.0.0.1", s.port()));
  socket.setReceiveTimeout(Poco::Timespan(5, 0));
  const std::string head = "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " +
                           std::string(9000, 'b') + "\r\n\r\n";
  socket.sendBytes(head.data(), static_cast<int>(head.size()));
  char buffer[32] = {};
  const int n = socket.receiveBytes(buffer, sizeof buffer - 1);
  BOOST_TEST(std::string(buffer, static_cast<std::size_t>(n)).starts_with("HTTP/1.1 431 "));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(cross_site)

BOOST_AUTO_TEST_CASE(testForeignHostIsRefusedDnsRebinding) {
  Server s;
  const std::string port = std::to_string(s.port());
  for (const std::string& host : std::vector<std::string>{"evil.example:" + port, "evil.example",
                                                          "127.0.0.1.evil.example", "[::1", "a b",
                                                          "192.0.2.7:" + port}) {
    BOOST_TEST_CONTEXT(host) {
      BOOST_TEST(statusWithHost(s.port(), "/healthz", host) == 421);
      BOOST_TEST(statusWithHost(s.port(), "/status", host) == 421);
    }
  }
  for (const std::string& host : std::vector<std::string>{"127.0.0.1:" + port, "127.0.0.1",
                                                          "localhost:" + port, "LOCALHOST.",
                                                          "[::1]:" + port}) {
    BOOST_TEST_CONTEXT(host) { BOOST_TEST(statusWithHost(s.port(), "/healthz", host) == 200); }
  }
  BOOST_TEST(statusWithHost(s.port(), "/healthz", "", "HTTP/1.1") == 421);  // Host is required
  BOOST_TEST(statusWithHost(s.port(), "/healthz", "", "HTTP/1.0") == 200);  // not in 1.0
}

BOOST_AUTO_TEST_CASE(testAllowedHostsOnAWildcardListener) {
  AdminSettings wildcard = settings();
  wildcard.host = "0.0.0.0";
  wildcard.allowed_hosts = {"popgate", "popgate.monitoring.svc"};
  Server s(std::move(wildcard));
  BOOST_TEST(statusWithHost(s.port(), "/healthz", "popgate:8025") == 200);
  BOOST_TEST(statusWithHost(s.port(), "/healthz", "PopGate.Monitoring.SVC") == 200);
  BOOST_TEST(statusWithHost(s.port(), "/healthz", "10.1.2.3:8025") == 200);  // any address of ours
  BOOST_TEST(statusWithHost(s.port(), "/healthz", "evil.example") == 421);
}

BOOST_AUTO_TEST_CASE(testCrossSitePollWithoutTokenOrCustomHeaderIsRefused) {
  Server s;  // no token configured
  // What an HTML form on another site can make a browser send: a simple POST.
  HTTPClientSession session("127.0.0.1", s.port());
  session.setTimeout(Poco::Timespan(5, 0));
  HTTPRequest form(HTTPRequest::HTTP_POST, "/accounts/work/poll", HTTPRequest::HTTP_1_1);
  form.setContentType("application/x-www-form-urlencoded");
  form.setContentLength(3);
  session.sendRequest(form) << "a=b";
  HTTPResponse response;
  std::string body;
  Poco::StreamCopier::copyToString(session.receiveResponse(response), body);
  BOOST_TEST(static_cast<int>(response.getStatus()) == 403);
  BOOST_TEST(json(body)->getValue<std::string>("error").find("X-Popgate-Request") !=
             std::string::npos);
  BOOST_TEST(s.polls().empty());
  // The header, or the token where one is set, is what a script (curl) sends.
  BOOST_TEST(call(s.port(), "POST", "/accounts/work/poll").status == 202);
  BOOST_TEST(s.polls().size() == 1u);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(poll_now_limits)

BOOST_AUTO_TEST_CASE(testSecondPollWithinTheIntervalGets429WithRetryAfter) {
  AdminSettings limited = settings();
  limited.poll_min_interval = 60s;
  Server s(std::move(limited));
  BOOST_TEST(call(s.port(), "POST", "/accounts/work/poll").status == 202);
  for (int i = 0; i < 4; ++i) {
    const Reply r = call(s.port(), "POST", "/accounts/work/poll");
    BOOST_TEST(r.status == 429);
    const int retry = std::stoi(r.retry_after);
    BOOST_TEST((retry >= 1 && retry <= 60), r.retry_after);
    BOOST_TEST(json(r.body)->getValue<std::string>("error").find("less than 60 s ago") !=
               std::string::npos);
  }
  BOOST_TEST(call(s.port(), "POST", "/accounts/home.mail/poll").status == 202);  // per account
  BOOST_TEST(s.polls().size() == 2u);  // five requests for work, one poll
}

BOOST_AUTO_TEST_CASE(testAccountFailingOnAuthOrTlsIsNotPolledBeforeItsBackoff) {
  Server s;  // no interval limit at all: only the failure state decides
  const auto next = std::chrono::system_clock::now() + 300s;
  failAccount(s.board, "work", ErrorKind::Auth, next);
  failAccount(s.board, "home.mail", ErrorKind::Security, std::nullopt);
  failAccount(s.board, "a-b_c.d", ErrorKind::Transient, next);
  for (int i = 0; i < 3; ++i) {
    const Reply auth = call(s.port(), "POST", "/accounts/work/poll");
    BOOST_TEST(auth.status == 429);
    const int retry = std::stoi(auth.retry_after);
    BOOST_TEST((retry >= 290 && retry <= 300), auth.retry_after);  // when its backoff ends
    const Reply tls = call(s.port(), "POST", "/accounts/home.mail/poll");
    BOOST_TEST(tls.status == 429);
    BOOST_TEST(json(tls.body)->getValue<std::string>("error").find("failing on TLS") !=
               std::string::npos);
  }
  // A transient failure (a server that was down) may be retried on request.
  BOOST_TEST(call(s.port(), "POST", "/accounts/a-b_c.d/poll").status == 202);
  BOOST_TEST(s.polls() == std::vector<std::string>{"a-b_c.d"}, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(stalled_scheduler)

BOOST_AUTO_TEST_CASE(testHealthzAnswers503WhenTheSchedulerStopsBeating) {
  AdminSettings short_stall = settings();
  short_stall.stall_timeout = 1s;
  Server s(std::move(short_stall));
  s.board.beat();
  BOOST_TEST(call(s.port(), "GET", "/healthz").status == 200);
  // Nobody beats: after the stall timeout the process is alive but stuck.
  BOOST_TEST(test::waitFor([&] { return call(s.port(), "GET", "/healthz").status == 503; }, 10s));
  const Reply stuck = call(s.port(), "GET", "/healthz");
  BOOST_TEST(stuck.body.starts_with("stalled: the scheduler has made no progress for "));
  BOOST_TEST(probeHealth("127.0.0.1", s.port(), std::chrono::seconds{2}) == 1);
  s.board.beat();
  BOOST_TEST(call(s.port(), "GET", "/healthz").status == 200);
}

BOOST_AUTO_TEST_SUITE_END()
