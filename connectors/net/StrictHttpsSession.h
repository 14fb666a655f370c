#pragma once
// An HTTPS client session as strict as the mail connections: the TLS context comes from
// net::TlsContextCache (VERIFY_STRICT, the system store plus ca_file, the host name pinned inside
// OpenSSL), and connect() drives the handshake to completion and requires a verified peer
// certificate before the first byte of a request goes out (Poco 1.11 can report a slow handshake
// as done). Used for the OAuth token endpoint and the Gmail API.

#include <chrono>
#include <string>

#include <Poco/Net/HTTPSClientSession.h>

namespace popgate::net {

class StrictHttpsSession final : public Poco::Net::HTTPSClientSession {
 public:
  // A session to host:port with `context` (TlsContextCache::contextFor(host, ca_file)); the
  // handshake must finish within `timeout`. Connects on the first request.
  StrictHttpsSession(const std::string& host, Poco::UInt16 port, Poco::Net::Context::Ptr context,
                     std::chrono::milliseconds timeout);

 protected:
  // Throws Poco::TimeoutException when the handshake does not finish in time, and what Poco's
  // TLS throws for an untrusted certificate (Poco::Net::SSLException).
  void connect(const Poco::Net::SocketAddress& address) override;

 private:
  std::chrono::milliseconds timeout_;
};

}  // namespace popgate::net
