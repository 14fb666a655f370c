// The socket-free parts of the Gmail API target: Google's error answers → popgate's error kinds
// and Retry-After, message ids ↔ the ledger's two 32-bit halves, message lists and raw messages,
// labels resolved by name (INBOX, nested names parents first), and the import request's framing
// (a boundary that never occurs in the message, even split across pieces), and the per-user
// quota (15,000 units a minute, 25 an import) spreading imports over the minute.
#include <boost/test/unit_test.hpp>

#include <string>

#include "connectors/gmail/GmailLabels.h"
#include "connectors/gmail/GmailReply.h"
#include "connectors/gmail/ImportRequest.h"
#include "connectors/gmail/QuotaWindow.h"

using namespace std::chrono_literals;
using namespace popgate;
using namespace popgate::gmail;

namespace {

std::string googleError(int code, const std::string& reason, const std::string& message) {
  return R"({"error":{"code":)" + std::to_string(code) + R"(,"message":")" + message +
         R"(","errors":[{"message":")" + message + R"(","domain":"global","reason":")" + reason +
         R"("}],"status":"X"}})";
}

}  // namespace

BOOST_AUTO_TEST_CASE(testErrorAnswersAreClassified) {
  const Failure quota = classifyFailure(429, googleError(429, "rateLimitExceeded", "Rate Limit Exceeded"), "7");
  BOOST_TEST((quota.kind == ErrorKind::Throttled));
  BOOST_TEST((quota.retry_after == std::optional<std::chrono::milliseconds>(7s)));
  BOOST_TEST(quota.words == "HTTP 429 rateLimitExceeded: Rate Limit Exceeded");
  BOOST_TEST((classifyFailure(403, googleError(403, "userRateLimitExceeded", "x"), "").kind ==
              ErrorKind::Throttled));
  BOOST_TEST((classifyFailure(403, googleError(403, "insufficientPermissions", "Insufficient Permission"), "").kind ==
              ErrorKind::Auth));
  BOOST_TEST((classifyFailure(401, googleError(401, "authError", "Invalid Credentials"), "").kind ==
              ErrorKind::Auth));
  BOOST_TEST((classifyFailure(503, googleError(503, "backendError", "Backend Error"), "").kind ==
              ErrorKind::Transient));
  const Failure policy = classifyFailure(400, googleError(400, "invalidArgument", "Invalid attachment"), "");
  BOOST_TEST((policy.kind == ErrorKind::MessageRejected));
  BOOST_TEST(policy.words == "HTTP 400 invalidArgument: Invalid attachment");
  BOOST_TEST((classifyFailure(404, "<html>Not Found</html>", "").kind == ErrorKind::Protocol));
  BOOST_TEST(classifyFailure(502, "<html>\x01gateway</html>", "").words == "HTTP 502: <html>\\x01gateway</html>");
}

BOOST_AUTO_TEST_CASE(testRetryAfter) {
  BOOST_TEST((parseRetryAfter("30") == std::optional<std::chrono::milliseconds>(30s)));
  BOOST_TEST((parseRetryAfter(" 0 ") == std::optional<std::chrono::milliseconds>(0s)));
  BOOST_TEST((parseRetryAfter("99999999") == std::optional<std::chrono::milliseconds>(86400s)));
  BOOST_TEST(!parseRetryAfter("").has_value());
  BOOST_TEST(!parseRetryAfter("-1").has_value());
  BOOST_TEST(!parseRetryAfter("Wed, 21 Oct 2026 07:28:00 GMT").has_value());
}

BOOST_AUTO_TEST_CASE(testMessageIdHalves) {
  const auto halves = splitMessageId("18c2a4b5d6e7f001");
  BOOST_REQUIRE(halves.has_value());
  BOOST_TEST(halves->high == 0x18c2a4b5u);
  BOOST_TEST(halves->low == 0xd6e7f001u);
  BOOST_TEST(joinMessageId(*halves) == "18c2a4b5d6e7f001");
  BOOST_TEST(joinMessageId(*splitMessageId("abc")) == "abc");
  BOOST_TEST(!splitMessageId("").has_value());
  BOOST_TEST(!splitMessageId("018c").has_value());               // would not come back the same
  BOOST_TEST(!splitMessageId("18C2A4B5D6E7F001").has_value());   // Gmail's ids are lower case
  BOOST_TEST(!splitMessageId("18c2a4b5d6e7f0012").has_value());  // more than 64 bits
  BOOST_TEST(!splitMessageId("r-12345").has_value());
}

BOOST_AUTO_TEST_CASE(testMessageListAndRawMessage) {
  const MessageList list = parseMessageList(
      R"({"messages":[{"id":"a1","threadId":"a1"},{"id":"b2","threadId":"a1"}],"nextPageToken":"t","resultSizeEstimate":2})");
  BOOST_TEST((list.ids == std::vector<std::string>{"a1", "b2"}));
  BOOST_TEST(list.next_page_token == "t");
  BOOST_TEST(parseMessageList(R"({"resultSizeEstimate":0})").ids.empty());
  // base64url without padding, with - and _ (bytes 0xfb 0xff).
  BOOST_TEST(parseRawMessage(R"({"id":"a1","raw":"QQ0KLi4NCvv_"})") == "A\r\n..\r\n\xfb\xff");
  BOOST_TEST(parseRawMessage(R"({"raw":"QQ=="})") == "A");
  BOOST_CHECK_THROW(parseRawMessage(R"({"id":"a1"})"), Error);
  BOOST_CHECK_THROW(parseMessageList("not json"), Error);
  BOOST_TEST(resourceId(R"({"id":"Label_7","name":"x"})").value_or("") == "Label_7");
  BOOST_TEST(!resourceId("{}").has_value());
}

