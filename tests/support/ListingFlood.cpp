#include "tests/support/ListingFlood.h"

#include <string>

#include <Poco/Net/NetException.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/Timespan.h>

namespace popgate::test {

namespace {

void sendAll(Poco::Net::StreamSocket& socket, const std::string& bytes) {
  std::size_t sent = 0;
  while (sent < bytes.size()) {
    const int n = socket.sendBytes(bytes.data() + sent, static_cast<int>(bytes.size() - sent));
    if (n <= 0) throw Poco::Net::NetException("client went away");
    sent += static_cast<std::size_t>(n);
  }
}

// Reads one command line (up to LF); empty when the client went away.
std::string readLine(Poco::Net::StreamSocket& socket, std::string& buffer) {
  for (;;) {
    const auto lf = buffer.find('\n');
    if (lf != std::string::npos) {
      std::string line = buffer.substr(0, lf);
      buffer.erase(0, lf + 1);
      if (!line.empty() && line.back() == '\r') line.pop_back();
      return line.empty() ? std::string(" ") : line;
    }
    char chunk[4096];
    const int n = socket.receiveBytes(chunk, sizeof chunk);
    if (n <= 0) return {};
    buffer.append(chunk, static_cast<std::size_t>(n));
  }
}

}  // namespace

ListingFlood::ListingFlood(std::uint64_t count)
    : count_(count), listener_(Poco::Net::SocketAddress("127.0.0.1", 0)) {
  port_ = listener_.address().port();
  thread_ = std::thread([this] { serve(); });
}

ListingFlood::~ListingFlood() {
  stopping_ = true;
  listener_.close();
  thread_.join();
}

void ListingFlood::serve() {
  while (!stopping_) {
    try {
      if (!listener_.poll(Poco::Timespan(0, 100'000), Poco::Net::Socket::SELECT_READ)) continue;
      Poco::Net::StreamSocket socket = listener_.acceptConnection();
      socket.setReceiveTimeout(Poco::Timespan(30, 0));
      session(socket);
    } catch (const Poco::Exception&) {
      // The client went away (or the listener closed): wait for the next one.
    }
  }
}

void ListingFlood::session(Poco::Net::StreamSocket& socket) {
  std::string buffer;
  sendAll(socket, "+OK flood POP3 ready\r\n");
  for (;;) {
    const std::string line = readLine(socket, buffer);
    if (line.empty() || stopping_) return;
    const std::string verb = line.substr(0, line.find(' '));
    if (verb == "CAPA") {
      sendAll(socket, "+OK\r\nUSER\r\nUIDL\r\nPIPELINING\r\n.\r\n");
    } else if (verb == "UIDL" || verb == "LIST") {
      sendAll(socket, "+OK " + std::to_string(count_) + " messages\r\n");
      std::string chunk;
      for (std::uint64_t n = 1; n <= count_ && !stopping_; ++n) {
        chunk += std::to_string(n);
        chunk += verb == "UIDL" ? " flood-message-" + std::to_string(n) + "\r\n" : " 2048\r\n";
        if (chunk.size() >= 64 * 1024) {
          sendAll(socket, chunk);
          chunk.clear();
        }
        lines_sent_.fetch_add(1, std::memory_order_relaxed);
      }
      sendAll(socket, chunk + ".\r\n");
    } else if (verb == "QUIT") {
      sendAll(socket, "+OK bye\r\n");
      return;
    } else if (verb == "RETR" || verb == "TOP") {
      sendAll(socket, "-ERR no such message here\r\n");
    } else {
      sendAll(socket, "+OK\r\n");  // USER, PASS, NOOP, DELE...
    }
  }
}

}  // namespace popgate::test
