#pragma once
// A secret string (password, token) that cannot be printed by accident: no stream operator, no
// implicit conversion. reveal() is the one way out and is greppable.

#include <string>
#include <string_view>

namespace popgate::config {

class Secret {
 public:
  Secret() = default;
  explicit Secret(std::string value) : value_(std::move(value)) {}
  // The secret itself: only for the wire (PASS, LOGIN, AUTHENTICATE) and constant-time compares.
  std::string_view reveal() const noexcept { return value_; }
  bool empty() const noexcept { return value_.empty(); }

 private:
  std::string value_;
};

}  // namespace popgate::config
