#pragma once
// Throw-away certificates for tests. deploy/sandbox/make-certs.sh makes them once per process, on
// first use, in a fresh TempDir, removed when the process exits (POPGATE_KEEP_TEMP=1 keeps it).
// The source tree is found through $POPGATE_SOURCE_DIR, else the path baked in at compile time.

#include <string>

namespace popgate::test {

// A server identity: a PEM leaf certificate and its unencrypted PEM private key.
struct CertFiles {
  std::string cert;
  std::string key;
};

// Paths of the generated files. Every accessor generates on first use (thread-safe) and throws
// std::runtime_error if the script is missing or fails; a later call tries again.
class TestCerts {
 public:
  // The directory holding every file below.
  static const std::string& dir();
  // The CA ("popgate sandbox CA") that signed localhost and other.example: pass it as ca_file.
  static const std::string& caFile();
  // Leaf for DNS:localhost and IP:127.0.0.1, signed by the CA: verifies as "localhost".
  static const std::string& localhostCert();
  static const std::string& localhostKey();
  // Leaf for DNS:other.example only, signed by the CA: a trusted chain with the wrong name.
  static const std::string& otherHostCert();
  static const std::string& otherHostKey();
  // Self-signed leaf for localhost: the right name, but no trusted CA vouches for it.
  static const std::string& selfSignedCert();
  static const std::string& selfSignedKey();

  // The same pairs, ready for Script::tls().
  static CertFiles localhost() { return {localhostCert(), localhostKey()}; }
  static CertFiles otherHost() { return {otherHostCert(), otherHostKey()}; }
  static CertFiles selfSigned() { return {selfSignedCert(), selfSignedKey()}; }
};

}  // namespace popgate::test
