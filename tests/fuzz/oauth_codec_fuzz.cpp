// Fuzz target: the OAuth codecs of codec/OAuthSasl.h and codec/UrlForm.h. Input (see
// make-seeds.py): the whole input is a JSON candidate, a failure challenge's decoded text, a
// query, and (split at its first NUL) a user and a token.
// Checks, beyond "no crash, no sanitizer report":
//  - parseFlatJsonObject: what it accepts, written back with escapes here, parses to the same
//    members (so escapes, \u sequences and numbers are read as written);
//  - parseOAuthFailure(base64(input)) accepts exactly inputs that, without trailing line ends,
//    start (after blanks) with "{" and end with "}", and keeps that text;
//  - saslXoauth2 / saslOauthBearer decode to exactly the documented layout for any user and token;
//  - parseQuery: formEncode of what it parsed parses back to the same fields;
//  - base64UrlEncode never writes "+", "/" or "=".

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "FuzzSupport.h"
#include "connectors/codec/OAuthSasl.h"
#include "connectors/codec/Sasl.h"
#include "connectors/codec/UrlForm.h"

namespace {

namespace codec = popgate::codec;
using popgate::fuzz::check;

std::string jsonString(std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "\"";
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (byte < 0x20) {
      out += "\\u00";
      out += kHex[byte >> 4];
      out += kHex[byte & 0xF];
    } else {
      out += c;
    }
  }
  return out + "\"";
}

void checkJson(std::string_view input) {
  const auto members = codec::parseFlatJsonObject(input);
  if (!members) return;
  // Written back with every value as a string: the members must come back as they were read.
  std::string written = "{";
  for (const auto& [name, value] : *members) {
    if (written.size() > 1) written += ",";
    written += jsonString(name) + ":" + jsonString(value);
  }
  written += "}";
  const auto again = codec::parseFlatJsonObject(written);
  check(again.has_value(), "written-back JSON parses", written);
  check(*again == *members, "written-back JSON has the same members", written);
}

void checkFailure(std::string_view input) {
  const auto failure = codec::parseOAuthFailure(codec::base64Encode(input));
  std::string_view text = input;
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.remove_suffix(1);
  std::size_t first = 0;
  while (first < text.size() && (text[first] == ' ' || text[first] == '\t')) ++first;
  const bool object = first < text.size() && text[first] == '{' && text.back() == '}';
  check(failure.has_value() == object, "parseOAuthFailure accepts exactly {...}", std::string(input));
  if (failure) check(failure->text == text, "parseOAuthFailure keeps the text", std::string(input));
}

void checkSasl(std::string_view input) {
  const std::size_t nul = input.find('\0');
  const std::string_view user = input.substr(0, nul);
  const std::string_view token = nul == std::string_view::npos ? std::string_view() : input.substr(nul + 1);
  const auto xoauth2 = codec::base64Decode(codec::saslXoauth2(user, token));
  check(xoauth2.has_value() &&
            *xoauth2 == "user=" + std::string(user) + "\x01" "auth=Bearer " + std::string(token) + "\x01\x01",
        "XOAUTH2 layout");
  std::string name;
  for (const char c : user) name += c == ',' ? "=2C" : c == '=' ? "=3D" : std::string(1, c);
  const auto bearer = codec::base64Decode(codec::saslOauthBearer(user, token, "h", 993));
  check(bearer.has_value() && *bearer == "n,a=" + name + ",\x01host=h\x01port=993\x01" "auth=Bearer " +
                                             std::string(token) + "\x01\x01",
        "OAUTHBEARER layout");
}

void checkQuery(std::string_view input) {
  const auto fields = codec::parseQuery(input);
  if (fields) {
    codec::FormFields kept;
    for (const auto& field : *fields) kept.push_back(field);
    const auto again = codec::parseQuery(codec::formEncode(kept));
    check(again.has_value() && *again == kept, "formEncode(parseQuery(x)) parses back", std::string(input));
  }
  const std::string url = codec::base64UrlEncode(input);
  check(url.find_first_of("+/=") == std::string::npos, "base64url alphabet", url);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  checkJson(input);
  checkFailure(input);
  checkSasl(input);
  checkQuery(input);
  return 0;
}
