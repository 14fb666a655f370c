#pragma once
// The popgate::Error a call throws, for tests that look at its kind and text (header only;
// Boost.Test must be included first).

#include <stdexcept>
#include <utility>

#include "connectors/common/Error.h"

namespace popgate::test {

// Runs `f`; returns the popgate::Error it throws. Fails the test when it throws none.
template <class F>
Error expectError(F&& f) {
  try {
    std::forward<F>(f)();
  } catch (const Error& e) {
    return e;
  }
  BOOST_FAIL("no popgate::Error was thrown");
  throw std::logic_error("unreachable");
}

}  // namespace popgate::test
