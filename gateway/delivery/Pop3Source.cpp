#include "Pop3Source.h"

#include "Endpoints.h"

namespace popgate::gateway {

namespace {

pop3::AuthMethod methodOf(config::PopAuth auth) {
  switch (auth) {
    case config::PopAuth::User: return pop3::AuthMethod::User;
    case config::PopAuth::Apop: return pop3::AuthMethod::Apop;
    case config::PopAuth::Plain: return pop3::AuthMethod::Plain;
    case config::PopAuth::Auto: break;
  }
  return pop3::AuthMethod::Auto;
}

}  // namespace

Pop3Source::Pop3Source(const config::PopAccount& account, net::TraceSink trace,
                       pop3::Pop3Options options) {
  const net::Endpoint endpoint = endpointOf(account.server, "POP3");
  options.max_listed = account.listing_limit;
  client_ = std::make_unique<pop3::Pop3Client>(net::openTransport(endpoint), endpoint,
                                               std::move(trace), options);
  pop3::Credentials credentials;
  credentials.username = account.server.username;
  credentials.password = account.server.password;
  credentials.method = methodOf(account.auth);
  client_->login(credentials);
}

}  // namespace popgate::gateway
