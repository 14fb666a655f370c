#include "StatusPage.h"

#include <string_view>

#include "connectors/codec/Sasl.h"
#include "connectors/codec/Sha256.h"
#include "connectors/common/Error.h"

namespace popgate::gateway::admin {

// Generated from StatusPage.html by CMake (StatusPageHtml.cpp in the build tree).
extern const char* const kStatusPageHtml;

namespace {

// The text between `open` and the next "</tag>" (the first such element of the page).
std::string_view inlineContent(std::string_view html, std::string_view open, std::string_view close) {
  const std::size_t start = html.find(open);
  if (start == std::string_view::npos) {
    throw Error(ErrorKind::Internal, "status page: no " + std::string(open));
  }
  const std::size_t body = start + open.size();
  const std::size_t end = html.find(close, body);
  if (end == std::string_view::npos) {
    throw Error(ErrorKind::Internal, "status page: no " + std::string(close));
  }
  return html.substr(body, end - body);
}

// A CSP source expression for exactly `content`: 'sha256-<base64 of the digest>'.
std::string hashSource(std::string_view content) {
  codec::Sha256 sha;
  sha.update(content);
  const std::string hex = sha.hex();
  std::string digest;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2) {
    digest.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  }
  return "'sha256-" + codec::base64Encode(digest) + "'";
}

std::string buildPolicy() {
  const std::string_view html = statusPageHtml();
  return "default-src 'none'; script-src " + hashSource(inlineContent(html, "<script>", "</script>")) +
         "; style-src " + hashSource(inlineContent(html, "<style>", "</style>")) +
         "; connect-src 'self'; img-src data:; base-uri 'none'; form-action 'none'; "
         "frame-ancestors 'none'";
}

}  // namespace

const std::string& statusPageHtml() {
  static const std::string html(kStatusPageHtml);
  return html;
}

const std::string& statusPagePolicy() {
  static const std::string policy = buildPolicy();
  return policy;
}

}  // namespace popgate::gateway::admin
