#include "SystemdNotifier.h"

#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <cstring>

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

namespace popgate::gateway {

namespace {

// A decimal number from the environment, or nullopt when unset or not a positive number.
std::optional<unsigned long long> envNumber(const char* name) {
  const char* text = std::getenv(name);
  if (text == nullptr || *text == '\0') return std::nullopt;
  char* end = nullptr;
  errno = 0;
  const unsigned long long value = std::strtoull(text, &end, 10);
  if (errno != 0 || *end != '\0' || value == 0) return std::nullopt;
  return value;
}

}  // namespace

SystemdNotifier SystemdNotifier::fromEnvironment() {
  SystemdNotifier notifier;
  if (const char* socket = std::getenv("NOTIFY_SOCKET")) notifier.socket_ = socket;
  const auto usec = envNumber("WATCHDOG_USEC");
  const auto pid = envNumber("WATCHDOG_PID");
  if (usec && (!pid || *pid == static_cast<unsigned long long>(::getpid()))) {
    notifier.watchdog_ =
        std::chrono::microseconds(static_cast<std::chrono::microseconds::rep>(*usec));
  }
  return notifier;
}

bool SystemdNotifier::notify(std::string_view state) const noexcept {
  if (socket_.empty() || (socket_.front() != '/' && socket_.front() != '@')) return false;
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (socket_.size() >= sizeof address.sun_path) return false;
  std::memcpy(address.sun_path, socket_.data(), socket_.size());
  if (address.sun_path[0] == '@') address.sun_path[0] = '\0';  // the abstract namespace
  const auto length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + socket_.size() +
                                             (socket_.front() == '/' ? 1 : 0));
  const int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return false;
  const ssize_t sent = ::sendto(fd, state.data(), state.size(), MSG_NOSIGNAL,
                                reinterpret_cast<const sockaddr*>(&address), length);
  ::close(fd);
  return sent == static_cast<ssize_t>(state.size());
}

}  // namespace popgate::gateway
