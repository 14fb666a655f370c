// OAuth 2.0 SASL responses and failure challenges.
//   XOAUTH2 (Google "OAuth 2.0 Mechanism", Microsoft "Authenticate an IMAP, POP or SMTP
//   connection using OAuth"):
//     initial-response = base64("user=" user %x01 "auth=Bearer " token %x01 %x01)
//   OAUTHBEARER (RFC 7628 §3.1):
//     client-resp = (gs2-header kvsep *kvpair kvsep) / kvsep
//     gs2-header  = gs2-cbind-flag "," [ authzid ] ","      ; here "n,a=" saslname ","
//     kvsep       = %x01
//     kvpair      = key "=" value kvsep                     ; host, port, auth
//     saslname    = 1*(UTF8-char-safe / "=2C" / "=3D")       ; RFC 5801 §4
//   JSON (RFC 8259 §2-7): object = { [ member *( , member ) ] }; member = string : value

#include "OAuthSasl.h"

#include <openssl/crypto.h>

#include "Sasl.h"

namespace popgate::codec {
namespace {

constexpr char kSep = '\x01';
constexpr std::size_t kMaxMembers = 64;

// Base64 of `message`, with `message` wiped afterwards (it holds the token).
std::string encodeAndWipe(std::string& message) {
  std::string encoded = base64Encode(message);
  OPENSSL_cleanse(message.data(), message.size());
  return encoded;
}

std::string saslName(std::string_view user) {
  std::string out;
  out.reserve(user.size());
  for (const char c : user) {
    if (c == ',') {
      out += "=2C";
    } else if (c == '=') {
      out += "=3D";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

// A cursor over JSON text.
class JsonReader {
 public:
  explicit JsonReader(std::string_view text) : text_(text) {}

  void skipSpace() {
    while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\t' ||
                                   text_[pos_] == '\n' || text_[pos_] == '\r')) {
      ++pos_;
    }
  }
  bool take(char c) {
    skipSpace();
    if (pos_ < text_.size() && text_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  bool atEnd() {
    skipSpace();
    return pos_ == text_.size();
  }
  char peek() {
    skipSpace();
    return pos_ < text_.size() ? text_[pos_] : '\0';
  }

  // A string: '"' chars '"'; escapes decoded, \uXXXX to UTF-8.
  std::optional<std::string> string() {
    if (!take('"')) return std::nullopt;
    std::string out;
    while (pos_ < text_.size()) {
      const char c = text_[pos_++];
      if (c == '"') return out;
      if (static_cast<unsigned char>(c) < 0x20) return std::nullopt;  // must be escaped
      if (c != '\\') {
        out.push_back(c);
        continue;
      }
      if (pos_ >= text_.size()) return std::nullopt;
      const char e = text_[pos_++];
      switch (e) {
        case '"': out.push_back('"'); break;
        case '\\': out.push_back('\\'); break;
        case '/': out.push_back('/'); break;
        case 'b': out.push_back('\b'); break;
        case 'f': out.push_back('\f'); break;
        case 'n': out.push_back('\n'); break;
        case 'r': out.push_back('\r'); break;
        case 't': out.push_back('\t'); break;
        case 'u':
          if (!unicodeEscape(out)) return std::nullopt;
          break;
        default: return std::nullopt;
      }
    }
    return std::nullopt;  // unterminated
  }

  // A number, true, false or null, as written.
  std::optional<std::string> scalar() {
    skipSpace();
    for (const std::string_view word : {"true", "false", "null"}) {
      if (text_.substr(pos_, word.size()) == word) {
        pos_ += word.size();
        return std::string(word);
      }
    }
    const std::size_t start = pos_;
    if (pos_ < text_.size() && text_[pos_] == '-') ++pos_;
    if (pos_ < text_.size() && text_[pos_] == '0') {
      ++pos_;
    } else if (!digits()) {
      return std::nullopt;
    }
    if (pos_ < text_.size() && text_[pos_] == '.') {
      ++pos_;
      if (!digits()) return std::nullopt;
    }
    if (pos_ < text_.size() && (text_[pos_] == 'e' || text_[pos_] == 'E')) {
      ++pos_;
      if (pos_ < text_.size() && (text_[pos_] == '+' || text_[pos_] == '-')) ++pos_;
      if (!digits()) return std::nullopt;
    }
    return std::string(text_.substr(start, pos_ - start));
  }

 private:
  bool digits() {
    const std::size_t start = pos_;
    while (pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9') ++pos_;
    return pos_ > start;
  }

  std::optional<unsigned> hex4() {
    if (pos_ + 4 > text_.size()) return std::nullopt;
    unsigned value = 0;
    for (int i = 0; i < 4; ++i) {
      const char c = text_[pos_++];
      value <<= 4;
      if (c >= '0' && c <= '9') {
        value |= static_cast<unsigned>(c - '0');
      } else if (c >= 'a' && c <= 'f') {
        value |= static_cast<unsigned>(c - 'a' + 10);
      } else if (c >= 'A' && c <= 'F') {
        value |= static_cast<unsigned>(c - 'A' + 10);
      } else {
        return std::nullopt;
      }
    }
    return value;
  }

  bool unicodeEscape(std::string& out) {
    auto first = hex4();
    if (!first) return false;
    unsigned code = *first;
    if (code >= 0xDC00 && code <= 0xDFFF) return false;  // a lone low surrogate
    if (code >= 0xD800 && code <= 0xDBFF) {
      if (text_.substr(pos_, 2) != "\\u") return false;
      pos_ += 2;
      auto low = hex4();
      if (!low || *low < 0xDC00 || *low > 0xDFFF) return false;
      code = 0x10000 + ((code - 0xD800) << 10) + (*low - 0xDC00);
    }
    if (code < 0x80) {
      out.push_back(static_cast<char>(code));
    } else if (code < 0x800) {
      out.push_back(static_cast<char>(0xC0 | (code >> 6)));
      out.push_back(static_cast<char>(0x80 | (code & 0x3F)));
    } else if (code < 0x10000) {
      out.push_back(static_cast<char>(0xE0 | (code >> 12)));
      out.push_back(static_cast<char>(0x80 | ((code >> 6) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (code & 0x3F)));
    } else {
      out.push_back(static_cast<char>(0xF0 | (code >> 18)));
      out.push_back(static_cast<char>(0x80 | ((code >> 12) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | ((code >> 6) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (code & 0x3F)));
    }
    return true;
  }

  std::string_view text_;
  std::size_t pos_ = 0;
};

}  // namespace

std::string saslXoauth2(std::string_view user, std::string_view token) {
  std::string message;
  message.reserve(user.size() + token.size() + 20);
  message.append("user=").append(user).push_back(kSep);
  message.append("auth=Bearer ").append(token).push_back(kSep);
  message.push_back(kSep);
  return encodeAndWipe(message);
}

std::string saslOauthBearer(std::string_view user, std::string_view token, std::string_view host,
                            std::uint16_t port) {
  std::string message = "n,a=" + saslName(user) + ",";
  message.push_back(kSep);
  if (!host.empty()) {
    message.append("host=").append(host).push_back(kSep);
    if (port != 0) message.append("port=").append(std::to_string(port)).push_back(kSep);
  }
  message.append("auth=Bearer ").append(token).push_back(kSep);
  message.push_back(kSep);
  return encodeAndWipe(message);
}

std::string OAuthFailure::status() const {
  const auto it = fields.find("status");
  return it == fields.end() ? std::string() : it->second;
}

std::optional<std::map<std::string, std::string>> parseFlatJsonObject(std::string_view json) {
  JsonReader in(json);
  std::map<std::string, std::string> out;
  if (!in.take('{')) return std::nullopt;
  if (in.take('}')) return in.atEnd() ? std::optional(out) : std::nullopt;
  for (;;) {
    auto name = in.string();
    if (!name || !in.take(':')) return std::nullopt;
    auto value = in.peek() == '"' ? in.string() : in.scalar();
    if (!value || out.count(*name) != 0 || out.size() == kMaxMembers) return std::nullopt;
    out.emplace(std::move(*name), std::move(*value));
    if (in.take(',')) continue;
    if (!in.take('}')) return std::nullopt;
    break;
  }
  if (!in.atEnd()) return std::nullopt;
  return out;
}

std::optional<OAuthFailure> parseOAuthFailure(std::string_view challenge) {
  while (!challenge.empty() && (challenge.back() == ' ' || challenge.back() == '\r')) {
    challenge.remove_suffix(1);
  }
  auto decoded = base64Decode(challenge);
  if (!decoded) return std::nullopt;
  std::string text = std::move(*decoded);
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  std::size_t first = 0;
  while (first < text.size() && (text[first] == ' ' || text[first] == '\t')) ++first;
  if (first == text.size() || text[first] != '{' || text.back() != '}') return std::nullopt;
  OAuthFailure failure;
  if (auto fields = parseFlatJsonObject(text)) failure.fields = std::move(*fields);
  failure.text = std::move(text);
  return failure;
}

}  // namespace popgate::codec
