#pragma once
// The admin HTTP endpoint: /healthz, /status, /metrics and poll-now (answers: AdminRouter). One
// event-loop thread serves every connection without blocking on any of them, so clients that send
// slowly, or not at all, cost a socket and a small buffer each and never delay anyone else:
//  - a whole request (head and body) must arrive within request_deadline of the moment the
//    connection started waiting for it, however the bytes trickle in; else it is closed;
//  - request heads are at most 8 KiB, bodies (read and dropped) at most 64 KiB;
//  - at most kMaxConnections at once; a new one beyond that evicts the connection whose request
//    has waited longest (a legitimate request takes milliseconds, so that is a slow client);
//  - the handlers (AdminRouter) never block: they read StatusBoard snapshots and call poll-now.

#include <atomic>
#include <cstdint>
#include <memory>
#include <thread>

#include "AdminRouter.h"

namespace Poco::Net {
class ServerSocket;
}  // namespace Poco::Net

namespace popgate::gateway::admin {

class AdminServer {
 public:
  // Connections served at once; a new one beyond this evicts the longest-waiting request.
  static constexpr std::size_t kMaxConnections = 256;

  // Nothing is bound yet. `board` must outlive the server; `poll_now` must be callable (throws
  // Error(Internal) otherwise).
  AdminServer(AdminSettings settings, const StatusBoard& board, PollNowCallback poll_now);
  // Stops the server if it still runs.
  ~AdminServer();
  AdminServer(const AdminServer&) = delete;
  AdminServer& operator=(const AdminServer&) = delete;

  // Binds exactly host:port (SO_REUSEADDR, never SO_REUSEPORT) and starts serving. Throws
  // Error(Config, "admin.listen HOST:PORT: address already in use") and the like when it cannot.
  void start();
  // Stops accepting, closes every connection and joins the event loop; returns promptly. No
  // handler runs after it returns. Idempotent.
  void stop();
  // The bound port (the one the system chose when constructed with port 0); 0 when not started.
  std::uint16_t port() const noexcept { return bound_port_; }

 private:
  class Loop;

  AdminSettings settings_;
  AdminRouter router_;
  std::uint16_t bound_port_ = 0;
  std::unique_ptr<Loop> loop_;
  std::thread thread_;
};

}  // namespace popgate::gateway::admin
