#pragma once
// URL pieces an OAuth 2.0 client writes and reads (RFC 3986 §2.1, §3.4; the
// application/x-www-form-urlencoded format of the WHATWG URL standard, which RFC 6749 §B uses):
// request bodies for the token endpoint, the authorization URL's query, and the query of the
// redirect that comes back. Pure functions; no sockets.

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace popgate::codec {

using FormFields = std::vector<std::pair<std::string, std::string>>;

// "k1=v1&k2=v2" in the form encoding: ALPHA, DIGIT and "*-._" kept, SP as "+", every other octet
// as "%XX" (upper-case hex). The fields may hold secrets (refresh tokens): never log the result.
std::string formEncode(const FormFields& fields);

// `text` with every octet outside RFC 3986 unreserved (ALPHA DIGIT "-" "." "_" "~") as "%XX".
std::string percentEncode(std::string_view text);

// The fields of a query or form body ("a=1&b=x+y%21" → a=1, b="x y!"): "+" is SP, "%XX" an octet;
// a field without "=" has an empty value, empty fields ("a=1&&b=2") are skipped. nullopt when a
// "%" is not followed by two hex digits.
std::optional<FormFields> parseQuery(std::string_view query);

// The value of the first field called `name`, or nullopt.
std::optional<std::string> fieldValue(const FormFields& fields, std::string_view name);

// RFC 4648 §5 base64url without padding (PKCE, RFC 7636 Appendix A).
std::string base64UrlEncode(std::string_view bytes);

}  // namespace popgate::codec
