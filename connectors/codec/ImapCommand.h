#pragma once
// IMAP command pieces (RFC 3501 §9 grammar, RFC 7888 literals, RFC 3501 §5.1.3 mailbox names)
// and secret-free trace forms. Pure functions; the client glues them into commands.
//   astring      = 1*ASTRING-CHAR / string
//   string       = quoted / literal
//   quoted       = DQUOTE *QUOTED-CHAR DQUOTE
//   QUOTED-CHAR  = <any TEXT-CHAR except quoted-specials> / "\" quoted-specials
//   literal      = "{" number ["+"] "}" CRLF *CHAR8     ; "+" per RFC 7888
//   flag-list    = "(" [flag *(SP flag)] ")"
//   date-time    = DQUOTE date-day-fixed "-" date-month "-" date-year SP time SP zone DQUOTE

#include <cstdint>
#include <ctime>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace popgate::codec {

// How an astring argument must travel.
enum class AstringForm { Atom, Quoted, Literal };
// Atom when non-empty and every byte is an ATOM-CHAR; Quoted when every byte is printable 7-bit
// (0x20..0x7E; "" is Quoted); Literal when it holds any control byte (CR, LF, NUL, TAB, 0x7F...)
// or 8-bit byte, or is longer than 1024 bytes.
AstringForm astringForm(std::string_view value);
// The value as an atom or a quoted string (with \ and " escaped by "\"). Only valid when
// astringForm() != Literal; for a Literal value it returns "" so nothing unsafe reaches the wire.
std::string astringText(std::string_view value);

// Which literal syntax the server accepts (from CAPABILITY).
enum class LiteralMode { Synchronizing, LiteralMinus, LiteralPlus };
// "{n}" or "{n+}" for a literal of `size` octets: "+" when LITERAL+ is advertised, or LITERAL-
// and size <= 4096. `needs_wait` tells the caller to wait for a continuation before sending data.
struct LiteralPrefix {
  std::string text;
  bool needs_wait = true;
};
LiteralPrefix literalPrefix(std::uint64_t size, LiteralMode mode);

// Mailbox name in modified UTF-7 (RFC 3501 §5.1.3) from UTF-8: printable ASCII stays, "&" becomes
// "&-", anything else is "&" + modified BASE64 of UTF-16BE + "-". nullopt for invalid UTF-8
// (overlong forms, surrogates, code points above U+10FFFF, truncated sequences).
std::optional<std::string> encodeMailboxName(std::string_view utf8);

// "(\Seen $Label)" — flag list; each flag must be "\" atom or an atom. nullopt if one is not, or
// for "\Recent" (which clients cannot set, RFC 3501 §2.3.2). No flags give "()".
std::optional<std::string> flagList(const std::vector<std::string>& flags);

// IMAP date-time: "dd-Mon-yyyy hh:mm:ss +zzzz" (with quotes) for UTC time `t` shown at
// `offset_minutes` east of UTC. Day is two characters, space-padded, as RFC 3501 date-day-fixed.
// An offset beyond ±23:59 cannot be written as a zone and is replaced by +0000 (same instant).
std::string imapDateTime(std::time_t t, int offset_minutes);

// The line as it may appear in a log: "LOGIN user secret" keeps the tag, verb and user and masks
// the rest ("a1 LOGIN user ********", whether the password is an atom, quoted or a literal);
// "AUTHENTICATE mech ir" masks the initial response. `after_auth_prompt` marks a line sent after
// a continuation request of LOGIN or AUTHENTICATE (SASL answer or literal data): all of it becomes
// "********". Only the first line is kept: a trailing CRLF and anything after a CR or LF
// (literal data) are dropped, and other control bytes in the kept text become "?".
std::string imapTrace(std::string_view line, bool after_auth_prompt = false);

}  // namespace popgate::codec
