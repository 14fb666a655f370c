// ImapClient against scripted IMAP servers on loopback: literal forms, TRYCREATE, refusals before
// and after the literal, untagged noise, recovery search, and the STARTTLS/PREAUTH/certificate
// rules of docs/protocol-notes.md.
#include <boost/test/unit_test.hpp>

#include <chrono>

#include "connectors/common/Error.h"
#include "connectors/codec/Sha256.h"
#include "connectors/imap/ImapClient.h"
#include "tests/support/ClientHarness.h"
#include "tests/support/ScriptedServer.h"
#include "tests/support/TestCerts.h"

using namespace std::chrono_literals;
using namespace popgate;
using popgate::test::endpoint;
using popgate::test::expectError;
using popgate::test::imapCapability;
using popgate::test::imapGreeting;
using popgate::test::imapLoggedIn;
using popgate::test::imapStartTls;
using popgate::test::Script;
using popgate::test::ScriptedServer;
using popgate::test::TestCerts;

namespace {

std::unique_ptr<imap::ImapClient> connect(const net::Endpoint& e) {
  return std::make_unique<imap::ImapClient>(net::openTransport(e), e);
}

imap::Credentials creds(imap::AuthMethod method = imap::AuthMethod::Login) {
  return imap::Credentials{"me", popgate::Secret("s3cret-pw"), method};
}

class Bytes final : public imap::MessageSource {
 public:
  explicit Bytes(std::string b) : b_(std::move(b)) {}
  std::uint64_t size() const override { return b_.size(); }
  void forEachChunk(const std::function<void(std::string_view)>& f) const override {
    for (std::size_t i = 0; i < b_.size(); i += 3) f(std::string_view(b_).substr(i, 3));
  }
  // A spool's answer: how to look for this message after an answer that cannot be trusted.
  std::optional<imap::MessageFingerprint> recoveryFingerprint() const override { return fp_; }
  Bytes& findableAs(imap::MessageFingerprint fp) {
    fp_ = std::move(fp);
    return *this;
  }

 private:
  std::string b_;
  std::optional<imap::MessageFingerprint> fp_;
};

imap::AppendItem item(const Bytes& b) {
  imap::AppendItem i;
  i.message = &b;
  i.flags = {"\\Seen"};
  i.date = codec::MessageDate{1751359957, 120};  // Tue, 1 Jul 2025 10:52:37 +0200
  return i;
}

const std::string kMessage = "Subject: hi\r\n\r\nbody\r\n";

// Two big messages without LITERAL+: the second APPEND arrives before the first is answered (the
// client did not wait), and the first answer comes just before the second "+".
Script answerBeforeNextContinuation() {
  return imapLoggedIn("IMAP4rev1 LITERAL- UIDPLUS")
      .expectCommand("APPEND").send("+ go\r\n").readAnnouncedLiteral().expect("")
      .expectCommand("APPEND")
      .send("A0003 OK [APPENDUID 5 1] first\r\n+ go\r\n")
      .readAnnouncedLiteral().expect("")
      .send("A0004 OK [APPENDUID 5 2] second\r\n")
      .expectEof();
}

}  // namespace

BOOST_AUTO_TEST_CASE(testSynchronizingLiteralWaitsForContinuation) {
  ScriptedServer srv({imapLoggedIn("IMAP4rev1 UIDPLUS")
                          .expectLine("APPEND with flags, date and {n}",
                                      [](std::string_view l) {
                                        return l.find(R"(APPEND Work (\Seen) " 1-Jul-2025 10:52:37 +0200" {21})") !=
                                               std::string_view::npos;
                                      })
                          .send("+ Ready for literal data\r\n")
                          .readAnnouncedLiteral()
                          .expect("")
                          .send("A0003 OK [APPENDUID 38505 3955] Append completed.\r\n")
                          .expectCommand("LOGOUT").send("* BYE\r\n").sendTagged("OK\r\n").close()});
  auto client = connect(endpoint(srv));
  client->login(creds());
  const Bytes m(kMessage);
  const auto outcomes = client->append("Work", {item(m)});
  BOOST_REQUIRE(outcomes.size() == 1u);
  BOOST_TEST(outcomes[0].ok);
  BOOST_REQUIRE(outcomes[0].uid.has_value());
  BOOST_TEST(outcomes[0].uid->uidvalidity == 38505u);
  BOOST_TEST(outcomes[0].uid->uid == 3955u);
  client->logout();
  BOOST_TEST(srv.wait());
  BOOST_TEST(srv.failures().empty(), srv.report());
  BOOST_TEST(srv.received(0, kMessage));
}

BOOST_AUTO_TEST_CASE(testLiteralPlusAppendsArePipelined) {
  const std::string caps = "IMAP4rev1 LITERAL+ UIDPLUS";
  ScriptedServer srv({imapLoggedIn(caps)
                          .expect("").readAnnouncedLiteral().expect("")  // 1st, no "+" asked
                          .expect("").readAnnouncedLiteral().expect("")
                          .expect("").readAnnouncedLiteral().expect("")
                          .send("A0003 OK [APPENDUID 7 1] done\r\n* 2 EXISTS\r\n"
                                "A0004 NO [LIMIT] too big\r\nA0005 OK done\r\n")
                          .expectEof()});
  auto client = connect(endpoint(srv));
  client->login(creds());
  const Bytes a("a\r\n"), b("bb\r\n"), c("ccc\r\n");
  const auto outcomes = client->append("INBOX", {item(a), item(b), item(c)});
  BOOST_TEST(outcomes[0].ok);
  BOOST_TEST(!outcomes[1].ok);
  BOOST_TEST((outcomes[1].kind == ErrorKind::Transient));
  BOOST_TEST(outcomes[2].ok);
  BOOST_TEST(!outcomes[2].uid.has_value());  // OK without APPENDUID is fine
  client.reset();
  BOOST_TEST(srv.wait());
  BOOST_TEST(srv.failures().empty(), srv.report());
  BOOST_TEST(!srv.received(0, "+ "));
}

BOOST_AUTO_TEST_CASE(testLiteralMinusOnlyForSmallMessages) {
  const std::string caps = "IMAP4rev1 LITERAL- UIDPLUS";
  const std::string big(5000, 'x');
  ScriptedServer srv({imapLoggedIn(caps)
                          .expectLine("small literal is {n+}",
                                      [](std::string_view l) { return l.ends_with("{3+}"); })
                          .readLiteral(3).expect("")
                          .expectLine("big literal is {n}",
                                      [](std::string_view l) { return l.ends_with("{5000}"); })
                          .send("+ go\r\n")
                          .readLiteral(5000).expect("")
                          .send("A0003 OK done\r\nA0004 OK done\r\n")
                          .expectEof()});
  auto client = connect(endpoint(srv));
  client->login(creds());
  const Bytes a("a\r\n"), b(big);
  const auto outcomes = client->append("INBOX", {item(a), item(b)});
  BOOST_TEST(outcomes[0].ok);
  BOOST_TEST(outcomes[1].ok);
  client.reset();
  BOOST_TEST(srv.wait());
  BOOST_TEST(srv.failures().empty(), srv.report());
}

BOOST_AUTO_TEST_CASE(testTryCreateCreatesTheFolderAndRetriesOnce) {
  ScriptedServer srv({imapLoggedIn("IMAP4rev1 UIDPLUS")
                          .expectCommand("APPEND")
                          .sendTagged("NO [TRYCREATE] Mailbox doesn't exist: Work\r\n")
                          .expectCommand("CREATE").sendTagged("OK Create completed.\r\n")
                          .expectCommand("APPEND").send("+ OK\r\n").readAnnouncedLiteral()
                          .expect("").sendTagged("OK [APPENDUID 1 1] done\r\n")
                          .expectEof()});
  auto client = connect(endpoint(srv));
  client->login(creds());
  const Bytes m(kMessage);
  const auto outcomes = client->append("Work", {item(m)});
  BOOST_TEST(outcomes[0].ok);
  client.reset();
  BOOST_TEST(srv.wait());
  BOOST_TEST(srv.failures().empty(), srv.report());
}

