// Token endpoint requests and answers:
//   request   = POST, Content-Type: application/x-www-form-urlencoded       (RFC 6749 §3.2, §6)
//   success   = 200, application/json {"access_token", "token_type", "expires_in",
//               ["refresh_token"], ["scope"]}                                 (RFC 6749 §5.1)
//   error     = 400 (401 for client authentication), {"error", ["error_description"]}  (§5.2)
//   b64token  = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="  (RFC 6750 §2.1)

#include "TokenEndpoint.h"

#include <arpa/inet.h>

#include <istream>
#include <memory>
#include <sstream>

#include <Poco/Exception.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/HTTPSClientSession.h>
#include <Poco/Net/NetException.h>
#include <Poco/Net/SecureStreamSocket.h>
#include <Poco/Net/SSLException.h>
#include <Poco/Timespan.h>
#include <Poco/URI.h>

#include "ProviderHints.h"
#include "connectors/common/Error.h"
#include "connectors/common/Printable.h"
#include "connectors/net/StrictHttpsSession.h"
#include "connectors/net/TlsContextCache.h"

namespace popgate::oauth {
namespace {

using Clock = std::chrono::steady_clock;
constexpr std::size_t kMaxAnswerBytes = 1024 * 1024;
constexpr std::size_t kExcerptBytes = 200;
constexpr std::size_t kMaxQuoted = 300;

Poco::Timespan timespan(std::chrono::milliseconds d) {
  return Poco::Timespan(static_cast<Poco::Timespan::TimeDiff>(d.count()) * 1000);
}

bool isLoopback(const std::string& host) {
  in_addr v4{};
  if (inet_pton(AF_INET, host.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
  in6_addr v6{};
  return inet_pton(AF_INET6, host.c_str(), &v6) == 1 && IN6_IS_ADDR_LOOPBACK(&v6);
}

bool isB64Token(std::string_view token) {
  if (token.empty()) return false;
  std::size_t i = 0;
  for (; i < token.size(); ++i) {
    const char c = token[i];
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/';
    if (!ok) break;
  }
  if (i == 0) return false;
  for (; i < token.size(); ++i) {
    if (token[i] != '=') return false;
  }
  return true;
}

// The top-level scalars of a JSON object as text; nullopt when `body` is no JSON object.
std::optional<std::map<std::string, std::string>> jsonFields(const std::string& body) {
  try {
    Poco::JSON::Parser parser;
    const Poco::Dynamic::Var parsed = parser.parse(body);
    if (parsed.type() != typeid(Poco::JSON::Object::Ptr)) return std::nullopt;
    const auto object = parsed.extract<Poco::JSON::Object::Ptr>();
    std::map<std::string, std::string> fields;
    for (const auto& [name, value] : *object) {
      if (value.isEmpty() || value.isArray() || value.type() == typeid(Poco::JSON::Object::Ptr) ||
          value.type() == typeid(Poco::JSON::Array::Ptr)) {
        continue;
      }
      fields[name] = value.convert<std::string>();
    }
    return fields;
  } catch (const Poco::Exception&) {
    return std::nullopt;
  }
}

bool transientError(std::string_view error) {
  return error == "temporarily_unavailable" || error == "server_error";
}

}  // namespace

EndpointAnswer::~EndpointAnswer() {
  for (auto& entry : fields) wipe(entry.second);
}

FormWipe::~FormWipe() {
  for (auto& field : fields_) wipe(field.second);
}

std::string EndpointAnswer::field(std::string_view name) const {
  const auto it = fields.find(std::string(name));
  return it == fields.end() ? std::string() : it->second;
}

std::string quoteRefusal(const EndpointAnswer& answer) {
  std::string text;
  if (answer.json && !answer.field("error").empty()) {
    text = answer.field("error");
    const std::string description = answer.field("error_description");
    if (!description.empty()) text += ": " + description;
  } else {
    text = "HTTP " + std::to_string(answer.status);
    if (!answer.excerpt.empty()) text += ": " + answer.excerpt;
  }
  return printable(text, kMaxQuoted);
}

TokenEndpoint::TokenEndpoint(EndpointSettings settings) : settings_(std::move(settings)) {
  try {
    const Poco::URI uri(settings_.url);
    scheme_ = uri.getScheme();
    host_ = uri.getHost();
    port_ = uri.getPort();
    path_ = uri.getPathAndQuery();
  } catch (const Poco::Exception& e) {
    throw Error(ErrorKind::Config, "token_url " + printable(settings_.url, 200) +
                                       " is not a URL: " + e.displayText());
  }
  if (path_.empty()) path_ = "/";
  if (scheme_ != "https" && !(scheme_ == "http" && isLoopback(host_))) {
    throw Error(ErrorKind::Config, "token_url " + printable(settings_.url, 200) +
                                       ": only https://, or http:// to a loopback address");
  }
}

EndpointAnswer TokenEndpoint::post(const codec::FormFields& fields, std::string_view what) const {
  const std::string label = "token endpoint " + printable(settings_.url, 200);
  const auto started = Clock::now();
  try {
    std::unique_ptr<Poco::Net::HTTPClientSession> session;
    if (scheme_ == "https") {
      auto context = net::TlsContextCache::instance().contextFor(host_, settings_.ca_file);
      session = std::make_unique<net::StrictHttpsSession>(host_, port_, context, settings_.timeout);
    } else {
      session = std::make_unique<Poco::Net::HTTPClientSession>(host_, port_);
    }
    session->setTimeout(timespan(settings_.timeout));
    session->setKeepAlive(false);
    Poco::Net::HTTPRequest request(Poco::Net::HTTPRequest::HTTP_POST, path_,
                                   Poco::Net::HTTPMessage::HTTP_1_1);
    std::string body = codec::formEncode(fields);
    const WipeOnExit wipe_body(body);  // it holds the refresh token or a code
    request.setContentType("application/x-www-form-urlencoded");
    request.set("Accept", "application/json");
    request.set("User-Agent", "popgate");
    request.setContentLength(static_cast<std::streamsize>(body.size()));
    session->sendRequest(request) << body;
    Poco::Net::HTTPResponse response;
    std::istream& in = session->receiveResponse(response);
    std::string text;
    const WipeOnExit wipe_text(text);  // a grant holds tokens
    char chunk[16 * 1024];
    while (in.read(chunk, sizeof chunk) || in.gcount() > 0) {
      text.append(chunk, static_cast<std::size_t>(in.gcount()));
      if (text.size() > kMaxAnswerBytes) {
        throw Error(ErrorKind::Protocol, label + " sent more than 1 MB in answer to " + std::string(what));
      }
      // A dripping server must not hold the pass: the answer as a whole has a deadline too.
      if (Clock::now() - started > 2 * settings_.timeout) throw Poco::TimeoutException();
    }
    EndpointAnswer answer;
    answer.status = static_cast<int>(response.getStatus());
    if (auto parsed = jsonFields(text)) {
      answer.json = true;
      answer.fields = std::move(*parsed);
    } else {
      answer.excerpt = printable(text.substr(0, kExcerptBytes));
    }
    return answer;
  } catch (const Error&) {
    throw;
  } catch (const Poco::TimeoutException&) {
    throw Error(ErrorKind::Transient, label + " did not answer " + std::string(what) + " within " +
                                          std::to_string(settings_.timeout.count() / 1000) + " s");
  } catch (const Poco::Net::SSLException& e) {
    std::string hint;
    if (e.displayText().find("certificate verify failed") != std::string::npos) {
      hint = " (is the certificate valid for " + host_ +
             " and issued by a trusted CA? a private CA goes in oauth.ca_file)";
    }
    throw Error(ErrorKind::Security, "TLS with " + label + " failed: " + e.displayText() + hint);
  } catch (const Poco::Exception& e) {
    throw Error(ErrorKind::Transient, "cannot reach " + label + " for " + std::string(what) + ": " +
                                          e.displayText());
  } catch (const std::ios_base::failure& e) {
    throw Error(ErrorKind::Transient, "cannot reach " + label + " for " + std::string(what) + ": " +
                                          e.what());
  }
}

TokenGrant TokenEndpoint::grantFrom(const EndpointAnswer& answer, std::string_view what) const {
  if (answer.status < 200 || answer.status >= 300 || !answer.json ||
      answer.field("access_token").empty()) {
    fail(answer, what);
  }
  TokenGrant grant;
  grant.access_token = Secret(answer.field("access_token"));
  if (!isB64Token(grant.access_token.reveal())) {
    throw Error(ErrorKind::Protocol, "token endpoint " + printable(settings_.url, 200) +
                                         " granted an access token with characters a bearer "
                                         "token cannot have (RFC 6750)");
  }
  const std::string type = answer.field("token_type");
  if (!type.empty() && type != "Bearer" && type != "bearer") {
    throw Error(ErrorKind::Protocol, "token endpoint " + printable(settings_.url, 200) +
                                         " granted a token of type " + printable(type, 40) +
                                         ", not a bearer token");
  }
  // expires_in: a number (RFC 6749), or a number in a string (some older endpoints).
  const std::string expires = answer.field("expires_in");
  std::int64_t seconds = 0;
  for (const char c : expires) {
    if (c == '.') break;
    if (c < '0' || c > '9' || seconds > 100'000'000) {
      seconds = 0;
      break;
    }
    seconds = seconds * 10 + (c - '0');
  }
  grant.expires_in = std::chrono::seconds(seconds);
  grant.refresh_token = Secret(answer.field("refresh_token"));
  grant.scope = answer.field("scope");
  return grant;
}

void TokenEndpoint::fail(const EndpointAnswer& answer, std::string_view what) const {
  const std::string label = "token endpoint " + printable(settings_.url, 200);
  const std::string error = answer.field("error");
  const std::string quoted = quoteRefusal(answer);
  if (answer.status >= 500 || answer.status == 429 || transientError(error)) {
    throw Error(ErrorKind::Transient, label + " could not answer " + std::string(what) +
                                          " right now (" + quoted + "); trying again later");
  }
  if (answer.json && !error.empty()) {
    std::string message = label + " refused " + std::string(what) + " (" + quoted + ")";
    const std::string cause = likelyCause(error, answer.field("error_description"));
    if (!cause.empty()) message += ": " + cause;
    throw Error(ErrorKind::Auth, message);
  }
  if (answer.status >= 200 && answer.status < 300) {
    throw Error(ErrorKind::Protocol, label + " answered " + std::string(what) +
                                         " without an access token (" + quoted + ")");
  }
  throw Error(ErrorKind::Protocol, label + " answered " + std::string(what) + " with " + quoted +
                                       "; is token_url right?");
}

TokenGrant TokenEndpoint::refresh(std::string_view client_id, std::string_view client_secret,
                                  std::string_view refresh_token, std::string_view scope) const {
  codec::FormFields fields{{"grant_type", "refresh_token"},
                           {"refresh_token", std::string(refresh_token)},
                           {"client_id", std::string(client_id)}};
  if (!client_secret.empty()) fields.emplace_back("client_secret", std::string(client_secret));
  if (!scope.empty()) fields.emplace_back("scope", std::string(scope));
  const FormWipe wipe_fields(fields);
  const EndpointAnswer answer = post(fields, "the refresh of the access token");
  return grantFrom(answer, "the refresh token");
}

}  // namespace popgate::oauth
