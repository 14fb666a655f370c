#pragma once
// Logging through Poco's Logger: one "popgate" logger, text or JSON lines, to stdout or stderr.
// Every function here may be called from any thread. Callers pass texts without secrets; as a
// second line of defence every line is masked (redactSecrets) before it is written, whatever
// quoted a server's echo of a password.

#include <ostream>
#include <string>
#include <string_view>

#include "config/GatewayConfig.h"
#include "connectors/net/Connection.h"

namespace popgate::gateway {

// Routes the "popgate" logger to `out` at `level` in `format`; before the first call messages are
// dropped. Safe to call again while other threads log (SIGHUP): one channel serves the process and
// changes in place. Messages logged after it returns use the new settings; `out` must stay valid
// until the next call has returned (the previous stream is never written to after that).
void setupLogging(config::LogLevel level, config::LogFormat format, std::ostream& out);

// Convenience wrappers around the "popgate" logger.
void logError(std::string_view text);
void logWarning(std::string_view text);
void logInfo(std::string_view text);
void logDebug(std::string_view text);
bool debugEnabled();

// A protocol trace sink that writes debug lines "ACCOUNT C: text" (only built when debug is on).
net::TraceSink traceTo(const std::string& who);

// `text` as a JSON string literal (quotes included), escaping as RFC 8259 requires; ill-formed
// UTF-8 becomes U+FFFD.
std::string jsonQuote(std::string_view text);

}  // namespace popgate::gateway
