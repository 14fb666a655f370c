#pragma once
// Configured OAuth credentials as the token manager knows them, and the process's token manager
// (docs/oauth.md). The login paths (Pop3Source, openImapSession) ask it for access tokens.

#include <memory>

#include "StatusBoard.h"
#include "config/GatewayConfig.h"
#include "connectors/oauth/TokenManager.h"

namespace popgate::gateway {

// The credential of an account that signs in with OAuth ("account-NAME"); its oauth must be set.
oauth::CredentialSpec accountCredential(const config::PopAccount& account);
// The credential of the target ("target"); its oauth must be set.
oauth::CredentialSpec targetCredential(const config::ImapTarget& target);

// The token manager of this process: refresh tokens in cfg.state_dir/oauth, advice naming
// cfg.source, notices to the log.
std::shared_ptr<oauth::TokenManager> makeTokenManager(const config::GatewayConfig& cfg);

// Tells `board` the target's address and which logins use OAuth (call again after a reload).
void declareOAuthLogins(StatusBoard& board, const config::GatewayConfig& cfg);
// Makes `tokens` report every refresh (and failed refresh) to `board`, which must outlive it.
void reportTo(StatusBoard& board, oauth::TokenManager& tokens);

// `tokens` itself; Error(Internal) when a login needs tokens and none was given.
oauth::TokenManager& requireTokens(oauth::TokenManager* tokens);

}  // namespace popgate::gateway
