// Smoke test of the real-Dovecot sandbox every integration test stands on: what is seeded is what
// is stored (byte for byte) and what POP3 RETR hands out; options, restarts and side-by-side
// sandboxes work; wrong passwords fail fast.
#include <boost/test/unit_test.hpp>

#include <Poco/Net/SocketAddress.h>
#include <Poco/Net/StreamSocket.h>
#include <Poco/Timespan.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "tests/support/DovecotSandbox.h"
#include "tests/support/Messages.h"

namespace {

using popgate::test::bulkMessage;
using popgate::test::DovecotSandbox;
using popgate::test::popDelivered;
using popgate::test::SampleMessage;
using popgate::test::sampleMessages;
using popgate::test::SandboxOptions;
using Clock = std::chrono::steady_clock;

// A line-based client on a plain socket, just enough to look at the sandbox from outside:
// its own buffered reader, lines must end in LF, EOF or a 10 s silence throws.
class LineClient {
 public:
  explicit LineClient(std::uint16_t port) : socket_(Poco::Net::SocketAddress("127.0.0.1", port)) {
    socket_.setReceiveTimeout(Poco::Timespan(10, 0));
  }

  // Sends `line` plus CRLF.
  void send(const std::string& line) { sendRaw(line + "\r\n"); }
  void sendRaw(const std::string& bytes) {
    std::size_t sent = 0;
    while (sent < bytes.size()) {
      sent += static_cast<std::size_t>(
          socket_.sendBytes(bytes.data() + sent, static_cast<int>(bytes.size() - sent)));
    }
  }
  // The next line, with its line end.
  std::string readLine() {
    for (;;) {
      std::size_t lf = buffer_.find('\n');
      if (lf != std::string::npos) {
        std::string line = buffer_.substr(0, lf + 1);
        buffer_.erase(0, lf + 1);
        return line;
      }
      char chunk[4096];
      int n = socket_.receiveBytes(chunk, sizeof chunk);
      if (n <= 0) throw std::runtime_error("connection closed by the server");
      buffer_.append(chunk, static_cast<std::size_t>(n));
    }
  }
  // Sends `command` and returns the first line of the answer.
  std::string ask(const std::string& command) {
    send(command);
    return readLine();
  }

 private:
  Poco::Net::StreamSocket socket_;
  std::string buffer_;
};

bool startsWith(const std::string& s, const std::string& prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}

// POP3 on top of LineClient: USER/PASS, STAT, RETR with dot-unstuffing.
class TinyPop3 {
 public:
  TinyPop3(std::uint16_t port, const std::string& user, const std::string& password)
      : client_(port) {
    expectOk(client_.readLine(), "greeting");
    expectOk(client_.ask("USER " + user), "USER");
    expectOk(client_.ask("PASS " + password), "PASS");
  }
  ~TinyPop3() {
    try {
      client_.ask("QUIT");
    } catch (const std::exception&) {  // the test has its answer already
    }
  }
  TinyPop3(const TinyPop3&) = delete;
  TinyPop3& operator=(const TinyPop3&) = delete;

  // The message count from STAT.
  std::size_t stat() {
    std::string reply = client_.ask("STAT");
    expectOk(reply, "STAT");
    return std::stoul(reply.substr(4));
  }
  // Message `n`, dot-unstuffed, up to but excluding the terminating "." line.
  std::string retr(std::size_t n) {
    expectOk(client_.ask("RETR " + std::to_string(n)), "RETR");
    std::string message;
    for (;;) {
      std::string line = client_.readLine();
      if (line == ".\r\n") return message;
      if (line.size() < 2 || line.compare(line.size() - 2, 2, "\r\n") != 0) {
        throw std::runtime_error("RETR: a line without CRLF");
      }
      if (line[0] == '.') line.erase(0, 1);
      message += line;
    }
  }

 private:
  static void expectOk(const std::string& reply, const char* what) {
    if (!startsWith(reply, "+OK")) throw std::runtime_error(std::string(what) + ": " + reply);
  }

  LineClient client_;
};

double secondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

}  // namespace

BOOST_AUTO_TEST_CASE(testSamplesAreStoredAndRetrievedByteExact) {
  const std::vector<SampleMessage> samples = sampleMessages();
  BOOST_TEST_REQUIRE(samples.size() >= 8u);
  DovecotSandbox dovecot({"alice"});

  Clock::time_point start = Clock::now();
  for (const SampleMessage& sample : samples) dovecot.seed("alice", sample.bytes);
  BOOST_TEST_MESSAGE("seed(): " << 1000 * secondsSince(start) / static_cast<double>(samples.size())
                                << " ms per message");
  BOOST_TEST(dovecot.count("alice", "INBOX") == samples.size());
  BOOST_TEST(dovecot.popBoxSize("alice") == samples.size());

  // Stored byte for byte (CRLF kept, no final newline kept).
  std::vector<std::string> stored = dovecot.messages("alice", "INBOX");
  BOOST_TEST_REQUIRE(stored.size() == samples.size());
  for (std::size_t i = 0; i < samples.size(); ++i) {
    BOOST_CHECK_MESSAGE(stored[i] == samples[i].bytes, samples[i].name << ": stored bytes differ");
  }

  // What POP3 hands out: the same, except a CRLF Dovecot adds to a message without final newline.
  TinyPop3 pop(dovecot.pop3Port(), "alice", DovecotSandbox::password("alice"));
  BOOST_TEST_REQUIRE(pop.stat() == samples.size());
  for (std::size_t i = 0; i < samples.size(); ++i) {
    std::string retrieved = pop.retr(i + 1);
    BOOST_CHECK_MESSAGE(retrieved == popDelivered(samples[i].bytes),
                        samples[i].name << ": RETR differs from the stored bytes");
    if (samples[i].name == "07-no-final-newline") {
      BOOST_TEST(retrieved == samples[i].bytes + "\r\n");
    }
  }
}

