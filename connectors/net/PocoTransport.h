#pragma once
// Transport over Poco sockets: TCP with connect/read/write deadlines, implicit TLS or an in-place
// STARTTLS upgrade, and the TLS rules of docs/protocol-notes.md (strict verification through
// TlsContextCache, handshake finished and certificate present before a single byte is sent).

#include <optional>

#include <Poco/Net/SecureStreamSocket.h>
#include <Poco/Net/StreamSocket.h>

#include "Transport.h"

namespace popgate::net {

class PocoTransport final : public Transport {
 public:
  // Connects to `endpoint` and, for TlsMode::Implicit, completes the TLS handshake.
  // Throws Error(Transient) when unreachable, Error(Security) when TLS fails.
  explicit PocoTransport(Endpoint endpoint);
  ~PocoTransport() override;

  std::size_t readSome(char* buf, std::size_t n, std::string_view waiting_for) override;
  void writeAll(std::string_view bytes) override;
  void startTls() override;
  bool isSecure() const noexcept override { return secure_.has_value(); }
  void close() noexcept override;

 private:
  Poco::Net::StreamSocket& active();
  void handshake();
  [[noreturn]] void fail(const char* doing, const std::exception& e) const;

  Endpoint endpoint_;
  Poco::Net::StreamSocket plain_;
  std::optional<Poco::Net::SecureStreamSocket> secure_;
};

}  // namespace popgate::net
