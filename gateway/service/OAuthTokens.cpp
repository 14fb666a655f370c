#include "OAuthTokens.h"

#include "Logging.h"
#include "gateway/delivery/OAuthCredentials.h"

namespace popgate::gateway {

std::shared_ptr<oauth::TokenManager> makeTokenManager(const config::GatewayConfig& cfg) {
  auto tokens = std::make_shared<oauth::TokenManager>(cfg.state_dir);
  tokens->setConfigFile(cfg.source.string());
  tokens->setNotice([](std::string_view text) { logInfo(text); });
  return tokens;
}

void declareOAuthLogins(StatusBoard& board, const config::GatewayConfig& cfg) {
  std::map<std::string, std::string> mechanisms;
  for (const config::ImapTarget& target : cfg.targets) {
    if (target.server.oauth) {
      mechanisms[targetCredentialId(target.name)] = std::string(config::imapAuthName(target.auth));
    }
  }
  for (const config::PopAccount& account : cfg.accounts) {
    if (account.server.oauth) {
      mechanisms["account-" + account.name] = std::string(config::popAuthName(account.auth));
    }
  }
  board.setOAuthLogins(mechanisms);
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

}  // namespace popgate::gateway
