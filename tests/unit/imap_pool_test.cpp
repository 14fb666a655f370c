// ImapPool without sockets: sessions over an in-memory transport that answers like a server
// which allows only so many logins at once ("NO [ALERT] Too many simultaneous connections.
// (Failure)", as Gmail does when the user's phones and laptops hold the rest). The pool then makes
// do with the sessions it has instead of failing the pass, and tries its full size again later.
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "connectors/imap/ImapClient.h"
#include "gateway/delivery/ImapPool.h"

using namespace popgate;
using namespace popgate::gateway;
using namespace std::chrono_literals;

namespace {

// The server side: how many sessions are logged in, and how many it allows.
struct FakeAccount {
  std::mutex mutex;
  std::condition_variable changed;
  int logged_in = 0;
  int allowed = 2;
  int refused = 0;
};

// One connection to FakeAccount: a greeting, then an answer to each command line written.
class ChatTransport final : public net::Transport {
 public:
  explicit ChatTransport(FakeAccount& account) : account_(account) {
    out_ = "* OK [CAPABILITY IMAP4rev1 LITERAL+ UIDPLUS] fake ready\r\n";
  }
  ~ChatTransport() override { close(); }
  std::size_t readSome(char* buf, std::size_t n, std::string_view) override {
    if (out_.empty()) return 0;  // the server closed (nothing more to say)
    const std::size_t k = std::min(n, out_.size());
    out_.copy(buf, k);
    out_.erase(0, k);
    return k;
  }
  void writeAll(std::string_view bytes) override {
    in_.append(bytes);
    for (std::size_t lf = in_.find('\n'); lf != std::string::npos; lf = in_.find('\n')) {
      const std::string line = in_.substr(0, lf);
      in_.erase(0, lf + 1);
      answer(line);
    }
  }
  void startTls() override {}
  bool isSecure() const noexcept override { return false; }
  void close() noexcept override {
    std::lock_guard lock(account_.mutex);
    if (logged_in_) --account_.logged_in;
    logged_in_ = false;
  }

 private:
  void answer(const std::string& line) {
    const std::string tag = line.substr(0, line.find(' '));
    if (line.find(" LOGIN ") != std::string::npos) {
      std::lock_guard lock(account_.mutex);
      if (account_.logged_in >= account_.allowed) {
        ++account_.refused;
        account_.changed.notify_all();
        out_ += tag + " NO [ALERT] Too many simultaneous connections. (Failure)\r\n";
        return;
      }
      ++account_.logged_in;
      logged_in_ = true;
      out_ += tag + " OK [CAPABILITY IMAP4rev1 LITERAL+ UIDPLUS] me@example.org authenticated\r\n";
    } else if (line.find(" LOGOUT") != std::string::npos) {
      out_ += "* BYE bye\r\n" + tag + " OK done\r\n";
    } else {
      out_ += tag + " OK done\r\n";
    }
  }

  FakeAccount& account_;
  std::string in_, out_;
  bool logged_in_ = false;
};

std::unique_ptr<ImapPool> poolOn(FakeAccount& account, std::uint32_t connections,
                                 std::atomic<int>& opened) {
  config::ImapTarget target;
  target.connections = connections;
  return std::make_unique<ImapPool>(target, [&account, &opened] {
    ++opened;
    net::Endpoint e;
    e.host = "imap.example.org";
    e.port = 993;
    auto client = std::make_unique<imap::ImapClient>(std::make_unique<ChatTransport>(account), e);
    client->login(
        imap::Credentials{"me@example.org", popgate::Secret("pw"), imap::AuthMethod::Login});
    return client;
  });
}

}  // namespace

// Two sessions allowed, four wanted: before, the third login failed the whole pass as an
// authentication failure. Now the pool shrinks to the two it has, and the thread that met the cap
// waits for one of them.
BOOST_AUTO_TEST_CASE(testTooManyConnectionsShrinksThePoolInsteadOfFailing) {
  FakeAccount account;
  std::atomic<int> opened{0};
  auto pool = poolOn(account, 4, opened);
  auto first = std::make_unique<ImapPool::Lease>(pool->acquire());
  auto second = std::make_unique<ImapPool::Lease>(pool->acquire());
  std::atomic<bool> served{false};
  std::thread third([&] {
    ImapPool::Lease lease = pool->acquire();  // opens a third session: refused, then waits
    served = true;
  });
  {
    std::unique_lock lock(account.mutex);
    BOOST_REQUIRE(account.changed.wait_for(lock, 10s, [&] { return account.refused == 1; }));
  }
  first.reset();  // a session comes back: the waiting thread takes it
  third.join();
  BOOST_TEST(served.load());
  BOOST_TEST(pool->capacity() == 2u);
  BOOST_TEST(opened.load() == 3);
  {
    ImapPool::Lease again = pool->acquire();  // the idle one, no new login attempt
    BOOST_TEST(opened.load() == 3);
  }
  BOOST_TEST(account.logged_in == 2);
  second.reset();
  pool->closeAll();
}

// With no session of its own open, the pool cannot make do: the refusal goes to the caller as
// Throttled (a pause for the target, not an authentication failure).
BOOST_AUTO_TEST_CASE(testTooManyConnectionsWithNoSessionOpenIsThrottled) {
  FakeAccount account;
  account.allowed = 0;
  std::atomic<int> opened{0};
  auto pool = poolOn(account, 4, opened);
  try {
    pool->acquire();
    BOOST_FAIL("acquired a session the server refused");
  } catch (const Error& e) {
    BOOST_TEST((e.kind() == ErrorKind::Throttled));
    BOOST_TEST(std::string(e.what()).find("Too many simultaneous connections") != std::string::npos,
               e.what());
    BOOST_TEST(e.retryAfter().has_value());
  }
}
