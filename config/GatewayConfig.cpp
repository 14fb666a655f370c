#include "GatewayConfig.h"

#include <algorithm>
#include <chrono>
#include <cstdio>

#include "connectors/common/Error.h"

namespace popgate::config {

const PopAccount* GatewayConfig::findAccount(const std::string& name) const {
  for (const auto& account : accounts) {
    if (account.name == name) return &account;
  }
  return nullptr;
}

const ImapTarget* GatewayConfig::findTarget(const std::string& name) const {
  for (const auto& target : targets) {
    if (target.name == name) return &target;
  }
  return nullptr;
}

const ImapTarget& GatewayConfig::targetOf(const PopAccount& account) const {
  if (const ImapTarget* target = findTarget(account.target)) return *target;
  throw Error(ErrorKind::Internal, account.name + ": no target called " + account.target);
}

std::chrono::seconds GatewayConfig::takeoverGrace() const {
  std::chrono::seconds grace{0};
  for (const ImapTarget& target : targets) grace = std::max(grace, target.server.timeout);
  return grace;
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
    case PopAuth::XOAuth2:
      return "xoauth2";
    case PopAuth::OAuthBearer:
      return "oauthbearer";
  }
  return "unknown";
}

std::string_view targetKindName(TargetKind kind) noexcept {
  return kind == TargetKind::GmailApi ? "gmail-api" : "imap";
}

std::string_view imapAuthName(ImapAuth auth) noexcept {
  switch (auth) {
    case ImapAuth::Auto:
      return "auto";
    case ImapAuth::Login:
      return "login";
    case ImapAuth::Plain:
      return "plain";
    case ImapAuth::XOAuth2:
      return "xoauth2";
    case ImapAuth::OAuthBearer:
      return "oauthbearer";
  }
  return "unknown";
}

bool isOAuth(PopAuth auth) noexcept {
  return auth == PopAuth::XOAuth2 || auth == PopAuth::OAuthBearer;
}

bool isOAuth(ImapAuth auth) noexcept {
  return auth == ImapAuth::XOAuth2 || auth == ImapAuth::OAuthBearer;
}

std::string_view providerName(Provider provider) noexcept {
  switch (provider) {
    case Provider::Gmail:
      return "gmail";
    case Provider::Microsoft365:
      return "microsoft365";
    case Provider::Outlook:
      return "outlook";
    case Provider::None:
      break;
  }
  return "";
}

bool sameOAuth(const std::optional<OAuthSettings>& a, const std::optional<OAuthSettings>& b) {
  if (a.has_value() != b.has_value()) return false;
  if (!a) return true;
  return a->token_url == b->token_url && a->client_id == b->client_id &&
         a->client_secret.reveal() == b->client_secret.reveal() &&
         a->refresh_token.reveal() == b->refresh_token.reveal() && a->scope == b->scope &&
         a->ca_file == b->ca_file;
}

std::string backlogText(const PopAccount& account) {
  switch (account.backlog) {
    case Backlog::All:
      return "all";
    case Backlog::None:
      return "none";
    case Backlog::Since: {
      using namespace std::chrono;
      const year_month_day day{floor<days>(sys_seconds{seconds{account.backlog_since}})};
      char text[32];
      std::snprintf(text, sizeof text, "since %04d-%02u-%02u", static_cast<int>(day.year()),
                    static_cast<unsigned>(day.month()), static_cast<unsigned>(day.day()));
      return text;
    }
  }
  return "unknown";
}

std::string_view dedupeName(Dedupe dedupe) noexcept {
  switch (dedupe) {
    case Dedupe::None:
      return "none";
    case Dedupe::MessageId:
      return "message-id";
  }
  return "unknown";
}

}  // namespace popgate::config
