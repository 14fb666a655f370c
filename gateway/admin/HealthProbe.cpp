#include "HealthProbe.h"

#include <iostream>

#include "AdminClient.h"
#include "connectors/common/Error.h"

namespace popgate::gateway::admin {

int probeHealth(const std::string& host, std::uint16_t port, std::chrono::seconds timeout) {
  try {
    const AdminAnswer answer = askAdmin(host, port, "/healthz", Secret(), timeout);
    if (answer.status != 200) {
      std::cerr << "popgate health: /healthz answered " << answer.status << " " << answer.reason
                << '\n';
      return 1;
    }
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "popgate health: " << e.what() << '\n';
    return 1;
  }
}

}  // namespace popgate::gateway::admin
