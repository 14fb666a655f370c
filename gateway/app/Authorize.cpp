#include "Authorize.h"

#include <unistd.h>

#include <ostream>

#include "gateway/delivery/OAuthCredentials.h"
#include "connectors/codec/Sha256.h"
#include "connectors/common/Printable.h"
#include "connectors/oauth/AuthorizationFlows.h"
#include "connectors/oauth/TokenStore.h"

namespace popgate::gateway {

namespace {

constexpr std::string_view kGoogleAuthorizationUrl = "https://accounts.google.com/o/oauth2/v2/auth";

bool isMicrosoft(const config::ServerEndpoint& server) {
  return server.provider == config::Provider::Microsoft365 ||
         server.provider == config::Provider::Outlook ||
         server.oauth->token_url.starts_with("https://login.microsoftonline.com/");
}

bool isGoogle(const config::ServerEndpoint& server) {
  return server.provider == config::Provider::Gmail ||
         server.oauth->token_url.starts_with("https://oauth2.googleapis.com/");
}

// token_url with its last "/token" replaced by `sibling` ("/devicecode", "/authorize"), or "".
std::string siblingOf(const std::string& token_url, std::string_view sibling) {
  constexpr std::string_view kToken = "/token";
  if (!token_url.ends_with(kToken)) return {};
  return token_url.substr(0, token_url.size() - kToken.size()) + std::string(sibling);
}

// Why no refresh token came back, for each provider.
std::string noRefreshTokenCause(const config::ServerEndpoint& server) {
  if (isMicrosoft(server) && server.oauth->scope.find("offline_access") == std::string::npos) {
    return "Microsoft sends one only when the scope includes offline_access (oauth.scope is " +
           printable(server.oauth->scope, 200) + ")";
  }
  if (isGoogle(server)) {
    return "Google sends one only for access_type=offline with prompt=consent, which popgate asks "
           "for; remove popgate's access at https://myaccount.google.com/permissions and try again";
  }
  return "the scope may need offline_access, or the client may not be allowed refresh tokens";
}

}  // namespace

int runAuthorize(const config::GatewayConfig& cfg, const AuthorizeOptions& options,
                 std::ostream& out) {
  const config::ServerEndpoint* server = nullptr;
  oauth::CredentialSpec spec;
  if (options.target == !options.account.empty()) {
    throw Error(ErrorKind::Config, "authorize needs --account NAME or --target");
  }
  const config::ImapTarget* target = nullptr;
  if (options.target) {
    std::string known;
    for (const auto& t : cfg.targets) known += (known.empty() ? "" : ", ") + t.name;
    if (!options.target_name.empty()) {
      target = cfg.findTarget(options.target_name);
    } else if (!cfg.named_targets && !cfg.targets.empty()) {
      target = &cfg.targets.front();
    }
    if (target == nullptr) {
      throw Error(ErrorKind::Config,
                  cfg.source.string() + ": " +
                      (options.target_name.empty()
                           ? std::string("--target needs the name of one of the targets")
                           : "no target named \"" + options.target_name + "\"") +
                      " (targets: " + known + ")");
    }
    server = &target->server;
    if (server->oauth) spec = targetCredential(*target);
  } else {
    const config::PopAccount* account = cfg.findAccount(options.account);
    if (account == nullptr) {
      std::string known;
      for (const auto& a : cfg.accounts) known += (known.empty() ? "" : ", ") + a.name;
      throw Error(ErrorKind::Config, cfg.source.string() + ": no account named \"" +
                                         options.account + "\" (accounts: " + known + ")");
    }
    server = &account->server;
    if (server->oauth) spec = accountCredential(*account);
  }
  const std::string who = target == nullptr                ? "account " + options.account
                          : cfg.named_targets ? "target " + target->name
                                              : std::string("the target");
  if (!server->oauth) {
    throw Error(ErrorKind::Config, cfg.source.string() + ": " + who +
                                       " does not sign in with OAuth (set auth: xoauth2 or "
                                       "oauthbearer and an oauth section)");
  }
  const config::OAuthSettings& settings = *server->oauth;
  std::string flow = options.flow;
  if (flow.empty()) {
    if (isMicrosoft(*server)) flow = "device";
    if (isGoogle(*server)) flow = "loopback";
  }
  if (flow != "device" && flow != "loopback") {
    throw Error(ErrorKind::Config,
                flow.empty() ? "popgate does not know which sign-in flow " +
                                   printable(settings.token_url, 200) +
                                   " allows: add --flow device (with --device-url) or --flow "
                                   "loopback (with --auth-url)"
                             : "--flow must be device or loopback");
  }

  oauth::EndpointSettings token_settings = spec.endpoint;
  const oauth::TokenEndpoint token(token_settings);
  const oauth::ClientSettings client{settings.client_id, settings.client_secret, settings.scope};
  out << "Signing in " << who << " (" << server->username << ") at "
      << printable(settings.token_url, 200) << "\n";
  oauth::TokenGrant grant;
  if (flow == "device") {
    std::string url = options.device_url.empty() ? siblingOf(settings.token_url, "/devicecode")
                                                 : options.device_url;
    if (url.empty()) {
      throw Error(ErrorKind::Config, "give the device authorization endpoint with --device-url");
    }
    oauth::EndpointSettings device_settings = token_settings;
    device_settings.url = url;
    grant = oauth::runDeviceGrant(oauth::TokenEndpoint(device_settings), token, client, out);
  } else {
    oauth::LoopbackSettings loopback;
    loopback.authorization_url =
        !options.auth_url.empty() ? options.auth_url
        : isGoogle(*server)       ? std::string(kGoogleAuthorizationUrl)
                                  : siblingOf(settings.token_url, "/authorize");
    if (loopback.authorization_url.empty()) {
      throw Error(ErrorKind::Config, "give the authorization endpoint with --auth-url");
    }
    loopback.port = options.port;
    loopback.login_hint = server->username;
    loopback.input_fd = STDIN_FILENO;
    grant = oauth::runLoopbackGrant(token, client, loopback, out);
  }
  if (grant.refresh_token.empty()) {
    throw Error(ErrorKind::Auth, "the sign-in worked but no refresh token came back: " +
                                     noRefreshTokenCause(*server));
  }

  std::error_code ec;
  std::filesystem::create_directories(cfg.state_dir, ec);
  const oauth::TokenStore store(cfg.state_dir / "oauth");
  oauth::TokenStore::Entry entry;
  entry.refresh_token = grant.refresh_token;
  if (!settings.refresh_token.empty()) {
    codec::Sha256 hash;
    hash.update(settings.refresh_token.reveal());
    entry.seed_sha256 = hash.hex();
  }
  entry.obtained_at =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
          .count();
  entry.origin = "authorize";
  store.save(spec.id, entry);
  out << "Signed in. The refresh token is stored in " << store.fileFor(spec.id).string()
      << " (mode 0600); popgate uses it from the next login on";
  if (!settings.refresh_token_source.empty()) {
    out << ", instead of " << settings.refresh_token_source << " (until that one changes)";
  }
  out << ".\n";
  return 0;
}

}  // namespace popgate::gateway