BOOST_AUTO_TEST_CASE(testSeedManyKeepsOrderAndSurvivesRestart) {
  DovecotSandbox dovecot({"bob"});
  std::vector<std::string> bulk;
  for (std::size_t i = 0; i < 300; ++i) bulk.push_back(bulkMessage(i, 512));

  Clock::time_point start = Clock::now();
  dovecot.seedMany("bob", bulk);
  BOOST_TEST_MESSAGE("seedMany(): 300 messages in " << secondsSince(start) << " s");
  BOOST_TEST(dovecot.count("bob") == 300u);

  std::vector<std::string> stored = dovecot.messages("bob");
  BOOST_TEST_REQUIRE(stored.size() == 300u);
  for (std::size_t i = 0; i < stored.size(); ++i) {
    BOOST_CHECK_MESSAGE(stored[i] == bulk[i], "message " << i << " out of order or changed");
  }

  dovecot.seedMany("bob", {bulkMessage(1000), bulkMessage(1001)}, "Work");
  dovecot.seed("bob", bulkMessage(1002), "Work");
  BOOST_TEST(dovecot.count("bob", "Work") == 3u);
  BOOST_TEST(dovecot.messages("bob", "Work").back() == bulkMessage(1002));

  dovecot.restart();
  BOOST_TEST(dovecot.popBoxSize("bob") == 300u);
  TinyPop3 pop(dovecot.pop3Port(), "bob", DovecotSandbox::password("bob"));
  BOOST_TEST(pop.stat() == 300u);
  BOOST_TEST(pop.retr(1) == bulk.front());
  BOOST_TEST(pop.retr(300) == bulk.back());
}

// Tests try wrong passwords on purpose. Stock Dovecot would delay each failure by 2 s
// (auth_failure_delay) and add a penalty growing 2, 4, 8 s with each failure from one address:
// four attempts would take at least 8 s with the delay alone, 14 s with the penalty. The sandbox
// answers each from a 500 ms timer: the bound below is four times that, so only a sandbox that
// lost its settings fails it, not a busy machine.
BOOST_AUTO_TEST_CASE(testWrongPasswordFailsFast) {
  DovecotSandbox dovecot({"alice"});
  double total = 0;
  for (int attempt = 0; attempt < 4; ++attempt) {
    LineClient client(dovecot.pop3Port());
    client.readLine();
    BOOST_TEST(startsWith(client.ask("USER alice"), "+OK"));
    Clock::time_point start = Clock::now();
    BOOST_TEST(startsWith(client.ask("PASS wrong"), "-ERR"));
    const double took = secondsSince(start);
    BOOST_TEST_MESSAGE("attempt " << attempt + 1 << ": " << took << " s");
    total += took;
  }
  BOOST_TEST(total < 8.0);
}

BOOST_AUTO_TEST_CASE(testGmailLikeAndQuotaSandboxBesideAPlainOne) {
  SandboxOptions options;
  options.gmail_like = true;
  options.quota_user = "carol";
  options.quota_bytes = 2000;
  DovecotSandbox limited({"carol", "dave"}, options);
  DovecotSandbox plain({"carol"});
  BOOST_TEST(limited.basePort() != plain.basePort());

  // Gmail-like capabilities: LITERAL- instead of LITERAL+.
  LineClient gmail(limited.imapPort());
  std::string greeting = gmail.readLine();
  BOOST_TEST(greeting.find("LITERAL-") != std::string::npos, greeting);
  BOOST_TEST(greeting.find("LITERAL+") == std::string::npos, greeting);
  LineClient stock(plain.imapPort());
  greeting = stock.readLine();
  BOOST_TEST(greeting.find("LITERAL+") != std::string::npos, greeting);

  // Over quota: NO [OVERQUOTA] instead of the "+" continuation; a user without quota may append.
  const std::string big = "Subject: too big\r\n\r\n" + std::string(3000, 'x') + "\r\n";
  BOOST_TEST(startsWith(gmail.ask("a1 LOGIN carol pw-carol"), "a1 OK"));
  std::string answer = gmail.ask("a2 APPEND INBOX {" + std::to_string(big.size()) + "}");
  BOOST_TEST(startsWith(answer, "a2 NO [OVERQUOTA]"), answer);

  LineClient other(limited.imapPort());
  other.readLine();
  BOOST_TEST(startsWith(other.ask("b1 LOGIN dave pw-dave"), "b1 OK"));
  BOOST_TEST_REQUIRE(
      startsWith(other.ask("b2 APPEND INBOX {" + std::to_string(big.size()) + "}"), "+"));
  other.sendRaw(big + "\r\n");
  answer = other.readLine();
  BOOST_TEST(startsWith(answer, "b2 OK [APPENDUID "), answer);
  BOOST_TEST(limited.messages("dave") == std::vector<std::string>{big});
  BOOST_TEST(plain.count("carol") == 0u);
}
