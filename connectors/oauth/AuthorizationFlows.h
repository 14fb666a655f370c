#pragma once
// The two ways `popgate authorize` gets a first refresh token (docs/oauth.md "popgate authorize"):
//  - the device authorization grant (RFC 8628), which Microsoft allows for mail: show a URL and a
//    code, poll the token endpoint until the user has signed in elsewhere;
//  - the authorization code grant with PKCE (RFC 7636) and a loopback redirect (RFC 8252 §7.3),
//    which Google requires for mail scopes: show the URL, take the browser's redirect on
//    127.0.0.1, or the redirected address pasted on stdin (a host without a browser).
// Provider errors are shown in the provider's words with their likely cause.

#include <chrono>
#include <cstdint>
#include <functional>
#include <iosfwd>
#include <string>

#include "TokenEndpoint.h"

namespace popgate::oauth {

// What both flows send about the client.
struct ClientSettings {
  std::string client_id;
  Secret client_secret;  // empty for a public client
  std::string scope;
};

// Waits between device polls (the real one sleeps; tests may pass their own).
using Sleeper = std::function<void(std::chrono::seconds)>;

// RFC 8628: POSTs to `device` (client_id, scope[, client_secret]), prints the verification URI and
// the user code to `out`, then polls `token` every `interval` seconds (5 when not given; 5 more
// after each slow_down) until the user approved, declined, or the code expired. Returns the grant.
// Throws Error(Auth) for a declined or expired sign-in and any refusal (in the provider's words),
// Error(Transient) when an endpoint cannot be reached, Error(Protocol) for a device answer
// without its fields.
TokenGrant runDeviceGrant(const TokenEndpoint& device, const TokenEndpoint& token,
                          const ClientSettings& client, std::ostream& out,
                          const Sleeper& sleep = {});

// Where the loopback flow listens and how long it waits.
struct LoopbackSettings {
  std::string authorization_url;  // e.g. https://accounts.google.com/o/oauth2/v2/auth
  std::uint16_t port = 0;         // on 127.0.0.1; 0: any free port
  std::string login_hint;         // the account's user name, to preselect it ("" for none)
  int input_fd = 0;               // where a pasted redirect URL may arrive (stdin); -1: none
  std::chrono::seconds timeout{600};
};

// RFC 7636 + RFC 8252: listens on 127.0.0.1, prints the authorization URL (S256 challenge, a
// random state, access_type=offline and prompt=consent so that a refresh token comes back), and
// takes the first redirect that carries a code or an error, from the browser or pasted on
// `input_fd`. Checks the state, then exchanges the code with the verifier at `token`. Throws
// Error(Auth) when the provider refuses, Error(Security) for a state that does not match,
// Error(Transient) on timeout, Error(Config) when the port cannot be bound.
TokenGrant runLoopbackGrant(const TokenEndpoint& token, const ClientSettings& client,
                            const LoopbackSettings& settings, std::ostream& out);

}  // namespace popgate::oauth
