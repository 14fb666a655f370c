#include "GmailClient.h"

#include <istream>
#include <ostream>

#include <Poco/Exception.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/NetException.h>
#include <Poco/Net/SSLException.h>
#include <Poco/Timespan.h>
#include <Poco/URI.h>

#include "connectors/common/Error.h"
#include "connectors/common/Printable.h"
#include "connectors/net/StrictHttpsSession.h"
#include "connectors/net/TlsContextCache.h"

namespace popgate::gmail {

GmailClient::GmailClient(ApiSettings settings) : settings_(std::move(settings)) {
  try {
    const Poco::URI uri(settings_.base_url);
    if (uri.getScheme() != "https" || uri.getHost().empty()) throw Poco::SyntaxException("not https");
    host_ = uri.getHost();
    port_ = uri.getPort();
  } catch (const Poco::Exception&) {
    throw Error(ErrorKind::Config, "the Gmail API URL " + printable(settings_.base_url, 200) +
                                       " is not https://host[:port]");
  }
}

GmailClient::~GmailClient() = default;

std::string GmailClient::pathOf(const std::string& target) const {
  if (!target.empty() && target.front() == '/') return target;
  // An absolute URL (a resumable session URI): only on the API's own origin, since the access
  // token goes with it.
  try {
    const Poco::URI uri(target);
    if (uri.getScheme() == "https" && uri.getHost() == host_ && uri.getPort() == port_) {
      return uri.getPathAndQuery();
    }
  } catch (const Poco::Exception&) {
  }
  throw Error(ErrorKind::Protocol, "the Gmail API pointed an upload at " + printable(target, 200) +
                                       ", not at " + settings_.base_url);
}

namespace {

// `path` with the value of upload_id (a resumable session: whoever has it may upload) masked.
std::string traced(std::string path) {
  const std::string key = "upload_id=";
  if (const std::size_t at = path.find(key); at != std::string::npos) {
    const std::size_t end = path.find('&', at);
    path.replace(at + key.size(), (end == std::string::npos ? path.size() : end) - at - key.size(),
                 "********");
  }
  return path;
}

}  // namespace

ApiAnswer GmailClient::send(const ApiRequest& request, const Secret& token) {
  const std::string path = pathOf(request.target);
  if (settings_.trace) {
    settings_.trace("C", request.method + " " + traced(path) +
                             (request.write_body
                                  ? " (" + std::to_string(request.content_length) + " bytes)"
                                  : std::string()));
  }
  const std::string label = "the Gmail API at " + settings_.base_url;
  const auto started = std::chrono::steady_clock::now();
  try {
    if (!session_) {
      auto context = net::TlsContextCache::instance().contextFor(host_, settings_.ca_file);
      session_ = std::make_unique<net::StrictHttpsSession>(host_, port_, context, settings_.timeout);
      session_->setKeepAlive(true);
    }
    session_->setTimeout(Poco::Timespan(
        static_cast<Poco::Timespan::TimeDiff>(settings_.timeout.count()) * 1000));
    Poco::Net::HTTPRequest http(request.method, path, Poco::Net::HTTPMessage::HTTP_1_1);
    http.setKeepAlive(true);
    http.set("Authorization", "Bearer " + std::string(token.reveal()));
    http.set("User-Agent", "popgate");
    http.set("Accept", "application/json");
    for (const auto& [name, value] : request.headers) http.set(name, value);
    if (!request.content_type.empty()) http.setContentType(request.content_type);
    if (request.write_body || request.method == "POST" || request.method == "PUT") {
      http.setContentLength64(static_cast<Poco::Int64>(request.content_length));
    }
    std::ostream& out = session_->sendRequest(http);
    if (request.write_body) request.write_body(out);
    out.flush();
    if (!out) throw Poco::IOException("the connection failed while sending");
    Poco::Net::HTTPResponse response;
    std::istream& in = session_->receiveResponse(response);
    ApiAnswer answer;
    answer.status = static_cast<int>(response.getStatus());
    answer.retry_after = response.get("Retry-After", "");
    answer.location = response.get("Location", "");
    char chunk[16 * 1024];
    while (in.read(chunk, sizeof chunk) || in.gcount() > 0) {
      answer.body.append(chunk, static_cast<std::size_t>(in.gcount()));
      if (answer.body.size() > request.max_answer) {
        session_.reset();
        throw Error(ErrorKind::Protocol, label + " sent an answer larger than " +
                                             std::to_string(request.max_answer) + " bytes");
      }
      if (std::chrono::steady_clock::now() - started > 4 * settings_.timeout) {
        throw Poco::TimeoutException();
      }
    }
    if (!response.getKeepAlive()) session_.reset();
    if (settings_.trace) {
      settings_.trace("S", "HTTP " + std::to_string(answer.status) + " " +
                               printable(response.getReason(), 100));
    }
    return answer;
  } catch (const Error&) {
    session_.reset();
    throw;
  } catch (const Poco::TimeoutException&) {
    session_.reset();
    throw Error(ErrorKind::Transient, label + " did not answer within " +
                                          std::to_string(settings_.timeout.count() / 1000) + " s");
  } catch (const Poco::Net::SSLException& e) {
    session_.reset();
    throw Error(ErrorKind::Security, "TLS with " + label + " failed: " + e.displayText());
  } catch (const Poco::Exception& e) {
    session_.reset();
    throw Error(ErrorKind::Transient, "cannot reach " + label + ": " + e.displayText());
  } catch (const std::ios_base::failure& e) {
    session_.reset();
    throw Error(ErrorKind::Transient, "cannot reach " + label + ": " + e.what());
  }
}

}  // namespace popgate::gmail
