// What Gmail and Microsoft 365 really answer, as scripted servers built from recorded dialogues
// (imapsync's FAQ.Gmail / FAQ.Office365 and error catalogue, MailKit, node-imap and OfflineIMAP
// issue logs, Google's and Microsoft's documentation; docs/gmail.md, docs/microsoft365.md), and
// how ImapClient reads each answer: a message refused for its size is that message's problem
// (quarantine), a throttle is a pause with the suggested wait (never a quarantine), a usage-limit
// BYE pauses the target, too many connections is not a wrong password.
#include <boost/test/unit_test.hpp>

#include <chrono>

#include "connectors/common/Error.h"
#include "connectors/imap/ImapClient.h"
#include "tests/support/ScriptedServer.h"

using namespace popgate;
using namespace std::chrono_literals;
using popgate::test::Script;
using popgate::test::ScriptedServer;

namespace {

// Gmail's capabilities after login (no MULTIAPPEND, no LITERAL+).
const std::string kGmailCaps =
    "IMAP4rev1 UNSELECT IDLE NAMESPACE QUOTA ID XLIST CHILDREN X-GM-EXT-1 UIDPLUS "
    "COMPRESS=DEFLATE ENABLE MOVE CONDSTORE ESEARCH UTF8=ACCEPT LIST-EXTENDED LIST-STATUS "
    "LITERAL- SPECIAL-USE APPENDLIMIT=35651584";
// Microsoft 365's (Exchange Online).
const std::string kMicrosoftCaps =
    "IMAP4 IMAP4rev1 AUTH=PLAIN AUTH=XOAUTH2 SASL-IR UIDPLUS MOVE ID UNSELECT CHILDREN IDLE "
    "NAMESPACE LITERAL+";

Script gmailLoggedIn() {
  return Script{}
      .send("* OK Gimap ready for requests from 203.0.113.7 c12mb53742881wrb\r\n")
      .expectCommand("CAPABILITY")
      .send("* CAPABILITY IMAP4rev1 UNSELECT IDLE NAMESPACE QUOTA ID XLIST CHILDREN X-GM-EXT-1 "
            "XYZZY SASL-IR AUTH=XOAUTH2 AUTH=PLAIN AUTH=PLAIN-CLIENTTOKEN AUTH=OAUTHBEARER "
            "AUTH=XOAUTH\r\n")
      .sendTagged("OK Thats all she wrote! c12mb53742881wrb\r\n")
      .expectCommand("LOGIN")
      .sendTagged("OK [CAPABILITY " + kGmailCaps + "] me@gmail.com authenticated (Success)\r\n")
      .expectCommand("NAMESPACE")
      .send("* NAMESPACE ((\"\" \"/\")) NIL NIL\r\n")
      .sendTagged("OK Success\r\n");
}

Script microsoftLoggedIn() {
  return Script{}
      .send("* OK The Microsoft Exchange IMAP4 service is ready. "
            "[TQBOADIAUABSADEAMQBDAEEAMAAwADUANQAuAG4AYQBtAHAAcgBkADEAMQAuAHAAcgBvAGQALgBvAHUAdABsAG8AbwBrAC4AYwBvAG0A]\r\n")
      .expectCommand("CAPABILITY")
      .send("* CAPABILITY " + kMicrosoftCaps + "\r\n")
      .sendTagged("OK CAPABILITY completed.\r\n")
      .expectCommand("LOGIN")
      .sendTagged("OK LOGIN completed.\r\n")
      .expectCommand("CAPABILITY")
      .send("* CAPABILITY " + kMicrosoftCaps + "\r\n")
      .sendTagged("OK CAPABILITY completed.\r\n")
      .expectCommand("NAMESPACE")
      .send("* NAMESPACE ((\"\" \"/\")) NIL NIL\r\n")
      .sendTagged("OK NAMESPACE completed.\r\n");
}

net::Endpoint endpoint(const ScriptedServer& srv) {
  net::Endpoint e;
  e.host = "127.0.0.1";
  e.port = srv.port();
  e.tls = TlsMode::None;
  e.timeout = 5s;
  return e;
}

std::unique_ptr<imap::ImapClient> loggedInClient(const ScriptedServer& srv) {
  auto client = std::make_unique<imap::ImapClient>(net::openTransport(endpoint(srv)), endpoint(srv));
  client->login(imap::Credentials{"me@gmail.com", popgate::Secret("app-password"),
                                  imap::AuthMethod::Login});
  return client;
}

class Bytes final : public imap::MessageSource {
 public:
  explicit Bytes(std::string b) : b_(std::move(b)) {}
  std::uint64_t size() const override { return b_.size(); }
  void forEachChunk(const std::function<void(std::string_view)>& f) const override { f(b_); }

 private:
  std::string b_;
};

const Bytes kSmall("Message-ID: <s@x>\r\nSubject: small\r\n\r\nhello\r\n");

std::vector<imap::AppendItem> one(const Bytes& b = kSmall) { return {imap::AppendItem{&b, {}, {}}}; }

template <class F>
Error expectError(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e;
  }
  BOOST_FAIL("no popgate::Error was thrown");
  throw std::logic_error("unreachable");
}

}  // namespace

