#include "FaultProxy.h"

#include "tests/support/AppendAnswerWatch.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace popgate::test {

namespace {

sockaddr_in loopback(std::uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return a;
}

// Closes with RST instead of FIN.
void resetAndClose(int fd) {
  linger l{1, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
  ::close(fd);
}

bool sendAll(int fd, const char* data, std::size_t n) {
  while (n > 0) {
    const ssize_t sent = ::send(fd, data, n, MSG_NOSIGNAL);
    if (sent <= 0) {
      if (sent < 0 && errno == EINTR) continue;
      return false;
    }
    data += sent;
    n -= static_cast<std::size_t>(sent);
  }
  return true;
}

}  // namespace

FaultProxy::FaultProxy(std::uint16_t target_port, Fault fault, std::chrono::milliseconds delay)
    : FaultProxy(target_port, fault, delay, nullptr) {}

FaultProxy::FaultProxy(std::uint16_t target_port, AppendAnswerHook hook)
    : FaultProxy(target_port, Fault{}, std::chrono::milliseconds(0), std::move(hook)) {}

FaultProxy::FaultProxy(std::uint16_t target_port, Fault fault, std::chrono::milliseconds delay,
                       AppendAnswerHook hook)
    : target_port_(target_port), fault_(fault), delay_(delay), append_hook_(std::move(hook)) {
  listener_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listener_ < 0)
    throw std::runtime_error("FaultProxy: socket: " + std::string(std::strerror(errno)));
  sockaddr_in a = loopback(0);
  socklen_t len = sizeof a;
  if (::bind(listener_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::listen(listener_, 64) != 0 ||
      ::getsockname(listener_, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    ::close(listener_);
    throw std::runtime_error("FaultProxy: bind/listen: " + std::string(std::strerror(errno)));
  }
  port_ = ntohs(a.sin_port);
  acceptor_ = std::thread([this] { acceptLoop(); });
}

FaultProxy::~FaultProxy() {
  stopping_ = true;
  if (acceptor_.joinable()) acceptor_.join();
  ::close(listener_);
  std::vector<std::thread> relays;
  {
    std::lock_guard lock(mutex_);
    relays.swap(relays_);
  }
  for (auto& t : relays) t.join();
}

bool FaultProxy::heldEndsWith(const std::string& suffix) {
  std::lock_guard lock(tail_mutex_);
  return held_tail_.size() >= suffix.size() &&
         held_tail_.compare(held_tail_.size() - suffix.size(), suffix.size(), suffix) == 0;
}

bool FaultProxy::waitIdle(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  return idle_.wait_for(lock, timeout, [this] { return relaying_ == 0; });
}

void FaultProxy::acceptLoop() {
  while (!stopping_) {
    pollfd p{listener_, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    const int client = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
    if (client < 0) continue;
    const int index = accepted_++;
    std::lock_guard lock(mutex_);
    ++relaying_;
    relays_.emplace_back([this, client, index] {
      relay(client, index);
      std::lock_guard done(mutex_);
      --relaying_;
      idle_.notify_all();
    });
  }
}

void FaultProxy::relay(int client, int index) {
  const int server = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in target = loopback(target_port_);
  if (server < 0 || ::connect(server, reinterpret_cast<sockaddr*>(&target), sizeof target) != 0) {
    if (server >= 0) ::close(server);
    resetAndClose(client);
    return;
  }
  const int one = 1;
  ::setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  ::setsockopt(server, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);

  const bool armed =
      fault_.action != Fault::Action::None && (fault_.connection < 0 || fault_.connection == index);
  AppendAnswerWatch watch;              // with append_hook_ only
  std::uint64_t forwarded[2] = {0, 0};  // [ToServer, ToClient]
  bool stalled = false;
  std::string held;  // what a stall kept back of the chunk it struck in
  int held_to = -1;
  bool open[2] = {true, true};  // reading from client, reading from server
  int holding = -1;              // a Hold: the side whose bytes are kept back
  bool held_eof = false;         // and that side's end came while they were
  char buffer[16384];
  while (!stopping_ && (open[0] || open[1])) {
    if (holding >= 0 && released_) {  // the network heals: everything kept goes on, in order
      const int to = holding == 0 ? server : client;
      if (!held.empty() && !sendAll(to, held.data(), held.size())) break;
      held.clear();
      held_bytes_ = 0;
      if (held_eof) ::shutdown(to, SHUT_WR);
      holding = -1;
    }
    pollfd p[2] = {{client, static_cast<short>(open[0] && !stalled ? POLLIN : 0), 0},
                   {server, static_cast<short>(open[1] && !stalled ? POLLIN : 0), 0}};
    if (::poll(p, 2, 100) <= 0) continue;
    for (int side = 0; side < 2; ++side) {
      if (!(p[side].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      const int from = side == 0 ? client : server;
      const int to = side == 0 ? server : client;
      const auto direction = side == 0 ? Fault::Direction::ToServer : Fault::Direction::ToClient;
      ssize_t got = ::recv(from, buffer, sizeof buffer, 0);
      if (side == holding) {
        if (got <= 0) {
          open[side] = false;
          held_eof = true;
        } else {
          held.append(buffer, static_cast<std::size_t>(got));
          held_bytes_ = held.size();
          std::lock_guard lock(tail_mutex_);
          held_tail_ = held.substr(held.size() - std::min<std::size_t>(held.size(), 256));
        }
        continue;
      }
      if (got <= 0) {
        if (append_hook_ && side == 1) {
          const std::string& rest = watch.heldFromServer();
          sendAll(to, rest.data(), rest.size());
        }
        open[side] = false;
        ::shutdown(to, SHUT_WR);
        continue;
      }
      if (append_hook_) {
        const std::string_view chunk(buffer, static_cast<std::size_t>(got));
        if (side == 0) {
          watch.fromClient(chunk);
          if (!sendAll(to, buffer, chunk.size())) open[side] = false;
          continue;
        }
        for (const AppendAnswerWatch::Answer& answer : watch.fromServer(chunk)) {
          if (answer.append_ok && append_hook_(index)) {
            ::close(client);
            ::close(server);
            return;
          }
          if (!sendAll(to, answer.bytes.data(), answer.bytes.size())) open[side] = false;
        }
        continue;
      }
      std::size_t n = static_cast<std::size_t>(got);
      const bool strikes =
          armed && !fired_ && direction == fault_.direction && forwarded[side] + n > fault_.offset;
      if (strikes) n = static_cast<std::size_t>(fault_.offset - forwarded[side]);
      if (delay_.count() > 0) std::this_thread::sleep_for(delay_);
      if (n > 0 && !sendAll(to, buffer, n)) {
        open[side] = false;
        continue;
      }
      forwarded[side] += n;
      if (!strikes) continue;
      fired_ = true;
      switch (fault_.action) {
        case Fault::Action::Reset:
          resetAndClose(client);
          resetAndClose(server);
          return;
        case Fault::Action::Close:
          ::close(client);
          ::close(server);
          return;
        case Fault::Action::Hold: {
          holding = side;
          held.assign(buffer + n, static_cast<std::size_t>(got) - n);
          held_bytes_ = held.size();
          std::lock_guard lock(tail_mutex_);
          held_tail_ = held.substr(held.size() - std::min<std::size_t>(held.size(), 256));
          break;
        }
        case Fault::Action::Stall:
          // Hold both sides open and forward nothing, until release() or the proxy goes; the
          // rest of this chunk waits with the connection.
          stalled = true;
          held.assign(buffer + n, static_cast<std::size_t>(got) - n);
          held_to = to;
          break;
        case Fault::Action::None:
          break;
      }
    }
    if (stalled) {
      while (!stopping_ && !released_) std::this_thread::sleep_for(std::chrono::milliseconds(50));
      if (stopping_) break;
      stalled = false;
      if (!held.empty() && !sendAll(held_to, held.data(), held.size())) break;
      held.clear();
    }
  }
  ::close(client);
  ::close(server);
}

}  // namespace popgate::test
