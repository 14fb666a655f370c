#pragma once
// Logging through Poco's Logger: one "popgate" logger, text or JSON lines, to stdout or stderr.
// Callers pass texts without secrets; as a second line of defence every line is masked
// (redactSecrets) before it is written, whatever quoted a server's echo of a password.

#include <ostream>
#include <string>
#include <string_view>

#include "config/GatewayConfig.h"
#include "connectors/net/Connection.h"

namespace popgate::gateway {

// Routes the "popgate" logger to `out` at `level` in `format`. Safe to call again (SIGHUP).
void setupLogging(config::LogLevel level, config::LogFormat format, std::ostream& out);

// Convenience wrappers around the "popgate" logger.
void logError(std::string_view text);
void logWarning(std::string_view text);
void logInfo(std::string_view text);
void logDebug(std::string_view text);
bool debugEnabled();

// A protocol trace sink that writes debug lines "ACCOUNT C: text" (only built when debug is on).
net::TraceSink traceTo(const std::string& who);

// `text` as a JSON string literal (quotes included), escaping as RFC 8259 requires.
std::string jsonQuote(std::string_view text);

}  // namespace popgate::gateway
