#pragma once
// A byte stream to one server: the seam between the protocol clients and the sockets. The real one
// is PocoTransport; component tests reach scripted servers through it too, and unit tests can
// replace it.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "connectors/common/TlsMode.h"

namespace popgate::net {

// Where to connect and how to secure it.
struct Endpoint {
  std::string protocol;  // "POP3", "IMAP": only for messages
  std::string host;
  std::uint16_t port = 0;
  TlsMode tls = TlsMode::Implicit;
  std::optional<std::filesystem::path> ca_file;  // extra trust anchor; the system store is always used
  std::chrono::milliseconds timeout{60000};      // connect, TLS handshake, and each read or write

  // "POP3 host:port" (or "host:port" without a protocol), for messages.
  std::string label() const;
};

class Transport {
 public:
  virtual ~Transport() = default;

  // Reads at least one and at most `n` bytes into `buf`; returns 0 at the peer's orderly close.
  // Throws Error(Transient) on timeout or reset (naming `waiting_for`, e.g. "the UIDL list").
  virtual std::size_t readSome(char* buf, std::size_t n, std::string_view waiting_for) = 0;
  // Writes every byte or throws Error(Transient/Security).
  virtual void writeAll(std::string_view bytes) = 0;
  // Performs the TLS handshake on the open connection (STARTTLS/STLS), verifying the chain and the
  // host name before returning. Throws Error(Security) when that fails.
  virtual void startTls() = 0;
  // True once TLS is established and the peer's certificate verified.
  virtual bool isSecure() const noexcept = 0;
  // Closes without a protocol goodbye; never throws.
  virtual void close() noexcept = 0;
};

// Opens a TCP connection to `endpoint` (and for TlsMode::Implicit completes a verified TLS
// handshake). Throws Error(Transient) when unreachable, Error(Security) on TLS failure.
std::unique_ptr<Transport> openTransport(const Endpoint& endpoint);

// Cuts every connection openTransport() has open in this process (shutdown of their sockets), so
// that reads and writes blocked on a slow server end at once with Error(Transient); connections
// opened afterwards fail the same way. For a daemon that must stop within its grace period: what
// was in flight stays in flight in the ledger and is looked up next time. Never throws.
void interruptAllTransports() noexcept;

}  // namespace popgate::net
