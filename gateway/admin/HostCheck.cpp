#include "HostCheck.h"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <optional>

#include "connectors/common/Ascii.h"

namespace popgate::gateway::admin {

namespace {

constexpr std::size_t kMaxHostBytes = 255;

// An IP literal in a form that compares by value: family and the 16 bytes of the address (IPv4
// as IPv4-mapped IPv6).
struct IpAddress {
  std::array<unsigned char, 16> bytes{};

  bool operator==(const IpAddress&) const = default;
  bool isWildcard() const {
    static const IpAddress any4 = *parse("0.0.0.0");
    return std::all_of(bytes.begin(), bytes.end(), [](unsigned char b) { return b == 0; }) ||
           *this == any4;
  }
  bool isLoopback() const {
    static const IpAddress v6 = *parse("::1");
    static const IpAddress v4 = *parse("127.0.0.1");
    return *this == v6 || std::equal(bytes.begin(), bytes.begin() + 13, v4.bytes.begin());
  }

  static std::optional<IpAddress> parse(const std::string& text) {
    IpAddress ip;
    in_addr v4{};
    if (::inet_pton(AF_INET, text.c_str(), &v4) == 1) {
      ip.bytes[10] = 0xff;
      ip.bytes[11] = 0xff;
      std::memcpy(ip.bytes.data() + 12, &v4, 4);
      return ip;
    }
    in6_addr v6{};
    if (::inet_pton(AF_INET6, text.c_str(), &v6) == 1) {
      std::memcpy(ip.bytes.data(), &v6, 16);
      return ip;
    }
    return std::nullopt;
  }
};

bool allDigits(std::string_view text) {
  return !text.empty() && text.size() <= 5 &&
         std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// The host part of a Host header value without its port; nullopt when malformed.
std::optional<std::string> hostPart(std::string_view value) {
  if (value.empty() || value.size() > kMaxHostBytes) return std::nullopt;
  std::string_view host;
  if (value.front() == '[') {
    const std::size_t close = value.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    const std::string_view rest = value.substr(close + 1);
    if (!rest.empty() && !(rest.front() == ':' && allDigits(rest.substr(1)))) return std::nullopt;
    host = value.substr(1, close - 1);
    if (!IpAddress::parse(std::string(host))) return std::nullopt;  // brackets hold IPv6 only
  } else {
    const std::size_t colon = value.find(':');
    if (colon != std::string_view::npos) {
      if (!allDigits(value.substr(colon + 1))) return std::nullopt;  // also a bare IPv6 literal
      value = value.substr(0, colon);
    }
    host = value;
  }
  if (!host.empty() && host.back() == '.') host.remove_suffix(1);
  if (host.empty()) return std::nullopt;
  return std::string(host);
}

// A DNS name as far as the Host check cares: letters, digits, '-', '_' and '.'.
bool isName(std::string_view host) {
  return std::all_of(host.begin(), host.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_';
  });
}

}  // namespace

HostCheck::HostCheck(std::string listen_host, std::vector<std::string> allowed_hosts)
    : listen_host_(std::move(listen_host)), allowed_hosts_(std::move(allowed_hosts)) {
  if (const auto ip = IpAddress::parse(listen_host_)) {
    wildcard_ = ip->isWildcard();
    loopback_ = ip->isLoopback();
  } else {
    loopback_ = equalsNoCase(listen_host_, "localhost");
  }
}

bool HostCheck::allows(std::string_view header) const {
  const auto host = hostPart(header);
  if (!host) return false;
  if (const auto ip = IpAddress::parse(*host)) {
    if (wildcard_) return true;
    if (loopback_ && ip->isLoopback()) return true;
    const auto listen = IpAddress::parse(listen_host_);
    return listen && *listen == *ip;
  }
  if (!isName(*host)) return false;
  if (equalsNoCase(*host, "localhost")) return wildcard_ || loopback_;
  if (equalsNoCase(*host, listen_host_)) return true;
  return std::any_of(allowed_hosts_.begin(), allowed_hosts_.end(),
                     [&](const std::string& name) { return equalsNoCase(*host, name); });
}

}  // namespace popgate::gateway::admin
