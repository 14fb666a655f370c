#include "TlsContextCache.h"

#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <sys/stat.h>

#include <cerrno>
#include <cstring>

#include <Poco/Net/IPAddress.h>
#include <Poco/Net/NetSSL.h>
#include <Poco/Net/SSLException.h>

#include "connectors/common/Error.h"

namespace popgate::net {

namespace {

// Pins the expected peer name inside OpenSSL's own chain verification: a DNS name is matched
// against the certificate's subjectAltName (no partial wildcards), an IP literal against its
// iPAddress entries. Poco's later name check is then only a second opinion.
void pinHostName(SSL_CTX* ctx, const std::string& host) {
  X509_VERIFY_PARAM* param = SSL_CTX_get0_param(ctx);
  Poco::Net::IPAddress ip;
  int ok = 0;
  if (Poco::Net::IPAddress::tryParse(host, ip)) {
    ok = X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str());
  } else {
    X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    ok = X509_VERIFY_PARAM_set1_host(param, host.c_str(), host.size());
  }
  if (ok != 1) throw Error(ErrorKind::Security, "cannot set the expected TLS peer name " + host);
}

// Poco's Session takes ownership of an SSL_SESSION only from inside Poco; this one lets the cache
// own the copies it makes.
class OwnedSession final : public Poco::Net::Session {
 public:
  explicit OwnedSession(SSL_SESSION* session) : Poco::Net::Session(session) {}
};

// What makes a ca_file a different file for the cache: a replaced file (new inode, as editors and
// Kubernetes secret updates make) or one written in place (new size or modification time).
std::string fileIdentity(const std::string& path, const std::string& host) {
  struct stat st{};
  if (::stat(path.c_str(), &st) != 0) {
    throw Error(ErrorKind::Security, "cannot set up TLS for " + host + " with ca_file " + path +
                                         ": " + std::strerror(errno));
  }
  return std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino) + ":" +
         std::to_string(st.st_size) + ":" + std::to_string(st.st_mtim.tv_sec) + "." +
         std::to_string(st.st_mtim.tv_nsec);
}

}  // namespace

// Mozilla's "intermediate" TLS 1.2 list: every suite has an ephemeral key exchange and an AEAD.
const char* const TlsContextCache::kTls12Ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"
    "DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384:DHE-RSA-CHACHA20-POLY1305";

TlsContextCache& TlsContextCache::instance() {
  static TlsContextCache cache;
  return cache;
}

TlsContextCache::TlsContextCache() { Poco::Net::initializeSSL(); }

Poco::Net::Context::Ptr TlsContextCache::contextFor(
    const std::string& host, const std::optional<std::filesystem::path>& ca_file) {
  const std::string ca = ca_file ? ca_file->string() : std::string();
  std::lock_guard lock(mutex_);
  Key key{host, ca, ca.empty() ? std::string() : fileIdentity(ca, host)};
  if (auto it = contexts_.find(key); it != contexts_.end()) return it->second;
  // An older version of the same file is of no more use.
  std::erase_if(contexts_, [&](const auto& entry) {
    return std::get<0>(entry.first) == host && std::get<1>(entry.first) == ca;
  });
  // Nor are sessions verified against it: a new CA must not be bypassed by a resumption.
  std::erase_if(sessions_, [&](const auto& entry) {
    return std::get<0>(entry.first) == host && std::get<2>(entry.first) == ca;
  });

  Poco::Net::Context::Params params;
  params.verificationMode = Poco::Net::Context::VERIFY_STRICT;
  params.loadDefaultCAs = true;  // the system store is always trusted; ca_file adds to it
  params.caLocation = ca;
  params.verificationDepth = 9;
  params.cipherList = kTls12Ciphers;
  Poco::Net::Context::Ptr context;
  try {
    context = new Poco::Net::Context(Poco::Net::Context::TLS_CLIENT_USE, params);
  } catch (const Poco::Exception& e) {
    throw Error(ErrorKind::Security,
                "cannot set up TLS for " + host + (ca.empty() ? "" : " with ca_file " + ca) + ": " +
                    e.displayText());
  }
  context->requireMinimumProtocol(Poco::Net::Context::PROTO_TLSV1_2);
  pinHostName(context->sslContext(), host);
  // Closing sends no close_notify (SSL_shutdown() only marks the connection closed): every
  // protocol here ends by its own goodbye (QUIT, LOGOUT, an HTTP message's length), and a
  // close_notify written after the socket was shut down failed with an exception on each close.
  SSL_CTX_set_quiet_shutdown(context->sslContext(), 1);
  contexts_.emplace(std::move(key), context);
  return context;
}

Poco::Net::Session::Ptr TlsContextCache::sessionFor(
    const std::string& host, std::uint16_t port,
    const std::optional<std::filesystem::path>& ca_file) noexcept {
  try {
    std::lock_guard lock(mutex_);
    auto it = sessions_.find(SessionKey{host, port, ca_file ? ca_file->string() : std::string()});
    if (it != sessions_.end()) return it->second;
  } catch (...) {
  }
  return nullptr;
}

void TlsContextCache::keepSession(const std::string& host, std::uint16_t port,
                                  const std::optional<std::filesystem::path>& ca_file,
                                  const Poco::Net::Session::Ptr& session) noexcept {
  if (session.isNull() || session->sslSession() == nullptr) return;
  // A copy: OpenSSL marks the connection's own session object unresumable when the connection is
  // closed without a close_notify (as popgate closes after QUIT/LOGOUT), and other connections
  // may be using the object kept before.
  SSL_SESSION* copy = SSL_SESSION_dup(session->sslSession());
  if (copy == nullptr) return;
  if (SSL_SESSION_is_resumable(copy) != 1) {
    SSL_SESSION_free(copy);
    return;
  }
  try {
    Poco::Net::Session::Ptr owned(new OwnedSession(copy));
    std::lock_guard lock(mutex_);
    SessionKey key{host, port, ca_file ? ca_file->string() : std::string()};
    if (sessions_.size() >= kMaxSessions && sessions_.count(key) == 0) sessions_.erase(sessions_.begin());
    sessions_[std::move(key)] = std::move(owned);
  } catch (...) {
  }
}

}  // namespace popgate::net
