#pragma once
// An environment of the test's own for the config loader (password_env, refresh_token_env...).

#include <map>
#include <optional>
#include <string>

#include "config/ConfigLoader.h"

namespace popgate::test {

// Looks variables up in `vars` only; every other name is unset.
inline config::EnvLookup envOf(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](const std::string& name) -> std::optional<std::string> {
    const auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

}  // namespace popgate::test
