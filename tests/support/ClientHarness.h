#pragma once
// For client tests against a ScriptedServer: the endpoint that reaches it, and the popgate::Error
// a call must throw.

#include <chrono>
#include <stdexcept>

#include <boost/test/unit_test.hpp>

#include "connectors/common/Error.h"
#include "connectors/common/TlsMode.h"
#include "connectors/net/Transport.h"
#include "tests/support/ScriptedServer.h"
#include "tests/support/TestCerts.h"

namespace popgate::test {

// `srv` as a client configured with host "localhost" reaches it: its port, `tls`, the test CA
// (TestCerts) as the extra trust anchor, and `timeout` for each step.
inline net::Endpoint endpoint(const ScriptedServer& srv, TlsMode tls = TlsMode::None,
                              std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
  net::Endpoint e;
  e.host = "localhost";
  e.port = srv.port();
  e.tls = tls;
  e.ca_file = TestCerts::caFile();
  e.timeout = timeout;
  return e;
}

// Runs `f` and returns the popgate::Error it throws; ends the test case as failed if it throws
// none (another exception propagates and fails the case too).
template <class F>
Error expectError(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e;
  }
  BOOST_FAIL("no popgate::Error was thrown");
  throw std::logic_error("unreachable");
}

}  // namespace popgate::test
