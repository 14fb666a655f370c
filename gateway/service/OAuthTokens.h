#pragma once
// The token manager of the process and what it reports (docs/oauth.md): refresh tokens in
// state_dir/oauth, notices to the log, each refresh shown on the status board.

#include <memory>

#include "StatusBoard.h"
#include "config/GatewayConfig.h"
#include "connectors/oauth/TokenManager.h"

namespace popgate::gateway {

// The token manager of this process: refresh tokens in cfg.state_dir/oauth, "popgate authorize"
// advice naming cfg.source, notices logged.
std::shared_ptr<oauth::TokenManager> makeTokenManager(const config::GatewayConfig& cfg);

// Tells `board` the target's address and which logins use OAuth (call again after a reload).
void declareOAuthLogins(StatusBoard& board, const config::GatewayConfig& cfg);
// Makes `tokens` report every refresh (and failed refresh) to `board`, which must outlive it.
void reportTo(StatusBoard& board, oauth::TokenManager& tokens);

}  // namespace popgate::gateway
