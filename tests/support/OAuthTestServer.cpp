#include "tests/support/OAuthTestServer.h"

#include <atomic>
#include <mutex>
#include <random>
#include <set>
#include <sstream>

#include <Poco/Base64Encoder.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/Net/HTMLForm.h>
#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/SHA2Engine.h>
#include <Poco/URI.h>

namespace popgate::test {

namespace {

using Clock = std::chrono::steady_clock;
using Poco::Net::HTTPResponse;

struct AccessToken {
  std::string user;
  Clock::time_point expires;
  bool revoked = false;
  std::string scope;  // as the token request named it
};

struct RefreshToken {
  std::string user;
  bool valid = true;
};

struct Device {
  DeviceRequest request;
  std::size_t polls = 0;
};

struct Code {
  std::string user, redirect_uri, challenge, client_id, scope;
  bool offline = false;  // access_type=offline and prompt=consent were asked for (Google's rule)
  bool used = false;
};

// base64url without padding of SHA-256(text): the S256 challenge, computed independently of
// popgate's own codec.
std::string s256(const std::string& text) {
  Poco::SHA2Engine engine(Poco::SHA2Engine::SHA_256);
  engine.update(text);
  const Poco::DigestEngine::Digest& digest = engine.digest();
  std::ostringstream out;
  Poco::Base64Encoder encoder(out, Poco::BASE64_URL_ENCODING | Poco::BASE64_NO_PADDING);
  encoder.write(reinterpret_cast<const char*>(digest.data()), static_cast<std::streamsize>(digest.size()));
  encoder.close();
  return out.str();
}

std::string json(std::initializer_list<std::pair<const char*, Poco::Dynamic::Var>> fields) {
  Poco::JSON::Object object(Poco::JSON_PRESERVE_KEY_ORDER);
  for (const auto& [key, value] : fields) object.set(key, value);
  std::ostringstream out;
  object.stringify(out);
  return out.str();
}

}  // namespace

struct OAuthTestServer::State {
  mutable std::mutex mutex;
  OAuthServerOptions options;
  std::mt19937_64 rng{std::random_device{}()};
  std::map<std::string, AccessToken> access;
  std::map<std::string, RefreshToken> refresh;
  std::map<std::string, unsigned> refreshes;
  std::vector<std::string> shown;
  unsigned fail_next = 0;
  std::optional<std::pair<int, std::string>> answer_next;
  int fail_status = 500;
  unsigned failed = 0, token_requests = 0;
  unsigned active = 0, inactive = 0;
  std::vector<std::string> device_answers{"ok"};
  std::string device_user = "work";
  std::map<std::string, Device> devices;  // by device_code
  std::optional<DeviceRequest> last_device;
  unsigned device_polls = 0;
  std::optional<AuthorizeRequest> last_authorize;
  std::string authorize_user = "work";
  std::map<std::string, Code> codes;
  std::string last_secret;
  std::map<std::string, std::string> last_token_request;

  // `user` with characters a bearer token cannot hold (RFC 6750 b64token) replaced by "_".
  static std::string tokenSafe(const std::string& user) {
    std::string out = user;
    for (char& c : out) {
      const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                      c == '-' || c == '.' || c == '_';
      if (!ok) c = '_';
    }
    return out;
  }

  std::string random(const std::string& prefix) {
    static const char kChars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    std::string out = prefix;
    for (int i = 0; i < 24; ++i) out.push_back(kChars[rng() % (sizeof kChars - 1)]);
    return out;
  }

  // A token answer for `user`, with a new refresh token when `with_refresh`.
  std::string grant(const std::string& user, const std::string& scope, bool with_refresh) {
    const std::string token = random("ATOKEN." + tokenSafe(user) + ".");
    access[token] = AccessToken{user, Clock::now() + options.access_lifetime, false, scope};
    Poco::JSON::Object object(Poco::JSON_PRESERVE_KEY_ORDER);
    object.set("token_type", "Bearer");
    object.set("scope", scope);
    object.set("expires_in", static_cast<Poco::Int64>(options.access_lifetime.count()));
    object.set("ext_expires_in", static_cast<Poco::Int64>(options.access_lifetime.count()));
    object.set("access_token", token);
    if (with_refresh) {
      const std::string next = random("RTOKEN." + tokenSafe(user) + ".");
      refresh[next] = RefreshToken{user};
      object.set("refresh_token", next);
    }
    std::ostringstream out;
    object.stringify(out);
    return out.str();
  }
};

class OAuthTestServer::Handler final : public Poco::Net::HTTPRequestHandler {
 public:
  explicit Handler(std::shared_ptr<State> state) : state_(std::move(state)) {}

