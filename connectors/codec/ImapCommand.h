#pragma once
// IMAP command pieces (RFC 3501 §9 grammar, RFC 7888 literals, RFC 3501 §5.1.3 mailbox names)
// and secret-free trace forms. Pure functions; the client glues them into commands.

#include <cstdint>
#include <ctime>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace popgate::codec {

// How an astring argument must travel.
enum class AstringForm { Atom, Quoted, Literal };
// Atom when every byte is an ATOM-CHAR; Quoted when printable 7-bit (quoting \ and "); Literal when
// it holds CR, LF, NUL or 8-bit bytes, or is longer than 1024 bytes.
AstringForm astringForm(std::string_view value);
// The value as an atom or a quoted string; only valid when astringForm() != Literal.
std::string astringText(std::string_view value);

// Which literal syntax the server accepts (from CAPABILITY).
enum class LiteralMode { Synchronizing, LiteralMinus, LiteralPlus };
// "{n}" or "{n+}" for a literal of `size` octets: "+" when LITERAL+ is advertised, or LITERAL-
// and size <= 4096. `needs_wait` tells the caller to wait for a continuation before sending data.
struct LiteralPrefix { std::string text; bool needs_wait = true; };
LiteralPrefix literalPrefix(std::uint64_t size, LiteralMode mode);

// Mailbox name in modified UTF-7 (RFC 3501 §5.1.3) from UTF-8; nullopt for invalid UTF-8.
std::optional<std::string> encodeMailboxName(std::string_view utf8);

// "(\Seen $Label)" — flag list; each flag must be "\Atom" or an atom. nullopt if one is not.
std::optional<std::string> flagList(const std::vector<std::string>& flags);

// IMAP date-time: "dd-Mon-yyyy hh:mm:ss +zzzz" (with quotes) for UTC time `t` shown at
// `offset_minutes` east of UTC. Day is two characters, space-padded, as RFC 3501 date-day-fixed.
std::string imapDateTime(std::time_t t, int offset_minutes);

// The line as it may appear in a log: "LOGIN user secret" keeps the user and masks the password;
// AUTHENTICATE's initial response and any SASL continuation answer are masked.
std::string imapTrace(std::string_view line, bool after_auth_prompt = false);

}  // namespace popgate::codec
