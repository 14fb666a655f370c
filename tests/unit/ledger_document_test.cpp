// The document of `popgate ledger export/import` (gateway/app/LedgerDocument.h): a ledger goes
// out and comes back the same, the text is stable, and anything that is not this popgate's
// document (another version, a hostile or damaged text) is refused as a configuration error
// before the ledger is touched.
#include <boost/test/unit_test.hpp>

#include <string>

#include "connectors/common/Error.h"
#include "gateway/app/LedgerDocument.h"
#include "tests/support/LedgerEntries.h"

using namespace popgate;
using namespace popgate::gateway;

namespace {

LedgerImage sample() {
  LedgerImage image;
  AccountImage& work = image.accounts["work"];
  work.first_pass_at = 1768435200;
  LedgerEntry e = test::edgeLedgerEntry("1f2e sha256:" + std::string(64, 'f'));
  e.reason += "\r\n\ttab";
  e.missing_since = -1;
  work.rows[e.key] = e;
  for (const auto state : {LedgerState::InFlight, LedgerState::Uploaded, LedgerState::Deleted,
                           LedgerState::TooLarge, LedgerState::Existing, LedgerState::InTarget}) {
    const std::string key = "k" + std::to_string(static_cast<int>(state));
    work.rows[key] = test::ledgerEntry(key, state);
  }
  work.notice_keys = {"quarantine 1f2e"};
  QueuedNotice n;
  n.id = 0;
  n.account = "work";
  n.subject = "popgate: a message of work is in quarantine";
  n.body = "line 1\r\nline 2 ä\r\n";
  n.created = 1768435250;
  n.to_webhook = true;
  n.attempts = 3;
  n.next_try = 1768435400;
  work.notices.push_back(n);
  AccountImage& home = image.accounts["hömé"];
  home.episode = NoticeEpisode{1768435000, 4, true, 2, "-ERR [AUTH] 'nope'"};
  image.uploads["anna"][491232] = 4096;
  image.uploads["anna"][491233] = 18446744073709551ull;
  image.uploads["ben"][491232] = 0;
  return image;
}

// The document with `from` replaced by `to` (once; it must be there).
std::string edited(std::string text, const std::string& from, const std::string& to) {
  const auto at = text.find(from);
  BOOST_REQUIRE_MESSAGE(at != std::string::npos, "the document has no " + from);
  return text.replace(at, from.size(), to);
}

void checkRefused(const std::string& text, const std::string& why) {
  try {
    LedgerDocument::decode(text);
    BOOST_FAIL("accepted: " + why);
  } catch (const Error& e) {
    BOOST_TEST((e.kind() == ErrorKind::Config), why + ": " + e.what());
  }
}

}  // namespace

BOOST_AUTO_TEST_CASE(testALedgerComesBackTheSame) {
  const LedgerImage image = sample();
  const std::string text = LedgerDocument::encode(image);
  BOOST_TEST((LedgerDocument::decode(text) == image));
  BOOST_TEST(LedgerDocument::encode(LedgerDocument::decode(text)) == text);  // stable
  BOOST_TEST(text.find("\"format\": \"popgate-ledger\"") != std::string::npos, text);
  BOOST_TEST(text.find("\"state\": \"too_large\"") != std::string::npos);
  const LedgerImage empty;
  BOOST_TEST((LedgerDocument::decode(LedgerDocument::encode(empty)) == empty));
}

BOOST_AUTO_TEST_CASE(testTheSameLedgerGivesTheSameTextInLedgerOrder) {
  const std::string text = LedgerDocument::encode(sample());
  BOOST_TEST(text == LedgerDocument::encode(sample()));
  // Accounts by name, rows by key.
  BOOST_TEST(text.find("\"name\": \"hömé\"") < text.find("\"name\": \"work\""));
  BOOST_TEST(text.find("\"key\": \"1f2e") < text.find("\"key\": \"k1\""));
  BOOST_TEST(text.back() == '\n');
}

