// PKCE (RFC 7636):
//   code-verifier  = 43*128unreserved                           ; §4.1
//   code_challenge = BASE64URL-ENCODE(SHA256(ASCII(code_verifier)))   ; §4.2, method S256

#include "Pkce.h"

#include <openssl/evp.h>

#include "UrlForm.h"
#include "connectors/common/Error.h"

namespace popgate::codec {

std::string pkceVerifier(std::string_view random_octets) {
  return base64UrlEncode(random_octets);
}

std::string pkceChallengeS256(std::string_view verifier) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (EVP_Digest(verifier.data(), verifier.size(), digest, &length, EVP_sha256(), nullptr) != 1) {
    throw Error(ErrorKind::Internal, "OpenSSL cannot compute SHA-256 for the PKCE challenge");
  }
  return base64UrlEncode(std::string_view(reinterpret_cast<const char*>(digest), length));
}

}  // namespace popgate::codec
