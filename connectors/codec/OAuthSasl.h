#pragma once
// SASL mechanisms that carry an OAuth 2.0 bearer token (docs/oauth.md "Wire formats"):
//   XOAUTH2      base64("user=" user ^A "auth=Bearer " token ^A ^A)        (Google, Microsoft)
//   OAUTHBEARER  base64("n,a=" saslname "," ^A "host=" h ^A "port=" p ^A
//                       "auth=Bearer " token ^A ^A)                         (RFC 7628 §3.1)
// and the server's failure challenge, a base64 JSON object (RFC 7628 §3.2.2; Gmail sends it for
// XOAUTH2 too). The encoded responses contain the token: never log them.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace popgate::codec {

// The XOAUTH2 initial client response for `user` and the access token `token`, base64-encoded.
// The clear intermediate is wiped. `user` and `token` must not hold ^A (0x01); callers pass a
// configured user name (no control bytes) and a token checked by the token endpoint client.
std::string saslXoauth2(std::string_view user, std::string_view token);

// The OAUTHBEARER initial client response (RFC 7628 §3.1), base64-encoded. The user goes into the
// GS2 header as a saslname (RFC 5801: "," as "=2C", "=" as "=3D"); host and port are included
// when `host` is not empty (port 0 leaves the port out). The clear intermediate is wiped.
std::string saslOauthBearer(std::string_view user, std::string_view token,
                            std::string_view host = {}, std::uint16_t port = 0);

// What a client answers to a failure challenge so that the server finishes the exchange with its
// tagged NO / -ERR: an empty response for XOAUTH2, "AQ==" (a single 0x01, RFC 7628 §3.2.3) for
// OAUTHBEARER.
inline constexpr std::string_view kXoauth2FailureAnswer = "";
inline constexpr std::string_view kOauthBearerFailureAnswer = "AQ==";

// A decoded failure challenge, e.g. Gmail's {"status":"401","schemes":"bearer","scope":"..."}.
struct OAuthFailure {
  std::string text;                           // the decoded JSON, trailing line ends removed
  std::map<std::string, std::string> fields;  // its members when it is a flat object, else empty
  // fields["status"] or "" ("401", "invalid_token"...).
  std::string status() const;
};

// Decodes a failure challenge (the text after "+ " of an IMAP continuation or a POP3 "+" line).
// nullopt when it is not canonical base64 or does not decode to a JSON object ("{...}"); the
// fields are filled only for a flat object whose values are strings, numbers, booleans or null.
std::optional<OAuthFailure> parseOAuthFailure(std::string_view challenge);

// The members of a flat JSON object (RFC 8259): string values unescaped (\uXXXX as UTF-8,
// surrogate pairs joined), numbers, true, false and null as written. nullopt for anything else:
// nested objects or arrays, duplicate names, bad escapes, trailing bytes, more than 64 members.
std::optional<std::map<std::string, std::string>> parseFlatJsonObject(std::string_view json);

}  // namespace popgate::codec
