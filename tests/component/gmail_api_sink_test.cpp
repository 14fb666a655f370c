// GmailApiSink against the test suite's own Gmail API server (tests/support/GmailTestServer) over
// TLS with the test certificates: the hard messages arrive byte for byte (multipart and
// resumable), labels are found or created (nested, parents first) and applied, quota answers are
// waited out as Retry-After says, a policy refusal refuses that one message with Google's words
// while the others go in, a 5xx is retried and then left in doubt, a refused access token is
// refreshed once, the recovery lookup proves presence by content, and the API's certificate is
// verified like a mail server's. Notices popgate writes go the same way.
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <memory>

#include "connectors/codec/Sha256.h"
#include "connectors/gmail/GmailReply.h"
#include "gateway/delivery/GmailApiSink.h"
#include "gateway/service/PassRunner.h"
#include "tests/support/ClientHarness.h"
#include "tests/support/GmailTestServer.h"
#include "tests/support/Messages.h"
#include "tests/support/TempDir.h"
#include "tests/support/TestCerts.h"

using namespace std::chrono_literals;
using namespace popgate;
using gateway::GmailApiSink;
using gateway::GmailApiTarget;
using popgate::test::expectError;
using test::GmailScripted;
using test::GmailTestServer;

namespace {

// A Gmail API server, a token manager whose refreshes hand out tok-1, tok-2, ..., and a
// kind: gmail-api target pointing at the server.
struct Rig {
  explicit Rig(std::function<bool(const std::string&)> authorizer =
                   [](const std::string& token) { return token.rfind("tok-", 0) == 0; })
      : gmail(std::move(authorizer)),
        tokens(std::make_unique<oauth::TokenManager>(
            state.path(), [this](const oauth::CredentialSpec&, const Secret&) {
              oauth::TokenGrant grant;
              grant.access_token = Secret("tok-" + std::to_string(++refreshes));
              grant.expires_in = 3600s;
              return grant;
            })) {
    target.name = "me";
    target.kind = config::TargetKind::GmailApi;
    target.api_url = gmail.baseUrl();
    target.server.ca_file = test::TestCerts::caFile();
    target.server.username = "me@gmail.com";
    target.server.timeout = 10s;
    config::OAuthSettings oauth;
    oauth.token_url = "https://oauth2.googleapis.com/token";
    oauth.client_id = "popgate-test-client";
    oauth.refresh_token = Secret("refresh-1");
    target.server.oauth = oauth;
  }

  std::unique_ptr<GmailApiSink> sink(GmailApiSink::Options options = {}) {
    return std::make_unique<GmailApiSink>(std::make_shared<GmailApiTarget>(target, tokens.get()),
                                          options);
  }

  test::TempDir state{"gmail-sink"};
  GmailTestServer gmail;
  int refreshes = 0;
  std::unique_ptr<oauth::TokenManager> tokens;
  config::ImapTarget target;
};

std::vector<imap::AppendOutcome> appendOne(GmailApiSink& sink, const std::string& folder,
                                           const std::string& bytes,
                                           std::vector<std::string> flags = {}) {
  const imap::StringMessage message(bytes);
  return sink.append(folder, {imap::AppendItem{&message, std::move(flags), std::nullopt}});
}

imap::MessageFingerprint fingerprintOf(const std::string& bytes, std::optional<std::string> id) {
  codec::Sha256 sha;
  sha.update(bytes);
  imap::MessageFingerprint fingerprint;
  fingerprint.size = bytes.size();
  fingerprint.sha256 = sha.hex();
  fingerprint.message_id = std::move(id);
  return fingerprint;
}

std::vector<std::string> hardSet() {
  std::vector<std::string> set;
  for (const auto& sample : test::sampleMessages()) set.push_back(sample.bytes);
  for (const auto& hard : test::hardCases()) set.push_back(hard.bytes);
  set.push_back("From: a@example.org\nSubject: bare LF\n\nline one\nline two\n");
  set.push_back("From: a@example.org\r\nSubject: mixed\r\n\r\nCR LF\r\nbare LF\nlone CR\rend\r\n");
  set.push_back("Subject: boundary-like\r\n\r\n--popgate-0000000000000000\r\n.\r\n..\r\n");
  return set;
}

}  // namespace

