#pragma once
// Loopback ports for the servers the tests start.

namespace popgate::test {

// True when 127.0.0.1:port can be bound now (with SO_REUSEADDR, as servers bind). Never throws.
bool loopbackPortFree(int port);

}  // namespace popgate::test
