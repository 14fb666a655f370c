#include "StrictHttpsSession.h"

#include <Poco/Exception.h>
#include <Poco/Net/SecureStreamSocket.h>
#include <Poco/Timespan.h>

namespace popgate::net {

StrictHttpsSession::StrictHttpsSession(const std::string& host, Poco::UInt16 port,
                                       Poco::Net::Context::Ptr context,
                                       std::chrono::milliseconds timeout)
    : HTTPSClientSession(host, port, std::move(context)), timeout_(timeout) {}

void StrictHttpsSession::connect(const Poco::Net::SocketAddress& address) {
  HTTPSClientSession::connect(address);
  Poco::Net::SecureStreamSocket secure(socket());
  const auto deadline = std::chrono::steady_clock::now() + timeout_;
  while (!secure.havePeerCertificate()) {
    if (std::chrono::steady_clock::now() > deadline) {
      throw Poco::TimeoutException("TLS handshake not finished");
    }
    int done = 0;
    try {
      done = secure.completeHandshake();
    } catch (const Poco::TimeoutException&) {
    }
    if (done <= 0) {
      secure.poll(Poco::Timespan(0, 200000),
                  Poco::Net::Socket::SELECT_READ | Poco::Net::Socket::SELECT_ERROR);
    }
  }
}

}  // namespace popgate::net
