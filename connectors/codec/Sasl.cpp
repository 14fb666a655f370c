// SASL helpers.
//   base64 (RFC 4648 §4): 4 characters of "A-Za-z0-9+/" per 3 octets; the last group padded
//     with "=" ("xx==" for 1 octet, "xxx=" for 2); decoders here accept canonical input only
//     (§3.5: unused pad bits must be zero).
//   PLAIN (RFC 4616 §2): message = [authzid] UTF8NUL authcid UTF8NUL passwd

#include "Sasl.h"

#include <openssl/crypto.h>

#include <array>
#include <cstdint>

namespace popgate::codec {
namespace {

constexpr std::string_view kAlphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr std::uint8_t kInvalid = 0xFF;

constexpr std::array<std::uint8_t, 256> makeDecodeTable() {
  std::array<std::uint8_t, 256> table{};
  for (auto& entry : table) entry = kInvalid;
  for (std::size_t i = 0; i < kAlphabet.size(); ++i) {
    table[static_cast<unsigned char>(kAlphabet[i])] = static_cast<std::uint8_t>(i);
  }
  return table;
}
constexpr std::array<std::uint8_t, 256> kDecode = makeDecodeTable();

std::uint32_t octet(std::string_view bytes, std::size_t i) {
  return static_cast<unsigned char>(bytes[i]);
}

char sextet(std::uint32_t group, int shift) {
  return kAlphabet[(group >> shift) & 0x3F];
}

}  // namespace

std::string base64Encode(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    const std::uint32_t group =
        (octet(bytes, i) << 16) | (octet(bytes, i + 1) << 8) | octet(bytes, i + 2);
    out.push_back(sextet(group, 18));
    out.push_back(sextet(group, 12));
    out.push_back(sextet(group, 6));
    out.push_back(sextet(group, 0));
  }
  const std::size_t left = bytes.size() - i;
  if (left == 1) {
    const std::uint32_t group = octet(bytes, i) << 16;
    out.push_back(sextet(group, 18));
    out.push_back(sextet(group, 12));
    out.append("==");
  } else if (left == 2) {
    const std::uint32_t group = (octet(bytes, i) << 16) | (octet(bytes, i + 1) << 8);
    out.push_back(sextet(group, 18));
    out.push_back(sextet(group, 12));
    out.push_back(sextet(group, 6));
    out.push_back('=');
  }
  return out;
}

std::optional<std::string> base64Decode(std::string_view text) {
  if (text.size() % 4 != 0) return std::nullopt;
  std::string out;
  out.reserve(text.size() / 4 * 3);
  for (std::size_t i = 0; i < text.size(); i += 4) {
    const bool last = i + 4 == text.size();
    // "=" only in the last group, as "xx==" or "xxx=".
    std::size_t pad = 0;
    if (last && text[i + 3] == '=') pad = text[i + 2] == '=' ? 2 : 1;
    std::uint32_t group = 0;
    for (std::size_t k = 0; k < 4; ++k) {
      const std::uint8_t value =
          k < 4 - pad ? kDecode[static_cast<unsigned char>(text[i + k])] : std::uint8_t{0};
      if (value == kInvalid) return std::nullopt;  // also catches a misplaced "="
      group = (group << 6) | value;
    }
    out.push_back(static_cast<char>((group >> 16) & 0xFF));
    if (pad == 2) {
      if ((group & 0xFFFF) != 0) return std::nullopt;  // non-zero pad bits: not canonical
      break;
    }
    out.push_back(static_cast<char>((group >> 8) & 0xFF));
    if (pad == 1) {
      if ((group & 0xFF) != 0) return std::nullopt;
      break;
    }
    out.push_back(static_cast<char>(group & 0xFF));
  }
  return out;
}

std::string saslPlain(std::string_view authcid, std::string_view password,
                      std::string_view authzid) {
  std::string message;
  message.reserve(authzid.size() + authcid.size() + password.size() + 2);
  message.append(authzid);
  message.push_back('\0');
  message.append(authcid);
  message.push_back('\0');
  message.append(password);
  std::string encoded = base64Encode(message);
  OPENSSL_cleanse(message.data(), message.size());  // the clear password does not linger
  return encoded;
}

}  // namespace popgate::codec
