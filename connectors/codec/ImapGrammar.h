#pragma once
// Character classes of the IMAP grammar shared by the parser and the command writers
// (RFC 3501 §9, RFC 9051 §9).

namespace popgate::codec {

// ATOM-CHAR = <any CHAR except atom-specials>
// atom-specials = "(" / ")" / "{" / SP / CTL / list-wildcards / quoted-specials / resp-specials
// (resp-specials is "]": an atom never holds it, though an astring may).
inline bool isAtomChar(char c) noexcept {
  const auto u = static_cast<unsigned char>(c);
  if (u <= 0x20 || u >= 0x7F) return false;
  switch (c) {
    case '(':
    case ')':
    case '{':
    case '%':
    case '*':
    case '"':
    case '\\':
    case ']':
      return false;
    default:
      return true;
  }
}

}  // namespace popgate::codec