// A server that keeps answering [TRYCREATE] for a folder it lists: the APPEND is retried
// kTryCreateRounds times in all, then the refusal stands as a mailbox problem.
BOOST_AUTO_TEST_CASE(testTryCreateRetriesOfAnExistingFolderAreBounded) {
  Script script = imapLoggedIn("IMAP4rev1");
  script.expectCommand("APPEND").sendTagged("NO [TRYCREATE] no\r\n")
      .expectCommand("CREATE").sendTagged("NO [ALREADYEXISTS] exists\r\n");
  for (int round = 1; round <= imap::ImapClient::kTryCreateRounds; ++round) {
    script.expectCommand("APPEND").sendTagged("NO [TRYCREATE] still no\r\n");
  }
  ScriptedServer srv({script.expectEof()});
  auto client = connect(endpoint(srv));
  client->login(creds());
  const Bytes m(kMessage);
  const auto outcomes = client->append("Work", {item(m)});
  BOOST_TEST(!outcomes[0].ok);
  BOOST_TEST((outcomes[0].kind == ErrorKind::MailboxProblem));
  client.reset();
  BOOST_TEST(srv.wait());
  BOOST_TEST(srv.failures().empty(), srv.report());
}

// CREATE refused and LIST shows no such folder (a name the server does not allow): a mailbox
// problem with the server's answer to the CREATE, and no second APPEND.
BOOST_AUTO_TEST_CASE(testCreateRefusedAndNotListedIsAMailboxProblem) {
  ScriptedServer srv({imapLoggedIn("IMAP4rev1")
                          .expectCommand("APPEND").sendTagged("NO [TRYCREATE] no\r\n")
                          .expectCommand("CREATE").sendTagged("NO Invalid mailbox name.\r\n")
                          .expectCommand("LIST").sendTagged("OK LIST completed\r\n")
                          .expectEof()});
  auto client = connect(endpoint(srv));
  client->login(creds());
  const Bytes m(kMessage);
  const Error e = expectError([&] { client->append("Work", {item(m)}); });
  BOOST_TEST((e.kind() == ErrorKind::MailboxProblem));
  BOOST_TEST(std::string(e.what()).find("NO Invalid mailbox name.") != std::string::npos, e.what());
}

// A folder LIST shows as \Noselect (a hierarchy level only) exists but cannot take messages: a
// configuration error that says so (the user must choose another folder), not a mailbox problem
// retried for ever.
BOOST_AUTO_TEST_CASE(testCreateRefusedAndListedNoselectIsAClearConfigError) {
  ScriptedServer srv({imapLoggedIn("IMAP4rev1")
                          .expectCommand("APPEND").sendTagged("NO [TRYCREATE] no\r\n")
                          .expectCommand("CREATE").sendTagged("NO Cannot create this folder.\r\n")
                          .expectCommand("LIST")
                          .send("* LIST (\\Noselect \\HasChildren) \"/\" \"Work\"\r\n")
                          .sendTagged("OK LIST completed\r\n")
                          .expectEof()});
  auto client = connect(endpoint(srv));
  client->login(creds());
  const Bytes m(kMessage);
  const Error e = expectError([&] { client->append("Work", {item(m)}); });
  BOOST_TEST((e.kind() == ErrorKind::Config));
  BOOST_TEST(std::string(e.what()).find("cannot hold messages") != std::string::npos, e.what());
  BOOST_TEST(std::string(e.what()).find("Noselect") != std::string::npos, e.what());
}

// Gmail (X-GM-EXT-1): a folder under "[Gmail]/" is never CREATEd (only Gmail's own folders live
// there); the [TRYCREATE] for it ends as a configuration error naming the rule, with no CREATE.
BOOST_AUTO_TEST_CASE(testGmailNeverCreatesUnderTheGmailFolder) {
  ScriptedServer srv({imapLoggedIn("IMAP4rev1 UIDPLUS X-GM-EXT-1")
                          .expectCommand("APPEND").sendTagged("NO [TRYCREATE] Folder doesn't exist. (Failure)\r\n")
                          .expectEof()});
  auto client = connect(endpoint(srv));
  client->login(creds());
  const Bytes m(kMessage);
  const Error e = expectError([&] { client->append("[Gmail]/Work", {item(m)}); });
  BOOST_TEST((e.kind() == ErrorKind::Config));
  BOOST_TEST(std::string(e.what()).find("[Gmail]/") != std::string::npos, e.what());
  client.reset();
  BOOST_TEST(srv.wait());
  BOOST_TEST(srv.failures().empty(), srv.report());
}

// The answers of real servers to a CREATE of a folder that exists (another session made it
// between our APPEND's [TRYCREATE] and our CREATE): each is checked with LIST and the APPEND
// goes again. GNU mailutils 3.15: "NO CREATE already exists" (no response code); Cyrus 3.6:
// "NO Mailbox already exists"; Courier 5: "NO Cannot create this folder.".
BOOST_AUTO_TEST_CASE(testCreateOfAnExistingFolderAsRealServersAnswerIt) {
  struct Server {
    const char* name;
    const char* delimiter;
    const char* folder;  // the server's name of popgate's folder "Work"
    const char* create_answer;
    const char* list_line;
  };
  const Server servers[] = {
      {"GNU mailutils 3.15", "/", "Work", "NO CREATE already exists\r\n",
       "* LIST () \"/\" Work\r\n"},
      {"Cyrus 3.6", ".", "INBOX.Work", "NO Mailbox already exists\r\n",
       "* LIST (\\HasNoChildren) \".\" INBOX.Work\r\n"},
      {"Courier 5", ".", "INBOX.Work", "NO Cannot create this folder.\r\n",
       "* LIST (\\Unmarked \\HasNoChildren) \".\" \"INBOX.Work\"\r\n"},
  };
  for (const Server& server : servers) {
    BOOST_TEST_CONTEXT(server.name) {
      const bool prefixed = std::string(server.folder) != "Work";
      Script script =
          imapGreeting("IMAP4rev1 NAMESPACE").expectCommand("LOGIN")
              .sendTagged("OK [CAPABILITY IMAP4rev1 NAMESPACE] Logged in\r\n")
              .expectCommand("NAMESPACE")
              .send(std::string("* NAMESPACE ((\"") + (prefixed ? "INBOX." : "") + "\" \"" +
                    server.delimiter + "\")) NIL NIL\r\n")
              .sendTagged("OK NAMESPACE completed\r\n");
      script.expectCommand("APPEND").sendTagged("NO [TRYCREATE] Mailbox does not exist\r\n")
          .expectCommand("CREATE").sendTagged(server.create_answer)
          .expectCommand("LIST").send(server.list_line).sendTagged("OK LIST completed\r\n")
          .expectCommand("APPEND").send("+ OK\r\n").readAnnouncedLiteral().expect("")
          .sendTagged("OK APPEND completed\r\n")
          .expectEof();
      ScriptedServer srv({script});
      auto client = connect(endpoint(srv));
      client->login(creds());
      const Bytes m(kMessage);
      const auto outcomes = client->append("Work", {item(m)});
      BOOST_TEST(outcomes[0].ok, outcomes[0].reply);
      client.reset();
      BOOST_TEST(srv.wait());
      BOOST_TEST(srv.failures().empty(), srv.report());
      const std::string folder = server.folder;
      BOOST_TEST(srv.received(0, " APPEND " + folder + " "), srv.report());
      BOOST_TEST(srv.received(0, " CREATE " + folder + "\r\n"), srv.report());
      BOOST_TEST(srv.received(0, " LIST \"\" " + folder + "\r\n"), srv.report());
    }
  }
}

// A client logged in to `srv` whose notices (warnings) go to `notices`.
std::unique_ptr<imap::ImapClient> loggedInNoting(ScriptedServer& srv,
                                                 std::vector<std::string>& notices) {
  auto client = connect(endpoint(srv));
  client->login(creds());
  client->setNotice([&notices](std::string_view text) { notices.emplace_back(text); });
  return client;
}

// GNU mailutils 3.15 logged in; its first APPEND is answered "NO APPEND [TRYCREATE] failed", and
// the CREATE that follows finds the folder there (LIST shows it).
Script mailutilsFirstAppendRefused() {
  const std::string caps = "IMAP4rev1 NAMESPACE ID IDLE LITERAL+ UNSELECT";
  Script script = imapGreeting(caps);
  script.expectCommand("LOGIN").send("A0001 OK LOGIN Completed\r\n")
      .then(imapCapability(caps))
      .expectCommand("NAMESPACE").send("* NAMESPACE ((\"\" \"/\")) NIL NIL\r\n")
      .sendTagged("OK NAMESPACE Completed\r\n")
      .expectCommand("APPEND").readAnnouncedLiteral().expect("")
      .sendTagged("NO APPEND [TRYCREATE] failed\r\n")
      .expectCommand("CREATE").sendTagged("NO CREATE already exists\r\n")
      .expectCommand("LIST").send("* LIST () \"/\" Work\r\n")
      .sendTagged("OK LIST Completed\r\n");
  return script;
}

