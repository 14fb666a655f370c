#pragma once
// From configuration to transport: where a configured server is and how to reach it. Shared by
// the POP3 source and the IMAP session opener, so neither reaches into the other.

#include <string>

#include "config/GatewayConfig.h"
#include "connectors/net/Transport.h"

namespace popgate::gateway {

// The transport endpoint of a configured server; `protocol` ("POP3", "IMAP") names it in errors.
net::Endpoint endpointOf(const config::ServerEndpoint& server, std::string protocol);

}  // namespace popgate::gateway
