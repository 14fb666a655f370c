#pragma once
// The webhook leg of notices: one HTTP POST per notice, ntfy-compatible (the notice's subject in a
// "Title" header, its body as text/plain UTF-8). https is verified as strictly as the mail
// connections (net::TlsContextCache: the system CA store, the host name checked in the
// handshake); plain http is only ever configured for a loopback host (config::parseWebhookUrl).

#include <chrono>
#include <mutex>
#include <string>

#include "config/GatewayConfig.h"

namespace Poco::Net {
class StreamSocket;
}

namespace popgate::gateway {

// A way to cut webhook POSTs short (popgate is stopping): cancel() ends the POST in progress at
// once, its connection shut down whether it is connecting, in the TLS handshake or waiting for
// the answer, and every later POST given this object fails at once.
class WebhookCancel {
 public:
  // Any thread; never throws.
  void cancel() noexcept;
  bool cancelled() const noexcept;

  // postWebhook's side: the connection of the POST in progress (nullptr: none). Throws
  // Error(Transient) when cancel() came first.
  void attach(Poco::Net::StreamSocket* socket);

 private:
  mutable std::mutex mutex_;
  bool cancelled_ = false;
  Poco::Net::StreamSocket* socket_ = nullptr;
};

// POSTs `body` to `url` with "Title: `title`" (control bytes and non-ASCII shown as '?'), on a
// new connection, waiting at most `timeout` for each step; `cancel` (if given) can end it early.
// Throws Error(Transient) when it cannot connect, the answer is not 2xx or it was cancelled,
// Error(Security) when TLS verification fails.
void postWebhook(const config::WebhookUrl& url, const std::string& title, const std::string& body,
                 std::chrono::seconds timeout = std::chrono::seconds(30),
                 WebhookCancel* cancel = nullptr);

}  // namespace popgate::gateway
