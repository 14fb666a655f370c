#pragma once
// A POP3 server on 127.0.0.1 (plaintext) whose maildrop lists `count` messages: the UIDL and
// LIST answers are generated as they are sent, so millions of lines cost the test nothing. It
// accepts USER/PASS for anyone, answers RETR with -ERR, and serves one connection at a time until
// destroyed. For the "huge listing" cases: a server that can take a client's memory down.

#include <atomic>
#include <cstdint>
#include <thread>

#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/StreamSocket.h>

namespace popgate::test {

class ListingFlood {
 public:
  // Starts serving on a free port. Throws Poco::Exception when it cannot bind.
  explicit ListingFlood(std::uint64_t count);
  ~ListingFlood();
  ListingFlood(const ListingFlood&) = delete;
  ListingFlood& operator=(const ListingFlood&) = delete;

  std::uint16_t port() const { return port_; }
  // Listing lines sent so far, over all connections (UIDL and LIST).
  std::uint64_t linesSent() const { return lines_sent_.load(); }

 private:
  void serve();
  void session(Poco::Net::StreamSocket& socket);

  std::uint64_t count_;
  Poco::Net::ServerSocket listener_;
  std::uint16_t port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<std::uint64_t> lines_sent_{0};
  std::thread thread_;
};

}  // namespace popgate::test
