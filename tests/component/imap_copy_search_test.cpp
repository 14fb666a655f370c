// ImapClient::findByMessageId against scripted IMAP servers (dedupe: message-id): thousands of
// Message-IDs cost a few pipelined round trips (OR-ed into lines well under Microsoft's 9,900
// characters, a window of commands in flight), the hits' Message-ID, Date and From come from one
// pipelined FETCH, nothing is changed (EXAMINE, BODY.PEEK), a folder that does not exist holds
// no copies, and a refusal is reported with the server's words while the session stays in step.
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <sstream>

#include "connectors/imap/ImapClient.h"
#include "tests/support/ClientHarness.h"
#include "tests/support/ScriptedServer.h"

using namespace std::chrono_literals;
using namespace popgate;
using popgate::test::endpoint;
using popgate::test::imapLoggedIn;
using popgate::test::Script;
using popgate::test::ScriptedServer;

namespace {

const std::string kCaps = "IMAP4rev1 LITERAL+ UIDPLUS";

std::unique_ptr<imap::ImapClient> loggedInClient(const ScriptedServer& srv) {
  const net::Endpoint e = endpoint(srv);
  auto client = std::make_unique<imap::ImapClient>(net::openTransport(e), e);
  client->login(imap::Credentials{"me", popgate::Secret("pw"), imap::AuthMethod::Login});
  return client;
}

// `n` Message-IDs of about 60 characters, as mailing software writes them.
std::vector<std::string> manyIds(std::size_t n) {
  std::vector<std::string> ids;
  for (std::size_t i = 0; i < n; ++i) {
    ids.push_back("<CAF" + std::to_string(100000 + i) + "kq8vZ3x.ab12cd34ef56-Xq@mail.example.org>");
  }
  return ids;
}

// A line "<tag> UID SEARCH ..." of at most kMaxSearchLine characters.
bool searchLine(std::string_view l) {
  return l.size() <= imap::kMaxSearchLine && l.find(" UID SEARCH ") == 5;
}

// Every line the client sent on connection 0.
std::vector<std::string> sentLines(const ScriptedServer& srv) {
  std::vector<std::string> lines;
  std::istringstream in(srv.transcript(0));
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// The header fields of a hit, as a FETCH literal.
std::string fields(const std::string& id, const std::string& date, const std::string& from) {
  const std::string text = "Message-ID: " + id + "\r\nDate: " + date + "\r\nFrom: " + from + "\r\n\r\n";
  return "{" + std::to_string(text.size()) + "}\r\n" + text;
}

}  // namespace

// 250 Message-IDs in 5 search lines, all sent before the first answer; the 3 hits' header fields
// in one FETCH (the ranges folded), answered the way Dovecot and Gmail order their items, with an
// unsolicited FETCH (a flag change) between them that is not taken for a hit.
BOOST_AUTO_TEST_CASE(testManyIdsCostAFewPipelinedLines) {
  const std::vector<std::string> ids = manyIds(250);
  Script script = imapLoggedIn(kCaps)
                      .expectLine("EXAMINE Work", [](std::string_view l) { return l == "A0003 EXAMINE Work"; })
                      .send("* 12 EXISTS\r\n* OK [UIDVALIDITY 7] Ok\r\nA0003 OK [READ-ONLY] Examine completed\r\n");
  for (int i = 0; i < 5; ++i) script.expectLine("a UID SEARCH line", searchLine);
  script.send("* SEARCH 9\r\nA0004 OK Search completed\r\n* SEARCH\r\nA0005 OK Search completed\r\n"
              "* SEARCH 10 11\r\nA0006 OK Search completed\r\nA0007 OK Search completed\r\n"
              "* SEARCH 11\r\nA0008 OK Search completed\r\n")
      .expectLine("UID FETCH 9:11 (...)", [](std::string_view l) {
        return l == "A0009 UID FETCH 9:11 (UID BODY.PEEK[HEADER.FIELDS (MESSAGE-ID DATE FROM)])";
      })
      .send("* 3 FETCH (UID 9 BODY[HEADER.FIELDS (MESSAGE-ID DATE FROM)] " +
            fields(ids[7], "Mon, 5 Jan 2026 09:00:00 +0000", "Alice <alice@example.org>") + ")\r\n"
            "* 4 FETCH (FLAGS (\\Seen) UID 10)\r\n"
            "* 4 FETCH (BODY[HEADER.FIELDS (\"MESSAGE-ID\" \"DATE\" \"FROM\")] " +
            fields(ids[120], "Tue, 6 Jan 2026 09:00:00 +0000", "bob@example.org") + " UID 10)\r\n"
            "* 5 FETCH (UID 11 BODY[HEADER.FIELDS (MESSAGE-ID DATE FROM)] {2}\r\n\r\n)\r\n"
            "A0009 OK Fetch completed\r\n")
      .expectEof();
  ScriptedServer srv({script});
  auto client = loggedInClient(srv);
  const imap::CopySearch found = client->findByMessageId("Work", ids);
  BOOST_TEST(!found.refused.has_value());
  BOOST_REQUIRE(found.found.size() == 3u);
  BOOST_TEST(found.found[0].uid == 9u);
  BOOST_TEST(found.found[0].mailbox == "Work");
  BOOST_TEST(found.found[0].message_id.value_or("") == ids[7]);
  BOOST_TEST(found.found[0].date.value_or("") == "Mon, 5 Jan 2026 09:00:00 +0000");
  BOOST_TEST(found.found[0].from.value_or("") == "Alice <alice@example.org>");
  BOOST_TEST(found.found[1].uid == 10u);
  BOOST_TEST(found.found[1].message_id.value_or("") == ids[120]);
  BOOST_TEST(found.found[1].from.value_or("") == "bob@example.org");
  BOOST_TEST(found.found[2].uid == 11u);
  BOOST_TEST(!found.found[2].message_id.has_value());
  client.reset();
  BOOST_TEST(srv.wait());
  BOOST_TEST(srv.failures().empty(), srv.report());
  // Every Message-ID was asked for, each exactly once, and no line was near the limit.
  const std::string sent = srv.transcript(0);
  for (const std::string& id : ids) BOOST_TEST(sent.find(id) != std::string::npos, id);
  std::size_t keys = 0;
  for (const std::string& line : sentLines(srv)) {
    BOOST_TEST(line.size() <= imap::kMaxSearchLine);
    for (std::size_t at = line.find("HEADER Message-ID "); at != std::string::npos;
         at = line.find("HEADER Message-ID ", at + 1)) {
      ++keys;
    }
  }
  BOOST_TEST(keys == ids.size());
}

// A folder that does not exist yet holds no copies: Dovecot and Gmail say NONEXISTENT; Microsoft
// 365 names no reason, and a LIST that shows nothing tells. Nothing is searched.
BOOST_AUTO_TEST_CASE(testMissingFolderHoldsNoCopies) {
  ScriptedServer srv(
      {imapLoggedIn(kCaps)
           .expectCommand("EXAMINE")
           .sendTagged("NO [NONEXISTENT] Mailbox doesn't exist: Work\r\n")
           .expectEof(),
       imapLoggedIn(kCaps)
           .expectCommand("EXAMINE")
           .sendTagged("NO Folder not found\r\n")
           .expectLine("LIST \"\" Work", [](std::string_view l) { return l == "A0004 LIST \"\" Work"; })
           .send("A0004 OK LIST completed.\r\n")
           .expectEof()});
  for (int i = 0; i < 2; ++i) {
    auto client = loggedInClient(srv);
    const imap::CopySearch found = client->findByMessageId("Work", manyIds(3));
    BOOST_TEST(!found.refused.has_value());
    BOOST_TEST(found.found.empty());
  }
  BOOST_TEST(srv.wait());
  BOOST_TEST(srv.failures().empty(), srv.report());
  BOOST_TEST(!srv.received("SEARCH"));
}

// A refused search (Microsoft's "BAD Command Argument Error. 11") is reported with the server's
// words; the other answers of the window are still read, so the session goes on in step.
BOOST_AUTO_TEST_CASE(testRefusedSearchIsReportedAndTheSessionStaysInStep) {
  Script script = imapLoggedIn(kCaps)
                      .expectCommand("EXAMINE")
                      .sendTagged("OK [READ-ONLY] EXAMINE completed.\r\n");
  for (int i = 0; i < 2; ++i) script.expectLine("a UID SEARCH line", searchLine);
  script.send("A0004 BAD Command Argument Error. 11\r\n* SEARCH 4\r\nA0005 OK SEARCH completed.\r\n")
      .expectCommand("LOGOUT")
      .send("* BYE\r\n")
      .sendTagged("OK LOGOUT completed.\r\n")
      .expectEof();
  ScriptedServer srv({script});
  auto client = loggedInClient(srv);
  const imap::CopySearch found = client->findByMessageId("Work", manyIds(60));
  BOOST_REQUIRE(found.refused.has_value());
  BOOST_TEST(*found.refused == "A0004 BAD Command Argument Error. 11");
  BOOST_TEST(!srv.received("FETCH"));
  client->logout();
  BOOST_TEST(srv.wait());
  BOOST_TEST(srv.failures().empty(), srv.report());
}

// Long Message-IDs still keep every line within the limit (a few per line); one too long for a
// line of its own, or with bytes outside printable ASCII, is not searched (that message is then
// uploaded: a duplicate is better than a loss).
BOOST_AUTO_TEST_CASE(testLongAndOddIdsKeepLinesWithinTheLimit) {
  std::vector<std::string> ids;
  for (int i = 0; i < 9; ++i) ids.push_back("<" + std::to_string(i) + std::string(900, 'l') + "@x>");
  ids.push_back("<" + std::string(2500, 'v') + "@x>");
  ids.push_back("<caf\xc3\xa9@x>");
  ids.push_back("<tab\there@x>");
  Script script = imapLoggedIn(kCaps).expectCommand("EXAMINE").sendTagged("OK [READ-ONLY] done\r\n");
  for (int i = 0; i < 3; ++i) script.expectLine("a UID SEARCH line", searchLine);
  script.send("A0004 OK done\r\nA0005 OK done\r\nA0006 OK done\r\n").expectEof();
  ScriptedServer srv({script});
  auto client = loggedInClient(srv);
  const imap::CopySearch found = client->findByMessageId("Work", ids);
  BOOST_TEST(!found.refused.has_value());
  client.reset();
  BOOST_TEST(srv.wait());
  BOOST_TEST(srv.failures().empty(), srv.report());
  BOOST_TEST(!srv.received(std::string(2500, 'v')));
  BOOST_TEST(!srv.received("caf\xc3\xa9"));
  BOOST_TEST(!srv.received("tab\t"));
}
