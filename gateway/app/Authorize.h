#pragma once
// `popgate authorize --config FILE (--account NAME | --target)`: gets the first refresh token of
// an OAuth login by the flow its provider allows and stores it in state_dir (docs/oauth.md
// "popgate authorize"). Microsoft (microsoft365, outlook): the device authorization grant. Google
// (gmail): the loopback redirect with PKCE. Other token endpoints: --flow device | loopback.

#include <cstdint>
#include <iosfwd>
#include <string>

#include "config/GatewayConfig.h"

namespace popgate::gateway {

struct AuthorizeOptions {
  std::string account;      // --account NAME
  bool target = false;      // --target
  std::string target_name;  // --target NAME, for a target under `targets:`
  std::uint16_t port = 0;   // --port for the loopback redirect; 0: any free port
  std::string flow;         // --flow device | loopback; "" chooses by provider
  std::string device_url;   // --device-url: the device authorization endpoint
  std::string auth_url;     // --auth-url: the authorization endpoint
};

// Runs the flow, talking to the user on `out` (and reading a pasted redirect from stdin), and
// stores the refresh token. Returns 0. Throws Error(Config) for an unusable choice (no such
// account, no OAuth login, no flow known), Error(Auth) when the provider refuses or no refresh
// token comes back (with the likely cause), Error(Transient) when it cannot be reached.
int runAuthorize(const config::GatewayConfig& cfg, const AuthorizeOptions& options,
                 std::ostream& out);

}  // namespace popgate::gateway
