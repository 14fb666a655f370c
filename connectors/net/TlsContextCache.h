#pragma once
// TLS client contexts, one per (server host, ca_file), shared by every connection to that host.
// Each context is strict: VERIFY_STRICT, the system CA store plus the optional ca_file, TLS 1.2 or
// newer, and the expected host name set at the OpenSSL level, so a certificate for another name
// fails inside the handshake itself (docs/protocol-notes.md: the slow-handshake name-check bypass).

#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <utility>

#include <Poco/Net/Context.h>

namespace popgate::net {

class TlsContextCache {
 public:
  // The process-wide cache; initialises Poco's SSL library on first use.
  static TlsContextCache& instance();

  // The context for `host` (a DNS name or an IP literal). Throws Error(Security) when the
  // ca_file cannot be loaded.
  Poco::Net::Context::Ptr contextFor(const std::string& host,
                                     const std::optional<std::filesystem::path>& ca_file);

 private:
  TlsContextCache();
  std::mutex mutex_;
  std::map<std::pair<std::string, std::string>, Poco::Net::Context::Ptr> contexts_;
};

}  // namespace popgate::net