  void handleRequest(Poco::Net::HTTPServerRequest& request,
                     Poco::Net::HTTPServerResponse& response) override {
    const Poco::URI uri(request.getURI());
    const std::string path = uri.getPath();
    Poco::Net::HTMLForm form(request, request.stream());
    int status = 200;
    std::string body;
    std::string location;
    {
      std::lock_guard lock(state_->mutex);
      if (path == "/token" && request.getMethod() == "POST") {
        body = token(form, status);
      } else if (path == "/devicecode" && request.getMethod() == "POST") {
        body = deviceCode(form, status);
      } else if (path == "/authorize" && request.getMethod() == "GET") {
        body = authorize(form, status, location);
      } else if (path == "/introspect" && request.getMethod() == "POST") {
        body = introspect(form);
      } else {
        status = 404;
        body = json({{"error", std::string("not_found")}});
      }
    }
    response.setStatus(static_cast<HTTPResponse::HTTPStatus>(status));
    if (!location.empty()) response.set("Location", location);
    const bool text = body.empty() || body.front() != '{';
    response.setContentType(text ? "text/html" : "application/json");
    response.setContentLength(static_cast<std::streamsize>(body.size()));
    response.send() << body;
  }

 private:
  // An error answer shaped like Microsoft's (error_codes is an array popgate must skip).
  std::string error(int& status, int code, const std::string& error, const std::string& description) {
    status = code;
    Poco::JSON::Object object(Poco::JSON_PRESERVE_KEY_ORDER);
    object.set("error", error);
    object.set("error_description", description);
    Poco::JSON::Array::Ptr codes = new Poco::JSON::Array;
    codes->add(70000);
    object.set("error_codes", codes);
    object.set("timestamp", std::string("2026-12-01 10:00:00Z"));
    std::ostringstream out;
    object.stringify(out);
    return out.str();
  }

  std::string token(const Poco::Net::HTMLForm& form, int& status) {
    State& s = *state_;
    ++s.token_requests;
    s.last_token_request.clear();
    for (const auto& [name, value] : form) s.last_token_request[name] = value;
    if (s.answer_next) {
      status = s.answer_next->first;
      std::string body = std::move(s.answer_next->second);
      s.answer_next.reset();
      return body;
    }
    if (s.fail_next > 0) {
      --s.fail_next;
      ++s.failed;
      status = s.fail_status;
      return "<html><body>Service Unavailable</body></html>";
    }
    if (auto refused = checkClient(form, status)) return *refused;
    const std::string grant_type = form.get("grant_type", "");
    if (grant_type == "refresh_token") {
      const std::string presented = form.get("refresh_token", "");
      s.shown.push_back(presented);
      auto it = s.refresh.find(presented);
      if (it == s.refresh.end() || !it->second.valid) {
        return error(status, 400, "invalid_grant",
                     "AADSTS70000: The provided grant has expired due to it being revoked, a "
                     "fresh auth token is needed.");
      }
      const std::string user = it->second.user;
      if (s.options.rotate) it->second.valid = false;
      ++s.refreshes[user];
      return s.grant(user, form.get("scope", ""), s.options.rotate);
    }
    if (grant_type == "urn:ietf:params:oauth:grant-type:device_code") {
      ++s.device_polls;
      auto it = s.devices.find(form.get("device_code", ""));
      if (it == s.devices.end()) return error(status, 400, "invalid_grant", "unknown device_code");
      const std::size_t index = std::min(it->second.polls++, s.device_answers.size() - 1);
      const std::string answer = s.device_answers[index];
      if (answer == "ok") {
        const std::string scope = it->second.request.scope;
        s.devices.erase(it);
        // Microsoft's rule: a refresh token only for the offline_access scope.
        return s.grant(s.device_user, scope, scope.find("offline_access") != std::string::npos);
      }
      const std::map<std::string, std::string> descriptions{
          {"authorization_pending", "AADSTS70016: OAuth 2.0 device flow error. Authorization is pending."},
          {"slow_down", "Polling too fast."},
          {"authorization_declined", "AADSTS70000: The user declined to authorize the app."},
          {"expired_token", "AADSTS70020: The provided value for the input parameter 'device_code' is not valid. This device code has expired."}};
      const auto found = descriptions.find(answer);
      return error(status, 400, answer, found == descriptions.end() ? answer : found->second);
    }
    if (grant_type == "authorization_code") {
      auto it = s.codes.find(form.get("code", ""));
      if (it == s.codes.end() || it->second.used) {
        return error(status, 400, "invalid_grant", "Malformed auth code.");
      }
      Code& code = it->second;
      if (form.get("redirect_uri", "") != code.redirect_uri) {
        return error(status, 400, "redirect_uri_mismatch", "Bad Request");
      }
      if (s256(form.get("code_verifier", "")) != code.challenge) {
        return error(status, 400, "invalid_grant", "Invalid code verifier.");
      }
      code.used = true;
      return s.grant(code.user, code.scope, code.offline);
    }
    return error(status, 400, "unsupported_grant_type", "grant_type " + grant_type);
  }

