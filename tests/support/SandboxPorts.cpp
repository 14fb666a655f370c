#include "tests/support/SandboxPorts.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <stdexcept>

namespace popgate::test {

namespace {
constexpr int kMinBase = 20000;
constexpr int kMaxBase = 30999;
}  // namespace

bool portFree(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return false;
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool ok = ::bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

std::uint16_t pickBasePort(std::mt19937& rng, std::initializer_list<int> offsets) {
  std::uniform_int_distribution<int> dist(kMinBase, kMaxBase);
  for (int i = 0; i < 1000; ++i) {
    int base = dist(rng);
    if (std::all_of(offsets.begin(), offsets.end(),
                    [base](int offset) { return portFree(base + offset); })) {
      return static_cast<std::uint16_t>(base);
    }
  }
  throw std::runtime_error("no free port range in 20000..31995");
}

}  // namespace popgate::test
