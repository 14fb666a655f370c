// Secrets in memory: wiped when dropped (copies and moved-from objects too), wiped out of the
// connection's output buffer once sent, and masked in every text made from server words while they
// live (a broken server that echoes a password does not put it into a log, an error or /status).
#include <boost/test/unit_test.hpp>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "connectors/common/Error.h"
#include "connectors/common/Printable.h"
#include "connectors/common/Secret.h"
#include "connectors/net/Connection.h"

using namespace popgate;

namespace {

bool allZero(const char* bytes, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) {
    if (bytes[i] != '\0') return false;
  }
  return true;
}

// Records where each write came from; reads nothing.
class RecordingTransport final : public net::Transport {
 public:
  explicit RecordingTransport(std::string_view& last) : last_(last) {}
  std::size_t readSome(char*, std::size_t, std::string_view) override { return 0; }
  void writeAll(std::string_view bytes) override {
    last_ = bytes;
    sent_copy += bytes;
  }
  void startTls() override {}
  bool isSecure() const noexcept override { return true; }
  void close() noexcept override {}
  std::string sent_copy;

 private:
  std::string_view& last_;
};

}  // namespace

BOOST_AUTO_TEST_CASE(testWipeZeroesTheWholeBuffer) {
  std::string text(100, 'x');
  text.resize(10);  // the tail of the longer value is still in the buffer
  const char* bytes = text.data();
  const std::size_t capacity = text.capacity();
  wipe(text);
  BOOST_TEST(text.empty());
  BOOST_TEST(text.data() == bytes);  // the same buffer, now zeroed
  BOOST_TEST(allZero(bytes, capacity));
}

BOOST_AUTO_TEST_CASE(testSecretIsMaskedWhileItLives) {
  const std::string echo = "-ERR [AUTH] unknown user alice with password Hunter2-Echo";
  {
    const Secret password(std::string("Hunter2-Echo"));
    BOOST_TEST(redactSecrets(echo) == "-ERR [AUTH] unknown user alice with password ********");
    BOOST_TEST(redactSecrets("Hunter2-EchoHunter2-Echo!") == "****************!");
  }
  BOOST_TEST(redactSecrets(echo) == echo);  // dropped: no longer known, no longer masked
}

BOOST_AUTO_TEST_CASE(testCopiesAndMovesKeepMaskingUntilTheLastOneGoes) {
  auto first = std::make_unique<Secret>(std::string("copied-secret-1"));
  Secret copy(*first);
  Secret moved(std::move(copy));
  BOOST_TEST(copy.empty());  // NOLINT(bugprone-use-after-move): moved-from is empty
  first.reset();
  BOOST_TEST(redactSecrets("x copied-secret-1 y") == "x ******** y");  // `moved` still holds it
  moved = Secret();
  BOOST_TEST(redactSecrets("x copied-secret-1 y") == "x copied-secret-1 y");
}

BOOST_AUTO_TEST_CASE(testLongerSecretIsMaskedWholeBeforeAShorterOneInside) {
  const Secret shorter(std::string("abcd1234"));
  const Secret longer(std::string("xxabcd1234yy"));
  BOOST_TEST(redactSecrets("[xxabcd1234yy] [abcd1234]") == "[********] [********]");
}

// A daemon polling thousands of accounts holds thousands of passwords (many sharing their first
// bytes) and masks every log line: a line holding one of them, anywhere, is masked; one holding
// only their first bytes is not; equal-length values overlapping in a line are masked in the
// order they came; a value whose last holder goes stops being masked.
BOOST_AUTO_TEST_CASE(testThousandsOfLivePasswordsMaskEveryLineAsFew) {
  std::vector<std::unique_ptr<Secret>> passwords;
  for (int i = 0; i < 5000; ++i) {
    passwords.push_back(std::make_unique<Secret>("pw-u" + std::to_string(10000 + i)));
  }
  BOOST_TEST(redactSecrets("u04711: 0 uploaded, 0 deleted (0.0 s)") ==
             "u04711: 0 uploaded, 0 deleted (0.0 s)");
  BOOST_TEST(redactSecrets("-ERR pw-u1 pw-u pw-u1471") == "-ERR pw-u1 pw-u pw-u1471");
  BOOST_TEST(redactSecrets("-ERR [AUTH] bad password pw-u14711.") ==
             "-ERR [AUTH] bad password ********.");
  BOOST_TEST(redactSecrets("pw-u10000pw-u14999") == "****************");
  const Secret older(std::string("abcdef")), newer(std::string("cdefgh"));
  BOOST_TEST(redactSecrets("abcdefgh") == "********gh");
  passwords[4711].reset();
  BOOST_TEST(redactSecrets("bad password pw-u14711") == "bad password pw-u14711");
  BOOST_TEST(redactSecrets("bad password pw-u14712") == "bad password ********");
}

BOOST_AUTO_TEST_CASE(testVeryShortValuesAreNotMasked) {
  const Secret tiny(std::string("pw"));
  BOOST_TEST(redactSecrets("pwd: pw") == "pwd: pw");
  BOOST_TEST(Secret::kMinMaskedBytes == 4u);
}

BOOST_AUTO_TEST_CASE(testJoinedConcatenates) {
  const Secret joined = Secret::joined({"PLAIN ", "AGJvYgBzM2NyM3Q="});
  BOOST_TEST(joined.reveal() == "PLAIN AGJvYgBzM2NyM3Q=");
  BOOST_TEST(redactSecrets("NO bad PLAIN AGJvYgBzM2NyM3Q=") == "NO bad ********");
}

BOOST_AUTO_TEST_CASE(testServerEchoOfAPasswordNeverReachesAnErrorText) {
  const Secret password(std::string("s3cret-Echoed"));
  const Error e(ErrorKind::Auth, "POP3 pop.example:995 refused the login of bob",
                "-ERR invalid password 's3cret-Echoed' for bob");
  BOOST_TEST(std::string(e.what()) ==
             "POP3 pop.example:995 refused the login of bob (server said: "
             "-ERR invalid password '********' for bob)");
  BOOST_TEST(e.serverText().find("s3cret") == std::string::npos);
  const Error named = e.withAccount("work");
  BOOST_TEST(std::string(named.what()).find("s3cret") == std::string::npos);
  // Also when a client put the server's words into its own message.
  const Error inside(ErrorKind::Protocol, "cannot parse 's3cret-Echoed'");
  BOOST_TEST(std::string(inside.what()) == "cannot parse '********'");
  BOOST_TEST(printable("S: s3cret-Echoed\r\n") == "S: ********\\r\\n");
}

BOOST_AUTO_TEST_CASE(testConnectionWipesWhatItSent) {
  std::string_view last;
  auto transport = std::make_unique<RecordingTransport>(last);
  RecordingTransport& wire = *transport;
  net::Connection connection(std::move(transport), "POP3 test", std::chrono::seconds(5));
  connection.queue("USER bob\r\n");
  connection.send("PASS s3cret-on-the-wire\r\n", "PASS ********");
  BOOST_TEST(wire.sent_copy == "USER bob\r\nPASS s3cret-on-the-wire\r\n");
  BOOST_REQUIRE(last.size() == wire.sent_copy.size());
  // The buffer the transport was handed still belongs to the connection: it is zeroed.
  BOOST_TEST(allZero(last.data(), last.size()));
}
