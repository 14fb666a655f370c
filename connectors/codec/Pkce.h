#pragma once
// PKCE (RFC 7636) for the loopback authorization flow: the code verifier sent with the token
// request and the S256 code challenge sent with the authorization request.

#include <string>
#include <string_view>

namespace popgate::codec {

// A code verifier from random octets: their base64url without padding (RFC 7636 §4.1 and
// Appendix B; 32 octets give the recommended 43 characters). The caller supplies the randomness.
std::string pkceVerifier(std::string_view random_octets);

// The S256 code challenge: BASE64URL(SHA256(ASCII(verifier))) (RFC 7636 §4.2).
std::string pkceChallengeS256(std::string_view verifier);

}  // namespace popgate::codec
