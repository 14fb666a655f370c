#pragma once
// ASCII-only character helpers for protocol words (IMAP and POP3 keywords, header names, config
// keys): never locale-dependent, unlike <cctype>, and 8-bit bytes pass through unchanged.

#include <cstddef>
#include <string>
#include <string_view>

namespace popgate {

constexpr char upperAscii(char c) noexcept {
  return (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c;
}

constexpr char lowerAscii(char c) noexcept {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

inline std::string upperAscii(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = upperAscii(c);
  return out;
}

// Equal when ASCII letters are compared without case.
constexpr bool equalsNoCase(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (upperAscii(a[i]) != upperAscii(b[i])) return false;
  }
  return true;
}

// `s` begins with `prefix`, ASCII letters compared without case.
constexpr bool startsWithNoCase(std::string_view s, std::string_view prefix) noexcept {
  return s.size() >= prefix.size() && equalsNoCase(s.substr(0, prefix.size()), prefix);
}

// `needle` occurs in `haystack`, ASCII letters compared without case (IMAP SEARCH semantics).
constexpr bool containsNoCase(std::string_view haystack, std::string_view needle) noexcept {
  if (needle.size() > haystack.size()) return false;
  for (std::size_t at = 0; at + needle.size() <= haystack.size(); ++at) {
    if (equalsNoCase(haystack.substr(at, needle.size()), needle)) return true;
  }
  return false;
}

// Lower-case hex of `size` bytes.
inline std::string lowerHex(const unsigned char* bytes, std::size_t size) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(2 * size);
  for (std::size_t i = 0; i < size; ++i) {
    out.push_back(kHex[bytes[i] >> 4]);
    out.push_back(kHex[bytes[i] & 0xf]);
  }
  return out;
}

}  // namespace popgate
