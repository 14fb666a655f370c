#pragma once
// The admin HTTP endpoint (Poco's HTTP server): /healthz, /status, /metrics and poll-now. Handlers
// only read StatusBoard::snapshot() and call the poll-now callback; they never touch a job. When a
// token is configured every path but /healthz needs "Authorization: Bearer <token>", checked before
// routing.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace Poco {
class ThreadPool;
namespace Net {
class TCPServer;
}  // namespace Net
}  // namespace Poco

namespace popgate::gateway {
class StatusBoard;
}  // namespace popgate::gateway

namespace popgate::gateway::admin {

// What the scheduler made of a poll-now request.
enum class PollRequest { Accepted, UnknownAccount };

// Asks the scheduler to poll `account` (a valid, percent-decoded name) now; must not block for
// long.
using PollNowCallback = std::function<PollRequest(const std::string& account)>;

// True when `candidate` equals `expected`. Takes time proportional to candidate.size() only and
// never exits at the first differing byte: it can reveal the expected length, never its content.
bool constantTimeEquals(std::string_view candidate, std::string_view expected) noexcept;

// True when the Authorization header value `authorization` is "Bearer <token>" (scheme in any case,
// one or more spaces, surrounding blanks ignored) and `token` is not empty.
bool bearerMatches(std::string_view authorization, std::string_view token) noexcept;

// True when `name` matches [A-Za-z0-9_.-]+ (the account names the configuration allows).
bool isValidAccountName(std::string_view name) noexcept;

class AdminServer {
 public:
  // Nothing is bound yet. `token` empty = no authentication. `board` and `poll_now` must outlive
  // the server; `poll_now` must be callable (throws Error(Internal) otherwise).
  AdminServer(std::string host, std::uint16_t port, std::string token, const StatusBoard& board,
              PollNowCallback poll_now);
  // Stops the server if it still runs.
  ~AdminServer();
  AdminServer(const AdminServer&) = delete;
  AdminServer& operator=(const AdminServer&) = delete;

  // Binds exactly host:port (SO_REUSEADDR, never SO_REUSEPORT) and starts serving. Throws
  // Error(Config, "admin.listen HOST:PORT: address already in use") and the like when it cannot.
  void start();
  // Stops accepting, cuts every connection (idle keep-alive ones too) and waits for the handler
  // threads; returns within about a second. No handler runs after it returns. Idempotent.
  void stop();
  // The bound port (the one the system chose when constructed with port 0); 0 when not started.
  std::uint16_t port() const noexcept { return bound_port_; }

 private:
  std::string host_;
  std::uint16_t port_;
  std::string token_;
  const StatusBoard& board_;
  PollNowCallback poll_now_;
  std::uint16_t bound_port_ = 0;
  // Makes each connection, and cuts them all in stop() (AdminServer.cpp).
  class Connections;
  std::unique_ptr<Poco::ThreadPool> pool_;  // outlives server_ (declared first)
  std::unique_ptr<Poco::Net::TCPServer> server_;
  Connections* connections_ = nullptr;  // owned by server_
};

}  // namespace popgate::gateway::admin
