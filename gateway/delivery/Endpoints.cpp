#include "Endpoints.h"

namespace popgate::gateway {

net::Endpoint endpointOf(const config::ServerEndpoint& server, std::string protocol) {
  net::Endpoint e;
  e.protocol = std::move(protocol);
  e.host = server.host;
  e.port = server.port;
  e.tls = server.tls;
  e.ca_file = server.ca_file;
  e.timeout = std::chrono::duration_cast<std::chrono::milliseconds>(server.timeout);
  return e;
}

}  // namespace popgate::gateway
