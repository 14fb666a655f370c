#pragma once
// TLS client contexts, one per (server host, ca_file as it is on disk), shared by every connection
// to that host. Each context is strict: VERIFY_STRICT, the system CA store plus the optional
// ca_file, TLS 1.2 or newer with forward-secret AEAD suites only (TLS 1.3 suites as OpenSSL has
// them), and the expected host name set at the OpenSSL level, so a certificate for another name
// fails inside the handshake itself (docs/protocol-notes.md: the slow-handshake name-check bypass).
// A ca_file replaced or edited on disk gets a new context: the cache key holds the file's device,
// inode, size and modification time, so a new CA takes effect at the next connection (a SIGHUP
// reload included) without a restart.

#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <tuple>
#include <utility>

#include <Poco/Net/Context.h>

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

 private:
  TlsContextCache();
  // host, ca_file path, and the file's identity ("dev:ino:size:mtime_ns"; empty without ca_file).
  using Key = std::tuple<std::string, std::string, std::string>;
  std::mutex mutex_;
  std::map<Key, Poco::Net::Context::Ptr> contexts_;
};

}  // namespace popgate::net
