// The webhook leg of notices (gateway/service/WebhookPoster) against real HTTP(S) peers on
// loopback: an ntfy-style POST (Title header, UTF-8 text body, the URL's path and query), a non-2xx
// answer and a closed port are errors to retry, and an https server whose certificate the system
// CA store does not vouch for is refused (a Security error: no fallback).
#include <boost/test/unit_test.hpp>

#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/Net/StreamSocket.h>

#include <thread>

#include "config/ValueChecks.h"
#include "connectors/common/Error.h"
#include "gateway/service/WebhookPoster.h"
#include "tests/support/ScriptedServer.h"
#include "tests/support/WebhookReceiver.h"

using namespace popgate;
using namespace popgate::test;

namespace {

config::WebhookUrl url(const std::string& text) {
  auto parsed = config::parseWebhookUrl(text);
  BOOST_REQUIRE_MESSAGE(parsed.value.has_value(), parsed.error);
  return *parsed.value;
}

std::string local(std::uint16_t port, const std::string& rest) {
  return "http://127.0.0.1:" + std::to_string(port) + rest;
}

// The kind of Error `post` throws; fails the test when it throws none.
ErrorKind kindThrownBy(const std::function<void()>& post, std::string* what = nullptr) {
  try {
    post();
  } catch (const Error& e) {
    if (what != nullptr) *what = e.what();
    return e.kind();
  }
  BOOST_FAIL("no error");
  return ErrorKind::Internal;
}

}  // namespace

BOOST_AUTO_TEST_CASE(testNtfyStylePostArrivesWithTitleAndBody) {
  WebhookReceiver hook;
  const std::string body = "Account work is failing since 10:00.\nServer: -ERR [AUTH] no\nZürich\n";
  gateway::postWebhook(url(local(hook.port(), "/popgate?priority=high")),
                       "popgate: account work is failing", body);
  const auto got = hook.requests();
  BOOST_REQUIRE(got.size() == 1u);
  BOOST_TEST(got[0].method == "POST");
  BOOST_TEST(got[0].target == "/popgate?priority=high");
  BOOST_TEST(got[0].headers.at("Title") == "popgate: account work is failing");
  BOOST_TEST(got[0].headers.at("Content-Type") == "text/plain; charset=utf-8");
  BOOST_TEST(got[0].body == body);
}

BOOST_AUTO_TEST_CASE(testTitleCannotSmuggleHeaders) {
  WebhookReceiver hook;
  gateway::postWebhook(url(local(hook.port(), "")), "a\r\nX-Evil: 1", "x");
  const auto got = hook.requests();
  BOOST_REQUIRE(got.size() == 1u);
  BOOST_TEST(got[0].headers.count("X-Evil") == 0u);
  BOOST_TEST(got[0].headers.at("Title") == "a??X-Evil: 1");
  BOOST_TEST(got[0].target == "/");
}

BOOST_AUTO_TEST_CASE(testErrorAnswerAndClosedPortAreTransient) {
  WebhookReceiver hook;
  hook.answerWith(502);
  std::string what;
  BOOST_TEST(kindThrownBy([&] { gateway::postWebhook(url(local(hook.port(), "/p")), "t", "b"); },
                          &what) == ErrorKind::Transient);
  BOOST_TEST(what.find("502") != std::string::npos, what);
  std::uint16_t closed = 0;
  {
    Poco::Net::ServerSocket socket(Poco::Net::SocketAddress("127.0.0.1", 0));
    closed = socket.address().port();
  }
  BOOST_TEST(kindThrownBy([&] { gateway::postWebhook(url(local(closed, "/p")), "t", "b"); }) ==
             ErrorKind::Transient);
}

BOOST_AUTO_TEST_CASE(testHttpsWithAnUntrustedCertificateIsRefused) {
  // The test CA is not in the system store, and the webhook has no ca_file: refused in the
  // handshake, before a byte of the notice is sent.
  ScriptedServer srv({Script().tls(TestCerts::localhost())});
  BOOST_TEST(kindThrownBy([&] {
               gateway::postWebhook(url("https://localhost:" + std::to_string(srv.port()) + "/p"),
                                    "t", "secret body");
             }) == ErrorKind::Security);
  BOOST_TEST(srv.wait());
  BOOST_TEST(!srv.received("secret body"));
}

BOOST_AUTO_TEST_CASE(testCancelEndsAPostWaitingForItsAnswerAndEveryLaterOne) {
  // A peer that takes the connection and never answers: only cancel() ends the POST early.
  Poco::Net::ServerSocket listener(Poco::Net::SocketAddress("127.0.0.1", 0));
  const std::uint16_t port = listener.address().port();
  gateway::WebhookCancel cancel;
  std::string what;
  ErrorKind kind = ErrorKind::Internal;
  std::thread poster([&] {
    kind = kindThrownBy(
        [&] {
          gateway::postWebhook(url(local(port, "/p")), "t", "b", std::chrono::seconds(120), &cancel);
        },
        &what);
  });
  Poco::Net::StreamSocket peer = listener.acceptConnection();  // the POST is on its way
  cancel.cancel();
  poster.join();
  BOOST_TEST(kind == ErrorKind::Transient);
  BOOST_TEST(what.find("popgate is stopping") != std::string::npos, what);
  // Once cancelled, a POST does not even connect.
  BOOST_TEST(kindThrownBy([&] {
               gateway::postWebhook(url(local(port, "/p")), "t", "b", std::chrono::seconds(120),
                                    &cancel);
             }) == ErrorKind::Transient);
}
