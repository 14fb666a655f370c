#include "tests/support/SlowClients.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <Poco/Exception.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/StreamCopier.h>

namespace popgate::test {

SlowClients::SlowClients(std::uint16_t port, std::size_t count, std::string request,
                         std::chrono::milliseconds interval)
    : port_(port), request_(std::move(request)), interval_(interval), drips_(count) {
  thread_ = std::thread([this] { run(); });
}

SlowClients::~SlowClients() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  changed_.notify_all();
  thread_.join();
  for (Drip& d : drips_) {
    if (d.fd >= 0) ::close(d.fd);
  }
}

bool SlowClients::waitUntilDripping(std::size_t bytes, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  return changed_.wait_for(lock, timeout, [&] {
    for (const Drip& d : drips_) {
      if (d.fd < 0 || d.sent < bytes) return false;
    }
    return true;
  });
}

void SlowClients::reopen(Drip& drip) {
  if (drip.fd >= 0) ::close(drip.fd);
  drip.sent = 0;
  drip.fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (drip.fd < 0) return;
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port_);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(drip.fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
    ::close(drip.fd);
    drip.fd = -1;
  }
}

void SlowClients::run() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    for (Drip& d : drips_) {
      if (d.fd >= 0) {
        // Closed by the server (EOF, reset, or a reply it gave up with)? Then open another.
        char byte = 0;
        const ssize_t got = ::recv(d.fd, &byte, 1, MSG_DONTWAIT | MSG_PEEK);
        if (got >= 0) {
          ++closed_by_server_;
          d.fd = (::close(d.fd), -1);
        }
      }
      if (d.fd < 0) reopen(d);
      if (d.fd < 0) continue;
      const char next = d.sent < request_.size() ? request_[d.sent] : 'a';
      if (::send(d.fd, &next, 1, MSG_NOSIGNAL | MSG_DONTWAIT) == 1) {
        ++d.sent;
      } else {
        ++closed_by_server_;
        d.fd = (::close(d.fd), -1);
      }
    }
    changed_.notify_all();
    changed_.wait_for(lock, interval_, [this] { return stopping_; });
  }
}

TimedReply timedRequest(std::uint16_t port, const std::string& method, const std::string& path,
                        const std::string& bearer) {
  TimedReply out;
  const auto begin = std::chrono::steady_clock::now();
  try {
    Poco::Net::HTTPClientSession session("127.0.0.1", port);
    session.setTimeout(Poco::Timespan(5, 0));
    Poco::Net::HTTPRequest request(method, path, Poco::Net::HTTPMessage::HTTP_1_1);
    if (!bearer.empty()) request.set("Authorization", "Bearer " + bearer);
    session.sendRequest(request);
    Poco::Net::HTTPResponse response;
    std::istream& in = session.receiveResponse(response);
    Poco::StreamCopier::copyToString(in, out.body);
    out.status = static_cast<int>(response.getStatus());
  } catch (const Poco::Exception&) {
    out.status = 0;
  }
  out.elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - begin);
  return out;
}

}  // namespace popgate::test
