#include "Utf8.h"

namespace popgate {

namespace {

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD

// How many bytes a sequence led by `lead` has (0: not a lead byte) and the range its second byte
// must fall in; later bytes are plain continuations (0x80..0xBF). Unicode Table 3-7: the second
// byte's range is what excludes overlongs, surrogates and code points above U+10FFFF.
struct Lead {
  std::size_t length;
  unsigned char second_low;
  unsigned char second_high;
};

Lead leadOf(unsigned char byte) noexcept {
  if (byte <= 0x7F) return {1, 0, 0};
  if (byte >= 0xC2 && byte <= 0xDF) return {2, 0x80, 0xBF};
  if (byte == 0xE0) return {3, 0xA0, 0xBF};
  if (byte == 0xED) return {3, 0x80, 0x9F};
  if (byte >= 0xE1 && byte <= 0xEF) return {3, 0x80, 0xBF};
  if (byte == 0xF0) return {4, 0x90, 0xBF};
  if (byte >= 0xF1 && byte <= 0xF3) return {4, 0x80, 0xBF};
  if (byte == 0xF4) return {4, 0x80, 0x8F};
  return {0, 0, 0};
}

// How many bytes from `pos` belong to the sequence there while it stays well formed (at least 1):
// the whole length when it is complete and valid, else the maximal subpart.
std::size_t wellFormedPrefix(std::string_view s, std::size_t pos, const Lead& lead) {
  std::size_t good = 1;
  while (good < lead.length && pos + good < s.size()) {
    const auto byte = static_cast<unsigned char>(s[pos + good]);
    const bool fits = good == 1 ? (byte >= lead.second_low && byte <= lead.second_high)
                                : (byte >= 0x80 && byte <= 0xBF);
    if (!fits) break;
    ++good;
  }
  return good;
}

}  // namespace

std::optional<char32_t> decodeUtf8(std::string_view s, std::size_t& pos) {
  if (pos >= s.size()) return std::nullopt;
  const auto first = static_cast<unsigned char>(s[pos]);
  const Lead lead = leadOf(first);
  if (lead.length == 0 || wellFormedPrefix(s, pos, lead) != lead.length) return std::nullopt;
  static constexpr unsigned char kLeadBits[] = {0, 0x7F, 0x1F, 0x0F, 0x07};
  char32_t cp = first & kLeadBits[lead.length];
  for (std::size_t k = 1; k < lead.length; ++k) {
    cp = (cp << 6) | (static_cast<unsigned char>(s[pos + k]) & 0x3Fu);
  }
  pos += lead.length;
  return cp;
}

bool isValidUtf8(std::string_view s) {
  std::size_t pos = 0;
  while (pos < s.size()) {
    if (!decodeUtf8(s, pos)) return false;
  }
  return true;
}

std::string toValidUtf8(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size());
  std::size_t pos = 0;
  while (pos < bytes.size()) {
    const Lead lead = leadOf(static_cast<unsigned char>(bytes[pos]));
    if (lead.length == 0) {
      out.append(kReplacement);
      ++pos;
      continue;
    }
    const std::size_t good = wellFormedPrefix(bytes, pos, lead);
    if (good == lead.length) {
      out.append(bytes.substr(pos, good));
    } else {
      out.append(kReplacement);  // the maximal subpart, whatever its length, becomes one U+FFFD
    }
    pos += good;
  }
  return out;
}

}  // namespace popgate
