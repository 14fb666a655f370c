#pragma once
// The OAuth keys of the configuration (docs/configuration.md "OAuth 2.0", docs/oauth.md):
// `provider:` and `tenant:` presets, and the `oauth:` section. Internal to config/; the loader
// calls these while it reads the target and each account.

#include <array>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "ConfigLoader.h"
#include "OAuthSettings.h"
#include "Parsed.h"
#include "YamlCursor.h"

namespace popgate::config {

// The keys of an `oauth:` section.
inline constexpr std::array<std::string_view, 9> kOAuthKeys{
    "token_url",          "client_id",         "client_secret",
    "client_secret_file", "client_secret_env", "refresh_token_file",
    "refresh_token_env",  "scope",             "ca_file"};

// Which kind of server a preset describes: the POP3 side of an account, the IMAP target, or a
// kind: gmail-api target (Google's token endpoint and the gmail.insert, gmail.labels and
// gmail.readonly scopes, whatever `provider:` says).
enum class ServerSide { Account, Target, GmailApi };

// How the loader turns a path value into a path (any path, or one that must be readable), and how
// it records a secret's source for the permission check (the file, or "" for an inline value).
struct PathRules {
  std::function<std::filesystem::path(const YamlCursor&)> resolve;
  std::function<std::filesystem::path(const YamlCursor&)> readable_file;
  std::function<void(const YamlCursor&, const std::filesystem::path&)> note_secret;
};

// `provider:` and `tenant:` among `settings` (both optional). Throws Error(Config) for an unknown
// provider, a tenant without `provider: microsoft365`, or a tenant that is not a tenant name.
struct ProviderChoice {
  Provider provider = Provider::None;
  std::string tenant;  // microsoft365: as written or "organizations"; outlook: "consumers"
};
ProviderChoice providerOf(const std::vector<YamlEntry>& settings);

// What a preset stands for on one side: the server and the token endpoint. Empty for None.
struct PresetValues {
  std::string host;
  std::string token_url;
  std::string scope;
};
PresetValues presetFor(const ProviderChoice& choice, ServerSide side);

// Fills in what `choice` presets and `settings` do not write — host and tls — and notes each in
// server.preset_filled ("host imap.gmail.com"). Returns whether the preset's auth (xoauth2) should
// apply: when `auth` is not written and the server has an oauth section or no password key (an
// app password keeps auth: auto). The port is noted by the caller once the tls rule set it.
bool applyPreset(const ProviderChoice& choice, ServerSide side,
                 const std::vector<YamlEntry>& settings, ServerEndpoint& server);

// The oauth section from `layers` (the server's own section first, then that of `defaults`),
// merged key by key: the first layer that writes a key wins, and client_secret* and
// refresh_token* each count as one key. With `complete`, token_url (unless the preset gives it)
// and client_id are required and the preset's scope applies when none is written; without it (a
// defaults section) only what is written is checked. Secrets are read here. Throws Error(Config).
OAuthSettings parseOAuth(const std::vector<YamlCursor>& layers, const PresetValues& preset,
                         const PathRules& paths, const EnvLookup& env, bool complete,
                         std::vector<std::string>* preset_filled = nullptr);

// A token_url: "https://host[:port]/path", or "http://" with a loopback IP address (127.0.0.0/8,
// ::1) for tests; no user:password@, no fragment, no spaces. The value is the URL as written.
Parsed<std::string> parseTokenUrl(std::string_view text);

}  // namespace popgate::config
