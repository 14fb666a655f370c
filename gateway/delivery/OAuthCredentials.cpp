#include "OAuthCredentials.h"

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
  spec.client_secret = settings.client_secret;
  spec.scope = settings.scope;
  spec.configured_refresh_token = settings.refresh_token;
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

std::string targetCredentialId(std::string_view target_name) {
  if (target_name.empty() || target_name == config::kSingleTargetName) return "target";
  return "target-" + std::string(target_name);
}

oauth::CredentialSpec targetCredential(const config::ImapTarget& target) {
  if (target.name.empty() || target.name == config::kSingleTargetName) {
    return credentialOf(target.server, "target", "the target", "--target");
  }
  return credentialOf(target.server, targetCredentialId(target.name), "target " + target.name,
                      "--target " + target.name);
}

oauth::TokenManager& requireTokens(oauth::TokenManager* tokens) {
  if (tokens == nullptr) {
    throw Error(ErrorKind::Internal, "an OAuth login was asked for without a token manager");
  }
  return *tokens;
}

}  // namespace popgate::gateway