BOOST_AUTO_TEST_SUITE(gmail)

// "OK [APPENDUID v n] (Success)", the limit from APPENDLIMIT, and the [THROTTLED] hint that Gmail
// puts after the text of an OK: delivered, with a request to slow down.
BOOST_AUTO_TEST_CASE(testAppendUidLimitAndThrottledHint) {
  ScriptedServer srv({gmailLoggedIn()
                          .expectCommand("APPEND").readAnnouncedLiteral().expect("")
                          .sendTagged("OK [APPENDUID 14 3] (Success)\r\n")
                          .expectCommand("APPEND").readAnnouncedLiteral().expect("")
                          .sendTagged("OK [APPENDUID 14 4] (Success) [THROTTLED]\r\n")
                          .expectEof()});
  auto client = loggedInClient(srv);
  BOOST_TEST(client->appendLimit().value_or(0) == 35651584u);
  BOOST_TEST(!client->multiAppends());
  const auto first = client->append("Work", one());
  BOOST_REQUIRE(first.size() == 1u);
  BOOST_TEST(first[0].ok);
  BOOST_TEST(first[0].uid->uid == 3u);
  BOOST_TEST(!first[0].slow_down);
  const auto second = client->append("Work", one());
  BOOST_TEST(second[0].ok);
  BOOST_TEST(second[0].slow_down);
  client.reset();
  BOOST_TEST(srv.wait());
  BOOST_TEST(srv.failures().empty(), srv.report());
}

// BAD, not NO, for a message over the limit: that one message is refused (quarantine), with the
// server's words; the session goes on.
BOOST_AUTO_TEST_CASE(testTooBigIsARefusalOfThatMessage) {
  ScriptedServer srv({gmailLoggedIn()
                          .expectCommand("APPEND")
                          .sendTagged("BAD [TOOBIG] Message too large. "
                                      "https://support.google.com/mail/answer/6584#limit\r\n")
                          .expectCommand("APPEND").readAnnouncedLiteral().expect("")
                          .sendTagged("OK [APPENDUID 14 5] (Success)\r\n")
                          .expectEof()});
  auto client = loggedInClient(srv);
  const Bytes big(std::string(8000, 'x') + "\r\n");  // over 4 KB: LITERAL- waits for "+"
  const auto refused = client->append("Work", one(big));
  BOOST_TEST(!refused[0].ok);
  BOOST_TEST((refused[0].kind == ErrorKind::MessageRejected));
  BOOST_TEST(refused[0].reply.find("Message too large") != std::string::npos, refused[0].reply);
  BOOST_TEST(client->append("Work", one())[0].ok);
  client.reset();
  BOOST_TEST(srv.wait());
  BOOST_TEST(srv.failures().empty(), srv.report());
}

// A label that another session just created: "NO [ALREADYEXISTS]" to CREATE is fine.
BOOST_AUTO_TEST_CASE(testCreateOfAnExistingLabelIsFine) {
  ScriptedServer srv({gmailLoggedIn()
                          .expectCommand("APPEND").readAnnouncedLiteral().expect("")
                          .sendTagged("NO [TRYCREATE] Folder doesn't exist. (Failure)\r\n")
                          .expectCommand("CREATE")
                          .sendTagged("NO [ALREADYEXISTS] Duplicate folder name Work (Failure)\r\n")
                          .expectCommand("APPEND").readAnnouncedLiteral().expect("")
                          .sendTagged("OK [APPENDUID 14 6] (Success)\r\n")
                          .expectEof()});
  auto client = loggedInClient(srv);
  BOOST_TEST(client->append("Work", one())[0].ok);
  client.reset();
  BOOST_TEST(srv.wait());
  BOOST_TEST(srv.failures().empty(), srv.report());
}

// "* BYE [OVERQUOTA] Account exceeded command or bandwidth limits." ends the session: a pause of
// the whole target (an hour), not a transient network error to retry at once.
BOOST_AUTO_TEST_CASE(testByeOverQuotaPausesTheTarget) {
  ScriptedServer srv({gmailLoggedIn()
                          .expectCommand("APPEND").readAnnouncedLiteral().expect("")
                          .send("* BYE [OVERQUOTA] Account exceeded command or bandwidth limits. "
                                "c12mb53742881wrb\r\n")
                          .close()});
  auto client = loggedInClient(srv);
  const Error e = expectError([&] { client->append("Work", one()); });
  BOOST_TEST((e.kind() == ErrorKind::Throttled));
  BOOST_TEST(e.retryAfter().value_or(0ms) >= std::chrono::milliseconds(std::chrono::hours(1)));
  BOOST_TEST(std::string(e.what()).find("bandwidth") != std::string::npos, e.what());
}

