#pragma once
// Free ports on 127.0.0.1 for test servers (the Dovecot and PostgreSQL sandboxes, the interop servers).

#include <cstdint>
#include <initializer_list>
#include <random>

namespace popgate::test {

// True when 127.0.0.1:port can be bound now (with SO_REUSEADDR, as servers bind).
bool portFree(int port);

// A random base in 20000..30999 such that base + every offset is free right now. Every port then
// stays below 32768, where Linux starts picking ephemeral ports, so no outgoing connection of
// another test can take one between this check and the server's bind (a server started by another
// test still can: callers retry another base when the start fails with "Address already in use").
// Throws std::runtime_error when none is found.
std::uint16_t pickBasePort(std::mt19937& rng, std::initializer_list<int> offsets);

}  // namespace popgate::test