  // Microsoft's rules for the client: a known client_id; a public client sends no secret.
  std::optional<std::string> checkClient(const Poco::Net::HTMLForm& form, int& status) {
    State& s = *state_;
    if (form.get("client_id", "") != s.options.client_id) {
      return error(status, 401, "invalid_client",
                   "AADSTS700016: Application with identifier '" + form.get("client_id", "") +
                       "' was not found in the directory.");
    }
    s.last_secret = form.get("client_secret", "");
    if (s.options.client_secret.empty() && form.has("client_secret")) {
      return error(status, 400, "invalid_request",
                   "AADSTS700025: Client is public so neither 'client_assertion' nor "
                   "'client_secret' should be presented.");
    }
    if (!s.options.client_secret.empty() && s.last_secret != s.options.client_secret) {
      return error(status, 401, "invalid_client", "The client secret is wrong.");
    }
    return std::nullopt;
  }

  std::string deviceCode(const Poco::Net::HTMLForm& form, int& status) {
    State& s = *state_;
    if (auto refused = checkClient(form, status)) return *refused;
    Device device;
    device.request.device_code = s.random("dc.");
    device.request.user_code = "POP" + s.random("").substr(0, 5);
    device.request.client_id = form.get("client_id", "");
    device.request.scope = form.get("scope", "");
    s.last_device = device.request;
    s.devices[device.request.device_code] = device;
    return json({{"user_code", device.request.user_code},
                 {"device_code", device.request.device_code},
                 {"verification_uri", std::string("https://microsoft.com/devicelogin")},
                 {"expires_in", 900},
                 {"interval", s.options.device_interval},
                 {"message", "To sign in, use a web browser to open the page "
                             "https://microsoft.com/devicelogin and enter the code " +
                                 device.request.user_code + " to authenticate."}});
  }

  std::string authorize(const Poco::Net::HTMLForm& form, int& status, std::string& location) {
    State& s = *state_;
    AuthorizeRequest request;
    for (const auto& [name, value] : form) request.params[name] = value;
    s.last_authorize = request;
    const std::string redirect = form.get("redirect_uri", "");
    if (form.get("client_id", "") != s.options.client_id || redirect.empty() ||
        form.get("code_challenge_method", "") != "S256" || form.get("response_type", "") != "code") {
      status = 400;
      return "<html>Error 400: invalid_request</html>";
    }
    const std::string code = s.random("4/0A");
    s.codes[code] = Code{s.authorize_user, redirect, form.get("code_challenge", ""),
                         form.get("client_id", ""), form.get("scope", ""),
                         form.get("access_type", "") == "offline" && form.get("prompt", "") == "consent"};
    status = 302;
    Poco::URI target(redirect);
    target.addQueryParameter("state", form.get("state", ""));
    target.addQueryParameter("code", code);
    target.addQueryParameter("scope", form.get("scope", ""));
    location = target.toString();
    return "";
  }

  std::string introspect(const Poco::Net::HTMLForm& form) {
    State& s = *state_;
    const auto it = s.access.find(form.get("token", ""));
    if (it == s.access.end() || it->second.revoked || Clock::now() >= it->second.expires) {
      ++s.inactive;
      return json({{"active", false}});
    }
    ++s.active;
    return json({{"active", true}, {"email", it->second.user}, {"username", it->second.user}});
  }

