#include "TlsContextCache.h"

#include <openssl/ssl.h>
#include <openssl/x509v3.h>

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

}  // namespace

TlsContextCache& TlsContextCache::instance() {
  static TlsContextCache cache;
  return cache;
}

TlsContextCache::TlsContextCache() { Poco::Net::initializeSSL(); }

Poco::Net::Context::Ptr TlsContextCache::contextFor(
    const std::string& host, const std::optional<std::filesystem::path>& ca_file) {
  const std::string ca = ca_file ? ca_file->string() : std::string();
  std::lock_guard lock(mutex_);
  auto key = std::make_pair(host, ca);
  if (auto it = contexts_.find(key); it != contexts_.end()) return it->second;

  Poco::Net::Context::Params params;
  params.verificationMode = Poco::Net::Context::VERIFY_STRICT;
  params.loadDefaultCAs = true;  // the system store is always trusted; ca_file adds to it
  params.caLocation = ca;
  params.verificationDepth = 9;
  params.cipherList = "HIGH:!aNULL:!eNULL:!MD5:!RC4:!3DES";
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
  contexts_.emplace(std::move(key), context);
  return context;
}

}  // namespace popgate::net
