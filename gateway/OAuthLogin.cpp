#include "OAuthLogin.h"

#include "Logging.h"

namespace popgate::gateway {

namespace {

oauth::CredentialSpec credentialOf(const config::ServerEndpoint& server, std::string id,
                                   std::string label, std::string authorize_args) {
  const config::OAuthSettings& settings = *server.oauth;
  oauth::CredentialSpec spec;
  spec.id = std::move(id);
  spec.label = std::move(label);
  spec.authorize_args = std::move(authorize_args);
  spec.endpoint.url = settings.token_url;
  spec.endpoint.ca_file = settings.ca_file;
  spec.endpoint.timeout = std::chrono::duration_cast<std::chrono::milliseconds>(server.timeout);
  spec.client_id = settings.client_id;
  spec.client_secret = std::string(settings.client_secret.reveal());
  spec.scope = settings.scope;
  spec.configured_refresh_token = std::string(settings.refresh_token.reveal());
  spec.configured_written = settings.refresh_token_written;
  spec.google = server.provider == config::Provider::Gmail ||
                settings.token_url.find("googleapis.com/") != std::string::npos;
  return spec;
}

}  // namespace

oauth::CredentialSpec accountCredential(const config::PopAccount& account) {
  return credentialOf(account.server, "account-" + account.name, "account " + account.name,
                      "--account " + account.name);
}

oauth::CredentialSpec targetCredential(const config::ImapTarget& target) {
  return credentialOf(target.server, "target", "the target", "--target");
}

std::shared_ptr<oauth::TokenManager> makeTokenManager(const config::GatewayConfig& cfg) {
  auto tokens = std::make_shared<oauth::TokenManager>(cfg.state_dir);
  tokens->setConfigFile(cfg.source.string());
  tokens->setNotice([](std::string_view text) { logInfo(text); });
  return tokens;
}

void declareOAuthLogins(StatusBoard& board, const config::GatewayConfig& cfg) {
  std::map<std::string, std::string> mechanisms;
  if (cfg.target.server.oauth) {
    mechanisms["target"] = std::string(config::imapAuthName(cfg.target.auth));
  }
  for (const config::PopAccount& account : cfg.accounts) {
    if (account.server.oauth) {
      mechanisms["account-" + account.name] = std::string(config::popAuthName(account.auth));
    }
  }
  board.setOAuthLogins(config::hostPort(cfg.target.server.host, cfg.target.server.port),
                       mechanisms);
}

void reportTo(StatusBoard& board, oauth::TokenManager& tokens) {
  tokens.setObserver([&board](const oauth::CredentialStatus& s) {
    OAuthStatus status;
    status.access_token_expires = s.access_token_expires;
    status.last_refresh = s.last_refresh;
    status.refresh_token_rotated = s.refresh_token_rotated;
    status.refresh_failures = s.refresh_failures;
    board.oauthChanged(s.id, status);
  });
}

oauth::TokenManager& requireTokens(oauth::TokenManager* tokens) {
  if (tokens == nullptr) {
    throw Error(ErrorKind::Internal, "an OAuth login was asked for without a token manager");
  }
  return *tokens;
}

}  // namespace popgate::gateway
