#pragma once
// The slowloris attack, for tests of the admin endpoint: connections to 127.0.0.1:port that each
// send a request one byte per interval and never finish it; a connection the server closes is
// opened again at once, so the pressure stays. Runs on its own thread until destroyed.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace popgate::test {

class SlowClients {
 public:
  // `count` connections, each dripping `request` (then 'a' forever) one byte per `interval`.
  SlowClients(std::uint16_t port, std::size_t count, std::string request,
              std::chrono::milliseconds interval);
  // Stops dripping and closes every connection.
  ~SlowClients();
  SlowClients(const SlowClients&) = delete;
  SlowClients& operator=(const SlowClients&) = delete;

  // Waits up to `timeout` until every connection is open and has sent at least `bytes` bytes.
  bool waitUntilDripping(std::size_t bytes, std::chrono::milliseconds timeout);
  // How many times the server closed a dripping connection (and it was opened again).
  std::size_t closedByServer() const { return closed_by_server_; }

 private:
  struct Drip {
    int fd = -1;
    std::size_t sent = 0;
  };
  void run();
  void reopen(Drip& drip);

  std::uint16_t port_;
  std::string request_;
  std::chrono::milliseconds interval_;
  std::vector<Drip> drips_;
  std::mutex mutex_;
  std::condition_variable changed_;
  bool stopping_ = false;
  std::atomic<std::size_t> closed_by_server_{0};
  std::thread thread_;
};

// One request to 127.0.0.1:port (HTTP/1.1, Host 127.0.0.1:port, a 5 s timeout) and how long the
// whole answer took; status 0 when none came.
struct TimedReply {
  int status = 0;
  std::string body;
  std::chrono::milliseconds elapsed{0};
};
TimedReply timedRequest(std::uint16_t port, const std::string& method, const std::string& path,
                        const std::string& bearer = {});

}  // namespace popgate::test
