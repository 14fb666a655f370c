#pragma once
// A one-shot HTTP client for the daemon's own admin endpoint (`popgate health`, `popgate status`),
// so the commands need no curl in the image.

#include <chrono>
#include <cstdint>
#include <string>

#include "connectors/common/Secret.h"

namespace popgate::gateway::admin {

// What the endpoint answered.
struct AdminAnswer {
  int status = 0;
  std::string reason;
  std::string body;  // at most kMaxAdminBody bytes
};

// The largest body askAdmin() reads.
inline constexpr std::size_t kMaxAdminBody = 16 * 1024 * 1024;

// GET http://host:port<path>, with "Authorization: Bearer <token>" when `token` is not empty, all
// within about `timeout`. A wildcard host (0.0.0.0, ::) is asked on loopback (127.0.0.1, ::1).
// Throws Error(Transient) naming the URL and why when no answer comes (refused, timed out,
// broken); never puts the token in a message.
AdminAnswer askAdmin(const std::string& host, std::uint16_t port, const std::string& path,
                     const Secret& token, std::chrono::seconds timeout);

}  // namespace popgate::gateway::admin
