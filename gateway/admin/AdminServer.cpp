#include "AdminServer.h"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <list>
#include <sstream>
#include <vector>

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <Poco/Exception.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/SocketAddress.h>

#include "connectors/common/Error.h"
#include "gateway/service/Logging.h"

namespace popgate::gateway::admin {
namespace {

using Clock = std::chrono::steady_clock;
using Poco::Net::HTTPRequest;

constexpr std::size_t kMaxHeadBytes = 8 * 1024;
constexpr std::uint64_t kMaxBodyBytes = 64 * 1024;
constexpr std::size_t kReadChunk = 4096;
constexpr unsigned kMaxRequestsPerConnection = 100;
constexpr int kListenBacklog = 128;
constexpr int kMaxAcceptsPerTurn = 64;
constexpr std::chrono::seconds kReplyDeadline{10};  // a reply must be taken within this
constexpr std::chrono::seconds kCloseLinger{1};     // reading what the client still sends
constexpr std::chrono::milliseconds kMaxPollWait{1000};

std::string hostPort(const std::string& host, std::uint16_t port) {
  const bool ipv6 = host.find(':') != std::string::npos;
  return (ipv6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

// The head of `reply` on the wire: status line and headers (the body is sent from where it is, not
// copied behind the head: a /metrics body of thousands of accounts runs to megabytes).
std::string renderHead(const HttpReply& reply, bool keep_alive, bool http10) {
  std::string out =
      "HTTP/1.1 " + std::to_string(reply.status) + " " + reasonPhrase(reply.status) + "\r\n";
  if (!reply.content_type.empty()) out += "Content-Type: " + reply.content_type + "\r\n";
  out += "Content-Length: " + std::to_string(reply.body.size()) + "\r\n";
  out += "Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n";
  for (const auto& [name, value] : reply.headers) out += name + ": " + value + "\r\n";
  if (!keep_alive) {
    out += "Connection: close\r\n";
  } else if (http10) {
    out += "Connection: keep-alive\r\n";
  }
  out += "\r\n";
  return out;
}

// Where the head of a request ends (just past its empty line: CRLF CRLF, or a bare LF LF, which
// Poco's parser accepts too), or npos while it has not. `from`: bytes already searched.
std::size_t headEnd(const std::string& in, std::size_t from) {
  const std::size_t start = from > 3 ? from - 3 : 0;
  std::size_t end = std::string::npos;
  if (const std::size_t crlf = in.find("\r\n\r\n", start); crlf != std::string::npos)
    end = crlf + 4;
  if (const std::size_t lf = in.find("\n\n", start); lf != std::string::npos) {
    end = std::min(end, lf + 2);
  }
  return end;
}

// A listening socket on exactly `host:port`; SO_REUSEADDR lets a restart reuse a port in
// TIME_WAIT, and leaving SO_REUSEPORT off makes a port another process listens on fail.
Poco::Net::ServerSocket listenOn(const std::string& host, std::uint16_t port) {
  const std::string where = "admin.listen " + hostPort(host, port);
  Poco::Net::SocketAddress address;
  try {
    address = Poco::Net::SocketAddress(host, port);
  } catch (const Poco::Exception&) {
    throw Error(ErrorKind::Config, where + ": cannot resolve host " + host);
  }
  Poco::Net::ServerSocket socket;
  try {
    socket.bind(address, /*reuseAddress=*/true, /*reusePort=*/false);
    socket.listen(kListenBacklog);
  } catch (const Poco::Exception& e) {
    switch (e.code()) {
      case EADDRINUSE:
        throw Error(ErrorKind::Config, where + ": address already in use");
      case EADDRNOTAVAIL:
        throw Error(ErrorKind::Config, where + ": address not available on this host");
      case EACCES:
        throw Error(ErrorKind::Config, where + ": permission denied");
      default:
        throw Error(ErrorKind::Config, where + ": cannot listen (" + e.message() + ")");
    }
  }
  socket.setBlocking(false);
  return socket;
}

}  // namespace

// The event loop: poll() over the listening socket, a wake-up eventfd and every connection.
class AdminServer::Loop {
 public:
  Loop(Poco::Net::ServerSocket listener, AdminRouter& router, const AdminSettings& settings)
      : listener_(std::move(listener)),
        router_(router),
        request_deadline_(settings.request_deadline),
        wake_fd_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {
    if (wake_fd_ < 0) throw Error(ErrorKind::Internal, "admin endpoint: no eventfd");
  }
  ~Loop() {
    for (Connection& c : connections_) ::close(c.fd);
    ::close(wake_fd_);
  }
  Loop(const Loop&) = delete;
  Loop& operator=(const Loop&) = delete;

  // Serves until requestStop().
  void run() {
    std::vector<pollfd> fds;
    std::vector<Connection*> polled;
    for (;;) {
      fds.clear();
      polled.clear();
      fds.push_back(pollfd{wake_fd_, POLLIN, 0});
      fds.push_back(pollfd{listener_.impl()->sockfd(), POLLIN, 0});
      auto next_deadline = Clock::now() + kMaxPollWait;
      for (Connection& c : connections_) {
        const short events = c.phase == Phase::Reply ? POLLOUT : POLLIN;
        fds.push_back(pollfd{c.fd, events, 0});
        polled.push_back(&c);
        next_deadline = std::min(next_deadline, c.deadline);
      }
      const auto wait = std::chrono::ceil<std::chrono::milliseconds>(next_deadline - Clock::now());
      const int ready =
          ::poll(fds.data(), fds.size(), static_cast<int>(std::max<long long>(wait.count(), 0)));
      if (ready < 0 && errno != EINTR) {
        logError(std::string("admin endpoint: poll failed: ") + std::strerror(errno));
        return;
      }
      if (fds[0].revents != 0) return;  // stop requested
      const auto now = Clock::now();
      for (std::size_t i = 0; i < polled.size(); ++i) {
        const short revents = fds[i + 2].revents;
        if (revents == 0) continue;
        Connection& c = *polled[i];
        if (c.phase == Phase::Reply) {
          onWritable(c, now);
        } else {
          onReadable(c, now);
        }
      }
      if (fds[1].revents != 0) acceptAll(now);
      // Whole-request and reply deadlines, however the bytes trickled in.
      for (Connection& c : connections_) {
        if (!c.gone && now >= c.deadline) c.gone = true;
      }
      removeGone();
    }
  }

  void requestStop() {
    const std::uint64_t one = 1;
    [[maybe_unused]] const ssize_t ignored = ::write(wake_fd_, &one, sizeof one);
  }

 private:
  enum class Phase {
    Head,     // waiting for (the rest of) a request head
    Body,     // reading and dropping a request body
    Reply,    // sending a reply
    Closing,  // reply sent, our side shut down; reading until the client closes too
  };
  struct Connection {
    int fd = -1;
    Phase phase = Phase::Head;
    std::string in;                        // received, not yet consumed
    std::size_t scanned = 0;               // bytes of `in` already searched for the end of the head
    std::unique_ptr<HTTPRequest> request;  // parsed head while its body is drained
    std::uint64_t body_left = 0;
    std::string out;        // the head of the reply being sent
    std::string out_body;   // its body (none for HEAD)
    std::size_t sent = 0;   // bytes of out, then out_body, sent
    bool close_after = false;
    unsigned served = 0;
    Clock::time_point waiting_since;  // when the current request began to be awaited
    Clock::time_point deadline;
    bool gone = false;
  };

  // Closes and forgets the connections marked gone.
  void removeGone() {
    connections_.remove_if([](const Connection& c) {
      if (c.gone && c.fd >= 0) ::close(c.fd);
      return c.gone;
    });
  }

  void acceptAll(Clock::time_point now) {
    removeGone();  // what this turn closed makes room first
    bool made_room = false;
    for (int i = 0; i < kMaxAcceptsPerTurn; ++i) {
      const int fd =
          ::accept4(listener_.impl()->sockfd(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        if (errno == EINTR || errno == ECONNABORTED) continue;
        if ((errno == EMFILE || errno == ENFILE) && !made_room && !connections_.empty()) {
          evictLongestWaiting();  // out of descriptors: make room for the newcomer, once a turn
          made_room = true;
          continue;
        }
        return;  // EAGAIN: nothing more waiting
      }
      if (connections_.size() >= kMaxConnections) evictLongestWaiting();
      Connection& c = connections_.emplace_back();
      c.fd = fd;
      c.waiting_since = now;
      c.deadline = now + request_deadline_;
    }
  }

  // A full table gives way to the newcomer: the connection whose request has waited longest goes
  // (a legitimate request is complete within milliseconds of its first byte).
  void evictLongestWaiting() {
    Connection* oldest = nullptr;
    for (Connection& c : connections_) {
      if (c.gone) continue;
      if (oldest == nullptr || c.waiting_since < oldest->waiting_since) oldest = &c;
    }
    if (oldest != nullptr) {
      oldest->gone = true;
      removeGone();
    }
  }

  void onReadable(Connection& c, Clock::time_point now) {
    char buffer[kReadChunk];
    const ssize_t n = ::recv(c.fd, buffer, sizeof buffer, 0);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
      c.gone = true;  // closed or reset by the client
      return;
    }
    if (n < 0) return;
    if (c.phase == Phase::Closing) return;  // dropped: the reply is out, the client may go
    c.in.append(buffer, static_cast<std::size_t>(n));
    advance(c, now);
  }

  // Consumes buffered input as far as it goes: heads are parsed, bodies dropped, replies queued.
  void advance(Connection& c, Clock::time_point now) {
    while (!c.gone) {
      if (c.phase == Phase::Head) {
        const std::size_t end = headEnd(c.in, c.scanned);
        if (end == std::string::npos) {
          c.scanned = c.in.size();
          if (c.in.size() > kMaxHeadBytes) {
            reply(c, jsonError(431, "request head larger than 8 KiB"), false, true, now);
          }
          return;
        }
        if (end > kMaxHeadBytes) {
          reply(c, jsonError(431, "request head larger than 8 KiB"), false, true, now);
          return;
        }
        std::istringstream head(c.in.substr(0, end));
        c.in.erase(0, end);
        c.scanned = 0;
        startRequest(c, head, now);
      } else if (c.phase == Phase::Body) {
        const auto take =
            static_cast<std::size_t>(std::min<std::uint64_t>(c.body_left, c.in.size()));
        c.in.erase(0, take);
        c.body_left -= take;
        if (c.body_left > 0) return;
        answer(c, now);
      } else {
        return;  // a reply is on its way; pipelined requests wait in `in`
      }
    }
  }

  void startRequest(Connection& c, std::istream& head, Clock::time_point now) {
    auto request = std::make_unique<HTTPRequest>();
    try {
      request->read(head);
    } catch (const Poco::Exception&) {
      reply(c, jsonError(400, "malformed request"), false, true, now);
      return;
    }
    const std::string& version = request->getVersion();
    if (version != HTTPRequest::HTTP_1_1 && version != HTTPRequest::HTTP_1_0) {
      reply(c, jsonError(505, "HTTP/1.0 or HTTP/1.1 only"), false, true, now);
      return;
    }
    if (request->has("Transfer-Encoding")) {
      // The endpoint takes no request bodies; a length-less one is refused, never streamed.
      reply(c, jsonError(411, "send a Content-Length (or no body)"), false, true, now);
      return;
    }
    std::uint64_t length = 0;
    try {
      if (request->hasContentLength())
        length = static_cast<std::uint64_t>(request->getContentLength64());
    } catch (const Poco::Exception&) {
      reply(c, jsonError(400, "malformed Content-Length"), false, true, now);
      return;
    }
    if (length > kMaxBodyBytes) {
      reply(c, jsonError(413, "request body too large"), false, true, now);
      return;
    }
    c.request = std::move(request);
    c.body_left = length;
    c.phase = Phase::Body;
  }

  void answer(Connection& c, Clock::time_point now) {
    const HTTPRequest& request = *c.request;
    HttpReply r;
    try {
      r = router_.handle(request);
    } catch (const std::exception& e) {
      logWarning(std::string("admin endpoint: ") + request.getMethod() + " failed: " + e.what());
      r = jsonError(500, "internal error");
    }
    const bool keep_alive =
        request.getKeepAlive() && r.status != 500 && c.served + 1 < kMaxRequestsPerConnection;
    const bool head_only = request.getMethod() == HTTPRequest::HTTP_HEAD;
    const bool http10 = request.getVersion() == HTTPRequest::HTTP_1_0;
    c.request.reset();
    c.out = renderHead(r, keep_alive, http10);
    if (!head_only) c.out_body = std::move(r.body);
    c.sent = 0;
    c.close_after = !keep_alive;
    c.phase = Phase::Reply;
    c.deadline = now + kReplyDeadline;
    onWritable(c, now);
  }

  // Queues a reply that ends the connection (a request refused before routing).
  void reply(Connection& c, const HttpReply& r, bool head_only, bool close, Clock::time_point now) {
    c.request.reset();
    c.out = renderHead(r, !close, false);
    if (!head_only) c.out_body = r.body;
    c.sent = 0;
    c.close_after = close;
    c.phase = Phase::Reply;
    c.deadline = now + kReplyDeadline;
    onWritable(c, now);
  }

  void onWritable(Connection& c, Clock::time_point now) {
    const std::size_t total = c.out.size() + c.out_body.size();
    while (c.sent < total) {
      // The head and the body in one call: two pieces, never joined into one buffer.
      iovec parts[2];
      std::size_t count = 0;
      if (c.sent < c.out.size()) parts[count++] = {c.out.data() + c.sent, c.out.size() - c.sent};
      const std::size_t body_sent = c.sent > c.out.size() ? c.sent - c.out.size() : 0;
      parts[count++] = {c.out_body.data() + body_sent, c.out_body.size() - body_sent};
      msghdr message{};
      message.msg_iov = parts;
      message.msg_iovlen = count;
      const ssize_t n = ::sendmsg(c.fd, &message, MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;  // poll for POLLOUT
      if (n <= 0) {
        c.gone = true;
        return;
      }
      c.sent += static_cast<std::size_t>(n);
    }
    c.out.clear();
    std::string().swap(c.out_body);  // a big body's memory goes now, not with the connection
    c.sent = 0;
    if (c.close_after) {
      // Shut our side and read what the client still sends for a moment: closing with unread
      // input would reset the connection and could destroy the reply before it is read.
      ::shutdown(c.fd, SHUT_WR);
      c.phase = Phase::Closing;
      c.in.clear();
      c.deadline = now + kCloseLinger;
      return;
    }
    ++c.served;
    c.phase = Phase::Head;
    c.waiting_since = now;
    c.deadline = now + request_deadline_;
    advance(c, now);  // a pipelined request may already be here
  }

  Poco::Net::ServerSocket listener_;
  AdminRouter& router_;
  std::chrono::milliseconds request_deadline_;
  int wake_fd_;
  std::list<Connection> connections_;
};

AdminServer::AdminServer(AdminSettings settings, const StatusBoard& board, PollNowCallback poll_now)
    : settings_(std::move(settings)), router_(settings_, board, std::move(poll_now)) {}

AdminServer::~AdminServer() {
  stop();
}

void AdminServer::start() {
  if (loop_) return;
  Poco::Net::ServerSocket socket = listenOn(settings_.host, settings_.port);
  const std::uint16_t port = socket.address().port();
  loop_ = std::make_unique<Loop>(std::move(socket), router_, settings_);
  thread_ = std::thread([this] { loop_->run(); });
  bound_port_ = port;
}

void AdminServer::stop() {
  if (!loop_) return;
  loop_->requestStop();
  if (thread_.joinable()) thread_.join();
  loop_.reset();  // closes the listening socket and every connection
  bound_port_ = 0;
}

}  // namespace popgate::gateway::admin
