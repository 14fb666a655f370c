#include "Printable.h"

#include "Secret.h"

namespace popgate {

std::string printable(std::string_view raw, std::size_t max) {
  static constexpr char kHex[] = "0123456789abcdef";
  const std::string text = redactSecrets(raw);
  std::string out;
  out.reserve(text.size() < max ? text.size() : max);
  for (const char c : text) {
    if (out.size() >= max) {
      out += "...";
      break;
    }
    const auto u = static_cast<unsigned char>(c);
    if ((u >= 0x20 && u != 0x7f) || c == '\t') {
      out += c;
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += "\\x";
      out += kHex[u >> 4];
      out += kHex[u & 0xf];
    }
  }
  return out;
}

}  // namespace popgate
