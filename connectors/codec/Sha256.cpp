#include "Sha256.h"

#include <openssl/evp.h>

#include "connectors/common/Ascii.h"
#include "connectors/common/Error.h"

namespace popgate::codec {

Sha256::Sha256() : ctx_(newDigestContext()) { restart(); }

Sha256::~Sha256() = default;

void Sha256::restart() {
  if (EVP_DigestInit_ex(ctx_.get(), EVP_sha256(), nullptr) != 1) {
    throw Error(ErrorKind::Internal, "cannot initialise SHA-256");
  }
}

void Sha256::update(std::string_view bytes) {
  if (!bytes.empty()) EVP_DigestUpdate(ctx_.get(), bytes.data(), bytes.size());
}

std::string Sha256::hex() {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx_.get(), md, &len);
  std::string out = lowerHex(md, len);
  restart();
  return out;
}

}  // namespace popgate::codec
