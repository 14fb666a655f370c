#pragma once
// A TCP proxy on 127.0.0.1 for fault injection: forwards every accepted connection to a target
// port and, at a chosen byte offset of a chosen direction, resets the connection (RST), closes it
// (FIN), stalls it forever, or holds back what follows (a slow network: the sender's writes go
// through, the bytes arrive when released). It can also delay every chunk, to make a transfer slow
// enough to be interrupted at will. Byte-level, so TLS passes through untouched (and a fault inside a TLS
// record is a fault like any other).

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace popgate::test {

struct Fault {
  enum class Direction { ToServer, ToClient };
  // Stall: reads nothing more from either side (the sender blocks once the buffers are full).
  // Hold: reads on and keeps that direction's bytes from the offset on, the sender's end of the
  // connection closing included, until release(); the other direction flows.
  enum class Action { None, Reset, Close, Stall, Hold };
  Action action = Action::None;
  Direction direction = Direction::ToClient;
  std::uint64_t offset = 0;  // bytes of that direction forwarded before the fault strikes
  int connection = 0;        // which accepted connection (0-based); -1 = every one
};

// Called on a relay thread when the server's tagged OK to an APPEND (plain IMAP, no TLS) is about
// to be forwarded on connection `connection` (0-based), that answer held back. True: the proxy
// drops it and cuts that connection (the client never learns the message was stored); false:
// it is forwarded. Called from several threads at once: it must be thread-safe.
using AppendAnswerHook = std::function<bool(int connection)>;

class FaultProxy {
 public:
  // Listens on a free loopback port; forwards to 127.0.0.1:target_port.
  explicit FaultProxy(std::uint16_t target_port, Fault fault = {},
                      std::chrono::milliseconds delay_per_chunk = std::chrono::milliseconds(0));
  // The same, without a fault, each connection read as IMAP: `hook` decides about every tagged OK
  // of an APPEND before it reaches the client.
  FaultProxy(std::uint16_t target_port, AppendAnswerHook hook);
  // Stops accepting, cuts every connection, joins every thread.
  ~FaultProxy();
  FaultProxy(const FaultProxy&) = delete;
  FaultProxy& operator=(const FaultProxy&) = delete;

  std::uint16_t port() const noexcept { return port_; }
  // Connections accepted so far.
  int connections() const noexcept { return accepted_.load(); }
  // Whether the fault has struck.
  bool fired() const noexcept { return fired_.load(); }
  // Bytes a Hold has kept back so far (0 once released and sent on).
  std::uint64_t heldBytes() const noexcept { return held_bytes_.load(); }
  // Whether what a Hold keeps back ends with `suffix` (at most 256 bytes): the sender has written
  // up to there.
  bool heldEndsWith(const std::string& suffix);
  // A stalled connection goes on: what it held back is forwarded and relaying resumes (a network
  // partition that heals). Only a fault that has not struck yet still can.
  void release() noexcept { released_ = true; }
  // Waits up to `timeout` until no connection is being relayed any more (both sides closed and
  // everything held back delivered): after a client died, what it had sent may still be on its way
  // to the server, as on a slow network. True when idle.
  bool waitIdle(std::chrono::milliseconds timeout);

 private:
  FaultProxy(std::uint16_t target_port, Fault fault, std::chrono::milliseconds delay_per_chunk,
             AppendAnswerHook hook);
  void acceptLoop();
  void relay(int client, int index);

  std::uint16_t target_port_;
  Fault fault_;
  std::chrono::milliseconds delay_;
  AppendAnswerHook append_hook_;
  int listener_ = -1;
  std::uint16_t port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<int> accepted_{0};
  int relaying_ = 0;  // guarded by mutex_
  std::condition_variable idle_;
  std::atomic<bool> fired_{false};
  std::atomic<bool> released_{false};
  std::atomic<std::uint64_t> held_bytes_{0};
  std::mutex tail_mutex_;
  std::string held_tail_;  // the last 256 bytes kept back, guarded by tail_mutex_
  std::thread acceptor_;
  std::mutex mutex_;
  std::vector<std::thread> relays_;
};

}  // namespace popgate::test