BOOST_AUTO_TEST_CASE(testHardMessagesArriveByteForByteWithTheImportParameters) {
  Rig rig;
  auto sink = rig.sink();
  const std::vector<std::string> set = hardSet();
  for (const std::string& bytes : set) {
    const auto outcomes = appendOne(*sink, "INBOX", bytes);
    BOOST_REQUIRE_EQUAL(outcomes.size(), 1u);
    BOOST_TEST(outcomes[0].ok);
    BOOST_REQUIRE(outcomes[0].uid.has_value());
  }
  const auto stored = rig.gmail.messages();
  BOOST_REQUIRE_EQUAL(stored.size(), set.size());
  for (std::size_t i = 0; i < set.size(); ++i) {
    BOOST_TEST(stored[i].raw == set[i], "message " << i << " changed on the way");
    BOOST_TEST(stored[i].upload_type == "multipart");
    BOOST_TEST(stored[i].params.at("internalDateSource") == "dateHeader");
    BOOST_TEST(stored[i].params.at("neverMarkSpam") == "false");
    BOOST_TEST(stored[i].params.at("processForCalendar") == "true");
    BOOST_TEST((stored[i].label_ids == std::vector<std::string>{"INBOX", "UNREAD"}));
  }
  // The ledger keeps Gmail's id in its two 32-bit halves.
  const auto last = appendOne(*sink, "INBOX", set[0], {"\\Seen", "\\Flagged"});
  const auto newest = rig.gmail.messages().back();
  BOOST_TEST(gmail::joinMessageId({last[0].uid->uidvalidity, last[0].uid->uid}) == newest.id);
  BOOST_TEST((newest.label_ids == std::vector<std::string>{"INBOX", "STARRED"}));
}

BOOST_AUTO_TEST_CASE(testTargetSettingsReachTheImport) {
  Rig rig;
  rig.target.never_mark_spam = true;
  rig.target.process_for_calendar = false;
  appendOne(*rig.sink(), "INBOX", test::noteMessage(1, ""));
  const auto stored = rig.gmail.messages();
  BOOST_REQUIRE_EQUAL(stored.size(), 1u);
  BOOST_TEST(stored[0].params.at("neverMarkSpam") == "true");
  BOOST_TEST(stored[0].params.at("processForCalendar") == "false");
}

BOOST_AUTO_TEST_CASE(testNestedLabelsAreCreatedParentsFirstAndApplied) {
  Rig rig;
  const std::string work = rig.gmail.addLabel("Work");
  auto sink = rig.sink();
  BOOST_TEST(appendOne(*sink, "Lists/ISP/2026", test::noteMessage(1, ""))[0].ok);
  BOOST_TEST(appendOne(*sink, "Lists/ISP/2026", test::noteMessage(2, ""))[0].ok);
  BOOST_TEST(appendOne(*sink, "Work", test::noteMessage(3, ""))[0].ok);
  const auto labels = rig.gmail.labels();
  BOOST_TEST(labels.size() == 4u);  // Work, Lists, Lists/ISP, Lists/ISP/2026: nothing twice
  BOOST_TEST(labels.count("Lists") == 1u);
  BOOST_TEST(labels.count("Lists/ISP") == 1u);
  const auto stored = rig.gmail.messages();
  BOOST_TEST(stored[0].label_ids.front() == labels.at("Lists/ISP/2026"));
  BOOST_TEST(stored[1].label_ids.front() == labels.at("Lists/ISP/2026"));
  BOOST_TEST(stored[2].label_ids.front() == work);
  // Another sink of the same target shares the directory; a new one lists again and finds them.
  BOOST_TEST(appendOne(*rig.sink(), "Lists/ISP/2026",
                       test::noteMessage(4, ""))[0].ok);
  BOOST_TEST(rig.gmail.labels().size() == 4u);
}

BOOST_AUTO_TEST_CASE(testLargeMessagesGoResumableAndArriveExact) {
  Rig rig;
  GmailApiSink::Options options;
  options.multipart_limit = 64 * 1024;
  auto sink = rig.sink(options);
  const std::string large = test::largeAttachmentMessage(300 * 1024).bytes;
  const std::string small = test::noteMessage(1, "");
  BOOST_TEST(appendOne(*sink, "INBOX", large)[0].ok);
  BOOST_TEST(appendOne(*sink, "INBOX", small)[0].ok);
  const auto stored = rig.gmail.messages();
  BOOST_REQUIRE_EQUAL(stored.size(), 2u);
  BOOST_TEST(stored[0].upload_type == "resumable");
  BOOST_TEST(stored[0].raw == large);
  BOOST_TEST((stored[0].label_ids == std::vector<std::string>{"INBOX", "UNREAD"}));
  BOOST_TEST(stored[0].params.at("internalDateSource") == "dateHeader");
  BOOST_TEST(stored[1].upload_type == "multipart");
}

