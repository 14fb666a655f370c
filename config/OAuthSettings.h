#pragma once
// The OAuth 2.0 side of a server's configuration (docs/oauth.md): where access tokens come from,
// and which provider preset filled in what. Plain data, checked by the config loader.

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "Secret.h"

namespace popgate::config {

// `provider:` presets (docs/configuration.md "Provider presets").
enum class Provider { None, Gmail, Microsoft365, Outlook };

// "gmail", "microsoft365", "outlook" ("" for None).
std::string_view providerName(Provider provider) noexcept;

// The `oauth:` section of an account or the target.
struct OAuthSettings {
  std::string token_url;  // https://..., or http:// to a loopback address (tests)
  std::string client_id;
  Secret client_secret;   // empty: a public client, which must not send one
  std::string client_secret_source;  // "client_secret_file /run/secrets/x", ...; "" when none
  // The first refresh token, when configured; the state_dir store holds later (rotated or
  // authorized) ones and wins while this one is unchanged (docs/oauth.md "Refresh tokens").
  Secret refresh_token;
  std::string refresh_token_source;  // "refresh_token_file /run/...", "refresh_token_env X" or ""
  // When refresh_token_file was last written (Google's 7-day Testing-mode hint); none for env.
  std::optional<std::chrono::system_clock::time_point> refresh_token_written;
  std::string scope;                             // space-separated; may be empty
  std::optional<std::filesystem::path> ca_file;  // extra trust anchor for token_url
};

// Whether two settings ask for the same tokens (secrets compared too).
bool sameOAuth(const std::optional<OAuthSettings>& a, const std::optional<OAuthSettings>& b);

}  // namespace popgate::config
