#include "PocoTransport.h"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <limits>
#include <map>
#include <mutex>

#include <poll.h>
#include <sys/socket.h>

#include <Poco/Exception.h>
#include <Poco/Net/NetException.h>
#include <Poco/Net/SSLException.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/Timespan.h>

#include "TlsContextCache.h"
#include "connectors/common/Error.h"
#include "connectors/common/HostPort.h"

namespace popgate::net {

namespace {

using Clock = std::chrono::steady_clock;
constexpr std::chrono::milliseconds kBlockingSlice{500};

Poco::Timespan toTimespan(std::chrono::microseconds d) {
  return Poco::Timespan(static_cast<Poco::Timespan::TimeDiff>(std::max<long long>(d.count(), 1)));
}

// Waits at most `wait` until `fd` has bytes to read, or an error or hang-up to report; false when
// the time ran out. One poll(2) call: Poco's Socket::poll makes (and closes) an epoll instance on
// every call, three more system calls for each read of a dialogue. Throws Poco::IOException.
bool readable(int fd, std::chrono::microseconds wait) {
  const auto deadline = Clock::now() + wait;
  for (;;) {
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now());
    const auto ms = std::clamp<long long>(left.count(), 0, std::numeric_limits<int>::max());
    pollfd p{fd, POLLIN | POLLPRI, 0};
    const int rc = ::poll(&p, 1, static_cast<int>(ms));
    if (rc > 0) return true;
    if (rc == 0) return false;
    if (errno != EINTR) throw Poco::IOException(std::string("poll: ") + std::strerror(errno));
  }
}

std::string seconds(std::chrono::milliseconds d) {
  return std::to_string((d.count() + 999) / 1000) + "s";
}

// Whether a failed handshake was cut by the network (a reset, the peer closing, a broken pipe)
// rather than refused on TLS grounds (a certificate, a protocol version, bytes that are not TLS):
// the first says nothing about the server's identity and is retried like any dropped connection.
bool cutByNetwork(const Poco::Exception& e) {
  if (dynamic_cast<const Poco::Net::ConnectionResetException*>(&e) != nullptr ||
      dynamic_cast<const Poco::Net::ConnectionAbortedException*>(&e) != nullptr ||
      dynamic_cast<const Poco::Net::SSLConnectionUnexpectedlyClosedException*>(&e) != nullptr) {
    return true;
  }
  const std::string text = e.displayText();
  // OpenSSL 3 reports a peer that closed mid-handshake as "unexpected eof while reading".
  return text.find("unexpected eof") != std::string::npos ||
         text.find("Connection reset") != std::string::npos ||
         text.find("Broken pipe") != std::string::npos;
}

// Every open PocoTransport and its socket, for interruptAllTransports(). A transport leaves the
// registry (under the mutex) before its socket is closed, so a descriptor is never shut down after
// it may have been reused.
struct Registry {
  std::mutex mutex;
  std::map<const PocoTransport*, int> sockets;
  bool interrupted = false;
};

Registry& registry() {
  static Registry r;
  return r;
}

}  // namespace

void interruptAllTransports() noexcept {
  Registry& r = registry();
  std::lock_guard lock(r.mutex);
  r.interrupted = true;
  for (const auto& [transport, fd] : r.sockets) ::shutdown(fd, SHUT_RDWR);
}

std::string Endpoint::label() const {
  return (protocol.empty() ? "" : protocol + " ") + hostPort(host, port);
}

std::unique_ptr<Transport> openTransport(const Endpoint& endpoint) {
  // OpenSSL writes with plain send(): a peer that vanished would raise SIGPIPE and kill the
  // process. A broken connection must be an Error for this pass, nothing more.
  static std::once_flag once;
  std::call_once(once, [] { std::signal(SIGPIPE, SIG_IGN); });
  return std::make_unique<PocoTransport>(endpoint);
}