BOOST_AUTO_TEST_CASE(testQuotaAnswersAreWaitedOutAsRetryAfterSays) {
  Rig rig;
  rig.gmail.scriptImports({{429, "rateLimitExceeded", "Too many requests", "1"},
                           {403, "userRateLimitExceeded", "User-rate limit exceeded", "1"}});
  const auto outcomes = appendOne(*rig.sink(), "INBOX", test::noteMessage(1, ""));
  BOOST_TEST(outcomes[0].ok);
  const auto times = rig.gmail.importTimes();
  BOOST_REQUIRE_EQUAL(times.size(), 3u);
  BOOST_TEST((times[1] - times[0] >= 1s));  // Retry-After: 1 honoured, each time
  BOOST_TEST((times[2] - times[1] >= 1s));
  BOOST_TEST(rig.gmail.messages().size() == 1u);
}

BOOST_AUTO_TEST_CASE(testALongPauseIsHandedToTheTargetGate) {
  Rig rig;
  rig.gmail.scriptImports({{429, "rateLimitExceeded", "Quota exceeded for quota metric", "120"}});
  const auto outcomes = appendOne(*rig.sink(), "INBOX", test::noteMessage(1, ""));
  BOOST_TEST(!outcomes[0].ok);
  BOOST_TEST(outcomes[0].kind == ErrorKind::Throttled);
  BOOST_TEST((outcomes[0].retry_after == std::optional<std::chrono::milliseconds>(120s)));
  BOOST_TEST(outcomes[0].reply.find("rateLimitExceeded") != std::string::npos);
  BOOST_TEST(rig.gmail.importTimes().size() == 1u);  // not hammered
  BOOST_TEST(rig.gmail.messages().empty());
}

BOOST_AUTO_TEST_CASE(testPolicyRefusalRefusesThatMessageWithGooglesWords) {
  Rig rig;
  rig.gmail.refuseContaining("X-Blocked-Attachment", "Invalid attachment. Learn more at "
                                                     "https://support.google.com/mail/?p=BlockedMessage");
  const std::string good1 = test::noteMessage(1, "");
  const std::string bad = "X-Blocked-Attachment: yes\r\n" + test::noteMessage(2, "");
  const std::string good2 = test::noteMessage(3, "");
  const imap::StringMessage m1(good1), m2(bad), m3(good2);
  const auto outcomes = rig.sink()->append(
      "INBOX", {{&m1, {}, std::nullopt}, {&m2, {}, std::nullopt}, {&m3, {}, std::nullopt}});
  BOOST_REQUIRE_EQUAL(outcomes.size(), 3u);
  BOOST_TEST(outcomes[0].ok);
  BOOST_TEST(!outcomes[1].ok);
  BOOST_TEST(outcomes[1].kind == ErrorKind::MessageRejected);
  BOOST_TEST(outcomes[1].reply ==
             "HTTP 400 invalidArgument: Invalid attachment. Learn more at "
             "https://support.google.com/mail/?p=BlockedMessage");
  BOOST_TEST(outcomes[2].ok);
  BOOST_TEST(rig.gmail.messages().size() == 2u);
}

BOOST_AUTO_TEST_CASE(testServerErrorsAreRetriedThenLeftInDoubt) {
  Rig rig;
  GmailApiSink::Options options;
  options.retries = 1;
  auto sink = rig.sink(options);
  rig.gmail.scriptImports({{503, "backendError", "Backend Error", ""}});
  BOOST_TEST(appendOne(*sink, "INBOX", test::noteMessage(1, ""))[0].ok);
  rig.gmail.scriptImports({{500, "backendError", "Backend Error", ""},
                           {503, "backendError", "Backend Error", ""}});
  BOOST_TEST(expectError([&] { appendOne(*sink, "INBOX", test::noteMessage(2, "")); }).kind() == ErrorKind::Transient);
  BOOST_TEST(rig.gmail.messages().size() == 1u);
}

BOOST_AUTO_TEST_CASE(testARefusedAccessTokenIsRefreshedOnce) {
  // Only the second token the endpoint grants is good: the first import is refused with 401.
  Rig rig([](const std::string& token) { return token == "tok-2"; });
  BOOST_TEST(appendOne(*rig.sink(), "INBOX", test::noteMessage(1, ""))[0].ok);
  BOOST_TEST(rig.refreshes == 2);
  BOOST_TEST(rig.gmail.unauthorized() == 1u);
  BOOST_TEST(rig.gmail.messages().size() == 1u);
}

