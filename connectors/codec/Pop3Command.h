#pragma once
// POP3 command lines (RFC 1939, 2449, 2595, 5034) and their secret-free trace forms.

#include <optional>
#include <string>
#include <string_view>

namespace popgate::codec {

// "VERB[ arg]\r\n". Returns nullopt when an argument holds CR, LF or NUL (command injection)
// or the line would exceed 255 octets (RFC 2449 §4 limits commands to 255 octets incl. CRLF).
// The verb must be 1+ octets of 0x21..0x7E. An empty arg adds no SP (so no empty PASS argument).
std::optional<std::string> pop3Command(std::string_view verb, std::string_view arg = {});

// The line as it may appear in a log: PASS, APOP's digest and AUTH's initial response or
// SASL continuation answers are replaced by "********". `line` may include CRLF (dropped).
// `after_auth_prompt` marks a line sent in answer to a "+ " SASL prompt (all of it is secret).
// PASS/APOP/AUTH match case-insensitively on the first four octets; kept fields are re-joined
// with one SP ("APOP mrose ********", "AUTH PLAIN ********"); other lines come back unchanged.
std::string pop3Trace(std::string_view line, bool after_auth_prompt = false);

// The APOP timestamp "<...@...>" in a greeting (RFC 1939 §7), brackets included; the first
// "<" local "@" domain ">" whose octets are all 0x21..0x7E; nullopt if there is none.
std::optional<std::string> apopTimestamp(std::string_view greeting);
// Lower-case hex MD5 of timestamp + password (RFC 1939 §7 APOP digest), via libcrypto EVP.
// Empty if libcrypto refuses MD5 (FIPS-only provider): then do not send APOP.
std::string apopDigest(std::string_view timestamp, std::string_view password);

}  // namespace popgate::codec
