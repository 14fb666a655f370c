#pragma once
// DNS rebinding defence for the admin endpoint: a web page can point a name of its own at
// 127.0.0.1 and make the victim's browser send requests there, but the Host header then carries
// the attacker's name. Only names that belong to the endpoint are served.

#include <string>
#include <string_view>
#include <vector>

namespace popgate::gateway::admin {

class HostCheck {
 public:
  // `listen_host` as configured (IPv6 without brackets); `allowed_hosts` the extra names
  // (admin.allowed_hosts).
  HostCheck(std::string listen_host, std::vector<std::string> allowed_hosts);

  // True when the Host header value `host` ("name", "name:port", "192.0.2.1:8025", "[::1]:8025";
  // the port is not compared: published ports differ) names this endpoint: an IP literal equal to
  // the listen address (any one when it is a wildcard, any loopback one when it is loopback),
  // "localhost" when it listens on loopback or a wildcard, the listen host name, or an allowed
  // name (names without case, a trailing dot ignored). False for anything malformed.
  bool allows(std::string_view host) const;

 private:
  std::string listen_host_;
  std::vector<std::string> allowed_hosts_;
  bool wildcard_ = false;
  bool loopback_ = false;
};

}  // namespace popgate::gateway::admin
