#pragma once
// `popgate health`: asks the running daemon's admin endpoint whether it is alive, so a container
// HEALTHCHECK needs no curl in the image.

#include <chrono>
#include <cstdint>
#include <string>

namespace popgate::gateway::admin {

// GET http://host:port/healthz. Returns 0 when it answers 200 within about `timeout`, else 1 after
// printing one line to stderr saying why. A wildcard host (0.0.0.0, ::) is probed on loopback
// (127.0.0.1, ::1). Never throws.
int probeHealth(const std::string& host, std::uint16_t port, std::chrono::seconds timeout);

}  // namespace popgate::gateway::admin
