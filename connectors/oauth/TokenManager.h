#pragma once
// Access tokens for every OAuth credential of the process (docs/oauth.md "Tokens"): each cached
// until shortly before it expires, refreshed with the refresh token at most one refresh at a time
// per credential (several upload sessions log in at once), refreshed once more when a server
// refuses it, and a rotated refresh token stored in state_dir before it is used. Thread-safe.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "TokenEndpoint.h"
#include "TokenStore.h"
#include "connectors/common/Error.h"

namespace popgate::oauth {

using SystemTime = std::chrono::system_clock::time_point;

// One credential: whose tokens, from where. The secrets are never logged.
struct CredentialSpec {
  std::string id;              // names the stored refresh token and the status: "account-work", "target"
  std::string label;           // for messages: "work", "target"
  std::string authorize_args;  // what `popgate authorize` needs besides --config: "--account work"
  EndpointSettings endpoint;
  std::string client_id;
  Secret client_secret;        // empty for a public client
  std::string scope;
  Secret configured_refresh_token;  // the first refresh token; empty when none is configured
  std::optional<SystemTime> configured_written;  // when it was written (refresh_token_file's mtime)
  bool google = false;         // Google's Testing-mode 7-day hint applies
};

// What /status and /metrics show of a credential.
struct CredentialStatus {
  std::string id;
  std::optional<SystemTime> access_token_expires;
  std::optional<SystemTime> last_refresh;           // the last successful refresh
  std::optional<SystemTime> refresh_token_rotated;  // the last rotation stored
  std::uint64_t refresh_failures = 0;               // since the process started
};

class TokenManager {
 public:
  // Gets tokens for a credential from its endpoint (the default posts to spec.endpoint).
  using Refresher =
      std::function<TokenGrant(const CredentialSpec& spec, const Secret& refresh_token)>;
  using Clock = std::function<SystemTime()>;

  // Refresh tokens live in state_dir/oauth. Tests pass their own refresher and clock.
  explicit TokenManager(const std::filesystem::path& state_dir, Refresher refresher = {},
                        Clock clock = {});
  ~TokenManager();
  TokenManager(const TokenManager&) = delete;
  TokenManager& operator=(const TokenManager&) = delete;

  // The access token for `spec`: the cached one while it has more than refreshMargin() left,
  // else a fresh one (threads asking meanwhile wait for it; when that refresh fails they get the
  // same error without asking the endpoint again). Throws Error(Auth) when the refresh token is
  // refused (quoting the endpoint, saying what to do) or none is known yet, Error(Transient) for
  // endpoint trouble, Error(Internal) when a rotated refresh token cannot be stored.
  Secret accessToken(const CredentialSpec& spec);
  // A server refused `token`: the next accessToken() refreshes (unless another thread already
  // did, so that many refused sessions cost one refresh).
  void invalidate(const CredentialSpec& spec, const Secret& token);
  // Runs `attempt` with an access token; when it throws Error(Auth), forgets that token, refreshes
  // and runs `attempt` once more with the new one. Errors of the second attempt propagate.
  void withToken(const CredentialSpec& spec, const std::function<void(const Secret&)>& attempt);

  // The status of every credential used so far.
  std::vector<CredentialStatus> status() const;
  // Called (outside any lock of the manager's) after each refresh or failed refresh.
  void setObserver(std::function<void(const CredentialStatus&)> observer);
  // Where to say what an administrator should know (a rotated token stored, a retry).
  void setNotice(std::function<void(std::string_view)> notice);
  // The configuration file named in "run popgate authorize --config FILE ..." advice.
  void setConfigFile(std::string config_file);

  // How long before its expiry a token is replaced: a tenth of its lifetime, at most 5 minutes.
  static std::chrono::seconds refreshMargin(std::chrono::seconds lifetime);
  // The lifetime assumed when the endpoint does not say (RFC 6749 leaves expires_in optional).
  static constexpr std::chrono::seconds kAssumedLifetime{3600};

 private:
  struct Slot;
  std::shared_ptr<Slot> slotFor(const CredentialSpec& spec);
  // The refresh token to use now, and when it was obtained (for Google's 7-day hint).
  struct Current {
    Secret refresh_token;
    std::optional<SystemTime> obtained;
    std::string seed_sha256;
  };
  Current currentRefreshToken(const CredentialSpec& spec) const;
  Error explain(const Error& error, const CredentialSpec& spec, const Current& current) const;
  void publish(const CredentialStatus& status) const;
  void notice(std::string_view text) const;

  TokenStore store_;
  Refresher refresher_;
  Clock clock_;
  mutable std::mutex mutex_;  // guards slots_, observer_, notice_, config_file_
  std::map<std::string, std::shared_ptr<Slot>> slots_;
  std::function<void(const CredentialStatus&)> observer_;
  std::function<void(std::string_view)> notice_;
  std::string config_file_;
};

}  // namespace popgate::oauth
