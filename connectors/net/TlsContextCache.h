#pragma once
// TLS client contexts, one per (server host, ca_file as it is on disk), shared by every connection
// to that host. Each context is strict: VERIFY_STRICT, the system CA store plus the optional
// ca_file, TLS 1.2 or newer with forward-secret AEAD suites only (TLS 1.3 suites as OpenSSL has
// them), and the expected host name set at the OpenSSL level, so a certificate for another name
// fails inside the handshake itself (docs/protocol-notes.md: the slow-handshake name-check bypass).
// Connections close quietly (no close_notify): each protocol ends by its own goodbye.
// A ca_file replaced or edited on disk gets a new context: the cache key holds the file's device,
// inode, size and modification time, so a new CA takes effect at the next connection (a SIGHUP
// reload included) without a restart.
// It also keeps the last TLS session of every server (host, port, ca_file), so that the next
// connection to it resumes instead of doing a full handshake, where the server allows it: a
// daemon polling thousands of accounts every minute pays mostly for handshakes. A resumed session
// proves the same verified peer as the full handshake it came from (same pinned context).

#include <cstdint>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <tuple>
#include <utility>

#include <Poco/Net/Context.h>
#include <Poco/Net/Session.h>

namespace popgate::net {

class TlsContextCache {
 public:
  // The process-wide cache; initialises Poco's SSL library on first use.
  static TlsContextCache& instance();

  // The TLS 1.2 cipher list every context uses: ECDHE/DHE key exchange with AES-GCM or
  // ChaCha20-Poly1305 (forward secrecy, authenticated encryption); nothing else.
  static const char* const kTls12Ciphers;

  // The context for `host` (a DNS name or an IP literal) and the current content of `ca_file`.
  // Throws Error(Security) when the ca_file cannot be examined or loaded.
  Poco::Net::Context::Ptr contextFor(const std::string& host,
                                     const std::optional<std::filesystem::path>& ca_file);

  // The session to offer `host`:`port` (made with the same ca_file) for resumption; null when
  // none is kept. Never throws.
  Poco::Net::Session::Ptr sessionFor(const std::string& host, std::uint16_t port,
                                     const std::optional<std::filesystem::path>& ca_file) noexcept;
  // Keeps a copy of `session` (one that the server may resume) for the next connection to
  // `host`:`port`, replacing the one kept before. At most kMaxSessions servers are remembered.
  // Never throws.
  void keepSession(const std::string& host, std::uint16_t port,
                   const std::optional<std::filesystem::path>& ca_file,
                   const Poco::Net::Session::Ptr& session) noexcept;

  static constexpr std::size_t kMaxSessions = 20000;

 private:
  using SessionKey = std::tuple<std::string, std::uint16_t, std::string>;
  TlsContextCache();
  // host, ca_file path, and the file's identity ("dev:ino:size:mtime_ns"; empty without ca_file).
  using Key = std::tuple<std::string, std::string, std::string>;
  std::mutex mutex_;
  std::map<Key, Poco::Net::Context::Ptr> contexts_;
  std::map<SessionKey, Poco::Net::Session::Ptr> sessions_;
};

}  // namespace popgate::net