PocoTransport::PocoTransport(Endpoint endpoint) : endpoint_(std::move(endpoint)) {
  try {
    Poco::Net::SocketAddress address(endpoint_.host, endpoint_.port);
    plain_.connect(address, toTimespan(endpoint_.timeout));
    plain_.setNoDelay(true);
    // A short backstop: blocking calls inside Poco and OpenSSL (the TLS handshake, the rest of a
    // TLS record) return at least this often, and the loops below enforce the real deadline.
    plain_.setReceiveTimeout(toTimespan(std::min<std::chrono::milliseconds>(
        endpoint_.timeout, kBlockingSlice)));
    plain_.setSendTimeout(toTimespan(endpoint_.timeout));
    Registry& r = registry();
    std::lock_guard lock(r.mutex);
    if (r.interrupted) throw Poco::Net::NetException("popgate is stopping");
    r.sockets.emplace(this, plain_.impl()->sockfd());
  } catch (const Poco::TimeoutException&) {
    throw Error(ErrorKind::Transient, "cannot connect to " + endpoint_.label() + ": no answer within " +
                                          seconds(endpoint_.timeout));
  } catch (const Poco::Exception& e) {
    throw Error(ErrorKind::Transient, "cannot connect to " + endpoint_.label() + ": " + e.displayText());
  }
  if (endpoint_.tls == TlsMode::Implicit) {
    try {
      handshake();
    } catch (...) {
      close();  // no destructor runs for a constructor that throws: leave the registry here
      throw;
    }
  }
}

PocoTransport::~PocoTransport() { close(); }

Poco::Net::StreamSocket& PocoTransport::active() {
  if (secure_) return *secure_;
  return plain_;
}

void PocoTransport::handshake() {
  TlsContextCache& cache = TlsContextCache::instance();
  auto context = cache.contextFor(endpoint_.host, endpoint_.ca_file);
  // The session of an earlier connection to this server, offered for resumption (the server may
  // decline: then it is a full handshake, verified the same way).
  auto session = cache.sessionFor(endpoint_.host, endpoint_.port, endpoint_.ca_file);
  const auto deadline = Clock::now() + endpoint_.timeout;
  try {
    secure_.emplace(session.isNull()
                        ? Poco::Net::SecureStreamSocket::attach(plain_, endpoint_.host, context)
                        : Poco::Net::SecureStreamSocket::attach(plain_, endpoint_.host, context,
                                                                session));
    // Poco 1.11 may return from attach() before a slow server has finished the handshake. Finish it
    // here within the deadline: nothing is sent until OpenSSL has verified a certificate whose name
    // is pinned in the context (TlsContextCache), so a wrong-name certificate never gets a byte.
    while (!secure_->havePeerCertificate()) {
      const auto left = deadline - Clock::now();
      if (left <= Clock::duration::zero()) {
        throw Poco::TimeoutException("TLS handshake not finished");
      }
      int done = 0;
      try {
        done = secure_->completeHandshake();
      } catch (const Poco::TimeoutException&) {
        // The server is slow: keep going until the deadline.
      }
      if (done <= 0) {
        readable(secure_->impl()->sockfd(),
                 std::min<std::chrono::microseconds>(
                     std::chrono::duration_cast<std::chrono::microseconds>(left), kBlockingSlice));
      }
    }
    resumed_ = secure_->sessionWasReused();
  } catch (const Poco::TimeoutException&) {
    secure_.reset();
    throw Error(ErrorKind::Transient, "TLS handshake with " + endpoint_.label() +
                                          " did not finish within " + seconds(endpoint_.timeout));
  } catch (const Poco::Exception& e) {
    secure_.reset();
    if (cutByNetwork(e)) {
      throw Error(ErrorKind::Transient, "TLS handshake with " + endpoint_.label() +
                                            " was cut off: " + e.displayText());
    }
    std::string hint;
    if (e.displayText().find("certificate verify failed") != std::string::npos) {
      hint = " (is the certificate valid for " + endpoint_.host +
             " and issued by a trusted CA? a private CA goes in ca_file)";
    }
    throw Error(ErrorKind::Security,
                "TLS handshake with " + endpoint_.label() + " failed: " + e.displayText() + hint);
  }
}

