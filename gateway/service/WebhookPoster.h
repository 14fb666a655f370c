#pragma once
// The webhook leg of notices: one HTTP POST per notice, ntfy-compatible (the notice's subject in a
// "Title" header, its body as text/plain UTF-8). https is verified as strictly as the mail
// connections (net::TlsContextCache: the system CA store, the host name checked in the
// handshake); plain http is only ever configured for a loopback host (config::parseWebhookUrl).

#include <chrono>
#include <string>

#include "config/GatewayConfig.h"

namespace popgate::gateway {

// POSTs `body` to `url` with "Title: `title`" (control bytes and non-ASCII shown as '?'), on a
// new connection, waiting at most `timeout` for each step. Throws Error(Transient) when it cannot
// connect or the answer is not 2xx, Error(Security) when TLS verification fails.
void postWebhook(const config::WebhookUrl& url, const std::string& title, const std::string& body,
                 std::chrono::seconds timeout = std::chrono::seconds(30));

}  // namespace popgate::gateway
