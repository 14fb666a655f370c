// A connection's write guard (net::Connection::setWriteGuard), what keeps a replica that lost its
// lease from finishing an upload: every write asks the guard first, a batch larger than one slice
// asks before each slice, and once the guard throws nothing more reaches the transport (the
// command in progress is cut short, so the server never completes it) and the unsent bytes are
// zeroed like sent ones.
#include <boost/test/unit_test.hpp>

#include <memory>
#include <string>
#include <vector>

#include "connectors/common/Error.h"
#include "connectors/net/Connection.h"

using namespace popgate;

namespace {

// Keeps every write the connection makes, in order; reads nothing.
class SliceLog final : public net::Transport {
 public:
  explicit SliceLog(std::vector<std::string>& writes) : writes_(writes) {}
  std::size_t readSome(char*, std::size_t, std::string_view) override { return 0; }
  void writeAll(std::string_view bytes) override { writes_.emplace_back(bytes); }
  void startTls() override {}
  bool isSecure() const noexcept override { return true; }
  void close() noexcept override {}

 private:
  std::vector<std::string>& writes_;
};

struct Rig {
  std::vector<std::string> writes;
  net::Connection connection{std::make_unique<SliceLog>(writes), "IMAP test",
                             std::chrono::seconds(5)};
};

}  // namespace

BOOST_AUTO_TEST_CASE(testWithoutAGuardABatchGoesInOneWrite) {
  Rig rig;
  const std::string literal(3 * net::Connection::kGuardedSlice, 'x');
  rig.connection.send("A1 APPEND INBOX {" + std::to_string(literal.size()) + "+}\r\n" + literal);
  BOOST_TEST(rig.writes.size() == 1u);
}

BOOST_AUTO_TEST_CASE(testTheGuardIsAskedBeforeEverySlice) {
  Rig rig;
  int asked = 0;
  rig.connection.setWriteGuard([&] { ++asked; });
  const std::string head = "A1 APPEND INBOX {40000+}\r\n";
  const std::string body = head + std::string(40000, 'm') + "\r\n";
  rig.connection.send(body);
  BOOST_TEST(asked == 3);  // 40,028 bytes in slices of 16 KiB
  BOOST_REQUIRE(rig.writes.size() == 3u);
  std::string joined;
  for (const std::string& w : rig.writes) {
    BOOST_TEST(w.size() <= net::Connection::kGuardedSlice);
    joined += w;
  }
  BOOST_TEST((joined == body));
}

BOOST_AUTO_TEST_CASE(testAGuardThatThrowsStopsTheRestAndTheCommandNeverEnds) {
  Rig rig;
  int allowed = 2;
  rig.connection.setWriteGuard([&] {
    if (allowed-- <= 0) throw Error(ErrorKind::Fenced, "work: the lease has lapsed");
  });
  const std::string literal(5 * net::Connection::kGuardedSlice, 'm');
  try {
    rig.connection.send("A1 APPEND INBOX {" + std::to_string(literal.size()) + "+}\r\n" + literal +
                        "\r\n");
    BOOST_FAIL("the guard's refusal was swallowed");
  } catch (const Error& e) {
    BOOST_TEST((e.kind() == ErrorKind::Fenced));
  }
  BOOST_TEST(rig.writes.size() == 2u);  // the two slices before the lease lapsed, no more
  BOOST_TEST(rig.writes.back().find("\r\n") == std::string::npos);  // the command's end unsent
  // The batch is gone: a later flush (a LOGOUT on a session someone reused) sends only its own.
  int after = 0;
  rig.connection.setWriteGuard([&] { ++after; });
  rig.connection.send("A2 LOGOUT\r\n");
  BOOST_TEST(rig.writes.back() == "A2 LOGOUT\r\n");
  BOOST_TEST(after == 1);
}