std::size_t PocoTransport::readSome(char* buf, std::size_t n, std::string_view waiting_for) {
  const int want = static_cast<int>(std::min<std::size_t>(n, 1 << 30));
  const auto deadline = Clock::now() + endpoint_.timeout;
  try {
    auto& socket = active();
    for (;;) {
      // TLS may already hold decrypted bytes that poll() on the socket cannot see.
      const bool buffered = secure_ && secure_->available() > 0;
      if (!buffered) {
        const auto left = deadline - Clock::now();
        if (left <= Clock::duration::zero() ||
            !readable(socket.impl()->sockfd(),
                      std::chrono::duration_cast<std::chrono::microseconds>(left))) {
          throw Poco::TimeoutException();
        }
      }
      int got = -1;
      try {
        got = socket.receiveBytes(buf, want);
      } catch (const Poco::TimeoutException&) {
        // Only part of a TLS record arrived within the slice: wait on, within the deadline.
      }
      if (got >= 0) return static_cast<std::size_t>(got);
    }
  } catch (const Poco::TimeoutException&) {
    throw Error(ErrorKind::Transient,
                endpoint_.label() + " sent nothing for " + seconds(endpoint_.timeout) +
                    (waiting_for.empty() ? "" : " while we waited for " + std::string(waiting_for)) +
                    " (timeout)");
  } catch (const Poco::Exception& e) {
    fail("reading from", e);
  }
}

void PocoTransport::writeAll(std::string_view bytes) {
  try {
    auto& socket = active();
    while (!bytes.empty()) {
      const int chunk = static_cast<int>(std::min<std::size_t>(bytes.size(), 1 << 20));
      const int sent = socket.sendBytes(bytes.data(), chunk);
      if (sent > 0) {
        bytes.remove_prefix(static_cast<std::size_t>(sent));
        continue;
      }
      if (!socket.poll(toTimespan(endpoint_.timeout), Poco::Net::Socket::SELECT_WRITE)) {
        throw Poco::TimeoutException();
      }
    }
  } catch (const Poco::TimeoutException&) {
    throw Error(ErrorKind::Transient,
                endpoint_.label() + " accepted nothing for " + seconds(endpoint_.timeout) + " (timeout)");
  } catch (const Poco::Exception& e) {
    fail("writing to", e);
  }
}

void PocoTransport::startTls() {
  if (secure_) throw Error(ErrorKind::Protocol, "TLS is already active on " + endpoint_.label());
  handshake();
}

void PocoTransport::close() noexcept {
  {
    Registry& r = registry();
    std::lock_guard lock(r.mutex);
    r.sockets.erase(this);
  }
  try {
    if (secure_) {
      // Keep the session for the next connection to this server. Only now: a TLS 1.3 server sends
      // its session ticket after the handshake, and it has been read by the end of the dialogue.
      if (secure_->havePeerCertificate()) {
        TlsContextCache::instance().keepSession(endpoint_.host, endpoint_.port, endpoint_.ca_file,
                                                secure_->currentSession());
      }
      // No TLS close_notify (the context's quiet shutdown): the protocol goodbye is the client's
      // job. The socket is shut down and closed once, without an exception on the way.
      secure_.reset();
    }
    plain_.close();
  } catch (...) {
  }
}

void PocoTransport::fail(const char* doing, const std::exception& e) const {
  std::string text = e.what();
  if (const auto* poco = dynamic_cast<const Poco::Exception*>(&e)) text = poco->displayText();
  // Past the handshake every failure, TLS-level ones included, is a broken connection: retry later.
  throw Error(ErrorKind::Transient, std::string(doing) + " " + endpoint_.label() + " failed: " + text);
}

}  // namespace popgate::net