// The connection cap at login: not a wrong password (no auth-class backoff, no "failing").
BOOST_AUTO_TEST_CASE(testTooManySimultaneousConnectionsIsNotAnAuthFailure) {
  ScriptedServer srv({Script{}
                          .send("* OK Gimap ready for requests from 203.0.113.7 x1\r\n")
                          .expectCommand("CAPABILITY")
                          .send("* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\n")
                          .sendTagged("OK Thats all she wrote! x1\r\n")
                          .expectCommand("AUTHENTICATE").send("+ \r\n").expectLine("response", [](std::string_view) { return true; })
                          .sendTagged("NO [ALERT] Too many simultaneous connections. (Failure)\r\n")
                          .expectEof()});
  auto client = std::make_unique<imap::ImapClient>(net::openTransport(endpoint(srv)), endpoint(srv));
  const Error e = expectError(
      [&] {
        client->login(
            imap::Credentials{"me@gmail.com", popgate::Secret("pw"), imap::AuthMethod::Plain});
      });
  BOOST_TEST((e.kind() == ErrorKind::Throttled));
  BOOST_TEST(e.retryAfter().has_value());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(microsoft365)

// The greeting with its base64 server name, LITERAL+ (no waiting for "+"), the flat namespace
// with "/" as delimiter: "Work/Sub" is sent as is.
BOOST_AUTO_TEST_CASE(testNamespaceAndLiteralPlus) {
  ScriptedServer srv({microsoftLoggedIn()
                          .expectLine("APPEND Work/Sub with a non-synchronising literal",
                                      [](std::string_view l) {
                                        return l.find(" APPEND Work/Sub ") != std::string_view::npos &&
                                               l.ends_with("+}");
                                      })
                          .readAnnouncedLiteral().expect("")
                          .send("A0005 OK [APPENDUID 2 17] APPEND completed.\r\n")
                          .expectEof()});
  auto client = loggedInClient(srv);
  BOOST_TEST(!client->appendLimit().has_value());
  const auto out = client->append("Work/Sub", one());
  BOOST_TEST(out[0].ok);
  BOOST_TEST(out[0].uid->uid == 17u);
  client.reset();
  BOOST_TEST(srv.wait());
  BOOST_TEST(srv.failures().empty(), srv.report());
}

BOOST_AUTO_TEST_CASE(testMaximumSizeRefusalIsThatMessagesProblem) {
  ScriptedServer srv({microsoftLoggedIn()
                          .expectCommand("APPEND").readAnnouncedLiteral().expect("")
                          .sendTagged("NO Maximum size of appendable message has been exceeded.\r\n")
                          .expectEof()});
  auto client = loggedInClient(srv);
  const auto out = client->append("Work", one());
  BOOST_TEST(!out[0].ok);
  BOOST_TEST((out[0].kind == ErrorKind::MessageRejected));
}

// Throttling, as BAD or NO, with the suggested wait in milliseconds; "Server Unavailable" too.
BOOST_AUTO_TEST_CASE(testThrottlingAnswersArePausesWithTheSuggestedWait) {
  ScriptedServer srv({microsoftLoggedIn()
                          .expectCommand("APPEND").readAnnouncedLiteral().expect("")
                          .sendTagged("BAD Request is throttled. Suggested Backoff Time: 299609 milliseconds\r\n")
                          .expectCommand("APPEND").readAnnouncedLiteral().expect("")
                          .sendTagged("NO Request is throttled. Suggested Backoff Time: 120000 milliseconds\r\n")
                          .expectCommand("APPEND").readAnnouncedLiteral().expect("")
                          .sendTagged("NO Server Unavailable. 15\r\n")
                          .expectEof()});
  auto client = loggedInClient(srv);
  const auto bad = client->append("Work", one());
  BOOST_TEST((bad[0].kind == ErrorKind::Throttled));
  BOOST_TEST(bad[0].retry_after.value_or(0ms).count() == 299609);
  const auto no = client->append("Work", one());
  BOOST_TEST((no[0].kind == ErrorKind::Throttled));
  BOOST_TEST(no[0].retry_after.value_or(0ms).count() == 120000);
  const auto unavailable = client->append("Work", one());
  BOOST_TEST((unavailable[0].kind == ErrorKind::Throttled));
  BOOST_TEST(!unavailable[0].retry_after.has_value());
  client.reset();
  BOOST_TEST(srv.wait());
  BOOST_TEST(srv.failures().empty(), srv.report());
}

// "BAD Command Argument Error. 11" refuses that message; "* BYE Connection closed. 14" ends the
// session like any dropped connection (transient).
BOOST_AUTO_TEST_CASE(testArgumentErrorAndConnectionClosed) {
  ScriptedServer srv({microsoftLoggedIn()
                          .expectCommand("APPEND").readAnnouncedLiteral().expect("")
                          .sendTagged("BAD Command Argument Error. 11\r\n")
                          .expectCommand("APPEND").readAnnouncedLiteral().expect("")
                          .send("* BYE Connection closed. 14\r\n")
                          .close()});
  auto client = loggedInClient(srv);
  const auto refused = client->append("Work", one());
  BOOST_TEST((refused[0].kind == ErrorKind::MessageRejected));
  const Error e = expectError([&] { client->append("Work", one()); });
  BOOST_TEST((e.kind() == ErrorKind::Transient));
  BOOST_TEST(std::string(e.what()).find("Connection closed. 14") != std::string::npos, e.what());
}

BOOST_AUTO_TEST_SUITE_END()
