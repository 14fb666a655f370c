#pragma once
// SHA-256 over bytes fed in pieces (OpenSSL's EVP, which uses the CPU's SHA instructions), as
// lower-case hex: the ledger's content key and the check that a message found in the target is
// byte for byte the one popgate meant to append.

#include <string>
#include <string_view>

#include "DigestContext.h"

namespace popgate::codec {

class Sha256 {
 public:
  // Throws Error(Internal) if OpenSSL cannot provide SHA-256.
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void update(std::string_view bytes);
  // The digest of everything fed since construction or the last hex(), which starts afresh.
  std::string hex();

 private:
  void restart();
  DigestContext ctx_;
};

}  // namespace popgate::codec