// GNU mailutils 3.15 answers any failed APPEND with "NO APPEND [TRYCREATE] failed" (the code
// after the command's name), even when the folder exists and the failure was a race of its own
// sessions over one maildir. The first one makes popgate CREATE (answered "NO CREATE already
// exists", so LIST), the next one for the same folder does not; a message that cannot be looked
// for (no recoveryFingerprint(): not a spool) is appended again at once, and the session's later
// APPENDs to it are not held up.
BOOST_AUTO_TEST_CASE(testMailutilsTryCreateOnAnExistingFolderRetriesTheAppend) {
  ScriptedServer srv({mailutilsFirstAppendRefused()
                          .expectCommand("APPEND").readAnnouncedLiteral().expect("")
                          .sendTagged("NO APPEND [TRYCREATE] failed\r\n")
                          .expectCommand("APPEND").readAnnouncedLiteral().expect("")
                          .sendTagged("OK APPEND Completed\r\n")
                          .expectCommand("APPEND").readAnnouncedLiteral().expect("")
                          .sendTagged("OK APPEND Completed\r\n")
                          .expectEof()});
  std::vector<std::string> notices;
  auto client = loggedInNoting(srv, notices);
  const Bytes m(kMessage), n(kMessage + "second\r\n");
  const auto first = client->append("Work", {item(m)});
  BOOST_TEST(first[0].ok, first[0].reply);
  BOOST_TEST(!first[0].uid.has_value());  // no UIDPLUS
  const auto second = client->append("Work", {item(n)});
  BOOST_TEST(second[0].ok, second[0].reply);
  BOOST_REQUIRE(notices.size() == 2u);  // each refusal, the first one's folder found by CREATE
  BOOST_TEST(notices[0].find("NO APPEND [TRYCREATE] failed") != std::string::npos, notices[0]);
  BOOST_TEST(notices[1].find("NO APPEND [TRYCREATE] failed") != std::string::npos, notices[1]);
  client.reset();
  BOOST_TEST(srv.wait());
  BOOST_TEST(srv.failures().empty(), srv.report());
}

BOOST_AUTO_TEST_CASE(testNoInsteadOfContinuationSendsNoLiteral) {
  ScriptedServer srv({imapLoggedIn("IMAP4rev1 UIDPLUS")
                          .expectCommand("APPEND")
                          .sendTagged("NO [OVERQUOTA] Quota exceeded (mailbox for user is full)\r\n")
                          .expectEof()});
  auto client = connect(endpoint(srv));
  client->login(creds());
  const Bytes m(kMessage);
  const auto outcomes = client->append("INBOX", {item(m)});
  BOOST_TEST(!outcomes[0].ok);
  BOOST_TEST((outcomes[0].kind == ErrorKind::OverQuota));
  BOOST_TEST(outcomes[0].reply.find("OVERQUOTA") != std::string::npos);
  client.reset();
  BOOST_TEST(srv.wait());
  BOOST_TEST(!srv.received(0, kMessage));
}

BOOST_AUTO_TEST_CASE(testRefusedMessageIsRejectedNotFatal) {
  ScriptedServer srv({imapLoggedIn("IMAP4rev1")
                          .expectCommand("APPEND").send("+ OK\r\n").readAnnouncedLiteral()
                          .expect("").sendTagged("NO Message contains invalid characters\r\n")
                          .expectEof()});
  auto client = connect(endpoint(srv));
  client->login(creds());
  const Bytes m(kMessage);
  const auto outcomes = client->append("INBOX", {item(m)});
  BOOST_TEST(!outcomes[0].ok);
  BOOST_TEST((outcomes[0].kind == ErrorKind::MessageRejected));
}

BOOST_AUTO_TEST_CASE(testUntaggedNoiseDuringAppendIsSkipped) {
  ScriptedServer srv({imapLoggedIn("IMAP4rev1")
                          .expectCommand("APPEND")
                          .send("* 3 EXISTS\r\n* OK [ALERT] System shutdown in 10 minutes\r\n+ go\r\n")
                          .readAnnouncedLiteral().expect("")
                          .send("* 4 EXISTS\r\n* 1 FETCH (FLAGS (\\Seen) BODY[] {7}\r\nA0002\r\n)\r\n"
                                "* 1 EXPUNGE\r\n")
                          .sendTagged("OK [APPENDUID 9 12] done\r\n")
                          .expectEof()});
  auto client = connect(endpoint(srv));
  client->login(creds());
  const Bytes m(kMessage);
  const auto outcomes = client->append("INBOX", {item(m)});
  BOOST_TEST(outcomes[0].ok);
  BOOST_TEST(outcomes[0].uid->uid == 12u);  // the "A0002" inside the literal was not a reply
}

