#pragma once
// The result of checking a value the administrator wrote: the value, or why the text is not one.

#include <optional>
#include <string>

namespace popgate::config {

// `value` on success; otherwise `error` says what is wrong ("unknown unit 'd' in '5d'; ..."),
// ready to follow "FILE:LINE: KEY: ". Never holds a secret.
template <typename T>
struct Parsed {
  std::optional<T> value;
  std::string error;
};

}  // namespace popgate::config