BOOST_AUTO_TEST_CASE(testLabelsByName) {
  const LabelDirectory labels = LabelDirectory::fromList(
      R"({"labels":[{"id":"INBOX","name":"INBOX","type":"system"},)"
      R"({"id":"Label_1","name":"Lists","type":"user"},{"id":"Label_2","name":"Work/2026","type":"user"}]})");
  BOOST_TEST(labels.idOf("INBOX").value_or("") == "INBOX");
  BOOST_TEST(labels.idOf("inbox").value_or("") == "INBOX");
  BOOST_TEST(labels.idOf("Lists").value_or("") == "Label_1");
  BOOST_TEST(!labels.idOf("lists").has_value());  // user labels by their exact name
  BOOST_TEST((labels.missingFor("Lists/ISP/Old") == std::vector<std::string>{"Lists/ISP", "Lists/ISP/Old"}));
  BOOST_TEST((labels.missingFor("Work/2026") == std::vector<std::string>{"Work"}));
  BOOST_TEST(labels.missingFor("Inbox").empty());
  BOOST_TEST(labels.missingFor("Lists").empty());
  BOOST_TEST(labelCreateBody("Lists/ISP") ==
             R"({"labelListVisibility":"labelShow","messageListVisibility":"show","name":"Lists/ISP"})");
  BOOST_CHECK_THROW(LabelDirectory::fromList("[]"), Error);
}

BOOST_AUTO_TEST_CASE(testImportRequestFraming) {
  BOOST_TEST(importQuery({}) == "internalDateSource=dateHeader&neverMarkSpam=false&processForCalendar=true");
  BOOST_TEST(importQuery({true, false}) == "internalDateSource=dateHeader&neverMarkSpam=true&processForCalendar=false");
  BOOST_TEST(importMetadata({"INBOX", "UNREAD"}) == R"({"labelIds":["INBOX","UNREAD"]})");
  BOOST_TEST((labelIdsFor("Label_3", {}) == std::vector<std::string>{"Label_3", "UNREAD"}));
  BOOST_TEST((labelIdsFor("INBOX", {"\\Seen", "\\Flagged"}) == std::vector<std::string>{"INBOX", "STARRED"}));
  const MultipartFrame frame("b1", R"({"labelIds":["INBOX"]})");
  BOOST_TEST(frame.contentType() == "multipart/related; boundary=b1");
  const std::string body = frame.head() + "M\r\n" + frame.tail();
  BOOST_TEST(body ==
             "--b1\r\nContent-Type: application/json; charset=UTF-8\r\n\r\n{\"labelIds\":[\"INBOX\"]}"
             "\r\n--b1\r\nContent-Type: message/rfc822\r\n\r\nM\r\n\r\n--b1--\r\n");
  BOOST_TEST(frame.length(3) == body.size());
}

BOOST_AUTO_TEST_CASE(testBoundaryScanAcrossPieces) {
  const std::string needle = "popgate-0123";
  const std::string text = "xx--popgate-0123yy";
  for (std::size_t cut1 = 0; cut1 <= text.size(); ++cut1) {
    for (std::size_t cut2 = cut1; cut2 <= text.size(); ++cut2) {
      BoundaryScan scan(needle);
      scan.feed(text.substr(0, cut1));
      scan.feed(text.substr(cut1, cut2 - cut1));
      scan.feed(text.substr(cut2));
      BOOST_TEST(scan.found(), "cut at " << cut1 << "," << cut2);
    }
  }
  BoundaryScan bytewise(needle);
  for (const char c : std::string("popgate-012 popgate-0124 opgate-0123")) bytewise.feed(std::string(1, c));
  BOOST_TEST(!bytewise.found());
}

BOOST_AUTO_TEST_CASE(testQuotaWindowSpreadsImportsOverTheMinute) {
  using popgate::gmail::QuotaWindow;
  const auto t0 = QuotaWindow::TimePoint{} + 1h;
  QuotaWindow quota;  // 15,000 units a minute: 600 imports at 25
  for (int i = 0; i < 600; ++i) BOOST_TEST(quota.reserve(QuotaWindow::kImportCost, t0).count() == 0);
  // The 601st waits until the first leaves the window; the next ones queue behind it.
  BOOST_TEST((quota.reserve(QuotaWindow::kImportCost, t0 + 10s) == 50s));
  BOOST_TEST((quota.reserve(QuotaWindow::kImportCost, t0 + 10s) == 50s));
  // A minute after the burst, there is room again without waiting.
  BOOST_TEST((quota.reserve(QuotaWindow::kImportCost, t0 + 61s) == 0s));

  QuotaWindow small(100);
  BOOST_TEST((small.reserve(60, t0) == 0s));
  BOOST_TEST((small.reserve(60, t0 + 30s) == 30s));   // waits for the first 60 to leave
  BOOST_TEST((small.reserve(500, t0 + 30s) == 90s));  // more than the quota: once the window is empty
}