BOOST_AUTO_TEST_CASE(testByeMidAppendIsTransient) {
  ScriptedServer srv({imapLoggedIn("IMAP4rev1")
                          .expectCommand("APPEND").send("+ go\r\n").readAnnouncedLiteral()
                          .expect("").send("* BYE Server shutting down\r\n").close()});
  auto client = connect(endpoint(srv));
  client->login(creds());
  const Bytes m(kMessage);
  const Error e = expectError([&] { client->append("INBOX", {item(m)}); });
  BOOST_TEST((e.kind() == ErrorKind::Transient));
  BOOST_TEST(e.serverText().find("BYE") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(testResetMidLiteralIsTransient) {
  ScriptedServer srv({imapLoggedIn("IMAP4rev1")
                          .expectCommand("APPEND").send("+ go\r\n").readLiteral(5).reset()});
  auto client = connect(endpoint(srv));
  client->login(creds());
  const Bytes m(kMessage);
  BOOST_TEST((expectError([&] { client->append("INBOX", {item(m)}); }).kind() ==
              ErrorKind::Transient));
}

BOOST_AUTO_TEST_CASE(testLoginRefusedIsAuth) {
  ScriptedServer srv({imapGreeting("IMAP4rev1")
                          .expectCommand("LOGIN")
                          .sendTagged("NO [AUTHENTICATIONFAILED] Authentication failed.\r\n")
                          .expectEof()});
  auto client = connect(endpoint(srv));
  const Error e = expectError([&] { client->login(creds()); });
  BOOST_TEST((e.kind() == ErrorKind::Auth));
  BOOST_TEST(std::string(e.what()).find("s3cret") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(testEightBitPasswordTravelsAsALiteral) {
  ScriptedServer srv({imapGreeting("IMAP4rev1")
                          .expectLine("LOGIN me {n}",
                                      [](std::string_view l) { return l.ends_with("LOGIN me {9}"); })
                          .send("+ go\r\n")
                          .readLiteral(9).expect("")
                          .send("A0001 OK Logged in\r\n")
                          .then(imapCapability("IMAP4rev1"))
                          .expectEof()});
  auto client = connect(endpoint(srv));
  client->login(imap::Credentials{"me", popgate::Secret("p\xc3\xa4sswort"), imap::AuthMethod::Login});
  client.reset();
  BOOST_TEST(srv.wait());
  BOOST_TEST(srv.failures().empty(), srv.report());
}

BOOST_AUTO_TEST_CASE(testAuthenticatePlainWithSaslIr) {
  ScriptedServer srv({imapGreeting("IMAP4rev1 SASL-IR AUTH=PLAIN")
                          .expectLine("AUTHENTICATE PLAIN <ir>",
                                      [](std::string_view l) {
                                        return l.ends_with("AUTHENTICATE PLAIN AG1lAHMzY3JldC1wdw==");
                                      })
                          .send("A0001 OK [CAPABILITY IMAP4rev1 LITERAL+] Logged in\r\n")
                          .expectEof()});
  auto client = connect(endpoint(srv));
  client->login(creds(imap::AuthMethod::Auto));
  BOOST_TEST(client->hasCapability("LITERAL+"));
  client.reset();
  BOOST_TEST(srv.wait());
  BOOST_TEST(srv.failures().empty(), srv.report());
}

// GNU mailutils 3.15 imap4d, as it answers: no SASL-IR, so AUTHENTICATE PLAIN in two steps
// ("+ " with a space), and a tagged OK that ends with a bare LF.
BOOST_AUTO_TEST_CASE(testMailutilsLoginTwoStepPlainWithBareLfOk) {
  const std::string caps =
      "IMAP4rev1 NAMESPACE ID IDLE LITERAL+ UNSELECT AUTH=GSSAPI AUTH=ANONYMOUS AUTH=EXTERNAL "
      "AUTH=LOGIN AUTH=PLAIN AUTH=SECURID AUTH=DIGEST-MD5 AUTH=CRAM-MD5";
  ScriptedServer srv({Script()
                          .send("* OK IMAP4rev1\r\n")
                          .then(imapCapability(caps))
                          .expectLine("AUTHENTICATE PLAIN",
                                      [](std::string_view l) { return l == "A0002 AUTHENTICATE PLAIN"; })
                          .send("+ \r\n")
                          .expect("AG1lAHMzY3JldC1wdw==")
                          .send("A0002 OK AUTHENTICATE PLAIN authentication successful\n")
                          .then(imapCapability("IMAP4rev1 NAMESPACE ID IDLE LITERAL+ UNSELECT"))
                          .expectEof()});
  auto client = connect(endpoint(srv));
  client->login(creds(imap::AuthMethod::Auto));
  BOOST_TEST(client->hasCapability("LITERAL+"));
  BOOST_TEST(!client->hasCapability("UIDPLUS"));
  client.reset();
  BOOST_TEST(srv.wait());
  BOOST_TEST(srv.failures().empty(), srv.report());
}

// A server that offers SASL-IR and answers an initial response with BAD (mailutils' words): the
// two-step form follows; when that gets BAD as well, LOGIN.
BOOST_AUTO_TEST_CASE(testSaslIrRefusedWithBadFallsBackToTwoStepThenLogin) {
  ScriptedServer srv({imapGreeting("IMAP4rev1 SASL-IR AUTH=PLAIN")
                          .expectLine("AUTHENTICATE PLAIN <ir>",
                                      [](std::string_view l) {
                                        return l == "A0001 AUTHENTICATE PLAIN AG1lAHMzY3JldC1wdw==";
                                      })
                          .send("A0001 BAD AUTHENTICATE Invalid arguments\r\n")
                          .expectLine("AUTHENTICATE PLAIN",
                                      [](std::string_view l) { return l == "A0002 AUTHENTICATE PLAIN"; })
                          .send("A0002 BAD AUTHENTICATE mechanism not supported\r\n")
                          .expectLine("LOGIN", [](std::string_view l) {
                            return l == "A0003 LOGIN me s3cret-pw";
                          })
                          .send("A0003 OK [CAPABILITY IMAP4rev1] Logged in\n")
                          .expectEof(),
                      imapGreeting("IMAP4rev1 SASL-IR AUTH=PLAIN")
                          .expectCommand("AUTHENTICATE")
                          .sendTagged("BAD AUTHENTICATE Invalid arguments\r\n")
                          .expectLine("AUTHENTICATE PLAIN",
                                      [](std::string_view l) { return l == "A0002 AUTHENTICATE PLAIN"; })
                          .send("+ \r\n")
                          .expect("AG1lAHMzY3JldC1wdw==")
                          .send("A0002 OK [CAPABILITY IMAP4rev1] done\r\n")
                          .expectEof()});
  for (int i = 0; i < 2; ++i) {
    auto client = connect(endpoint(srv));
    client->login(creds(imap::AuthMethod::Auto));
    client.reset();
  }
  BOOST_TEST(srv.wait());
  BOOST_TEST(srv.failures().empty(), srv.report());
}

// A wrong password is NO, not BAD: no fallback, an authentication error.
BOOST_AUTO_TEST_CASE(testSaslIrRefusedWithNoIsAnAuthError) {
  ScriptedServer srv({imapGreeting("IMAP4rev1 SASL-IR AUTH=PLAIN")
                          .expectCommand("AUTHENTICATE")
                          .sendTagged("NO [AUTHENTICATIONFAILED] Authentication failed.\r\n")
                          .expectEof()});
  auto client = connect(endpoint(srv));
  const Error e = expectError([&] { client->login(creds(imap::AuthMethod::Auto)); });
  BOOST_TEST((e.kind() == ErrorKind::Auth));
  client.reset();
  BOOST_TEST(srv.wait());
  BOOST_TEST(srv.failures().empty(), srv.report());
}

BOOST_AUTO_TEST_CASE(testStartTlsUpgradeAndCapabilitiesAskedAgain) {
  ScriptedServer srv({imapGreeting("IMAP4rev1 STARTTLS LOGINDISABLED")
                          .then(imapStartTls(TestCerts::localhost()))
                          .then(imapCapability("IMAP4rev1 AUTH=PLAIN"))
                          .expectCommand("AUTHENTICATE").send("+ \r\n")
                          .expect("AG1lAHMzY3JldC1wdw==")
                          .sendTagged("OK Logged in\r\n")
                          .then(imapCapability("IMAP4rev1 LITERAL+"))
                          .expectEof()});
  auto client = connect(endpoint(srv, TlsMode::StartTls));
  client->login(creds(imap::AuthMethod::Auto));
  BOOST_TEST(client->hasCapability("LITERAL+"));
  client.reset();
  BOOST_TEST(srv.wait());
  BOOST_TEST(srv.failures().empty(), srv.report());
}

BOOST_AUTO_TEST_CASE(testStartTlsNotOfferedFails) {
  ScriptedServer srv({imapGreeting("IMAP4rev1 AUTH=PLAIN").expectEof()});
  BOOST_TEST((expectError([&] { connect(endpoint(srv, TlsMode::StartTls)); }).kind() ==
              ErrorKind::Security));
  BOOST_TEST(srv.wait());
  BOOST_TEST(!srv.received(0, "LOGIN"));
}

BOOST_AUTO_TEST_CASE(testStartTlsRefusedFails) {
  ScriptedServer srv({imapGreeting("IMAP4rev1 STARTTLS")
                          .expectCommand("STARTTLS").sendTagged("NO not today\r\n")
                          .expectEof()});
  BOOST_TEST((expectError([&] { connect(endpoint(srv, TlsMode::StartTls)); }).kind() ==
              ErrorKind::Security));
  BOOST_TEST(srv.wait());
  BOOST_TEST(!srv.received(0, "LOGIN"));
}

BOOST_AUTO_TEST_CASE(testPreauthWithStartTlsRequiredFails) {
  ScriptedServer srv({Script{}.send("* PREAUTH [CAPABILITY IMAP4rev1 STARTTLS] welcome\r\n").expectEof()});
  const Error e = expectError([&] { connect(endpoint(srv, TlsMode::StartTls)); });
  BOOST_TEST((e.kind() == ErrorKind::Security));
  BOOST_TEST(std::string(e.what()).find("PREAUTH") != std::string::npos);
  BOOST_TEST(srv.wait());
}

BOOST_AUTO_TEST_CASE(testCertificateForAnotherHostIsRefusedBeforeLogin) {
  ScriptedServer srv({Script{}.tls(TestCerts::otherHost()).then(imapGreeting()).expectEof(2s)});
  BOOST_TEST((expectError([&] { connect(endpoint(srv, TlsMode::Implicit)); }).kind() ==
              ErrorKind::Security));
  BOOST_TEST(srv.wait());
  BOOST_TEST(!srv.received(0, "LOGIN"));
}

BOOST_AUTO_TEST_CASE(testStartTlsWithCertificateForAnotherHostSendsNoCredentials) {
  ScriptedServer srv({imapGreeting("IMAP4rev1 STARTTLS")
                          .then(imapStartTls(TestCerts::otherHost()))
                          .expectEof(2s)});
  BOOST_TEST((expectError([&] { connect(endpoint(srv, TlsMode::StartTls)); }).kind() ==
              ErrorKind::Security));
  BOOST_TEST(srv.wait());
  BOOST_TEST(!srv.received(0, "LOGIN"));
  BOOST_TEST(!srv.received(0, "s3cret"));
}

BOOST_AUTO_TEST_CASE(testSlashInFolderNamesBecomesTheServersDelimiter) {
  ScriptedServer srv({imapLoggedIn("IMAP4rev1 LITERAL+", ".")
                          .expectLine("APPEND to ISP.Old Provider",
                                      [](std::string_view l) {
                                        return l.find("APPEND \"ISP.Old Provider\" ") !=
                                               std::string_view::npos;
                                      })
                          .readAnnouncedLiteral().expect("")
                          .send("A0003 OK done\r\n")
                          .expectEof()});
  auto client = connect(endpoint(srv));
  client->login(creds());
  const Bytes m(kMessage);
  BOOST_TEST(client->append("ISP/Old Provider", {item(m)})[0].ok);
  client.reset();
  BOOST_TEST(srv.wait());
  BOOST_TEST(srv.failures().empty(), srv.report());
}

BOOST_AUTO_TEST_CASE(testPipelinedAnswerArrivingBeforeTheNextContinuation) {
  // Without LITERAL+ a big message waits for "+"; the previous APPEND's OK may come first.
  const std::string big(5000, 'y');
  ScriptedServer srv({answerBeforeNextContinuation()});
  auto client = connect(endpoint(srv));
  client->login(creds());
  const Bytes a(big), b(big + "z");
  const auto outcomes = client->append("INBOX", {item(a), item(b)});
  BOOST_TEST(outcomes[0].ok);
  BOOST_TEST(outcomes[0].uid->uid == 1u);
  BOOST_TEST(outcomes[1].ok);
  BOOST_TEST(outcomes[1].uid->uid == 2u);
  client.reset();
  BOOST_TEST(srv.wait());
  BOOST_TEST(srv.failures().empty(), srv.report());
}

BOOST_AUTO_TEST_CASE(testTryCreateInsteadOfContinuationCreatesTheFolder) {
  const std::string big(5000, 'y');
  ScriptedServer srv({imapLoggedIn("IMAP4rev1 LITERAL-")
                          .expectCommand("APPEND").sendTagged("NO [TRYCREATE] no such folder\r\n")
                          .expectCommand("CREATE").sendTagged("OK created\r\n")
                          .expectCommand("APPEND").send("+ go\r\n").readAnnouncedLiteral().expect("")
                          .sendTagged("OK done\r\n")
                          .expectEof()});
  auto client = connect(endpoint(srv));
  client->login(creds());
  const Bytes a(big);
  BOOST_TEST(client->append("Work", {item(a)})[0].ok);
  client.reset();
  BOOST_TEST(srv.wait());
  BOOST_TEST(srv.failures().empty(), srv.report());
}

BOOST_AUTO_TEST_CASE(testMultiAppendBatchAndItsUids) {
  ScriptedServer srv({imapLoggedIn("IMAP4rev1 LITERAL+ MULTIAPPEND UIDPLUS")
                          .expectCommand("APPEND").readAnnouncedLiteral()
                          .expect("").readAnnouncedLiteral()
                          .expect("").readAnnouncedLiteral()
                          .expect("")
                          .sendTagged("OK [APPENDUID 9 21:23] Append completed.\r\n")
                          .expectEof()});
  auto client = connect(endpoint(srv));
  client->login(creds());
  const Bytes a("a\r\n"), b("bb\r\n"), c("ccc\r\n");
  const auto outcomes = client->append("INBOX", {item(a), item(b), item(c)});
  for (std::uint32_t i = 0; i < 3; ++i) {
    BOOST_TEST(outcomes[i].ok);
    BOOST_REQUIRE(outcomes[i].uid.has_value());
    BOOST_TEST(outcomes[i].uid->uid == 21 + i);
  }
  client.reset();
  BOOST_TEST(srv.wait());
  BOOST_TEST(srv.failures().empty(), srv.report());
}

BOOST_AUTO_TEST_CASE(testRefusedMultiAppendFallsBackToSinglesWithoutDuplicates) {
  // All or nothing: the server stored none of the batch; single APPENDs then find the one it
  // refuses, and each of the others is sent exactly once more.
  ScriptedServer srv({imapLoggedIn("IMAP4rev1 LITERAL+ MULTIAPPEND UIDPLUS")
                          .expectCommand("APPEND").readAnnouncedLiteral()
                          .expect("").readAnnouncedLiteral()
                          .expect("").readAnnouncedLiteral()
                          .expect("")
                          .sendTagged("NO [LIMIT] one of these is too big\r\n")
                          .expect("").readAnnouncedLiteral().expect("")
                          .expect("").readAnnouncedLiteral().expect("")
                          .expect("").readAnnouncedLiteral().expect("")
                          .send("A0004 OK [APPENDUID 9 1] done\r\nA0005 NO [TOOBIG] too big\r\n"
                                "A0006 OK [APPENDUID 9 2] done\r\n")
                          .expectEof()});
  std::vector<std::string> notices;
  auto client = connect(endpoint(srv));
  client->setNotice([&](std::string_view n) { notices.emplace_back(n); });
  client->login(creds());
  const Bytes a("a\r\n"), b(std::string(100, 'b') + "\r\n"), c("ccc\r\n");
  const auto outcomes = client->append("INBOX", {item(a), item(b), item(c)});
  BOOST_TEST(outcomes[0].ok);
  BOOST_TEST(!outcomes[1].ok);
  BOOST_TEST((outcomes[1].kind == ErrorKind::MessageRejected));
  BOOST_TEST(outcomes[2].ok);
  BOOST_REQUIRE(notices.size() == 1u);
  BOOST_TEST(notices[0].find("MULTIAPPEND") != std::string::npos);
  client.reset();
  BOOST_TEST(srv.wait());
  BOOST_TEST(srv.failures().empty(), srv.report());
}

// appendStart()/appendFinish(): the second APPEND goes out right after the first literal, before
// the first answer is read; that answer arrives while the second waits for its "+" and is kept.
BOOST_AUTO_TEST_CASE(testStartedAppendsOverlapTheirAnswers) {
  const std::string big(5000, 'y');
  ScriptedServer srv({answerBeforeNextContinuation()});
  auto client = connect(endpoint(srv));
  client->login(creds());
  const Bytes a(big), b(big + "z");
  auto first = client->appendStart("INBOX", {item(a)});
  auto second = client->appendStart("INBOX", {item(b)});
  const auto one = client->appendFinish(first);
  const auto two = client->appendFinish(second);
  BOOST_REQUIRE(one.size() == 1u);
  BOOST_REQUIRE(two.size() == 1u);
  BOOST_TEST(one[0].ok);
  BOOST_TEST(one[0].uid->uid == 1u);
  BOOST_TEST(two[0].ok);
  BOOST_TEST(two[0].uid->uid == 2u);
  client.reset();
  BOOST_TEST(srv.wait());
  BOOST_TEST(srv.failures().empty(), srv.report());
}

// Both started APPENDs meet a missing folder: the first finish creates it and retries its own
// message; the second finish knows the folder exists now (this session created it) and retries
// its own without another CREATE. Each message is stored once.
BOOST_AUTO_TEST_CASE(testStartedAppendsBothMeetingTryCreate) {
  const std::string big(5000, 'y');
  ScriptedServer srv({imapLoggedIn("IMAP4rev1 LITERAL- UIDPLUS")
                          .expectCommand("APPEND").sendTagged("NO [TRYCREATE] no such folder\r\n")
                          .expectCommand("APPEND").sendTagged("NO [TRYCREATE] no such folder\r\n")
                          .expectCommand("CREATE").sendTagged("OK created\r\n")
                          .expectCommand("APPEND").send("+ go\r\n").readAnnouncedLiteral().expect("")
                          .sendTagged("OK [APPENDUID 5 1] done\r\n")
                          .expectCommand("APPEND").send("+ go\r\n").readAnnouncedLiteral().expect("")
                          .sendTagged("OK [APPENDUID 5 2] done\r\n")
                          .expectEof()});
  auto client = connect(endpoint(srv));
  client->login(creds());
  const Bytes a(big), b(big + "z");
  auto first = client->appendStart("Work", {item(a)});
  auto second = client->appendStart("Work", {item(b)});
  const auto one = client->appendFinish(first);
  const auto two = client->appendFinish(second);
  BOOST_TEST(one[0].ok);
  BOOST_TEST(one[0].uid->uid == 1u);
  BOOST_TEST(two[0].ok);
  BOOST_TEST(two[0].uid->uid == 2u);
  client.reset();
  BOOST_TEST(srv.wait());
  BOOST_TEST(srv.failures().empty(), srv.report());
  BOOST_TEST(srv.received(0, big + "\r\n"));
}

// Two MULTIAPPEND batches in flight at once, answered together: each batch gets its own UIDs.
BOOST_AUTO_TEST_CASE(testStartedMultiAppendBatchesKeepTheirUids) {
  ScriptedServer srv({imapLoggedIn("IMAP4rev1 LITERAL+ MULTIAPPEND UIDPLUS")
                          .expectCommand("APPEND").readAnnouncedLiteral()
                          .expect("").readAnnouncedLiteral().expect("")
                          .expectCommand("APPEND").readAnnouncedLiteral()
                          .expect("").readAnnouncedLiteral().expect("")
                          .send("A0003 OK [APPENDUID 9 21:22] done\r\n"
                                "A0004 OK [APPENDUID 9 23:24] done\r\n")
                          .expectEof()});
  auto client = connect(endpoint(srv));
  client->login(creds());
  const Bytes a("a\r\n"), b("bb\r\n"), c("ccc\r\n"), d("dddd\r\n");
  auto first = client->appendStart("INBOX", {item(a), item(b)});
  auto second = client->appendStart("INBOX", {item(c), item(d)});
  const auto one = client->appendFinish(first);
  const auto two = client->appendFinish(second);
  for (std::uint32_t i = 0; i < 2; ++i) {
    BOOST_TEST(one[i].ok);
    BOOST_REQUIRE(one[i].uid.has_value());
    BOOST_TEST(one[i].uid->uid == 21 + i);
    BOOST_TEST(two[i].ok);
    BOOST_REQUIRE(two[i].uid.has_value());
    BOOST_TEST(two[i].uid->uid == 23 + i);
  }
  client.reset();
  BOOST_TEST(srv.wait());
  BOOST_TEST(srv.failures().empty(), srv.report());
}

// Courier and Cyrus keep personal folders under "INBOX.": with NAMESPACE advertised, the client
// asks, and "Work" becomes "INBOX.Work" for APPEND and for the CREATE after [TRYCREATE].
BOOST_AUTO_TEST_CASE(testPersonalNamespacePrefixFromNamespace) {
  const std::string caps = "IMAP4rev1 NAMESPACE UIDPLUS";
  ScriptedServer srv({imapGreeting(caps)
                          .expectCommand("LOGIN")
                          .sendTagged("OK [CAPABILITY " + caps + "] Logged in\r\n")
                          .expectCommand("NAMESPACE")
                          .send("* NAMESPACE ((\"INBOX.\" \".\")) NIL ((\"#shared.\" \".\"))\r\n")
                          .sendTagged("OK Namespace completed\r\n")
                          .expectLine("APPEND INBOX.Archive.Work",
                                      [](std::string_view l) {
                                        return l.find("APPEND INBOX.Archive.Work ") != std::string_view::npos;
                                      })
                          .send("A0003 NO [TRYCREATE] Mailbox does not exist\r\n")
                          .expectLine("CREATE INBOX.Archive.Work",
                                      [](std::string_view l) { return l == "A0004 CREATE INBOX.Archive.Work"; })
                          .send("A0004 OK created\r\n")
                          .expectLine("APPEND INBOX.Archive.Work",
                                      [](std::string_view l) {
                                        return l.find("APPEND INBOX.Archive.Work ") != std::string_view::npos;
                                      })
                          .send("+ go\r\n").readAnnouncedLiteral().expect("")
                          .send("A0005 OK done\r\n")
                          .expectLine("APPEND INBOX", [](std::string_view l) {
                            return l.find("APPEND INBOX (") != std::string_view::npos;
                          })
                          .send("+ go\r\n").readAnnouncedLiteral().expect("")
                          .send("A0006 OK done\r\n")
                          .expectEof()});
  auto client = connect(endpoint(srv));
  client->login(creds());
  const Bytes m(kMessage);
  BOOST_TEST(client->append("Archive/Work", {item(m)})[0].ok);
  BOOST_TEST(client->append("INBOX", {item(m)})[0].ok);  // INBOX itself takes no prefix
  client.reset();
  BOOST_TEST(srv.wait());
  BOOST_TEST(srv.failures().empty(), srv.report());
}

// A server that advertises NAMESPACE but refuses it: the delimiter comes from LIST "" "", and
// folders stay at the top.
BOOST_AUTO_TEST_CASE(testRefusedNamespaceFallsBackToList) {
  const std::string caps = "IMAP4rev1 NAMESPACE";
  ScriptedServer srv({imapGreeting(caps)
                          .expectCommand("LOGIN")
                          .sendTagged("OK [CAPABILITY " + caps + "] Logged in\r\n")
                          .expectCommand("NAMESPACE").sendTagged("BAD not today\r\n")
                          .expectCommand("LIST")
                          .send("* LIST (\\Noselect) \".\" \"\"\r\n").sendTagged("OK done\r\n")
                          .expectLine("APPEND Archive.Work",
                                      [](std::string_view l) {
                                        return l.find("APPEND Archive.Work ") != std::string_view::npos;
                                      })
                          .send("+ go\r\n").readAnnouncedLiteral().expect("")
                          .send("A0004 OK done\r\n")
                          .expectEof()});
  auto client = connect(endpoint(srv));
  client->login(creds());
  const Bytes m(kMessage);
  BOOST_TEST(client->append("Archive/Work", {item(m)})[0].ok);
  client.reset();
  BOOST_TEST(srv.wait());
  BOOST_TEST(srv.failures().empty(), srv.report());
}

namespace {

std::string sha256Of(std::string_view bytes) {
  codec::Sha256 hash;
  hash.update(bytes);
  return hash.hex();
}

// A FETCH answer carrying `message` as the BODY[] literal, split by `noise` responses.
// A server's answer to UID FETCH ... (BODY.PEEK[]<0.n>): the partial body, as Dovecot sends it.
std::string fetchAnswer(std::uint32_t seq, std::uint32_t uid, const std::string& message) {
  return "* " + std::to_string(seq) + " FETCH (UID " + std::to_string(uid) + " BODY[]<0> {" +
         std::to_string(message.size()) + "}\r\n" + message + ")\r\n";
}

imap::MessageFingerprint fingerprintOf(const std::string& message) {
  imap::MessageFingerprint f;
  f.size = message.size();
  f.sha256 = sha256Of(message);
  return f;
}

Script examined() {
  return imapLoggedIn("IMAP4rev1").expectCommand("EXAMINE").sendTagged("OK [READ-ONLY] done\r\n");
}

std::function<bool(std::string_view)> exactly(std::string line) {
  return [line](std::string_view l) { return l == line; };
}

}  // namespace

// GNU mailutils can store a message and still fail its APPEND with "NO APPEND [TRYCREATE] failed"
// (its maildir append writes the file, then a race of its own sessions fails the command). The
// folder exists (CREATE says so), so the answer is not about a missing folder: the message is
// looked for before it is appended again. Found (its content proven): appended once, counted
// as appended, no second APPEND. Not found: appended again.
BOOST_AUTO_TEST_CASE(testTryCreateForAnExistingFolderLooksBeforeAppendingAgain) {
  const std::string stored = "Message-ID: <a@b>\r\nSubject: one\r\n\r\nbody\r\n";
  const std::string lost = "Message-ID: <c@d>\r\nSubject: two\r\n\r\nbody\r\n";
  ScriptedServer srv({mailutilsFirstAppendRefused()
                          // stored all the same: found, proven, not appended again
                          .expectCommand("EXAMINE").sendTagged("OK [READ-ONLY] done\r\n")
                          .expectCommand("UID SEARCH").send("* SEARCH 7\r\n").sendTagged("OK done\r\n")
                          .expectCommand("UID FETCH").send(fetchAnswer(7, 7, stored))
                          .sendTagged("OK done\r\n")
                          .expectCommand("UNSELECT").sendTagged("OK done\r\n")
                          // the second message really was not stored: looked for, appended again
                          .expectCommand("APPEND").readAnnouncedLiteral().expect("")
                          .sendTagged("NO APPEND [TRYCREATE] failed\r\n")
                          .expectCommand("EXAMINE").sendTagged("OK [READ-ONLY] done\r\n")
                          .expectCommand("UID SEARCH").send("* SEARCH\r\n").sendTagged("OK done\r\n")
                          .expectCommand("UNSELECT").sendTagged("OK done\r\n")
                          .expectCommand("APPEND").readAnnouncedLiteral().expect("")
                          .sendTagged("OK APPEND Completed\r\n")
                          .expectEof()});
  std::vector<std::string> notices;
  auto client = loggedInNoting(srv, notices);
  Bytes one(stored), two(lost);
  imap::MessageFingerprint f1 = fingerprintOf(stored), f2 = fingerprintOf(lost);
  f1.message_id = "<a@b>";
  f2.message_id = "<c@d>";
  one.findableAs(f1);
  two.findableAs(f2);
  const auto first = client->append("Work", {item(one)});
  BOOST_TEST(first[0].ok, first[0].reply);
  BOOST_TEST(!first[0].uid.has_value());
  const auto second = client->append("Work", {item(two)});
  BOOST_TEST(second[0].ok, second[0].reply);
  BOOST_REQUIRE(notices.size() == 2u);
  BOOST_TEST(notices[0].find("looking for 1 message(s) there before appending them again") !=
                 std::string::npos,
             notices[0]);
  client.reset();
  BOOST_TEST(srv.wait());
  BOOST_TEST(srv.failures().empty(), srv.report());
}

// The real-world case that lost mail: an automated sender reuses a Message-ID, so the target holds
// a different message with the same ID and the same size. Only the content proves anything: the
// look-alike (newest) is fetched and differs, the older candidate is the message. The search has no
// size criterion (servers disagree on what LARGER compares), and one FETCH reads both candidates.
BOOST_AUTO_TEST_CASE(testLookupWithReusedMessageIdProvesByContent) {
  const std::string mine = "Message-ID: <a@b>\r\nSubject: notice 1\r\n\r\nbody\r\n";
  const std::string other = "Message-ID: <a@b>\r\nSubject: notice 2\r\n\r\nbody\r\n";
  const std::string fetch = "A0005 UID FETCH 42,17 (BODY.PEEK[]<0." + std::to_string(mine.size() + 1) + ">)";
  ScriptedServer srv({examined()
                          .expectLine("UID SEARCH by Message-ID alone",
                                      exactly("A0004 UID SEARCH HEADER Message-ID <a@b>"))
                          .send("* SEARCH 17 42\r\nA0004 OK done\r\n")
                          .expectLine(fetch, exactly(fetch))
                          .send(fetchAnswer(9, 42, other) + fetchAnswer(4, 17, mine) + "A0005 OK done\r\n")
                          .expectEof()});
  auto client = connect(endpoint(srv));
  client->login(creds());
  imap::MessageFingerprint f = fingerprintOf(mine);
  f.message_id = "<a@b>";
  const imap::Lookup found = client->lookup("Work", f);
  BOOST_TEST((found.presence == imap::Lookup::Presence::Present));
  BOOST_TEST(found.uid == 17u);
  client.reset();
  BOOST_TEST(srv.wait());
  BOOST_TEST(srv.failures().empty(), srv.report());
}

// Same ID, same size, other content, and nothing else: the message is not there (before the
// fix, Message-ID and size were trusted and such a message was deleted from POP unsent).
BOOST_AUTO_TEST_CASE(testLookupLookAlikeOnlyIsAbsent) {
  const std::string mine = "Message-ID: <a@b>\r\nSubject: notice 1\r\n\r\nbody\r\n";
  const std::string other = "Message-ID: <a@b>\r\nSubject: notice 2\r\n\r\nbody\r\n";
  ScriptedServer srv({examined()
                          .expectCommand("UID SEARCH").send("* SEARCH 42\r\nA0004 OK done\r\n")
                          .expectCommand("UID FETCH")
                          .send(fetchAnswer(9, 42, other) + "A0005 OK done\r\n")
                          .expectEof()});
  auto client = connect(endpoint(srv));
  client->login(creds());
  imap::MessageFingerprint f = fingerprintOf(mine);
  f.message_id = "<a@b>";
  BOOST_TEST((client->lookup("Work", f).presence == imap::Lookup::Presence::Absent));
  client.reset();
  BOOST_TEST(srv.wait());
}

// A longer message with the same ID comes back cut at size + 1 bytes: never a match, and never
// more to download than the message itself.
BOOST_AUTO_TEST_CASE(testLookupLongerLookAlikeIsReadOnlyUpToTheSize) {
  const std::string mine = "Message-ID: <a@b>\r\n\r\nshort\r\n";
  const std::string longer = mine + "and more\r\n";
  ScriptedServer srv({examined()
                          .expectCommand("UID SEARCH").send("* SEARCH 5\r\nA0004 OK done\r\n")
                          .expectCommand("UID FETCH")
                          .send(fetchAnswer(1, 5, longer.substr(0, mine.size() + 1)) + "A0005 OK done\r\n")
                          .expectEof()});
  auto client = connect(endpoint(srv));
  client->login(creds());
  imap::MessageFingerprint f = fingerprintOf(mine);
  f.message_id = "<a@b>";
  BOOST_TEST((client->lookup("Work", f).presence == imap::Lookup::Presence::Absent));
  client.reset();
  BOOST_TEST(srv.wait());
}

// Courier 5 refuses an APPEND to the mailbox the session has EXAMINEd ("NO Current box is
// selected READ-ONLY.", which used to quarantine every message a pass recovered after a crash):
// after a lookup the session leaves the mailbox before it appends there — with CLOSE, as Courier
// has no UNSELECT, and with UNSELECT where the server offers it.
BOOST_AUTO_TEST_CASE(testCourierAppendAfterLookupLeavesTheExaminedMailbox) {
  for (const bool unselect : {false, true}) {
    BOOST_TEST_CONTEXT((unselect ? "UNSELECT offered" : "no UNSELECT")) {
      const std::string caps = unselect ? "IMAP4rev1 UIDPLUS UNSELECT" : "IMAP4rev1 UIDPLUS";
      const std::string leave = unselect ? "UNSELECT" : "CLOSE";
      ScriptedServer srv({imapLoggedIn(caps, ".")
                              .expectCommand("EXAMINE")
                              .send("* 0 EXISTS\r\n")
                              .sendTagged("OK [READ-ONLY] Ok\r\n")
                              .expectCommand("UID SEARCH").send("* SEARCH\r\n").sendTagged("OK done\r\n")
                              .expectCommand(leave)
                              .sendTagged("OK " + leave + " completed\r\n")
                              .expectCommand("APPEND").send("+ OK\r\n").readAnnouncedLiteral()
                              .expect("").sendTagged("OK [APPENDUID 796416589 1] APPEND Ok.\r\n")
                              .expectEof()});
      auto client = connect(endpoint(srv));
      client->login(creds());
      imap::MessageFingerprint f = fingerprintOf(kMessage);
      f.message_id = "<a@b>";
      BOOST_TEST((client->lookup("Work", f).presence == imap::Lookup::Presence::Absent));
      const Bytes m(kMessage);
      const auto outcomes = client->append("Work", {item(m)});
      BOOST_TEST(outcomes[0].ok, outcomes[0].reply);
      client.reset();
      BOOST_TEST(srv.wait());
      BOOST_TEST(srv.failures().empty(), srv.report());
    }
  }
}

BOOST_AUTO_TEST_CASE(testLookupInAMissingFolderIsAbsent) {
  ScriptedServer srv({imapLoggedIn("IMAP4rev1")
                          .expectCommand("EXAMINE").sendTagged("NO [NONEXISTENT] Mailbox doesn't exist\r\n")
                          .expectEof()});
  auto client = connect(endpoint(srv));
  client->login(creds());
  BOOST_TEST((client->lookup("Work", fingerprintOf("x\r\n")).presence == imap::Lookup::Presence::Absent));
}

// A target that cannot search (no SEARCH HEADER, a NO to it, a refused EXAMINE of a folder LIST
// shows, or FETCH) cannot prove anything either way: Unknown, with the server's words, so that
// the caller neither loses the message nor appends it again on a guess. A refused EXAMINE of a
// folder LIST does not show (GNU mailutils names no reason) is Absent: nothing can be in it.
BOOST_AUTO_TEST_CASE(testLookupOnATargetThatRefusesToSearchIsUnknown) {
  ScriptedServer srv({examined()
                          .expectCommand("UID SEARCH").sendTagged("BAD [CLIENTBUG] HEADER not supported\r\n")
                          .expectCommand("UID SEARCH").sendTagged("NO [LIMIT] too many searches\r\n")
                          .expectCommand("UID SEARCH").send("* SEARCH 3\r\nA0006 OK done\r\n")
                          .expectCommand("UID FETCH").sendTagged("NO fetch failed\r\n")
                          .expectCommand("EXAMINE").sendTagged("NO [SERVERBUG] cannot open\r\n")
                          .expectCommand("LIST").send("* LIST () \"/\" Other\r\n")
                          .sendTagged("OK LIST done\r\n")
                          .expectCommand("EXAMINE")
                          .sendTagged("NO EXAMINE Could not open New: No such file or directory\r\n")
                          .expectCommand("LIST").sendTagged("OK LIST done\r\n")
                          .expectEof()});
  auto client = connect(endpoint(srv));
  client->login(creds());
  imap::MessageFingerprint f = fingerprintOf("Message-ID: <x@y>\r\n\r\nz\r\n");
  f.message_id = "<x@y>";
  const imap::Lookup bad = client->lookup("Work", f);
  BOOST_TEST((bad.presence == imap::Lookup::Presence::Unknown));
  BOOST_TEST(bad.detail.find("HEADER not supported") != std::string::npos, bad.detail);
  const imap::Lookup no = client->lookup("Work", f);
  BOOST_TEST((no.presence == imap::Lookup::Presence::Unknown));
  BOOST_TEST(no.detail.find("too many searches") != std::string::npos, no.detail);
  const imap::Lookup fetch = client->lookup("Work", f);
  BOOST_TEST((fetch.presence == imap::Lookup::Presence::Unknown));
  BOOST_TEST(fetch.detail.find("fetch failed") != std::string::npos, fetch.detail);
  const imap::Lookup examine = client->lookup("Other", f);
  BOOST_TEST((examine.presence == imap::Lookup::Presence::Unknown));
  BOOST_TEST(examine.detail.find("cannot open") != std::string::npos, examine.detail);
  BOOST_TEST((client->lookup("New", f).presence == imap::Lookup::Presence::Absent));
  client.reset();
  BOOST_TEST(srv.wait());
  BOOST_TEST(srv.failures().empty(), srv.report());
}

// SEARCH numbers that overflow 32 bits or are zero are not UIDs: skipped, never wrapped.
BOOST_AUTO_TEST_CASE(testLookupIgnoresSearchNumbersThatAreNoUids) {
  const std::string mine = "Message-ID: <a@b>\r\n\r\nm\r\n";
  const std::string fetch = "A0005 UID FETCH 7 (BODY.PEEK[]<0." + std::to_string(mine.size() + 1) + ">)";
  ScriptedServer srv({examined()
                          .expectCommand("UID SEARCH")
                          .send("* SEARCH 4294967303 0 7 x9\r\nA0004 OK done\r\n")
                          .expectLine(fetch, exactly(fetch))
                          .send(fetchAnswer(1, 7, mine) + "A0005 OK done\r\n")
                          .expectEof()});
  auto client = connect(endpoint(srv));
  client->login(creds());
  imap::MessageFingerprint f = fingerprintOf(mine);
  f.message_id = "<a@b>";
  const imap::Lookup found = client->lookup("Work", f);
  BOOST_TEST((found.presence == imap::Lookup::Presence::Present));
  BOOST_TEST(found.uid == 7u);
  client.reset();
  BOOST_TEST(srv.wait());
  BOOST_TEST(srv.failures().empty(), srv.report());
}

// Without a Message-ID the headers narrow the search and the content decides: both candidates are
// fetched in one command, newest first; the newest differs (same size, same headers, other body),
// the other is the message. A FLAGS FETCH and a literal-carrying noise response in between change
// nothing.
BOOST_AUTO_TEST_CASE(testLookupWithoutMessageIdComparesTheContent) {
  const std::string mine = "Date: Tue, 1 Jul 2025 10:52:37 +0200\r\nSubject: alert\r\n\r\ndisk 91%\r\n";
  const std::string other = "Date: Tue, 1 Jul 2025 10:52:37 +0200\r\nSubject: alert\r\n\r\ndisk 92%\r\n";
  const std::string fetch = "A0005 UID FETCH 9,3 (BODY.PEEK[]<0." + std::to_string(mine.size() + 1) + ">)";
  ScriptedServer srv({examined()
                          .expectLine("UID SEARCH by headers",
                                      exactly("A0004 UID SEARCH HEADER Date \"Tue, 1 Jul 2025 10:52:37 "
                                              "+0200\" HEADER Subject alert"))
                          .send("* SEARCH 3 9\r\nA0004 OK done\r\n")
                          .expectLine(fetch, exactly(fetch))
                          .send("* 2 FETCH (FLAGS (\\Seen))\r\n" + fetchAnswer(5, 9, other) +
                                "* 1 FETCH (UID 3 BODY[HEADER] {3}\r\nx\r\n)\r\n" + fetchAnswer(1, 3, mine) +
                                "A0005 OK done\r\n")
                          .expectEof()});
  auto client = connect(endpoint(srv));
  client->login(creds());
  imap::MessageFingerprint f = fingerprintOf(mine);
  f.date = "Tue, 1 Jul 2025 10:52:37 +0200";
  f.subject = "alert";
  const imap::Lookup found = client->lookup("Work", f);
  BOOST_TEST((found.presence == imap::Lookup::Presence::Present));
  BOOST_TEST(found.uid == 3u);
  client.reset();
  BOOST_TEST(srv.wait());
  BOOST_TEST(srv.failures().empty(), srv.report());
}

// A message with no identifying header at all: first the candidates of its exact size (as the
// server measures it), then the newest messages whatever their size (a server whose size
// arithmetic differs, like GNU mailutils); at most kRecoveryCandidates of each, none read twice.
// None has the content, so it is not there. Without a digest nothing can be proven: Unknown, and
// no command at all.
BOOST_AUTO_TEST_CASE(testLookupWithoutHeadersTriesTheSizeThenTheNewestCandidates) {
  const std::string mine = "\r\nno headers at all\r\n";
  const std::string other = "\r\nno headers at ALL\r\n";
  const std::string cut = " (BODY.PEEK[]<0." + std::to_string(mine.size() + 1) + ">)";
  std::string all;
  for (std::uint32_t uid = 1; uid <= 20; ++uid) all += " " + std::to_string(uid);
  std::string newest, answers;
  for (std::uint32_t uid = 19; uid > 19 - imap::kRecoveryCandidates; --uid) {
    newest += (newest.empty() ? "" : ",") + std::to_string(uid);
    answers += fetchAnswer(uid, uid, other);
  }
  const std::string sized = "A0004 UID SEARCH LARGER " + std::to_string(mine.size() - 1) +
                            " SMALLER " + std::to_string(mine.size() + 1);
  ScriptedServer srv({examined()
                          .expectLine(sized, exactly(sized))
                          .send("* SEARCH 20\r\nA0004 OK done\r\n")
                          .expectLine("FETCH 20", exactly("A0005 UID FETCH 20" + cut))
                          .send(fetchAnswer(20, 20, other) + "A0005 OK done\r\n")
                          .expectLine("UID SEARCH ALL", exactly("A0006 UID SEARCH ALL"))
                          .send("* SEARCH" + all + "\r\nA0006 OK done\r\n")
                          .expectLine("FETCH newest", exactly("A0007 UID FETCH " + newest + cut))
                          .send(answers + "A0007 OK done\r\n")
                          .expectEof()});
  auto client = connect(endpoint(srv));
  client->login(creds());
  imap::MessageFingerprint f = fingerprintOf(mine);
  BOOST_TEST((client->lookup("Work", f).presence == imap::Lookup::Presence::Absent));
  f.sha256.clear();
  BOOST_TEST((client->lookup("Work", f).presence == imap::Lookup::Presence::Unknown));
  client.reset();
  BOOST_TEST(srv.wait());
  BOOST_TEST(srv.failures().empty(), srv.report());
}

// A server that keeps every read alive with untagged chatter and never says "+" (or never ends
// AUTHENTICATE) cannot hold the session forever: each wait has an overall deadline of four
// timeouts, like the wait for a tagged answer.
BOOST_AUTO_TEST_CASE(testWaitForTheGoAheadHasAnOverallDeadline) {
  std::string chatter;
  for (int i = 0; i < 40; ++i) chatter += "* OK still thinking\r\n";
  ScriptedServer srv({imapLoggedIn("IMAP4rev1")
                          .expectCommand("APPEND")
                          .sendSlowly(chatter, 21, 200ms)
                          .close()});
  auto client = connect(endpoint(srv, TlsMode::None, 1s));
  client->login(creds());
  const Bytes message(std::string(8000, 'x') + "\r\n");
  const Error e = expectError([&] { client->append("INBOX", {imap::AppendItem{&message, {}, {}}}); });
  BOOST_TEST((e.kind() == ErrorKind::Transient));
  BOOST_TEST(std::string(e.what()).find("only untagged responses") != std::string::npos, e.what());
  BOOST_TEST(std::string(e.what()).find("go-ahead for a literal") != std::string::npos, e.what());
}

BOOST_AUTO_TEST_CASE(testAuthenticateExchangeHasAnOverallDeadline) {
  std::string chatter;
  for (int i = 0; i < 40; ++i) chatter += "* OK checking\r\n";
  ScriptedServer srv({imapGreeting("IMAP4rev1 AUTH=PLAIN")
                          .expectCommand("AUTHENTICATE")
                          .send("+ \r\n")
                          .expectLine("the response", [](std::string_view) { return true; })
                          .sendSlowly(chatter, 15, 200ms)
                          .close()});
  auto client = connect(endpoint(srv, TlsMode::None, 1s));
  const Error e = expectError([&] { client->login(creds(imap::AuthMethod::Plain)); });
  BOOST_TEST((e.kind() == ErrorKind::Transient));
  BOOST_TEST(std::string(e.what()).find("only untagged responses") != std::string::npos, e.what());
  BOOST_TEST(std::string(e.what()).find("AUTHENTICATE") != std::string::npos, e.what());
}