  std::shared_ptr<State> state_;
};

OAuthTestServer::OAuthTestServer(OAuthServerOptions options)
    : state_(std::make_shared<State>()), options_(options) {
  state_->options = options;
  LoopbackHttpOptions http;
  http.tls = options.tls;
  http.cert = options.cert;
  server_ = std::make_unique<LoopbackHttpServer>(
      [state = state_](Poco::Net::HTTPServerRequest& request,
                       Poco::Net::HTTPServerResponse& response) {
        Handler(state).handleRequest(request, response);
      },
      http);
}

OAuthTestServer::~OAuthTestServer() = default;

std::uint16_t OAuthTestServer::port() const { return server_->port(); }

std::string OAuthTestServer::url(const std::string& path) const {
  return (options_.tls ? "https://localhost:" : "http://127.0.0.1:") + std::to_string(port()) + path;
}

std::string OAuthTestServer::issueRefreshToken(const std::string& user) {
  std::lock_guard lock(state_->mutex);
  const std::string token = state_->random("RTOKEN." + State::tokenSafe(user) + ".");
  state_->refresh[token] = RefreshToken{user};
  return token;
}

void OAuthTestServer::revokeUser(const std::string& user) {
  std::lock_guard lock(state_->mutex);
  for (auto& [token, r] : state_->refresh) {
    if (r.user == user) r.valid = false;
  }
  for (auto& [token, a] : state_->access) {
    if (a.user == user) a.revoked = true;
  }
}

void OAuthTestServer::expireAccessTokens(const std::string& user) {
  std::lock_guard lock(state_->mutex);
  for (auto& [token, a] : state_->access) {
    if (user.empty() || a.user == user) a.expires = std::min(a.expires, Clock::now());
  }
}

void OAuthTestServer::setAccessLifetime(std::chrono::seconds lifetime) {
  std::lock_guard lock(state_->mutex);
  state_->options.access_lifetime = lifetime;
}

void OAuthTestServer::answerNext(int status, std::string body) {
  std::lock_guard lock(state_->mutex);
  state_->answer_next = std::make_pair(status, std::move(body));
}

void OAuthTestServer::failNext(unsigned count, int status) {
  std::lock_guard lock(state_->mutex);
  state_->fail_next = count;
  state_->fail_status = status;
}

bool OAuthTestServer::refreshTokenValid(const std::string& refresh_token) const {
  std::lock_guard lock(state_->mutex);
  const auto it = state_->refresh.find(refresh_token);
  return it != state_->refresh.end() && it->second.valid;
}

bool OAuthTestServer::accessTokenActive(const std::string& access_token) const {
  std::lock_guard lock(state_->mutex);
  const auto it = state_->access.find(access_token);
  return it != state_->access.end() && !it->second.revoked && Clock::now() < it->second.expires;
}

std::string OAuthTestServer::accessTokenScope(const std::string& access_token) const {
  std::lock_guard lock(state_->mutex);
  const auto it = state_->access.find(access_token);
  return it == state_->access.end() ? std::string() : it->second.scope;
}

std::chrono::steady_clock::time_point OAuthTestServer::lastAccessExpiry(const std::string& user) const {
  std::lock_guard lock(state_->mutex);
  Clock::time_point latest{};
  for (const auto& [token, a] : state_->access) {
    if (a.user == user) latest = std::max(latest, a.expires);
  }
  return latest;
}

unsigned OAuthTestServer::refreshes(const std::string& user) const {
  std::lock_guard lock(state_->mutex);
  const auto it = state_->refreshes.find(user);
  return it == state_->refreshes.end() ? 0 : it->second;
}

std::vector<std::string> OAuthTestServer::refreshTokensShown() const {
  std::lock_guard lock(state_->mutex);
  return state_->shown;
}

unsigned OAuthTestServer::failedOnPurpose() const {
  std::lock_guard lock(state_->mutex);
  return state_->failed;
}

unsigned OAuthTestServer::tokenRequests() const {
  std::lock_guard lock(state_->mutex);
  return state_->token_requests;
}

unsigned OAuthTestServer::introspectionsActive() const {
  std::lock_guard lock(state_->mutex);
  return state_->active;
}

unsigned OAuthTestServer::introspectionsInactive() const {
  std::lock_guard lock(state_->mutex);
  return state_->inactive;
}

void OAuthTestServer::scriptDevice(std::vector<std::string> answers, const std::string& user) {
  std::lock_guard lock(state_->mutex);
  if (answers.empty()) answers.push_back("ok");
  state_->device_answers = std::move(answers);
  state_->device_user = user;
}

std::optional<DeviceRequest> OAuthTestServer::lastDeviceRequest() const {
  std::lock_guard lock(state_->mutex);
  return state_->last_device;
}

unsigned OAuthTestServer::devicePolls() const {
  std::lock_guard lock(state_->mutex);
  return state_->device_polls;
}

std::optional<AuthorizeRequest> OAuthTestServer::lastAuthorizeRequest() const {
  std::lock_guard lock(state_->mutex);
  return state_->last_authorize;
}

void OAuthTestServer::setAuthorizeUser(const std::string& user) {
  std::lock_guard lock(state_->mutex);
  state_->authorize_user = user;
}

std::string OAuthTestServer::lastClientSecretSeen() const {
  std::lock_guard lock(state_->mutex);
  return state_->last_secret;
}

std::map<std::string, std::string> OAuthTestServer::lastTokenRequest() const {
  std::lock_guard lock(state_->mutex);
  return state_->last_token_request;
}

}  // namespace popgate::test
