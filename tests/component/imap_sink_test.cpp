// ImapSink over an ImapPool against scripted IMAP servers: between start() and finish() the sink
// keeps its session (lookups go there too, not to a second session), and a session left owing
// answers is closed rather than lent to the next user.
#include <boost/test/unit_test.hpp>

#include <chrono>

#include "gateway/delivery/ImapPool.h"
#include "gateway/delivery/ImapSink.h"
#include "tests/support/ScriptedServer.h"

using namespace std::chrono_literals;
using namespace popgate;
using popgate::test::imapGreeting;
using popgate::test::Script;
using popgate::test::ScriptedServer;

namespace {

class Bytes final : public imap::MessageSource {
 public:
  explicit Bytes(std::string b) : b_(std::move(b)) {}
  std::uint64_t size() const override { return b_.size(); }
  void forEachChunk(const std::function<void(std::string_view)>& f) const override { f(b_); }

 private:
  std::string b_;
};

imap::AppendItem item(const Bytes& b) {
  imap::AppendItem i;
  i.message = &b;
  return i;
}

// Greeting, LOGIN and the delimiter query (A0002), as ImapClient opens a session.
Script loggedIn(const std::string& caps) {
  return imapGreeting(caps)
      .expectCommand("LOGIN")
      .sendTagged("OK [CAPABILITY " + caps + "] Logged in\r\n")
      .expectCommand("LIST")
      .send("* LIST (\\Noselect) \"/\" \"\"\r\nA0002 OK List completed\r\n");
}

// A pool of `connections` sessions on the scripted server.
std::unique_ptr<gateway::ImapPool> poolFor(const ScriptedServer& srv, std::uint32_t connections) {
  config::ImapTarget target;
  target.connections = connections;
  const std::uint16_t port = srv.port();
  return std::make_unique<gateway::ImapPool>(target, [port] {
    net::Endpoint e;
    e.host = "127.0.0.1";
    e.port = port;
    e.tls = TlsMode::None;
    e.timeout = 5s;
    auto client = std::make_unique<imap::ImapClient>(net::openTransport(e), e);
    client->login(imap::Credentials{"me", popgate::Secret("pw"), imap::AuthMethod::Login});
    return client;
  });
}

}  // namespace

BOOST_AUTO_TEST_CASE(testStartedAppendsKeepTheSessionForLookupsAndFinish) {
  // Two connections allowed, one used: the lookup between start() and finish() runs on the
  // session that owes the answers (the script has no second connection).
  const std::string caps = "IMAP4rev1 LITERAL+ UIDPLUS";
  ScriptedServer srv({loggedIn(caps)
                          .expectCommand("APPEND").readAnnouncedLiteral().expect("")
                          .expectCommand("EXAMINE")
                          .send("A0003 OK [APPENDUID 4 1] done\r\n")
                          .sendTagged("OK [READ-ONLY] examined\r\n")
                          .expectCommand("UID SEARCH")
                          .send("* SEARCH\r\n").sendTagged("OK searched\r\n")
                          .expectCommand("LOGOUT").send("* BYE\r\n").sendTagged("OK\r\n")
                          .close()});
  auto pool = poolFor(srv, 2);
  {
    gateway::ImapSink sink(*pool);
    const Bytes a("Message-ID: <a@x>\r\n\r\na\r\n");
    sink.start("INBOX", {item(a)});
    imap::MessageFingerprint fp;
    fp.size = 99;
    fp.sha256 = std::string(64, 'a');
    fp.message_id = "<b@x>";
    BOOST_TEST((sink.lookup("INBOX", fp).presence == imap::Lookup::Presence::Absent));
    const auto outcomes = sink.finish();
    BOOST_REQUIRE(outcomes.size() == 1u);
    BOOST_TEST(outcomes[0].ok);
    BOOST_TEST(outcomes[0].uid->uid == 1u);
  }
  pool->closeAll();  // the session went back to the pool: it says goodbye
  BOOST_TEST(srv.wait());
  BOOST_TEST(srv.failures().empty(), srv.report());
}

BOOST_AUTO_TEST_CASE(testSessionOwingAnswersIsClosedNotReused) {
  const std::string caps = "IMAP4rev1 LITERAL+ UIDPLUS";
  ScriptedServer srv({loggedIn(caps)
                          .expectCommand("APPEND").readAnnouncedLiteral().expect("")
                          .expectEof(),  // the sink went away without reading the answer
                      loggedIn(caps)
                          .expectCommand("APPEND").readAnnouncedLiteral().expect("")
                          .sendTagged("OK [APPENDUID 4 2] done\r\n")
                          .expectCommand("LOGOUT").send("* BYE\r\n").sendTagged("OK\r\n")
                          .close()});
  auto pool = poolFor(srv, 1);
  const Bytes a("a\r\n"), b("b\r\n");
  {
    gateway::ImapSink sink(*pool);
    sink.start("INBOX", {item(a)});
  }  // e.g. a crash of the pass between start() and finish()
  {
    gateway::ImapSink sink(*pool);
    const auto outcomes = sink.append("INBOX", {item(b)});
    BOOST_TEST(outcomes[0].ok);
    BOOST_TEST(outcomes[0].uid->uid == 2u);
  }
  pool->closeAll();
  BOOST_TEST(srv.wait());
  BOOST_TEST(srv.failures().empty(), srv.report());
}

BOOST_AUTO_TEST_CASE(testSessionLostWhileOwingTwoAnswersFailsBothFinishes) {
  const std::string caps = "IMAP4rev1 LITERAL+ UIDPLUS";
  ScriptedServer srv({loggedIn(caps)
                          .expectCommand("APPEND").readAnnouncedLiteral().expect("")
                          .expectCommand("APPEND").readAnnouncedLiteral().expect("")
                          .reset()});
  auto pool = poolFor(srv, 1);
  const Bytes a("a\r\n"), b("b\r\n");
  gateway::ImapSink sink(*pool);
  sink.start("INBOX", {item(a)});
  sink.start("INBOX", {item(b)});
  for (int i = 0; i < 2; ++i) {
    try {
      sink.finish();
      BOOST_FAIL("finish() returned outcomes from a lost session");
    } catch (const Error& e) {
      BOOST_TEST((e.kind() == ErrorKind::Transient), e.what());
    }
  }
  BOOST_TEST(srv.wait());
  BOOST_TEST(srv.failures().empty(), srv.report());
}
