#include "WebhookPoster.h"

#include <Poco/Exception.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/HTTPSClientSession.h>
#include <Poco/Net/NetException.h>
#include <Poco/Net/SSLException.h>

#include <memory>

#include "NoticeText.h"
#include "connectors/common/Error.h"
#include "connectors/net/TlsContextCache.h"

namespace popgate::gateway {

namespace {

constexpr std::streamsize kMaxAnswer = 4096;  // of the answer's body, for the error message


}  // namespace

void postWebhook(const config::WebhookUrl& url, const std::string& title, const std::string& body,
                 std::chrono::seconds timeout) {
  const std::string where = "webhook " + url.text;
  try {
    std::unique_ptr<Poco::Net::HTTPClientSession> session;
    if (url.https) {
      session = std::make_unique<Poco::Net::HTTPSClientSession>(
          url.host, url.port, net::TlsContextCache::instance().contextFor(url.host, std::nullopt));
    } else {
      session = std::make_unique<Poco::Net::HTTPClientSession>(url.host, url.port);
    }
    session->setTimeout(Poco::Timespan(static_cast<long>(timeout.count()), 0));
    Poco::Net::HTTPRequest request(Poco::Net::HTTPRequest::HTTP_POST, url.target,
                                   Poco::Net::HTTPMessage::HTTP_1_1);
    request.set("Title", asciiHeaderValue(title));
    request.setContentType("text/plain; charset=utf-8");
    request.setContentLength(static_cast<std::streamsize>(body.size()));
    request.setKeepAlive(false);
    session->sendRequest(request) << body;
    Poco::Net::HTTPResponse response;
    std::istream& in = session->receiveResponse(response);
    const int status = static_cast<int>(response.getStatus());
    if (status < 200 || status > 299) {
      std::string answer(static_cast<std::size_t>(kMaxAnswer), '\0');
      in.read(answer.data(), kMaxAnswer);
      answer.resize(static_cast<std::size_t>(in.gcount()));
      throw Error(ErrorKind::Transient,
                  where + " answered " + std::to_string(status) + " " + response.getReason(),
                  answer);
    }
  } catch (const Poco::Net::SSLException& e) {
    throw Error(ErrorKind::Security, where + ": TLS failed: " + e.displayText());
  } catch (const Poco::Exception& e) {
    throw Error(ErrorKind::Transient, where + ": " + e.displayText());
  }
}

}  // namespace popgate::gateway
