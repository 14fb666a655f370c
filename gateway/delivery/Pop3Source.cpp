#include "Pop3Source.h"

#include "Endpoints.h"
#include "OAuthCredentials.h"

namespace popgate::gateway {

namespace {

pop3::AuthMethod methodOf(config::PopAuth auth) {
  switch (auth) {
    case config::PopAuth::User: return pop3::AuthMethod::User;
    case config::PopAuth::Apop: return pop3::AuthMethod::Apop;
    case config::PopAuth::Plain: return pop3::AuthMethod::Plain;
    case config::PopAuth::XOAuth2: return pop3::AuthMethod::XOAuth2;
    case config::PopAuth::OAuthBearer: return pop3::AuthMethod::OAuthBearer;
    case config::PopAuth::Auto: break;
  }
  return pop3::AuthMethod::Auto;
}

}  // namespace

Pop3Source::Pop3Source(const config::PopAccount& account, net::TraceSink trace,
                       pop3::Pop3Options options, oauth::TokenManager* tokens) {
  const net::Endpoint endpoint = endpointOf(account.server, "POP3");
  options.max_listed = account.listing_limit;
  pop3::Credentials credentials;
  credentials.username = account.server.username;
  credentials.method = methodOf(account.auth);
  auto connect = [&] {
    client_ = std::make_unique<pop3::Pop3Client>(net::openTransport(endpoint), endpoint, trace,
                                                 options);
  };
  if (account.server.oauth) {
    // A refused token is refreshed and tried once more, on a new connection.
    requireTokens(tokens).withToken(accountCredential(account), [&](const Secret& token) {
      connect();
      credentials.access_token = token;
      client_->login(credentials);
    });
    return;
  }
  credentials.password = account.server.password;
  connect();
  client_->login(credentials);
}

}  // namespace popgate::gateway
