#include "GatewayConfig.h"

namespace popgate::config {

const PopAccount* GatewayConfig::findAccount(const std::string& name) const {
  for (const auto& account : accounts) {
    if (account.name == name) return &account;
  }
  return nullptr;
}

std::string_view tlsModeName(TlsMode mode) noexcept {
  switch (mode) {
    case TlsMode::Implicit:
      return "implicit";
    case TlsMode::StartTls:
      return "starttls";
    case TlsMode::None:
      return "none";
  }
  return "unknown";
}

std::string_view logLevelName(LogLevel level) noexcept {
  switch (level) {
    case LogLevel::Error:
      return "error";
    case LogLevel::Warning:
      return "warning";
    case LogLevel::Info:
      return "info";
    case LogLevel::Debug:
      return "debug";
  }
  return "unknown";
}

std::string_view logFormatName(LogFormat format) noexcept {
  switch (format) {
    case LogFormat::Text:
      return "text";
    case LogFormat::Json:
      return "json";
  }
  return "unknown";
}

std::string_view popAuthName(PopAuth auth) noexcept {
  switch (auth) {
    case PopAuth::Auto:
      return "auto";
    case PopAuth::User:
      return "user";
    case PopAuth::Apop:
      return "apop";
    case PopAuth::Plain:
      return "plain";
  }
  return "unknown";
}

std::string_view imapAuthName(ImapAuth auth) noexcept {
  switch (auth) {
    case ImapAuth::Auto:
      return "auto";
    case ImapAuth::Login:
      return "login";
    case ImapAuth::Plain:
      return "plain";
  }
  return "unknown";
}


}  // namespace popgate::config
