#pragma once
// The OAuth logins of the configuration as the token manager knows them (docs/oauth.md): what the
// login paths (Pop3Source, openImapSession) ask it for tokens with.

#include <string>
#include <string_view>

#include "config/GatewayConfig.h"
#include "connectors/oauth/TokenManager.h"

namespace popgate::gateway {

// The credential of an account that signs in with OAuth ("account-NAME"); its oauth must be set.
oauth::CredentialSpec accountCredential(const config::PopAccount& account);
// The credential id of the target named `target_name`: "target" for the one `target:`,
// "target-NAME" for a target under `targets:`.
std::string targetCredentialId(std::string_view target_name);
// The credential of a target (id as targetCredentialId()); its oauth must be set.
oauth::CredentialSpec targetCredential(const config::ImapTarget& target);

// `tokens` itself; Error(Internal) when a login needs tokens and none was given.
oauth::TokenManager& requireTokens(oauth::TokenManager* tokens);

}  // namespace popgate::gateway
