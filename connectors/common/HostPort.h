#pragma once
// "host:port" as people and URLs write it: an IPv6 literal goes in brackets ("[::1]:8025").

#include <cstdint>
#include <string>
#include <string_view>

namespace popgate {

inline std::string hostPort(std::string_view host, std::uint16_t port) {
  const bool ipv6 = host.find(':') != std::string_view::npos;
  std::string out = ipv6 ? "[" + std::string(host) + "]" : std::string(host);
  return out + ":" + std::to_string(port);
}

}  // namespace popgate
