// The sd_notify datagram protocol against a test-owned Unix datagram socket standing in for
// systemd: READY=1 and friends arrive as sent (path and abstract socket names), WATCHDOG_USEC and
// WATCHDOG_PID are honoured, and the watchdog is fed only while the scheduler beats.
#include <boost/test/unit_test.hpp>

#include <csignal>
#include <cstdlib>
#include <optional>
#include <string>

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "gateway/service/StatusBoard.h"
#include "gateway/service/SystemdNotifier.h"
#include "gateway/service/WatchdogFeeder.h"
#include "tests/support/TempDir.h"

using namespace popgate::gateway;
using namespace std::chrono_literals;

namespace {

// A Unix datagram socket the test owns; `name` is what NOTIFY_SOCKET says ("/path" or "@abstract").
class FakeSystemd {
 public:
  explicit FakeSystemd(const std::string& name) : name_(name) {
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    BOOST_REQUIRE(fd_ >= 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::memcpy(address.sun_path, name.data(), name.size());
    if (name.front() == '@') address.sun_path[0] = '\0';
    const auto length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + name.size());
    BOOST_REQUIRE(::bind(fd_, reinterpret_cast<const sockaddr*>(&address), length) == 0);
    ::setenv("NOTIFY_SOCKET", name.c_str(), 1);
  }
  ~FakeSystemd() {
    ::close(fd_);
    ::unsetenv("NOTIFY_SOCKET");
    ::unsetenv("WATCHDOG_USEC");
    ::unsetenv("WATCHDOG_PID");
  }
  // The next datagram, or nullopt when none comes within `timeout`.
  std::optional<std::string> receive(std::chrono::milliseconds timeout) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(timeout.count())) != 1) return std::nullopt;
    char buffer[4096];
    const ssize_t n = ::recv(fd_, buffer, sizeof buffer, 0);
    if (n < 0) return std::nullopt;
    return std::string(buffer, static_cast<std::size_t>(n));
  }

 private:
  std::string name_;
  int fd_ = -1;
};

}  // namespace

BOOST_AUTO_TEST_CASE(testNotificationsReachThePathSocket) {
  popgate::test::TempDir dir;
  FakeSystemd systemd((dir.path() / "notify").string());
  const SystemdNotifier notifier = SystemdNotifier::fromEnvironment();
  BOOST_TEST(notifier.active());
  BOOST_TEST(!notifier.watchdogTimeout().has_value());
  BOOST_TEST(notifier.notify("READY=1\nSTATUS=polling 2 account(s)"));
  BOOST_TEST(systemd.receive(5s).value_or("") == "READY=1\nSTATUS=polling 2 account(s)");
  BOOST_TEST(notifier.notify("STOPPING=1"));
  BOOST_TEST(systemd.receive(5s).value_or("") == "STOPPING=1");
}

BOOST_AUTO_TEST_CASE(testNotificationsReachAnAbstractSocket) {
  FakeSystemd systemd("@popgate-test-" + std::to_string(::getpid()));
  const SystemdNotifier notifier = SystemdNotifier::fromEnvironment();
  BOOST_TEST(notifier.notify("READY=1"));
  BOOST_TEST(systemd.receive(5s).value_or("") == "READY=1");
}

BOOST_AUTO_TEST_CASE(testWithoutNotifySocketNothingIsSent) {
  ::unsetenv("NOTIFY_SOCKET");
  const SystemdNotifier notifier = SystemdNotifier::fromEnvironment();
  BOOST_TEST(!notifier.active());
  BOOST_TEST(!notifier.notify("READY=1"));
}

BOOST_AUTO_TEST_CASE(testWatchdogSettingsFromTheEnvironment) {
  popgate::test::TempDir dir;
  FakeSystemd systemd((dir.path() / "notify").string());
  ::setenv("WATCHDOG_USEC", "30000000", 1);
  BOOST_TEST(SystemdNotifier::fromEnvironment().watchdogTimeout().value_or(0us).count() ==
             30000000);
  ::setenv("WATCHDOG_PID", std::to_string(::getpid()).c_str(), 1);
  BOOST_TEST(SystemdNotifier::fromEnvironment().watchdogTimeout().has_value());
  // Meant for another process (a parent that did not unset it): not ours to feed.
  ::setenv("WATCHDOG_PID", std::to_string(::getpid() + 1).c_str(), 1);
  BOOST_TEST(!SystemdNotifier::fromEnvironment().watchdogTimeout().has_value());
  ::unsetenv("WATCHDOG_PID");
  ::setenv("WATCHDOG_USEC", "soon", 1);
  BOOST_TEST(!SystemdNotifier::fromEnvironment().watchdogTimeout().has_value());
}

BOOST_AUTO_TEST_CASE(testWatchdogIsFedOnlyWhileTheSchedulerBeats) {
  popgate::test::TempDir dir;
  FakeSystemd systemd((dir.path() / "notify").string());
  ::setenv("WATCHDOG_USEC", "200000", 1);  // a turn every 100 ms
  const SystemdNotifier notifier = SystemdNotifier::fromEnvironment();
  sigset_t none;
  sigemptyset(&none);
  sigaddset(&none, SIGUSR2);  // never sent: every wait ends as a watchdog turn
  pthread_sigmask(SIG_BLOCK, &none, nullptr);

  StatusBoard board("test");
  WatchdogFeeder alive(notifier, board, 60s);
  board.beat();
  BOOST_TEST(alive.waitForSignal(none) == 0);
  BOOST_TEST(systemd.receive(5s).value_or("") == "WATCHDOG=1");

  // A scheduler that has not beaten within the stall timeout: no WATCHDOG=1, systemd restarts us.
  WatchdogFeeder stuck(notifier, board, 0s);
  for (int i = 0; i < 3; ++i) BOOST_TEST(stuck.waitForSignal(none) == 0);
  BOOST_TEST(!systemd.receive(300ms).has_value());
  pthread_sigmask(SIG_UNBLOCK, &none, nullptr);
}
