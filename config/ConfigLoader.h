#pragma once
// Reads a popgate YAML file (docs/configuration.md) into a validated GatewayConfig.

#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "GatewayConfig.h"

namespace popgate::config {

// How environment variables are looked up (password_env); tests pass their own.
using EnvLookup = std::function<std::optional<std::string>(const std::string& name)>;
// The process environment (getenv).
EnvLookup processEnv();

// Loads and validates `file`. Throws popgate::Error(Config) whose text is one or two lines:
// "FILE:LINE: KEY.PATH: what is wrong" (LINE is 1-based and omitted when unknown), e.g.
// "gw.yaml:7: accounts[0].polll_interval: unknown key (did you mean poll_interval?)".
// Secrets (password_file, password_env, admin.token_file) are read here: a missing one is an error.
GatewayConfig loadConfig(const std::filesystem::path& file, const EnvLookup& env = processEnv());

// The same, from YAML text; `name` stands in for the file name in messages, and relative paths
// (password_file, ca_file, state_dir...) resolve against `base_dir`.
GatewayConfig loadConfigText(const std::string& yaml, const std::string& name,
                             const std::filesystem::path& base_dir, const EnvLookup& env);

// A human summary for `popgate check`: target, accounts, intervals, folders, where secrets come
// from (never their values), then the warnings() lines. Several lines, each ending in "\n".
std::string describe(const GatewayConfig& cfg);

// Settings that are allowed but deserve a second look, one line each without a newline: passwords
// sent in plaintext (tls: none), an admin endpoint without a token or with a short one, secret
// files (or a config with an inline password) that other users can read, very short intervals.
std::vector<std::string> warnings(const GatewayConfig& cfg);

// For run and once: throws Error(Config) "FILE:LINE: KEY: PATH is readable by other users (mode
// 0644): chmod 600 it, or set allow_readable_secrets: true" for the first secret file the group
// or others may read, unless the configuration says allow_readable_secrets: true.
void requirePrivateSecrets(const GatewayConfig& cfg);

}  // namespace popgate::config
