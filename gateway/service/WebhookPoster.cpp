#include "WebhookPoster.h"

#include <Poco/Exception.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/HTTPSClientSession.h>
#include <Poco/Net/NetException.h>
#include <Poco/Net/SSLException.h>
#include <Poco/Net/SecureStreamSocket.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/Net/StreamSocket.h>

#include <memory>

#include "NoticeText.h"
#include "connectors/common/Error.h"
#include "connectors/net/TlsContextCache.h"

namespace popgate::gateway {

namespace {

constexpr std::streamsize kMaxAnswer = 4096;  // of the answer's body, for the error message


}  // namespace

void WebhookCancel::cancel() noexcept {
  std::lock_guard lock(mutex_);
  cancelled_ = true;
  if (socket_ == nullptr) return;
  try {
    // Wakes a connect, a handshake or a read blocked on it, in whatever thread.
    socket_->shutdown();
  } catch (const Poco::Exception&) {
    // Not connected (yet or any more): the POST notices cancelled() at its next step.
  }
}

bool WebhookCancel::cancelled() const noexcept {
  std::lock_guard lock(mutex_);
  return cancelled_;
}

void WebhookCancel::attach(Poco::Net::StreamSocket* socket) {
  std::lock_guard lock(mutex_);
  if (socket != nullptr && cancelled_) {
    throw Error(ErrorKind::Transient, "popgate is stopping: the notice waits for the next start");
  }
  socket_ = socket;
}

void postWebhook(const config::WebhookUrl& url, const std::string& title, const std::string& body,
                 std::chrono::seconds timeout, WebhookCancel* cancel) {
  const std::string where = "webhook " + url.text;
  const Poco::Timespan limit(static_cast<long>(timeout.count()), 0);
  // Detaches the connection from `cancel` however the POST ends.
  struct Detach {
    WebhookCancel* cancel;
    ~Detach() {
      if (cancel != nullptr) cancel->attach(nullptr);
    }
  };
  try {
    const Poco::Net::SocketAddress address(url.host, url.port);
    // The socket exists before it connects, so a cancel() can reach it from the first moment on.
    Poco::Net::StreamSocket socket(address.family());
    // Declared before the guard: the session (which closes the socket) goes after the socket has
    // left `cancel`, so cancel() never touches a socket being closed.
    std::unique_ptr<Poco::Net::HTTPClientSession> session;
    if (cancel != nullptr) cancel->attach(&socket);
    const Detach detach{cancel};
    socket.connect(address, limit);
    socket.setReceiveTimeout(limit);
    socket.setSendTimeout(limit);
    if (url.https) {
      // The handshake checks the certificate and the host name (TlsContextCache's context).
      session = std::make_unique<Poco::Net::HTTPSClientSession>(Poco::Net::SecureStreamSocket::attach(
          socket, url.host, net::TlsContextCache::instance().contextFor(url.host, std::nullopt)));
    } else {
      session = std::make_unique<Poco::Net::HTTPClientSession>(socket);
    }
    session->setTimeout(limit);
    Poco::Net::HTTPRequest request(Poco::Net::HTTPRequest::HTTP_POST, url.target,
                                   Poco::Net::HTTPMessage::HTTP_1_1);
    request.setHost(url.host, url.port);
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
  } catch (const Poco::Exception& e) {
    if (cancel != nullptr && cancel->cancelled()) {
      throw Error(ErrorKind::Transient, where + ": cut short, popgate is stopping");
    }
    if (dynamic_cast<const Poco::Net::SSLException*>(&e) != nullptr) {
      throw Error(ErrorKind::Security, where + ": TLS failed: " + e.displayText());
    }
    throw Error(ErrorKind::Transient, where + ": " + e.displayText());
  }
}

}  // namespace popgate::gateway
