#pragma once
// SASL helpers shared by POP3 (RFC 5034) and IMAP (RFC 3501 AUTHENTICATE, RFC 4959 SASL-IR).

#include <optional>
#include <string>
#include <string_view>

namespace popgate::codec {

// RFC 4648 base64 with padding, no line breaks.
std::string base64Encode(std::string_view bytes);
// Decodes RFC 4648 base64 (padding required, no whitespace); nullopt on any invalid input,
// including non-zero pad bits (only canonical encodings decode). "" decodes to "".
std::optional<std::string> base64Decode(std::string_view text);
// RFC 4616 PLAIN: base64(authzid NUL authcid NUL passwd). Contains the secret: never log it.
// authzid/authcid must not hold NUL (config validation); the clear intermediate is wiped.
std::string saslPlain(std::string_view authcid, std::string_view password,
                      std::string_view authzid = {});

}  // namespace popgate::codec