BOOST_AUTO_TEST_CASE(testAnotherVersionOrFormatIsRefused) {
  const std::string text = LedgerDocument::encode(sample());
  checkRefused(edited(text, "\"version\": 1", "\"version\": 2"), "a newer version");
  checkRefused(edited(text, "\"version\": 1", "\"version\": 0"), "an older version");
  checkRefused(edited(text, "\"version\": 1", "\"version\": \"1\""), "a version as text");
  checkRefused(edited(text, "\"format\": \"popgate-ledger\"", "\"format\": \"other\""),
               "another format");
  checkRefused(edited(text, "\"format\": \"popgate-ledger\",", ""), "no format");
}

BOOST_AUTO_TEST_CASE(testHostileOrDamagedDocumentsAreRefused) {
  const std::string text = LedgerDocument::encode(sample());
  checkRefused("", "nothing");
  checkRefused("[]", "a list");
  checkRefused(text.substr(0, text.size() / 2), "a cut text");
  checkRefused(std::string(100000, '['), "deep nesting");
  checkRefused(edited(text, "\"state\": \"too_large\"", "\"state\": \"gone\""), "an unknown state");
  checkRefused(edited(text, "\"size\": 4000000000", "\"size\": -1"), "a negative size");
  checkRefused(edited(text, "\"size\": 4000000000", "\"size\": \"4000000000\""),
               "a number as text");
  checkRefused(edited(text, "\"size\": 4000000000", "\"size\": 4.5"), "a fraction");
  checkRefused(edited(text, "\"size\": 4000000000", "\"size\": 99999999999999999999"),
               "a size past 64 bits");
  checkRefused(edited(text, "\"uid\": 4294967294", "\"uid\": 4294967296"), "a UID past 32 bits");
  checkRefused(edited(text, "\"uid\": 4294967294,", ""), "a missing field");
  checkRefused(edited(text, "\"to_webhook\": true", "\"to_webhook\": 1"), "a number as flag");
  checkRefused(edited(text, "\"rows\": [", "\"rows\": [ 7, "), "a row that is no object");
  checkRefused(edited(text, "\"notice_keys\": [", "\"notice_keys\": [ \"a\\u0000b\", "),
               "a NUL in a text");
  checkRefused(edited(text, "\"name\": \"hömé\"", "\"name\": \"work\""), "an account twice");
  checkRefused(edited(text, "\"key\": \"k1\"", "\"key\": \"k2\""), "a key twice");
  checkRefused(edited(text, "\"key\": \"k1\"", "\"key\": \"\""), "an empty key");
}

// A server's refusal text is stored as the server wrote it, not always UTF-8 (Latin-1 from an
// old server): it comes back byte for byte.
BOOST_AUTO_TEST_CASE(testTextThatIsNotUtf8ComesBackByteForByte) {
  LedgerImage image;
  LedgerEntry e = test::ledgerEntry("u1", LedgerState::Rejected);
  e.reason = "NO Nachricht zu gro\xdf \xff\xfe end";
  image.accounts["work"].rows[e.key] = e;
  const std::string text = LedgerDocument::encode(image);
  BOOST_TEST((LedgerDocument::decode(text) == image), text);
}

BOOST_AUTO_TEST_CASE(testDamagedBytesOfANonUtf8TextAreRefused) {
  LedgerImage image;
  LedgerEntry e = test::ledgerEntry("u1", LedgerState::Rejected);
  e.reason = "gro\xdf";
  image.accounts["work"].rows[e.key] = e;
  const std::string text = LedgerDocument::encode(image);
  BOOST_TEST(text.find("\"base64\": \"Z3Jv3w==\"") != std::string::npos, text);
  checkRefused(edited(text, "\"Z3Jv3w==\"", "\"Z3J%3w==\""), "not base64");
  checkRefused(edited(text, "\"Z3Jv3w==\"", "\"AA==\""), "a NUL in base64");
  checkRefused(edited(text, "\"base64\": \"Z3Jv3w==\"", "\"hex\": \"67\""), "another object");
}