BOOST_AUTO_TEST_CASE(testATokenRefusedTwiceIsAnAuthFailure) {
  Rig rig([](const std::string&) { return false; });
  BOOST_TEST(expectError([&] { appendOne(*rig.sink(), "INBOX", test::noteMessage(1, "")); }).kind() == ErrorKind::Auth);
  BOOST_TEST(rig.refreshes == 2);  // one refresh after the refusal, no loop
  BOOST_TEST(rig.gmail.unauthorized() == 2u);
}

BOOST_AUTO_TEST_CASE(testLookupProvesPresenceByContent) {
  Rig rig;
  auto sink = rig.sink();
  const std::string with_id = test::noteMessage(1, "");
  const std::string without_id = test::noteMessage(2, "", "alice@example.org", "");
  appendOne(*sink, "Lists", with_id);
  appendOne(*sink, "Lists", without_id);
  using Presence = imap::Lookup::Presence;
  // By rfc822msgid, checked by content.
  const auto found = sink->lookup("Lists", fingerprintOf(with_id, "<n1@isp.example>"));
  BOOST_TEST((found.presence == Presence::Present));
  BOOST_TEST(found.uid == gmail::splitMessageId(rig.gmail.messages()[0].id)->low);
  // Same Message-ID, other bytes: not proof.
  BOOST_TEST((sink->lookup("Lists", fingerprintOf(with_id + "x", "<n1@isp.example>")).presence ==
              Presence::Absent));
  // No Message-ID: among the label's newest messages, by content.
  BOOST_TEST((sink->lookup("Lists", fingerprintOf(without_id, std::nullopt)).presence ==
              Presence::Present));
  BOOST_TEST((sink->lookup("Other", fingerprintOf(without_id, std::nullopt)).presence ==
              Presence::Absent));
  BOOST_TEST(rig.gmail.labels().count("Other") == 0u);  // a lookup never creates a label
  rig.gmail.removeMessage(rig.gmail.messages()[0].id);
  BOOST_TEST((sink->lookup("Lists", fingerprintOf(with_id, "<n1@isp.example>")).presence ==
              Presence::Absent));
}

// A token granted only gmail.insert and gmail.labels imports, but Google refuses the search: the
// lookup says Unknown with Google's words (the caller then imports again, as the configuration's
// warning says), never Absent.
BOOST_AUTO_TEST_CASE(testWithoutTheReadScopeTheLookupIsUnknownNotAbsent) {
  Rig rig;
  rig.gmail.requireScopes([](const std::string&) {
    return "https://www.googleapis.com/auth/gmail.insert https://www.googleapis.com/auth/gmail.labels";
  });
  auto sink = rig.sink();
  const std::string with_id = test::noteMessage(1, "");
  BOOST_TEST(appendOne(*sink, "Lists", with_id).at(0).ok);
  const auto found = sink->lookup("Lists", fingerprintOf(with_id, "<n1@isp.example>"));
  BOOST_TEST((found.presence == imap::Lookup::Presence::Unknown));
  BOOST_TEST(found.detail.find("insufficient authentication scopes") != std::string::npos,
             found.detail);
  BOOST_TEST(rig.gmail.insufficient() == 1u);
}

BOOST_AUTO_TEST_CASE(testTheApiCertificateIsVerifiedLikeAMailServers) {
  Rig rig;
  rig.target.server.ca_file.reset();  // the system store does not know the test CA
  BOOST_TEST(expectError([&] { appendOne(*rig.sink(), "INBOX", test::noteMessage(1, "")); }).kind() == ErrorKind::Security);
  BOOST_TEST(rig.gmail.messages().empty());
}

BOOST_AUTO_TEST_CASE(testNoticesToAGmailApiTargetAreImported) {
  Rig rig;
  const auto pool = gateway::makeImapPool(rig.target);  // its gate only: no IMAP session opens
  const std::string notice = "From: popgate <popgate@localhost>\r\nSubject: isp is failing\r\n\r\n"
                             "The POP3 server refused the password.\r\n";
  gateway::appendNotice(rig.target, *pool, rig.tokens.get(), "popgate", notice);
  const auto stored = rig.gmail.messages();
  BOOST_REQUIRE_EQUAL(stored.size(), 1u);
  BOOST_TEST(stored[0].raw == notice);
  BOOST_TEST(stored[0].label_ids.front() == rig.gmail.labels().at("popgate"));
}
